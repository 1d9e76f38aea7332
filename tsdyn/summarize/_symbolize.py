"""Step 2 of TiVy-R: DTW symbols by threshold ("leader") clustering with a lower-bound cascade.

All loops run inside numba; DTW, LB_Kim and LB_Keogh come from `tsdyn.kernels.dtw.cpu`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from tsdyn.kernels.dtw.cpu import (
    dtw_sq,
    dtw_sq_cb,
    envelope_into,
    lb_improved_sq,
    lb_keogh_sq,
    lb_keogh_suffix,
    lb_kim_sq,
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


@numba.njit(cache=True, nogil=True)
def _nearest(
    s, C, lower, upper, slower, supper, reps, K, r, eps_sq, buf, cb, h, hl, hu, stats, hint
):
    """Nearest representative within eps of cell s: (index into reps or -1, squared distance).

    Cascade per representative (UCR suite order): LB_Kim, LB_Keogh(query, rep envelope),
    LB_Keogh(rep, query envelope), LB_Improved (Lemire 2009), early-abandoning DTW with the query's LB_Keogh terms as a
    cumulative bound on the rows still to come; `best` starts at eps^2 and shrinks.
    """
    x = C[s]
    best = eps_sq
    best_t = -1
    for step in range(K):
        # the hinted representative first (a likely match makes `best` small early), then the rest
        t = hint if step == 0 and hint >= 0 else (step - 1 if hint >= 0 and step <= hint else step)
        q = reps[t]
        y = C[q]
        stats[0] += 1
        if lb_kim_sq(x, y) > best:
            stats[1] += 1
            continue
        if lb_keogh_sq(x, lower[t], upper[t], best) > best:  # early exit; most stop here
            stats[2] += 1
            continue
        if lb_keogh_sq(y, slower, supper, best) > best:
            stats[3] += 1
            continue
        keogh = lb_keogh_suffix(x, lower[t], upper[t], cb)  # the same terms, kept for abandoning
        if lb_improved_sq(x, y, lower[t], upper[t], r, keogh, h, hl, hu, best) > best:
            stats[7] += 1
            continue
        d, cells = dtw_sq_cb(x, y, r, best, buf, cb)
        stats[4] += 1
        stats[6] += cells
        if d > best:
            stats[5] += 1
            continue
        if d < best or (d == best and (best_t == -1 or t < best_t)):
            best = d
            best_t = t
    return best_t, best


@numba.njit(cache=True)
def _leader(C, order, r, eps_sq, reps, lower, upper, K0, symbols, dist, stats, hints):
    """Visit cells in `order`; each joins its nearest representative within eps or founds one."""
    w = C.shape[1]
    buf = np.empty(2 * r + 3)
    slower = np.empty(w)
    supper = np.empty(w)
    cb = np.empty(w + 1)
    h, hl, hu = np.empty(w), np.empty(w), np.empty(w)
    K = K0
    for idx in range(order.shape[0]):
        s = order[idx]
        envelope_into(C[s], r, slower, supper)
        t, d = _nearest(
            s,
            C,
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
            h,
            hl,
            hu,
            stats,
            hints[s],
        )
        if t < 0:
            reps[K] = s
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
    K = _leader(C, order, r, eps * eps, reps, lower, upper, 0, symbols, dist, stats, hints)
    return symbols, dist, reps[:K].copy(), stats


@numba.njit(cache=True)
def _medoid_proxies(C, symbols, K, r, stats):
    """Per symbol: the member with the smallest DTW to the members' pointwise mean."""
    N, w = C.shape
    sums = np.zeros((K, w))
    counts = np.zeros(K, np.int64)
    for s in range(N):
        sums[symbols[s]] += C[s]
        counts[symbols[s]] += 1
    best = np.full(K, np.inf)
    out = np.full(K, -1, np.int64)
    buf = np.empty(2 * r + 3)
    for s in range(N):
        k = symbols[s]
        if counts[k] == 1:
            out[k] = s
            continue
        mean = sums[k] / counts[k]
        d, cells = dtw_sq(C[s], mean, r, r, best[k], buf)
        stats[4] += 1
        stats[6] += cells
        if d < best[k]:
            best[k] = d
            out[k] = s
    return out


@numba.njit(cache=True, parallel=True)
def _assign_fixed(C, reps, lower, upper, K, r, eps_sq, hints, symbols, dist):
    """Every cell to its nearest of K fixed representatives within eps (-1: none), in parallel.

    Returns the work counters per cell [N, len(COUNTERS)] (summed by the caller).
    """
    N, w = C.shape
    counts = np.zeros((N, 8), np.int64)
    for s in numba.prange(N):
        slower, supper = np.empty(w), np.empty(w)
        buf, cb = np.empty(2 * r + 3), np.empty(w + 1)
        h, hl, hu = np.empty(w), np.empty(w), np.empty(w)
        envelope_into(C[s], r, slower, supper)
        t, d = _nearest(
            s, C, lower, upper, slower, supper, reps, K, r, eps_sq, buf, cb, h, hl, hu,
            counts[s], hints[s],
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
        per_cell = _assign_fixed(C, reps, lower, upper, K0, r, eps * eps, hints, symbols, dist)
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
