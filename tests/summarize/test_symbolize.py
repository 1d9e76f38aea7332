"""TiVy-R symbolisation: the pruned searches return exactly what exhaustive DTW searches return,
and the representative index returns exactly what the unindexed search returns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tsdyn.datasets.motifs import planted_motifs
from tsdyn.kernels.dtw.cpu import dtw_sq, envelope_into, lb_keogh_sq, lb_keogh_suffix, lb_kim_sq
from tsdyn.kernels.dtw.naive import naive_dtw
from tsdyn.summarize import normalize_series
from tsdyn.summarize._symbolize import (
    COUNTERS,
    SLACK,
    TILE,
    _assign_fixed,
    _assign_indexed,
    _bounds_all,
    _dtw_pruned,
    _medoid_proxies,
    _suffixes,
    leader_symbols,
    refine_symbols,
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


@pytest.mark.parametrize("index", [True, False])
@pytest.mark.parametrize("seed,delta", [(0, 0.5), (1, 0.5), (2, 0.8), (3, 0.3)])
def test_leader_equals_exhaustive_leader(seed, delta, index):
    C = _cells(seed)
    order = np.random.default_rng(seed).permutation(len(C))
    eps = delta * math.sqrt(C.shape[1])
    symbols, dist, reps, stats = leader_symbols(C, order, R, eps, index)
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


# -- the representative index ------------------------------------------------------------------


def _random_cells(rng, n, w):
    """Cells of three kinds: random walks, smoothed noise, and near-copies of a few shapes (so
    that many pairs are close), with some exact duplicates (ties)."""
    walks = np.cumsum(rng.standard_normal((n, w)), axis=1) / math.sqrt(w)
    noise = rng.standard_normal((n, w + 4))
    smooth = (noise[:, :-4] + noise[:, 1:-3] + noise[:, 2:-2] + noise[:, 3:-1] + noise[:, 4:]) / 2.2
    shapes = rng.standard_normal((4, w))
    near = shapes[rng.integers(0, 4, n)] + 0.15 * rng.standard_normal((n, w))
    pick = rng.integers(0, 3, n)
    C = np.where(pick[:, None] == 0, walks, np.where(pick[:, None] == 1, smooth, near))
    C = np.ascontiguousarray(C)
    dup = rng.choice(n, n // 10, replace=False)
    C[dup] = C[rng.choice(n, n // 10, replace=False)]
    return C


@pytest.mark.parametrize("seed", range(6))
def test_batched_bound_is_a_lower_bound_at_least_kim_and_keogh(seed):
    rng = np.random.default_rng(100 + seed)
    w = int(rng.choice([2, 3, 5, 16, 33]))
    r = int(rng.integers(0, w))
    K = int(rng.integers(1, 2 * TILE + 40))  # several blocks of the batched loop
    C = _random_cells(rng, K + 20, w)
    reps, queries = C[:K], C[K:]
    YT, LT, UT = np.empty((w, K)), np.empty((w, K)), np.empty((w, K))
    lower, upper = np.empty((K, w)), np.empty((K, w))
    for t in range(K):
        envelope_into(reps[t], r, lower[t], upper[t])
    YT[:], LT[:], UT[:] = reps.T, lower.T, upper.T
    out, acc = np.empty(K), np.empty((2, TILE))
    sl, su = np.empty(w), np.empty(w)
    for x in queries:
        envelope_into(x, r, sl, su)
        _bounds_all(x, sl, su, YT, LT, UT, K, out, acc)
        for t in rng.choice(K, min(K, 40), replace=False):
            y = reps[t]
            exact = naive_dtw(x, y, r) ** 2
            assert out[t] <= exact * (1 + 1e-12) + 1e-12
            lbs = (
                lb_kim_sq(x, y),
                lb_keogh_sq(x, lower[t], upper[t], math.inf),
                lb_keogh_sq(y, sl, su, math.inf),
            )
            assert out[t] >= max(lbs) * (1 - 1e-12) - 1e-12


@pytest.mark.parametrize("seed", range(6))
def test_suffixes_equal_lb_keogh_suffix_and_split_bound_is_a_lower_bound(seed):
    rng = np.random.default_rng(200 + seed)
    w = int(rng.choice([2, 3, 8, 24, 33]))
    r = int(rng.integers(0, w))
    C = _random_cells(rng, 80, w)
    lo, up, sl, su = np.empty(w), np.empty(w), np.empty(w), np.empty(w)
    cb, cbc, want_cb, want_cbc = (np.empty(w + 1) for _ in range(4))
    YT, LT, UT = (np.empty((w, 1)) for _ in range(3))
    batched, acc = np.empty(1), np.empty((2, TILE))
    tighter = 0
    for _ in range(60):
        x, y = C[rng.integers(len(C))], C[rng.integers(len(C))]
        envelope_into(y, r, lo, up)
        envelope_into(x, r, sl, su)
        split = _suffixes(x, y, lo, up, sl, su, cb, cbc, r)
        lb_keogh_suffix(x, lo, up, want_cb)
        lb_keogh_suffix(y, sl, su, want_cbc)
        np.testing.assert_allclose(cb, want_cb, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(cbc, want_cbc, rtol=1e-13, atol=1e-13)
        exact = naive_dtw(x, y, r) ** 2
        assert split <= exact * (1 + 1e-12) + 1e-12
        YT[:, 0], LT[:, 0], UT[:, 0] = y, lo, up
        _bounds_all(x, sl, su, YT, LT, UT, 1, batched, acc)
        assert split >= batched[0] * (1 - 1e-12) - 1e-12  # never looser than the batched bound
        tighter += split > batched[0] * (1 + 1e-9)
    if w >= 8 and r <= w // 4:
        assert tighter > 0


@pytest.mark.parametrize("seed", range(6))
def test_indexed_leader_equals_unindexed_on_random_cells(seed):
    rng = np.random.default_rng(300 + seed)
    w = int(rng.choice([2, 3, 4, 12, 32]))
    r = int(rng.integers(0, w // 2 + 1))
    C = _random_cells(rng, 700, w)
    order = rng.permutation(len(C))
    eps = float(rng.uniform(0.2, 0.9)) * math.sqrt(w)
    got = leader_symbols(C, order, r, eps, index=True)
    want = leader_symbols(C, order, r, eps, index=False)
    for a, b in zip(got[:3], want[:3], strict=True):  # symbols, distances, representatives
        assert (a == b).all()
    dtw_cells = COUNTERS.index("dtw_cells")
    assert 0 < got[3][dtw_cells]
    assert got[3][0] == want[3][0]  # the same number of representative comparisons
    tiny = 0.02 * math.sqrt(w)  # nearly every cell founds a symbol: the index grows twice
    got = leader_symbols(C, order, r, tiny, index=True)
    want = leader_symbols(C, order, r, tiny, index=False)
    assert len(got[2]) > 512
    for a, b in zip(got[:3], want[:3], strict=True):
        assert (a == b).all()


@pytest.mark.parametrize("seed", range(4))
def test_indexed_assignment_equals_unindexed_and_exhaustive(seed):
    rng = np.random.default_rng(400 + seed)
    w = 16
    C = _random_cells(rng, 900, w)
    N = len(C)
    K = TILE + 60  # more than one block of the batched bound
    reps_k = rng.choice(N, K, replace=False)
    reps_k[7] = reps_k[K - 3]  # a duplicated representative: a tie
    reps = np.zeros(N, np.int64)
    reps[:K] = reps_k
    lower, upper = np.empty((N, w)), np.empty((N, w))
    for t, q in enumerate(reps_k):
        envelope_into(C[q], R, lower[t], upper[t])
    ends = np.ascontiguousarray(C[reps_k][:, [0, w - 1]])
    hints = np.where(rng.random(N) < 0.5, rng.integers(0, K, N), -1)
    eps_sq = (0.5 * math.sqrt(w)) ** 2
    got_s, got_d = np.empty(N, np.int64), np.empty(N)
    want_s, want_d = np.empty(N, np.int64), np.empty(N)
    _assign_indexed(C, reps, K, R, eps_sq, hints, got_s, got_d)
    _assign_fixed(C, reps, ends, lower, upper, K, R, eps_sq, hints, want_s, want_d)
    assert (got_s == want_s).all()
    assert (got_d == want_d).all()
    for s in rng.choice(N, 60, replace=False):
        t, d = _brute_nearest(C, C[s], reps_k, eps_sq)
        assert got_s[s] == t
        assert got_d[s] == (math.sqrt(d) if t >= 0 else math.inf)


@pytest.mark.parametrize("seed", range(2))
def test_indexed_refinement_equals_unindexed(seed):
    C = _cells(seed)
    order = np.random.default_rng(seed).permutation(len(C))
    eps = 0.5 * math.sqrt(C.shape[1])
    symbols = leader_symbols(C, order, R, eps)[0]
    outs = []
    for index in (True, False):
        stats = np.zeros(len(COUNTERS), np.int64)
        outs.append(refine_symbols(C, order, symbols, R, eps, 2, stats, index))
    for a, b in zip(*outs, strict=True):
        assert (a == b).all()


@pytest.mark.parametrize("seed", range(6))
def test_pruned_dtw_exact_on_random_widths_and_radii(seed):
    """Dead cells keep their values (only never-computed cells read as inf): the result must still
    be the full band's DTW bit for bit at or above it, and above the threshold below it."""
    rng = np.random.default_rng(500 + seed)
    w = int(rng.choice([2, 3, 7, 16, 40]))
    r = int(rng.integers(0, w + 1))
    C = _random_cells(rng, 60, w)
    buf, cb, cbc = np.empty(2 * r + 3), np.empty(w + 1), np.empty(w + 1)
    lo, up, sl, su = np.empty(w), np.empty(w), np.empty(w), np.empty(w)
    for _ in range(80):
        x, y = C[rng.integers(len(C))], C[rng.integers(len(C))]
        full = _full_sq(x, y, r)
        envelope_into(y, r, lo, up)
        envelope_into(x, r, sl, su)
        lb_keogh_suffix(x, lo, up, cb)
        lb_keogh_suffix(y, sl, su, cbc)
        for thr in (full * (1 + SLACK), full * (1 + rng.uniform(0, 0.3)), math.inf):
            assert _dtw_pruned(x, y, r, thr, buf, cb, cbc)[0] == full
        for thr in (full * (1 - 1e-6), full * rng.uniform(0, 1)) if full > 0 else ():
            assert _dtw_pruned(x, y, r, thr, buf, cb, cbc)[0] > thr
