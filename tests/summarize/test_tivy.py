"""TiVy-R: the eps invariant, disjoint groups, complete mining, lazy greedy = plain greedy, ARI."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tsdyn.datasets.motifs import planted_motifs
from tsdyn.errors import InputError, NotFittedError
from tsdyn.kernels.dtw.naive import naive_dtw
from tsdyn.summarize import TiVy, adjusted_rand_index, normalize_series, planted_ari
from tsdyn.summarize._patterns import mine_patterns, select_groups


@pytest.fixture(scope="module")
def small():
    return planted_motifs(n_series=24, n_windows=12, window=16, n_motifs=3, seed=3)


def _cells(tv, i, k):
    w = tv.window_
    return tv.normalized_[k * w : (k + 1) * w, i]


@pytest.mark.parametrize("alphabet,refine", [("global", 0), ("global", 1), ("window", 1)])
def test_every_cell_within_eps_of_its_representative(small, alphabet, refine):
    tv = TiVy(window=small.window, alphabet=alphabet, refine=refine).fit(small.table.values)
    K = tv.n_windows_
    reps = tv.representatives_
    for i in range(tv.n_series_):
        for k in range(K):
            s = tv.symbols_[i, k]
            rep = reps[s]
            d = naive_dtw(_cells(tv, i, k), _cells(tv, rep // K, rep % K), tv.radius_)
            assert d <= tv.eps_ * (1 + 1e-9)
            assert tv.cell_distance_[i, k] == pytest.approx(d, abs=1e-9)


def test_groups_are_disjoint_and_share_their_symbols(small):
    tv = TiVy(window=small.window).fit(small.table.values)
    seen = np.zeros((tv.n_series_, tv.n_windows_), dtype=int)
    for g in tv.groups_:
        span = slice(g.start_window, g.start_window + g.n_windows)
        seen[g.members, span] += 1
        assert (tv.symbols_[g.members, span] == np.array(g.symbols)).all()
        assert len(g.members) >= tv.min_support_
        assert len(g.members) * g.n_windows - tv.panel_cost_ > 0
        assert (tv.assignment_[g.members, span] == g.id).all()
    assert seen.max() <= 1
    assert ((tv.assignment_ >= 0) == (seen == 1)).all()
    assert tv.metrics_["coverage"] == pytest.approx(seen.mean())


def _brute_patterns(S, min_support, max_len):
    _M, n = S.shape
    found = {}
    for k in range(n):
        for length in range(1, min(max_len, n - k) + 1):
            for p in {tuple(row) for row in S[:, k : k + length]}:
                members = np.flatnonzero((S[:, k : k + length] == p).all(axis=1))
                if len(members) >= min_support:
                    found[(k, p)] = tuple(members)
    return found


@pytest.mark.parametrize("seed", range(5))
def test_mining_finds_exactly_the_frequent_patterns(seed):
    rng = np.random.default_rng(seed)
    S = rng.integers(0, 3, size=(15, 7))
    for min_support, max_len in [(2, 7), (3, 3), (5, 7)]:
        got = {
            (p.start, p.symbols): tuple(p.members) for p in mine_patterns(S, min_support, max_len)
        }
        assert len(got) == len(mine_patterns(S, min_support, max_len))  # no duplicates
        assert got == _brute_patterns(S, min_support, max_len)


def _plain_greedy(patterns, M, n, min_support, cost):
    covered = np.zeros((M, n), dtype=bool)
    chosen = []
    while True:
        best = None
        for p in patterns:
            free = p.members[~covered[p.members, p.start : p.start + p.length].any(axis=1)]
            gain = len(free) * p.length - cost
            if len(free) < min_support or gain <= 0:
                continue
            key = (gain, p.length, -p.start, tuple(-s for s in p.symbols))
            if best is None or key > best[0]:
                best = (key, p, free)
        if best is None:
            return chosen
        _, p, free = best
        covered[free, p.start : p.start + p.length] = True
        chosen.append((p.start, p.symbols, tuple(free)))


@pytest.mark.parametrize("seed", range(5))
def test_lazy_greedy_equals_plain_greedy(seed):
    rng = np.random.default_rng(seed)
    S = rng.integers(0, 3, size=(20, 8))
    patterns = mine_patterns(S, 2)
    for cost in (0.0, 2.0, 5.0):
        lazy = select_groups(patterns, 20, 8, 2, cost)
        got = [(p.start, p.symbols, tuple(p.members)) for p in lazy]
        assert got == _plain_greedy(patterns, 20, 8, 2, cost)


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_motifs_are_recovered(seed):
    data = planted_motifs(n_series=40, n_windows=24, seed=seed)
    tv = TiVy(window=data.window).fit(data.table.values)
    assert planted_ari(data.labels, tv.cell_labels()) >= 0.9


def test_adjusted_rand_index_matches_sklearn():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.integers(0, 4, 50), rng.integers(0, 6, 50)
        assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert adjusted_rand_index([1, 1, 2], [5, 5, 7]) == 1.0


def test_planted_ari_background_modes():
    truth = np.array([0, 0, 0, 1, 1])
    assert planted_ari(truth, np.array([0, 0, 0, 3, 3])) == 1.0
    assert planted_ari(truth, np.array([2, 2, 0, 3, 3])) < 1.0  # grouped background is an error
    assert planted_ari(truth, np.array([0, 0, 0, 3, 3]), "class") == 1.0


def test_normalisations():
    rng = np.random.default_rng(1)
    V = rng.standard_normal((50, 4)) * 3 + 7
    V[:, 3] = 2.0
    Z = normalize_series(V, "series-z")
    np.testing.assert_allclose(Z[:, :3].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, :3].std(0), 1, atol=1e-12)
    assert (Z[:, 3] == 0).all()
    U = normalize_series(V, "series-minmax")
    assert U[:, :3].min() == 0 and U[:, :3].max() == 1
    with pytest.raises(InputError, match="unknown normalisation"):
        normalize_series(V, "zscore")


def test_options_and_determinism(small):
    X = small.table.values
    a = TiVy(window=16, order="random", seed=4).fit(X)
    b = TiVy(window=16, order="random", seed=4).fit(X)
    assert np.array_equal(a.assignment_, b.assignment_)
    q = TiVy(window=16, eps_quantile=0.05, normalize="window-z", refine=0).fit(X)
    assert q.eps_ > 0 and q.delta_ == pytest.approx(q.eps_ / math.sqrt(16))
    capped = TiVy(window=16, max_pattern_len=1).fit(X)
    assert all(g.n_windows == 1 for g in capped.groups_)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"window": 1}, "window"), ({"window": 10_000}, "longer than"), ({"band": 2.0}, "band"),
     ({"eps": 0.0}, "eps"), ({"min_support": 1}, "min-support"), ({"alphabet": "x"}, "alphabet")],
)  # fmt: skip
def test_bad_parameters_raise_input_errors(small, kwargs, match):
    with pytest.raises(InputError, match=match):
        TiVy(**kwargs).fit(small.table.values)


def test_not_fitted_and_nan():
    with pytest.raises(NotFittedError):
        TiVy().cell_labels()
    with pytest.raises(InputError, match="NaN"):
        TiVy(window=4).fit(np.full((16, 3), np.nan))


def test_greedy_combinatorics_small():
    # two series that share 3 windows beat three series that share 1 window when cost = 2
    S = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 2]])
    groups = select_groups(mine_patterns(S, 2), 3, 3, 2, 2.0)
    assert next((g.start, g.symbols, tuple(g.members)) for g in groups) == (0, (0, 0, 0), (0, 1))
    assert list(itertools.chain.from_iterable(g.members for g in groups)).count(2) <= 1


def test_window_z_panels_show_the_matched_cells(small):
    tv = TiVy(window=16, normalize="window-z").fit(small.table.values)
    w = tv.window_
    cells = tv.normalized_.T.reshape(tv.n_series_, tv.n_windows_, w)
    np.testing.assert_allclose(cells.mean(axis=2), 0, atol=1e-9)
    for g in tv.groups_:
        a = g.start_window * w
        span = tv.normalized_[a : a + g.n_windows * w, g.rep_member]
        np.testing.assert_array_equal(g.representative, span)


@pytest.mark.parametrize("alphabet,order,refine", [("global", "time", 1), ("window", "random", 2)])
def test_index_changes_no_result(alphabet, order, refine):
    data = planted_motifs(n_series=40, n_windows=12, window=16, n_motifs=3, seed=11)
    kw = dict(window=16, alphabet=alphabet, order=order, refine=refine, seed=4)
    a = TiVy(**kw).fit(data.table.values)
    b = TiVy(index=False, **kw).fit(data.table.values)
    assert (a.symbols_ == b.symbols_).all()
    assert (a.cell_distance_ == b.cell_distance_).all()
    assert (a.representatives_ == b.representatives_).all()
    assert (a.assignment_ == b.assignment_).all()
    assert a.counters_["comparisons"] == b.counters_["comparisons"]
