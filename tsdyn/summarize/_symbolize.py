"""Step 2 of TiVy-R: DTW symbols by threshold ("leader") clustering with a lower-bound cascade.

All loops run inside numba; DTW, LB_Kim and LB_Keogh come from `tsdyn.kernels.dtw.cpu`. Two exact
searches for a cell's nearest representative within eps: `_nearest` screens the representatives one
by one (the UCR cascade), `_nearest_indexed` (the default) bounds all of them at once through the
representative index (see "the representative index" below); both return the same answer.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from tsdyn.kernels.dtw.cpu import (
    dtw_sq,
    envelope_into,
    lb_improved_sq,
    lb_keogh_suffix,
)

__all__ = ["COUNTERS", "dtw_to_one", "leader_symbols", "pair_sample", "refine_symbols"]

#: names of the work counters returned next to the symbols (same order as `stats`)
COUNTERS = (
    "comparisons",
    "pruned_kim",
    "pruned_keogh_eq",
    "pruned_keogh_ec",
    "dtw_calls",
    "dtw_abandoned",
    "dtw_cells",
    "pruned_improved",
    "pruned_index",
    "pruned_split",
)
_NC = len(COUNTERS)


#: relative slack on every pruning threshold: a bound or a partial DTW is discarded only when it
#: exceeds best * (1 + SLACK), far above the rounding of a 32-term sum (~1e-15), so rounding can
#: never discard the exact nearest representative, nor a tie (the comparisons of exact DTW values
#: against `best` decide alone).
SLACK = 1e-9
_INF = np.inf
PROMISING = 0.25


@numba.njit(cache=True, nogil=True)
def _dtw_pruned(x, y, r, thr, buf, cb, cbc):
    """Squared DTW of x, y [n] (radius r) with early abandoning and pruning; (cost, cells).

    cb[i] (cbc[j]) bounds from below the cost of rows i..n-1 (columns j..n-1) of any warping path:
    suffix sums of the LB_Keogh terms of x against y's envelope (of y against x's); cb[n] =
    cbc[n] = 0. A path through cell (i, j) still has to cross rows i + 1.. and columns j + 1..,
    so the cell is dead (treated as inf) once D[i, j] + max(cb[i + 1], cbc[j + 1]) > thr: the
    UCR-suite row test (Rakthanmanon et al. 2012) made per cell, with the column bound added.
    Dead cells are skipped as in PrunedDTW (Silva & Batista 2016) / EAPrunedDTW (Herrmann & Webb
    2021): row i + 1 starts at the first live column of row i and stops past its last live
    column once the left neighbour is dead; a row without live cells abandons. Only computed
    cells are counted. A dead cell that was computed keeps its value (only cells never computed
    read as inf), so the liveness test is off the recurrence's dependency chain (about a third
    faster than setting dead cells to inf). Exact: every stored value is >= the full band's value
    (min and + are monotone), and the cells of every path of cost <= thr stay alive and hold the
    same values (same operations) as in the full band, so the result equals DTW bit for bit
    whenever DTW <= thr, and is > thr (a larger value or inf) otherwise. The bounds are float
    sums, so "<= thr" holds up to their rounding: callers pass thr = best * (1 + SLACK).
    buf: scratch of length >= 2 r + 3.
    """
    n = x.shape[0]
    W = 2 * r + 1
    # band coordinates as `dtw_sq_cb`: buf[k + 1] holds cell k (column i - r + k) of the current
    # row; dead or skipped cells that the next row reads hold inf
    for k in range(W + 2):
        buf[k] = _INF
    buf[r + 1] = 0.0  # D[-1, -1]
    ns, ne = r, r  # live cells of the previous row (row -1: only D[-1, -1])
    cells = 0
    ks = kc = r
    for i in range(n):
        xi = x[i]
        off = i - r
        kend = min(W - 1, n - 1 - off)
        ks = max(r - i, ns - 1, 0)  # nothing left of the previous row's first live cell
        buf[ks] = _INF  # cell ks - 1 of this row, read as `left`
        rowb = cb[i + 1]
        live_s, live_e = W, -1
        left = _INF
        k = ks
        top = min(kend, ne)
        while k <= top:  # diag, up and left may all be live
            diag = buf[k + 1]
            up = buf[k + 2]
            best = diag if diag < up else up
            best = best if best < left else left
            d = xi - y[off + k]
            v = d * d + best
            colb = cbc[off + k + 1]
            if v + (rowb if rowb > colb else colb) <= thr:  # live
                live_s = min(live_s, k)
                live_e = k
            buf[k + 1] = v
            left = v
            k += 1
        while k <= kend and k > ks and live_e == k - 1:  # past the last row's live cells: `left`
            d = xi - y[off + k]
            v = d * d + left
            colb = cbc[off + k + 1]
            if v + (rowb if rowb > colb else colb) <= thr:
                live_s = min(live_s, k)
                live_e = k
            buf[k + 1] = v
            left = v
            k += 1
        kc = k - 1  # last computed cell
        cells += kc - ks + 1
        if live_e < 0:
            return _INF, cells
        if kc + 2 <= W + 1:
            buf[kc + 2] = _INF  # cell kc + 1, read as `up` by the next row
        ns, ne = live_s, live_e
    if ks <= r <= kc:
        return buf[r + 1], cells
    return _INF, cells


@numba.njit(cache=True, nogil=True, fastmath=True)
def _keogh(x, lower, upper, thr):
    """Squared LB_Keogh of x against an envelope (as `lb_keogh_sq`), summed in blocks of 8 that
    vectorise (fastmath reassociates the sum: rounding ~1e-15 relative, far below SLACK); stops
    once it exceeds `thr`."""
    n = x.shape[0]
    total = 0.0
    i = 0
    while i < n:
        e = min(i + 8, n)
        acc = 0.0
        for j in range(i, e):
            a = x[j] - upper[j]
            b = lower[j] - x[j]
            m = max(max(a, b), 0.0)
            acc += m * m
        total += acc
        if total > thr:
            return total
        i = e
    return total


@numba.njit(cache=True, nogil=True, inline="always")
def _kim(x0, x1, ends, t):
    """LB_Kim_FL squared (as `lb_kim_sq`, windows have >= 2 samples) from the representatives'
    first and last values, kept contiguous in ends [K, 2]."""
    d0 = x0 - ends[t, 0]
    d1 = x1 - ends[t, 1]
    return d0 * d0 + d1 * d1


@numba.njit(inline="always")
def _dtw_within(x, y, r, thr, best, buf, cb, cbc, stats):
    """The last stage of `_try` and `_try_indexed`: pruned DTW against thr; inf if above best."""
    d, cells = _dtw_pruned(x, y, r, thr, buf, cb, cbc)
    stats[4] += 1
    stats[6] += cells
    if d > best:
        stats[5] += 1
        return _INF
    return d


@numba.njit(cache=True, nogil=True)
def _try(x, y, t, lower, upper, slower, supper, r, best, buf, cb, cbc, h, hl, hu, stats):
    """Squared DTW of x to representative t (envelope lower/upper) if it can be <= best, else
    inf: LB_Keogh(rep, query envelope) -> LB_Improved (Lemire 2009) -> `_dtw_pruned`, all
    against best * (1 + SLACK)."""
    thr = best * (1.0 + SLACK)
    if _keogh(y, slower, supper, thr) > thr:  # stops early; most candidates end here
        stats[3] += 1
        return _INF
    keogh = lb_keogh_suffix(x, lower[t], upper[t], cb)
    if lb_improved_sq(x, y, lower[t], upper[t], r, keogh, h, hl, hu, thr) > thr:
        stats[7] += 1
        return _INF
    lb_keogh_suffix(y, slower, supper, cbc)  # the column terms, for pruning
    return _dtw_within(x, y, r, thr, best, buf, cb, cbc, stats)


@numba.njit(cache=True, nogil=True)
def _nearest(
    s, C, ends, lower, upper, slower, supper, reps, K, r, eps_sq, buf, cb, cbc, h, hl, hu, stats,
    hint, cand, lbs,
):  # fmt: skip
    """Nearest representative within eps of cell s: (index into reps or -1, squared distance);
    ties go to the lowest index (the oldest representative).

    The hinted representative (a likely match, so `best` drops early) is tried first; every other
    one is screened by LB_Kim and LB_Keogh(query, rep envelope) against the best distance so far
    (initially eps); the survivors are visited by increasing LB_Keogh, stopping at the first whose
    bound exceeds the best so far (all later ones are larger), each through `_try`. Every
    threshold carries the relative SLACK, and only exact DTW values decide, so the result is the
    exhaustive search's. `cand`, `lbs`: scratch of length >= K. Counters as `COUNTERS` (the
    representatives the ordered visit never reaches count as pruned by LB_Keogh EQ).
    """
    x = C[s]
    x0, x1 = x[0], x[-1]
    best = eps_sq
    best_t = -1
    stats[0] += K
    if hint >= 0:
        y = C[reps[hint]]
        thr = best * (1.0 + SLACK)
        if _kim(x0, x1, ends, hint) > thr:
            stats[1] += 1
        elif _keogh(x, lower[hint], upper[hint], thr) > thr:
            stats[2] += 1
        else:
            d = _try(
                x, y, hint, lower, upper, slower, supper, r, best, buf, cb, cbc, h, hl, hu, stats
            )
            if d <= best:
                best = d
                best_t = hint
    thr = best * (1.0 + SLACK)
    nc = 0
    for t in range(K):
        if t == hint:
            continue
        if _kim(x0, x1, ends, t) > thr:
            stats[1] += 1
            continue
        lb = _keogh(x, lower[t], upper[t], thr)
        if lb > thr:
            stats[2] += 1
            continue
        if lb <= PROMISING * thr:  # a likely match: try it now, so that `best` drops early
            d = _try(
                x, C[reps[t]], t, lower, upper, slower, supper, r, best, buf, cb, cbc, h, hl, hu,
                stats,
            )  # fmt: skip
            if d < best or (d == best and (best_t == -1 or t < best_t)):
                best = d
                best_t = t
                thr = best * (1.0 + SLACK)
            continue
        cand[nc] = t
        lbs[nc] = lb
        nc += 1
    if nc == 0:
        return best_t, best
    visit = np.argsort(lbs[:nc])
    for step in range(nc):
        c = visit[step]
        if lbs[c] > best * (1.0 + SLACK):  # sorted: none of the rest can qualify
            stats[2] += nc - step
            break
        t = cand[c]
        d = _try(
            x, C[reps[t]], t, lower, upper, slower, supper, r, best, buf, cb, cbc, h, hl, hu, stats
        )
        if d < best or (d == best and (best_t == -1 or t < best_t)):
            best = d
            best_t = t
    return best_t, best


@numba.njit(cache=True)
def _leader(C, order, r, eps_sq, reps, ends, lower, upper, K0, symbols, dist, stats, hints):
    """Visit cells in `order`; each joins its nearest representative within eps or founds one."""
    w = C.shape[1]
    buf = np.empty(2 * w + 2)
    slower = np.empty(w)
    supper = np.empty(w)
    cb, cbc = np.empty(w + 1), np.empty(w + 1)
    h, hl, hu = np.empty(w), np.empty(w), np.empty(w)
    cand, lbs = np.empty(C.shape[0], np.int64), np.empty(C.shape[0])
    K = K0
    for idx in range(order.shape[0]):
        s = order[idx]
        envelope_into(C[s], r, slower, supper)
        t, d = _nearest(
            s,
            C,
            ends,
            lower,
            upper,
            slower,
            supper,
            reps,
            K,
            r,
            eps_sq,
            buf,
            cb,
            cbc,
            h,
            hl,
            hu,
            stats,
            hints[s],
            cand,
            lbs,
        )
        if t < 0:
            reps[K] = s
            ends[K, 0] = C[s, 0]
            ends[K, 1] = C[s, w - 1]
            lower[K] = slower
            upper[K] = supper
            symbols[s] = K
            dist[s] = 0.0
            K += 1
        else:
            symbols[s] = t
            dist[s] = math.sqrt(d)
    return K


def leader_symbols(C: np.ndarray, order: np.ndarray, r: int, eps: float, index: bool = True):
    """Symbols [N], distance to the representative [N], representative cell ids [K], counters.

    Invariant: DTW(cell, representative of its symbol) <= eps for every cell. `index=False` screens
    the representatives one by one (`_nearest`) instead of through the index: same results, only
    the counters differ.
    """
    N, w = C.shape
    reps = np.empty(N, np.int64)
    symbols, dist = np.empty(N, np.int64), np.empty(N)
    stats = np.zeros(len(COUNTERS), np.int64)
    if index:
        K = _leader_indexed(C, order, r, eps * eps, reps, symbols, dist, stats)
        return symbols, dist, reps[:K].copy(), stats
    lower, upper = np.empty((N, w)), np.empty((N, w))
    hints = np.full(N, -1, np.int64)
    ends = np.empty((N, 2))
    K = _leader(C, order, r, eps * eps, reps, ends, lower, upper, 0, symbols, dist, stats, hints)
    return symbols, dist, reps[:K].copy(), stats


# -- the representative index ---------------------------------------------------------------
# The searches above screen the representatives one at a time (LB_Kim, then LB_Keogh both ways,
# each a function call with its own early exit). The index below keeps the representatives
# transposed, position by position (YT, LT, UT [w, capacity]: values, envelope lower and upper),
# so that one cell's lower bounds against all K representatives are K-wide loops that compile to
# SIMD, with no per-representative branch. Only the representatives whose bound is within the
# best distance so far are then visited, nearest bound first, each through the split bound of
# `_suffixes` and `_dtw_pruned` (their values and envelopes sit side by side in `rows` [capacity,
# 3, w], the layout those loops read). The answer is the same
# representative and the same distance as `_nearest` (every bound is a true lower bound of DTW and
# every threshold carries SLACK): tests/summarize/test_symbolize.py checks it on random inputs.

#: representatives per block of the batched bound (its accumulators stay in L1)
TILE = 256


@numba.njit(cache=True, nogil=True, fastmath=True)
def _bounds_all(x, sl, su, YT, LT, UT, K, out, acc):
    """out[t] <= squared DTW(x, rep t) for t < K: LB_Kim_FL plus the larger of the LB_Keogh terms
    of rows 1..w-2 of x against rep t's envelope and of columns 1..w-2 of rep t against x's
    envelope (sl, su).

    Valid because every warping path holds the cells (0, 0) and (w-1, w-1) and, besides them, at
    least one cell in each row (column) 1..w-2, each within the band, so costing at least that
    row's (column's) Keogh term; so it is never below LB_Kim_FL, LB_Keogh(EQ) or LB_Keogh(EC)
    (their end terms are at most LB_Kim's). Needs w >= 2. fastmath reassociates the sums (rounding
    ~1e-15 relative, far below SLACK). acc: scratch [2, TILE].
    """
    w = x.shape[0]
    x0, xl = x[0], x[w - 1]
    for t0 in range(0, K, TILE):
        t1 = min(t0 + TILE, K)
        n = t1 - t0
        eq, ec = acc[0, :n], acc[1, :n]
        eq[:] = 0.0
        ec[:] = 0.0
        for i in range(1, w - 1):
            xi, lo, hi = x[i], sl[i], su[i]
            y, yl, yu = YT[i, t0:t1], LT[i, t0:t1], UT[i, t0:t1]
            for j in range(n):  # slices of rows: unit stride, vectorises
                m = max(max(xi - yu[j], yl[j] - xi), 0.0)
                eq[j] += m * m
                v = y[j]
                m = max(max(v - hi, lo - v), 0.0)
                ec[j] += m * m
        first, last, o = YT[0, t0:t1], YT[w - 1, t0:t1], out[t0:t1]
        for j in range(n):
            a = x0 - first[j]
            b = xl - last[j]
            o[j] = a * a + b * b + max(eq[j], ec[j])


@numba.njit(cache=True, nogil=True, fastmath=True)
def _suffixes(x, y, lower, upper, slower, supper, cb, cbc, r):
    """The pruning bounds of `_dtw_pruned` in one branch-free pass, and a tighter lower bound.

    cb = suffix sums of the LB_Keogh terms of x against y's envelope (lower, upper: the row terms
    e_i), cbc = of y against x's (slower, supper: the column terms c_j); cb[n] = cbc[n] = 0.
    Returns the "split" bound: LB_Kim_FL plus, maximised over m, the row terms of rows 1..m and
    the column terms of columns m + r + 1..n - 2, or the column terms of columns 1..m and the row
    terms of rows m + r + 1..n - 2. Valid: every path holds one cell in each of those rows and
    one in each of those columns, and they differ (a cell (i, j) with i <= m < m + r < j lies
    outside the band), besides (0, 0) and (n - 1, n - 1). m = n - 2 gives LB_Kim + the sum of all
    interior row terms (or column terms), so it is never below the batched bound. Needs n >= 2.
    """
    n = x.shape[0]
    for i in range(n):
        v = x[i]
        m = max(max(v - upper[i], lower[i] - v), 0.0)
        cb[i] = m * m
        v = y[i]
        m = max(max(v - supper[i], slower[i] - v), 0.0)
        cbc[i] = m * m
    cb[n] = 0.0
    cbc[n] = 0.0
    for i in range(n - 1, -1, -1):
        cb[i] += cb[i + 1]
        cbc[i] += cbc[i + 1]
    a = x[0] - y[0]
    b = x[n - 1] - y[n - 1]
    if n < 3:
        return a * a + b * b
    row_end, col_end = cb[n - 1], cbc[n - 1]  # terms n-1..: excluded
    split = max(cb[1] - row_end, cbc[1] - col_end)  # m = n - 2
    for m in range(0, n - 2 - r):  # rows 1..m, columns m + r + 1..n - 2 (and the converse)
        u = (cb[1] - cb[m + 1]) + (cbc[m + r + 1] - col_end)
        v = (cbc[1] - cbc[m + 1]) + (cb[m + r + 1] - row_end)
        split = max(split, max(u, v))
    return a * a + b * b + split


@numba.njit(cache=True, nogil=True)
def _try_indexed(x, y, lower, upper, slower, supper, r, best, buf, cb, cbc, stats):
    """Squared DTW of x to y if it can be <= best, else inf: the split bound of `_suffixes`, then
    `_dtw_pruned`, both against best * (1 + SLACK); the batched bound already screened y."""
    thr = best * (1.0 + SLACK)
    if _suffixes(x, y, lower, upper, slower, supper, cb, cbc, r) > thr:
        stats[9] += 1
        return _INF
    return _dtw_within(x, y, r, thr, best, buf, cb, cbc, stats)


@numba.njit(cache=True, nogil=True)
def _nearest_indexed(
    x, slower, supper, YT, LT, UT, rows, K, r, eps_sq, hint, buf, cb, cbc, lbv, acc, cand, lbs,
    stats,
):  # fmt: skip
    """`_nearest` through the index: (index into reps or -1, squared distance), ties to the lowest
    index. All K bounds at once (`_bounds_all`); the hinted representative first; then the
    representatives whose bound is within the best so far, smallest bound first (a linear argmin:
    few are visited), dropping those the improved best excludes. Scratch: lbv, cand, lbs of length
    >= K, acc [2, TILE]. Counters as COUNTERS; the batched bound's prunes count as `pruned_index`,
    the split bound's as `pruned_split` (the one-by-one counters stay 0).
    """
    best = eps_sq
    best_t = -1
    stats[0] += K
    if K == 0:
        return best_t, best
    _bounds_all(x, slower, supper, YT, LT, UT, K, lbv, acc)
    thr = best * (1.0 + SLACK)
    if hint >= 0:
        if lbv[hint] > thr:
            stats[8] += 1
        else:
            e = rows[hint]
            d = _try_indexed(x, e[0], e[1], e[2], slower, supper, r, best, buf, cb, cbc, stats)
            if d <= best:
                best = d
                best_t = hint
                thr = best * (1.0 + SLACK)
    nc = 0
    for t in range(K):
        v = lbv[t]
        if v <= thr and t != hint:
            cand[nc] = t
            lbs[nc] = v
            nc += 1
    stats[8] += K - nc - (1 if hint >= 0 else 0)
    while nc > 0:
        j = 0
        low = lbs[0]
        for q in range(1, nc):
            if lbs[q] < low:
                low = lbs[q]
                j = q
        if low > thr:  # the smallest bound left: none of the rest can qualify
            stats[8] += nc
            break
        t = cand[j]
        nc -= 1
        cand[j] = cand[nc]
        lbs[j] = lbs[nc]
        e = rows[t]
        d = _try_indexed(x, e[0], e[1], e[2], slower, supper, r, best, buf, cb, cbc, stats)
        if d < best:
            best = d
            best_t = t
            thr = best * (1.0 + SLACK)
            kept = 0
            for q in range(nc):
                if lbs[q] <= thr:
                    cand[kept] = cand[q]
                    lbs[kept] = lbs[q]
                    kept += 1
            stats[8] += nc - kept
            nc = kept
        elif d == best and (best_t == -1 or t < best_t):
            best_t = t
    return best_t, best


@numba.njit(cache=True, nogil=True)
def _index_put(t, x, slower, supper, YT, LT, UT, rows):
    """Store x (envelope slower, supper) as representative t of the index: transposed in YT, LT,
    UT [w, capacity] for the batched bound, and in rows [capacity, 3, w] (values, lower, upper
    side by side, for the few representatives visited)."""
    for i in range(x.shape[0]):
        YT[i, t] = x[i]
        LT[i, t] = slower[i]
        UT[i, t] = supper[i]
        rows[t, 0, i] = x[i]
        rows[t, 1, i] = slower[i]
        rows[t, 2, i] = supper[i]


@numba.njit(cache=True)
def _widen(a, size):
    """a [m, n] copied into a new [m, size] array (size >= n)."""
    out = np.empty((a.shape[0], size))
    out[:, : a.shape[1]] = a
    return out


@numba.njit(cache=True)
def _leader_indexed(C, order, r, eps_sq, reps, symbols, dist, stats):
    """`_leader` through the index; returns K. The index starts small and doubles when full
    (its size follows the alphabet, not the number of cells)."""
    N, w = C.shape
    cap = min(N, 256)
    YT, LT, UT = np.empty((w, cap)), np.empty((w, cap)), np.empty((w, cap))
    rows = np.empty((cap, 3, w))
    buf = np.empty(2 * w + 2)
    slower, supper = np.empty(w), np.empty(w)
    cb, cbc = np.empty(w + 1), np.empty(w + 1)
    lbv, lbs, cand = np.empty(cap), np.empty(cap), np.empty(cap, np.int64)
    acc = np.empty((2, TILE))
    K = 0
    for idx in range(order.shape[0]):
        s = order[idx]
        x = C[s]
        envelope_into(x, r, slower, supper)
        t, d = _nearest_indexed(
            x, slower, supper, YT, LT, UT, rows, K, r, eps_sq, -1, buf, cb, cbc, lbv, acc, cand,
            lbs, stats,
        )  # fmt: skip
        if t < 0:
            if K == cap:
                cap = min(N, 2 * cap)
                YT, LT, UT = _widen(YT, cap), _widen(LT, cap), _widen(UT, cap)
                bigger = np.empty((cap, 3, w))
                bigger[:K] = rows
                rows = bigger
                lbv, lbs, cand = np.empty(cap), np.empty(cap), np.empty(cap, np.int64)
            reps[K] = s
            _index_put(K, x, slower, supper, YT, LT, UT, rows)
            symbols[s] = K
            dist[s] = 0.0
            K += 1
        else:
            symbols[s] = t
            dist[s] = math.sqrt(d)
    return K


@numba.njit(cache=True, parallel=True)
def _assign_indexed(C, reps, K, r, eps_sq, hints, symbols, dist):
    """`_assign_fixed` through the index (built here from the K representatives), cells in
    parallel blocks. Returns the work counters per block [blocks, len(COUNTERS)]."""
    N, w = C.shape
    YT, LT, UT = np.empty((w, K)), np.empty((w, K)), np.empty((w, K))
    rows = np.empty((K, 3, w))
    for t in numba.prange(K):
        slower, supper = np.empty(w), np.empty(w)
        envelope_into(C[reps[t]], r, slower, supper)
        _index_put(t, C[reps[t]], slower, supper, YT, LT, UT, rows)
    blocks = min(N, 64)
    counts = np.zeros((blocks, _NC), np.int64)
    for b in numba.prange(blocks):
        slower, supper = np.empty(w), np.empty(w)
        buf, cb, cbc = np.empty(2 * w + 2), np.empty(w + 1), np.empty(w + 1)
        lbv, lbs, cand = np.empty(K), np.empty(K), np.empty(K, np.int64)
        acc = np.empty((2, TILE))
        for s in range(b * N // blocks, (b + 1) * N // blocks):
            envelope_into(C[s], r, slower, supper)
            t, d = _nearest_indexed(
                C[s], slower, supper, YT, LT, UT, rows, K, r, eps_sq, hints[s], buf, cb, cbc, lbv,
                acc, cand, lbs, counts[b],
            )  # fmt: skip
            symbols[s] = t
            dist[s] = math.sqrt(d) if t >= 0 else np.inf
    return counts


@numba.njit(cache=True)
def _medoid_proxies(C, symbols, K, r, stats):
    """Per symbol: the member with the smallest DTW to the members' pointwise mean (ties: the
    lowest cell index).

    Pruned exactly: the threshold is the smaller of the best DTW so far and the smallest squared
    Euclidean distance of a member to the mean (the diagonal warping path, so >= the minimum DTW);
    a member is skipped when LB_Keogh against the mean's envelope exceeds it, and its DTW
    (`_dtw_pruned`) is abandoned above it.
    """
    N, w = C.shape
    sums = np.zeros((K, w))
    counts = np.zeros(K, np.int64)
    for s in range(N):
        sums[symbols[s]] += C[s]
        counts[symbols[s]] += 1
    means = np.empty((K, w))
    for k in range(K):
        means[k] = sums[k] / counts[k] if counts[k] > 0 else sums[k]
    lower, upper = np.empty((K, w)), np.empty((K, w))
    for k in range(K):
        envelope_into(means[k], r, lower[k], upper[k])
    euclid = np.full(K, np.inf)  # an upper bound on the smallest DTW of a member to the mean
    for s in range(N):
        k = symbols[s]
        e = 0.0
        for i in range(w):
            d = C[s, i] - means[k, i]
            e += d * d
        euclid[k] = min(euclid[k], e)
    best = np.full(K, np.inf)
    out = np.full(K, -1, np.int64)
    buf, cb, cbc = np.empty(2 * w + 2), np.empty(w + 1), np.empty(w + 1)
    slower, supper = np.empty(w), np.empty(w)
    for s in range(N):
        k = symbols[s]
        if counts[k] == 1:
            out[k] = s
            continue
        thr = min(best[k], euclid[k]) * (1.0 + SLACK)
        if lb_keogh_suffix(C[s], lower[k], upper[k], cb) > thr:
            continue
        envelope_into(C[s], r, slower, supper)
        if lb_keogh_suffix(means[k], slower, supper, cbc) > thr:
            continue
        d, cells = _dtw_pruned(C[s], means[k], r, thr, buf, cb, cbc)
        stats[4] += 1
        stats[6] += cells
        if d < best[k]:
            best[k] = d
            out[k] = s
    return out


@numba.njit(cache=True, parallel=True)
def _assign_fixed(C, reps, ends, lower, upper, K, r, eps_sq, hints, symbols, dist):
    """Every cell to its nearest of K fixed representatives within eps (-1: none), in parallel.

    Returns the work counters per cell [N, len(COUNTERS)] (summed by the caller).
    """
    N, w = C.shape
    counts = np.zeros((N, _NC), np.int64)
    for s in numba.prange(N):
        slower, supper = np.empty(w), np.empty(w)
        buf, cb, cbc = np.empty(2 * w + 2), np.empty(w + 1), np.empty(w + 1)
        h, hl, hu = np.empty(w), np.empty(w), np.empty(w)
        cand, lbs = np.empty(K, np.int64), np.empty(K)
        envelope_into(C[s], r, slower, supper)
        t, d = _nearest(
            s, C, ends, lower, upper, slower, supper, reps, K, r, eps_sq, buf, cb, cbc, h, hl, hu,
            counts[s], hints[s], cand, lbs,
        )  # fmt: skip
        symbols[s] = t
        dist[s] = math.sqrt(d) if t >= 0 else np.inf
    return counts


def refine_symbols(
    C: np.ndarray,
    order: np.ndarray,
    symbols: np.ndarray,
    r: int,
    eps: float,
    passes: int,
    stats: np.ndarray,
    index: bool = True,
):
    """`passes` rounds of: representative <- medoid proxy of its members; every cell -> its
    nearest refined representative within eps (in parallel, so independent of the visiting order);
    the cells none covers are symbolised among themselves by the leader pass, in `order`.
    Keeps the eps invariant."""
    N, w = C.shape
    dist = np.zeros(N)
    reps = np.empty(0, np.int64)
    for _ in range(passes):
        K = int(symbols.max()) + 1
        new_reps = _medoid_proxies(C, symbols, K, r, stats)
        valid = new_reps >= 0
        position = np.cumsum(valid) - 1
        new_reps = new_reps[valid]
        reps = np.empty(N, np.int64)
        reps[: len(new_reps)] = new_reps
        # the new representative of a cell's old symbol is tried first
        hints = np.where(valid[symbols], position[symbols], -1)
        K0 = len(new_reps)
        symbols = np.empty(N, np.int64)
        if index:
            per_cell = _assign_indexed(C, reps, K0, r, eps * eps, hints, symbols, dist)
        else:
            lower, upper = np.empty((N, w)), np.empty((N, w))
            for t, q in enumerate(new_reps):
                envelope_into(C[q], r, lower[t], upper[t])
            ends = np.ascontiguousarray(C[new_reps][:, [0, w - 1]])
            per_cell = _assign_fixed(
                C, reps, ends, lower, upper, K0, r, eps * eps, hints, symbols, dist
            )
        stats += per_cell.sum(axis=0)
        left = order[symbols[order] < 0]  # cells no refined representative covers, in order
        if len(left):
            sub = np.ascontiguousarray(C[np.sort(left)])
            local = np.searchsorted(np.sort(left), left)
            sym, d, sub_reps, sub_stats = leader_symbols(sub, local, r, eps, index)
            stats += sub_stats
            cells = np.sort(left)
            symbols[cells] = K0 + sym
            dist[cells] = d
            reps[K0 : K0 + len(sub_reps)] = cells[sub_reps]
            K0 += len(sub_reps)
        used, symbols = np.unique(symbols, return_inverse=True)  # drop symbols left empty
        reps = reps[:K0][used]
    return symbols, dist, reps


@numba.njit(cache=True)
def _dtw_to_one(X, y, r, stats):
    """Squared DTW of every row of X [n, L] to y [L] (band radius r), counted in `stats`."""
    out = np.empty(X.shape[0])
    buf = np.empty(2 * r + 3)
    for a in range(X.shape[0]):
        d, cells = dtw_sq(X[a], y, r, r, np.inf, buf)
        out[a] = d
        stats[4] += 1
        stats[6] += cells
    return out


def dtw_to_one(X: np.ndarray, y: np.ndarray, r: int, stats: np.ndarray) -> np.ndarray:
    """DTW distances of X [n, L] to y [L] with radius r (float64, counted in `stats`)."""
    return np.sqrt(_dtw_to_one(np.ascontiguousarray(X), np.ascontiguousarray(y), r, stats))


@numba.njit(cache=True)
def _pair_sample(C, a, b, r, stats):
    out = np.empty(a.shape[0])
    buf = np.empty(2 * r + 3)
    for p in range(a.shape[0]):
        d, cells = dtw_sq(C[a[p]], C[b[p]], r, r, np.inf, buf)
        out[p] = math.sqrt(d)
        stats[4] += 1
        stats[6] += cells
    return out


def pair_sample(
    C: np.ndarray, a: np.ndarray, b: np.ndarray, r: int, stats: np.ndarray
) -> np.ndarray:
    """DTW distances of the cell pairs (a[p], b[p])."""
    return _pair_sample(C, a, b, r, stats)
