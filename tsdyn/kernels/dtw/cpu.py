"""DTW on the CPU with numba: banded rolling-row kernels, lower bounds and early abandoning.

Two kernels share one recurrence (README.md, "Band coordinates"):
- `dtw_sq` does one pair, keeps one band row of length W = rl + rh + 1 (plus two sentinels) and can
  abandon as soon as a whole row exceeds a threshold (for range queries, UCR-suite style);
- `_cdist_lanes` does all pairs of a distance matrix, `G` pairs at a time (one x against G y's
  packed side by side), so that the inner loop over the G lanes compiles to SIMD min/add; the pairs
  are spread over threads with `prange`.
Everything is float64 and follows the same order of operations as `naive.py`, so results agree with
the reference to the last bit in practice.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "cdist_dtw_cpu",
    "dtw_cpu",
    "dtw_sq",
    "dtw_sq_cb",
    "envelope",
    "envelope_into",
    "lb_improved_sq",
    "lb_keogh_sq",
    "lb_keogh_suffix",
    "lb_kim_sq",
]

#: pairs computed side by side by `_cdist_lanes` (8 float64 = one AVX-512 register, two AVX2 ones)
G = 8
_INF = np.inf


@numba.njit(cache=True, nogil=True)
def dtw_sq(x, y, rl, rh, max_sq, buf, cb=None):
    """Squared DTW of x [n] and y [m] in the band -rl <= j - i <= rh; (cost, cells updated).

    Returns inf as soon as every cell of a row exceeds `max_sq` (early abandoning), or, given
    `cb` (a cumulative lower bound: cb[i] bounds the cost of rows i..n-1 from below, e.g. suffix
    sums of LB_Keogh terms, cb[n] = 0), once min(row i) + cb[i + 1] > max_sq (UCR suite). `buf`
    is scratch of length >= rl + rh + 3.
    """
    n = x.shape[0]
    m = y.shape[0]
    W = rl + rh + 1
    # buf[k + 1] holds the band cell k of the current row; buf[0], buf[W + 1] are inf sentinels
    for k in range(W + 2):
        buf[k] = _INF
    buf[rl + 1] = 0.0  # D[-1, -1]
    cells = 0
    for i in range(n):
        xi = x[i]
        kstart = max(0, rl - i)
        kend = min(W - 1, m - 1 - i + rl)
        row_min = _INF
        for k in range(kstart, kend + 1):
            left = buf[k]
            diag = buf[k + 1]
            up = buf[k + 2]
            best = diag if diag < up else up
            best = best if best < left else left
            d = xi - y[i - rl + k]
            v = d * d + best
            buf[k + 1] = v
            row_min = v if v < row_min else row_min
        cells += kend - kstart + 1
        if cb is None:  # numba compiles the two cases apart
            if row_min > max_sq:
                return _INF, cells
        elif row_min + cb[i + 1] > max_sq:
            return _INF, cells
    return buf[rh + 1], cells


@numba.njit(cache=True, nogil=True)
def dtw_sq_cb(x, y, r, max_sq, buf, cb):
    """`dtw_sq` for equal lengths and radius r, abandoning with the cumulative lower bound cb."""
    return dtw_sq(x, y, r, r, max_sq, buf, cb)


@numba.njit(cache=True, nogil=True)
def lb_keogh_suffix(x, lower, upper, cb):
    """LB_Keogh terms of x against an envelope as suffix sums: cb[i] = sum of terms i..n-1."""
    n = x.shape[0]
    cb[n] = 0.0
    for i in range(n - 1, -1, -1):
        v = x[i]
        t = 0.0
        if v > upper[i]:
            t = (v - upper[i]) * (v - upper[i])
        elif v < lower[i]:
            t = (lower[i] - v) * (lower[i] - v)
        cb[i] = cb[i + 1] + t
    return cb[0]


@numba.njit(cache=True, nogil=True)
def lb_improved_sq(x, y, lower, upper, r, keogh_sq, h, hl, hu, max_sq):
    """Squared LB_Improved (Lemire 2009) of x against y, given LB_Keogh(x, env(y)) = `keogh_sq`.

    h = x clipped into y's envelope; adds the squared distance of y to the envelope of h.
    Never below LB_Keogh and never above DTW^2 (equal lengths, radius r). h, hl, hu are scratch.
    """
    n = x.shape[0]
    for i in range(n):
        v = x[i]
        h[i] = upper[i] if v > upper[i] else (lower[i] if v < lower[i] else v)
    envelope_into(h, r, hl, hu)
    total = keogh_sq
    for i in range(n):
        v = y[i]
        if v > hu[i]:
            total += (v - hu[i]) * (v - hu[i])
        elif v < hl[i]:
            total += (hl[i] - v) * (hl[i] - v)
        if total > max_sq:
            return total
    return total


@numba.njit(cache=True, nogil=True)
def lb_kim_sq(x, y):
    """Squared LB_Kim_FL: the first and last cells lie on every warping path."""
    d0 = x[0] - y[0]
    if x.shape[0] == 1 and y.shape[0] == 1:
        return d0 * d0
    d1 = x[-1] - y[-1]
    return d0 * d0 + d1 * d1


@numba.njit(cache=True, nogil=True)
def envelope_into(y, r, lower, upper):
    """Keogh envelope of y [n] with radius r into lower [n], upper [n] (O(n r), r is small here)."""
    n = y.shape[0]
    for i in range(n):
        lo = y[i]
        hi = y[i]
        for j in range(max(0, i - r), min(n, i + r + 1)):
            v = y[j]
            lo = v if v < lo else lo
            hi = v if v > hi else hi
        lower[i] = lo
        upper[i] = hi


@numba.njit(cache=True, nogil=True)
def lb_keogh_sq(x, lower, upper, max_sq):
    """Squared LB_Keogh of x against an envelope; stops early once it exceeds `max_sq`."""
    total = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        if v > upper[i]:
            d = v - upper[i]
            total += d * d
        elif v < lower[i]:
            d = lower[i] - v
            total += d * d
        if total > max_sq:
            return total
    return total


@numba.njit(cache=True, parallel=True)
def _cdist_lanes(X, Yp, rl, rh, task_a, task_g, out):
    """out[a, g*G + l] = squared DTW(X[a], Yp[g, :, l]) for each task (a, g)."""
    n = X.shape[1]
    m = Yp.shape[1]
    W = rl + rh + 1
    for t in numba.prange(task_a.shape[0]):
        a = task_a[t]
        g = task_g[t]
        yg = Yp[g]
        buf = np.empty((W + 2, G))
        for k in range(W + 2):
            for l in range(G):
                buf[k, l] = _INF
        for l in range(G):
            buf[rl + 1, l] = 0.0
        for i in range(n):
            xi = X[a, i]
            kstart = max(0, rl - i)
            kend = min(W - 1, m - 1 - i + rl)
            for k in range(kstart, kend + 1):
                j = i - rl + k
                for l in range(G):
                    left = buf[k, l]
                    diag = buf[k + 1, l]
                    up = buf[k + 2, l]
                    best = diag if diag < up else up
                    best = best if best < left else left
                    d = xi - yg[j, l]
                    buf[k + 1, l] = d * d + best
        for l in range(G):
            out[a, g * G + l] = buf[rh + 1, l]


def _pack(Y: np.ndarray) -> np.ndarray:
    """[N, m] -> [ceil(N/G), m, G]: G series side by side (the last group padded with copies)."""
    N, m = Y.shape
    groups = -(-N // G)
    padded = np.concatenate([Y, np.repeat(Y[-1:], groups * G - N, axis=0)])
    return np.ascontiguousarray(padded.reshape(groups, G, m).transpose(0, 2, 1))


def cdist_dtw_cpu(X: np.ndarray, Y: np.ndarray | None, rl: int, rh: int) -> np.ndarray:
    """All-pairs DTW of X [N, n] and Y [M, m] (Y None: X with itself, upper triangle only)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    symmetric = Y is None
    Yc = X if symmetric else np.ascontiguousarray(Y, dtype=np.float64)
    N, M = X.shape[0], Yc.shape[0]
    Yp = _pack(Yc)
    groups = Yp.shape[0]
    a, g = np.meshgrid(np.arange(N), np.arange(groups), indexing="ij")
    a, g = a.ravel(), g.ravel()
    if symmetric:  # a group is needed when it holds some b > a
        keep = g * G + G - 1 > a
        a, g = a[keep], g[keep]
    out = np.zeros((N, groups * G))
    _cdist_lanes(X, Yp, rl, rh, a.astype(np.int64), g.astype(np.int64), out)
    out = np.sqrt(out[:, :M])
    if symmetric:
        upper = np.triu(out, 1)
        out = upper + upper.T
    return out


def dtw_cpu(x: np.ndarray, y: np.ndarray, rl: int, rh: int, max_dist: float | None) -> float:
    """One pair; inf when the distance is proven to exceed `max_dist`."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    max_sq = math.inf if max_dist is None else float(max_dist) ** 2
    buf = np.empty(rl + rh + 3)
    d2, _ = dtw_sq(x, y, rl, rh, max_sq, buf)
    return math.sqrt(d2) if d2 <= max_sq else math.inf


def envelope(y: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) Keogh envelope of y [n] with radius r."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    lower, upper = np.empty_like(y), np.empty_like(y)
    envelope_into(y, r, lower, upper)
    return lower, upper
