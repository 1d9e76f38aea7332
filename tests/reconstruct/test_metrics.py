"""DSR metrics on hand-made cases and against slow reference computations."""

from __future__ import annotations

import numpy as np
import pytest

from tsdyn.datasets.systems import simulate
from tsdyn.reconstruct.metrics import (
    BinnedDstsp,
    dstsp,
    dstsp_bins,
    dstsp_gmm,
    hellinger_spectrum,
    lyapunov_from_data,
)


@pytest.fixture(scope="module")
def lorenz():
    x = simulate("lorenz63", 20_000, 0.01, seed=3).values
    return (x - x.mean(0)) / x.std(0)


def _dense_reference(x_true, x_gen, K, alpha):
    """numpy.histogramdd with the same edges, all K^N cells dense (slow path)."""
    sd = x_true.std(0, ddof=1)
    edges = [
        np.linspace(x_true[:, n].min() - 0.1 * sd[n], x_true[:, n].max() + 0.1 * sd[n], K + 1)
        for n in range(x_true.shape[1])
    ]
    ct, _ = np.histogramdd(x_true, bins=edges)
    cg, _ = np.histogramdd(x_gen, bins=edges)
    p = (ct + alpha) / (ct.sum() + alpha * K ** x_true.shape[1])
    q = (cg + alpha) / (cg.sum() + alpha * K ** x_true.shape[1])
    return float(np.sum(p * np.log(p / q)))


@pytest.mark.parametrize(("N", "K"), [(1, 30), (2, 17), (3, 30), (3, 8)])
def test_binned_dstsp_matches_dense_histogram(N, K):
    rng = np.random.default_rng(N * K)
    x = rng.normal(size=(3001, N))
    y = 1.3 * rng.normal(size=(2500, N)) + 0.2
    assert np.isclose(dstsp_bins(x, y, K), _dense_reference(x, y, K, 1e-5), rtol=1e-10)


def test_sparse_cells_path_matches_dense_path():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(4000, 5)), rng.normal(size=(4000, 5)) * 1.2
    sparse = BinnedDstsp(x, 30)  # 30^5 cells > 2^22: occupied cells only
    dense = BinnedDstsp(x, 30)
    dense.dense = True
    dense.true = np.bincount(dense._cells(x), minlength=30**5).astype(float)
    assert not sparse.dense
    assert np.isclose(sparse(y), dense(y), rtol=1e-10)


def test_identical_series_give_zero(lorenz):
    assert dstsp(lorenz, lorenz) == pytest.approx(0.0, abs=1e-12)
    assert hellinger_spectrum(lorenz, lorenz) == pytest.approx(0.0, abs=1e-7)
    assert dstsp_gmm(lorenz[:4000], lorenz[:4000]) == pytest.approx(0.0, abs=1e-12)


def test_shuffled_series_keeps_dstsp_but_not_dh(lorenz):
    a, b = lorenz[:10_000], lorenz[10_000:]
    shuffled = b[np.random.default_rng(0).permutation(len(b))]
    assert dstsp_bins(a, shuffled) == pytest.approx(dstsp_bins(a, b), rel=1e-12)
    assert dstsp_bins(a, b) < 1.0
    assert hellinger_spectrum(a, b) < 0.15
    assert hellinger_spectrum(a, shuffled) > 0.7


def test_gaussian_with_the_data_moments_has_high_dstsp(lorenz):
    rng = np.random.default_rng(1)
    g = rng.multivariate_normal(lorenz.mean(0), np.cov(lorenz.T), len(lorenz))
    a, b = lorenz[:10_000], lorenz[10_000:]
    assert dstsp_bins(a, g[:10_000]) > 5 * dstsp_bins(a, b)
    assert dstsp_bins(a, g[:10_000]) > 1.5
    a, b, g = a[::3], b[::3], g[: len(a[::3])]  # thinned: the whole attractor, fewer points
    assert dstsp_gmm(a, g, sigma2=0.3) > 2 * dstsp_gmm(a, b, sigma2=0.3)


def test_hellinger_is_a_bounded_symmetric_distance():
    rng = np.random.default_rng(4)
    t = np.arange(4096)
    x = np.stack([np.sin(0.05 * t), np.sin(0.11 * t)], 1) + 0.1 * rng.normal(size=(4096, 2))
    y = np.stack([np.sin(0.3 * t), np.sin(0.02 * t)], 1) + 0.1 * rng.normal(size=(4096, 2))
    d = hellinger_spectrum(x, y, per_dimension=True)
    assert np.all((d >= 0) & (d <= 1)) and d.min() > 0.5
    assert hellinger_spectrum(x, y) == pytest.approx(hellinger_spectrum(y, x), rel=1e-12)
    assert np.isnan(hellinger_spectrum(x, np.full_like(y, np.nan)))
    assert np.isnan(hellinger_spectrum(x, np.zeros_like(y)))  # a fixed point: no spectrum
    with pytest.raises(ValueError, match="equal lengths"):
        hellinger_spectrum(x, y[:-1])


def test_dstsp_of_a_diverged_run_is_nan():
    x = np.random.default_rng(0).normal(size=(500, 3))
    assert np.isnan(dstsp_bins(x, np.full((500, 3), np.inf)))
    assert np.isnan(dstsp_bins(x, x + 1e6))


@pytest.mark.slow
def test_lorenz_lyapunov_exponent_from_data_within_10_percent():
    x = simulate("lorenz63", 100_000, 0.01, seed=1).values
    lam = lyapunov_from_data((x - x.mean(0)) / x.std(0), dt=0.01)
    assert lam[0] == pytest.approx(0.906, rel=0.10)
    assert abs(lam[1]) < 0.1 and lam[2] < -10  # (0.906, 0, -14.57)
