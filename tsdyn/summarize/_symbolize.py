"""Step 2 of TiVy-R: DTW symbols by threshold ("leader") clustering with a lower-bound cascade.

All loops run inside numba; DTW, LB_Kim and LB_Keogh come from `tsdyn.kernels.dtw.cpu`.
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
)


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
    cells are counted. Exact: the cells of every path of cost <= thr stay alive and hold the same
    values (same operations) as in the full band, so the result equals DTW bit for bit whenever
    DTW <= thr, and is > thr (a larger value or inf) otherwise. The bounds are float sums, so
    "<= thr" holds up to their rounding: callers pass thr = best * (1 + SLACK).
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
        live_s, live_e = -1, -1
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
            if v + (rowb if rowb > colb else colb) > thr:
                v = _INF
            else:
                if live_s < 0:
                    live_s = k
                live_e = k
            buf[k + 1] = v
            left = v
            k += 1
        while k <= kend and left < _INF:  # past the previous row's live cells: only `left`
            d = xi - y[off + k]
            v = d * d + left
            colb = cbc[off + k + 1]
            if v + (rowb if rowb > colb else colb) > thr:
                v = _INF
            else:
                if live_s < 0:
                    live_s = k
                live_e = k
            buf[k + 1] = v
            left = v
            k += 1
        kc = k - 1  # last computed cell
        cells += kc - ks + 1
        if live_s < 0:
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
    d, cells = _dtw_pruned(x, y, r, thr, buf, cb, cbc)
    stats[4] += 1
    stats[6] += cells
    if d > best:
        stats[5] += 1
        return _INF
    return d


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


def leader_symbols(C: np.ndarray, order: np.ndarray, r: int, eps: float):
    """Symbols [N], distance to the representative [N], representative cell ids [K], counters.

    Invariant: DTW(cell, representative of its symbol) <= eps for every cell.
    """
    N, w = C.shape
    reps = np.empty(N, np.int64)
    lower, upper = np.empty((N, w)), np.empty((N, w))
    symbols, dist = np.empty(N, np.int64), np.empty(N)
    stats = np.zeros(len(COUNTERS), np.int64)
    hints = np.full(N, -1, np.int64)
    ends = np.empty((N, 2))
    K = _leader(C, order, r, eps * eps, reps, ends, lower, upper, 0, symbols, dist, stats, hints)
    return symbols, dist, reps[:K].copy(), stats


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
    counts = np.zeros((N, 8), np.int64)
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
        lower, upper = np.empty((N, w)), np.empty((N, w))
        for t, q in enumerate(new_reps):
            envelope_into(C[q], r, lower[t], upper[t])
        # the new representative of a cell's old symbol is tried first
        hints = np.where(valid[symbols], position[symbols], -1)
        K0 = len(new_reps)
        symbols = np.empty(N, np.int64)
        ends = np.ascontiguousarray(C[new_reps][:, [0, w - 1]])
        per_cell = _assign_fixed(
            C, reps, ends, lower, upper, K0, r, eps * eps, hints, symbols, dist
        )
        stats += per_cell.sum(axis=0)
        left = order[symbols[order] < 0]  # cells no refined representative covers, in order
        if len(left):
            sub = np.ascontiguousarray(C[np.sort(left)])
            local = np.searchsorted(np.sort(left), left)
            sym, d, sub_reps, sub_stats = leader_symbols(sub, local, r, eps)
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
