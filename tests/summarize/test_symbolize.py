"""TiVy-R symbolisation: the pruned searches return exactly what exhaustive DTW searches return."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tsdyn.datasets.motifs import planted_motifs
from tsdyn.kernels.dtw.cpu import dtw_sq, envelope_into, lb_keogh_suffix
from tsdyn.kernels.dtw.naive import naive_dtw
from tsdyn.summarize import normalize_series
from tsdyn.summarize._symbolize import (
    COUNTERS,
    SLACK,
    _assign_fixed,
    _dtw_pruned,
    _medoid_proxies,
    leader_symbols,
)

R = 3


def _full_sq(x, y, r=R):
    """Squared banded DTW without any abandoning (the exhaustive kernel)."""
    return dtw_sq(x, y, r, r, math.inf, np.empty(2 * r + 3))[0]


def _cells(seed, n_series=30, n_windows=10, w=16, duplicates=True):
    """Planted-motif cells [N, w] (series-z), with some exact duplicates to create ties."""
    data = planted_motifs(n_series=n_series, n_windows=n_windows, window=w, n_motifs=3, seed=seed)
    Z = normalize_series(data.table.values[: n_windows * w], "series-z")
    C = np.ascontiguousarray(Z.T.reshape(-1, w))
    if duplicates:
        rng = np.random.default_rng(seed)
        src = rng.choice(len(C), len(C) // 10, replace=False)
        dst = rng.choice(len(C), len(C) // 10, replace=False)
        C[dst] = C[src]
    return C


@pytest.mark.parametrize("seed", range(3))
def test_pruned_dtw_is_exact_below_its_threshold(seed):
    C = _cells(seed, duplicates=False)
    rng = np.random.default_rng(seed)
    w = C.shape[1]
    buf, cb, cbc = np.empty(2 * w + 2), np.empty(w + 1), np.empty(w + 1)
    lo, up = np.empty(w), np.empty(w)
    for _ in range(300):
        x, y = C[rng.integers(len(C))], C[rng.integers(len(C))]
        full = _full_sq(x, y)
        assert math.isclose(math.sqrt(full), naive_dtw(x, y, R), rel_tol=1e-12, abs_tol=1e-12)
        envelope_into(y, R, lo, up)
        lb_keogh_suffix(x, lo, up, cb)
        envelope_into(x, R, lo, up)
        lb_keogh_suffix(y, lo, up, cbc)
        for thr in (full * (1 + SLACK), full * 1.5, 1e9):  # callers add SLACK to thresholds
            d, cells = _dtw_pruned(x, y, R, thr, buf, cb, cbc)
            assert d == full  # bit for bit
            assert cells <= w * (2 * R + 1)
        for thr in (full * 0.999, full * 0.5) if full > 0 else ():
            assert _dtw_pruned(x, y, R, thr, buf, cb, cbc)[0] > thr


def _brute_nearest(C, x, reps, eps_sq):
    """Nearest of C[reps] within eps (squared DTW <= eps^2), ties to the lowest index; -1: none."""
    d = np.array([_full_sq(x, C[q]) for q in reps])
    ok = np.flatnonzero(d <= eps_sq)
    if not len(ok):
        return -1, math.inf
    t = ok[np.argmin(d[ok])]  # argmin: first of equal values
    return int(t), d[t]


def _brute_leader(C, order, eps):
    symbols, reps = np.empty(len(C), np.int64), []
    for s in order:
        t, _ = _brute_nearest(C, C[s], reps, eps * eps)
        if t < 0:
            symbols[s] = len(reps)
            reps.append(s)
        else:
            symbols[s] = t
    return symbols, np.array(reps)


@pytest.mark.parametrize("seed,delta", [(0, 0.5), (1, 0.5), (2, 0.8), (3, 0.3)])
def test_leader_equals_exhaustive_leader(seed, delta):
    C = _cells(seed)
    order = np.random.default_rng(seed).permutation(len(C))
    eps = delta * math.sqrt(C.shape[1])
    symbols, dist, reps, stats = leader_symbols(C, order, R, eps)
    want_symbols, want_reps = _brute_leader(C, order, eps)
    assert (symbols == want_symbols).all()
    assert (reps == want_reps).all()
    for s in range(len(C)):
        assert dist[s] == math.sqrt(_full_sq(C[s], C[reps[symbols[s]]]))
    assert stats[COUNTERS.index("dtw_cells")] > 0


@pytest.mark.parametrize("seed", range(4))
def test_assignment_equals_exhaustive_nearest(seed):
    C = _cells(seed)
    N, w = C.shape
    rng = np.random.default_rng(seed)
    K = 40
    reps_k = rng.choice(N, K, replace=False)
    reps_k[5] = reps_k[30] if seed % 2 else reps_k[5]  # a duplicated representative: a tie
    reps = np.empty(N, np.int64)
    reps[:K] = reps_k
    lower, upper = np.empty((N, w)), np.empty((N, w))
    for t, q in enumerate(reps_k):
        envelope_into(C[q], R, lower[t], upper[t])
    ends = np.ascontiguousarray(C[reps_k][:, [0, w - 1]])
    hints = np.where(rng.random(N) < 0.5, rng.integers(0, K, N), -1)
    eps_sq = (0.6 * math.sqrt(w)) ** 2
    symbols, dist = np.empty(N, np.int64), np.empty(N)
    _assign_fixed(C, reps, ends, lower, upper, K, R, eps_sq, hints, symbols, dist)
    for s in range(N):
        t, d = _brute_nearest(C, C[s], reps_k, eps_sq)
        assert symbols[s] == t
        assert dist[s] == (math.sqrt(d) if t >= 0 else math.inf)


@pytest.mark.parametrize("seed", range(3))
def test_medoid_proxies_equal_exhaustive_ones(seed):
    C = _cells(seed)
    N = len(C)
    rng = np.random.default_rng(seed)
    K = 25
    symbols = rng.integers(0, K, N)
    symbols[symbols == 7] = 8  # an empty symbol
    symbols[0] = 9  # and a singleton
    symbols[symbols == 9] = 10
    symbols[0] = 9
    got = _medoid_proxies(C, symbols, K, R, np.zeros(len(COUNTERS), np.int64))
    for k in range(K):
        members = np.flatnonzero(symbols == k)
        if not len(members):
            assert got[k] == -1
            continue
        total = np.zeros(C.shape[1])
        for s in members:  # the same summation order as the kernel
            total += C[s]
        mean = total / len(members)
        d = np.array([_full_sq(C[s], mean) for s in members])
        assert got[k] == (members[0] if len(members) == 1 else members[np.argmin(d)])
