"""DTW kernels against the plain dynamic programme (and tslearn), plus the laws DTW obeys."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tsdyn.kernels import cdist_dtw, dtw
from tsdyn.kernels.dtw import band_limits, envelope, lb_keogh, lb_kim
from tsdyn.kernels.dtw.gpu import band_cells, cdist_dtw_gpu
from tsdyn.kernels.dtw.naive import naive_dtw, naive_envelope, naive_lb_keogh

SIZES = [(1, 1), (1, 5), (7, 7), (9, 13), (31, 17), (64, 63)]
WINDOWS = [None, 0, 1, 3, 10]


@pytest.fixture
def rng(request):
    return np.random.default_rng(abs(hash(request.node.name)) % 2**32)


def walk(rng, n):
    return np.cumsum(rng.standard_normal(n))


@pytest.mark.parametrize("n,m", SIZES)
@pytest.mark.parametrize("window", WINDOWS)
def test_dtw_equals_naive_and_tslearn(rng, n, m, window):
    from tslearn.metrics import dtw as tsl_dtw

    x, y = walk(rng, n), walk(rng, m)
    ref = naive_dtw(x, y, window)
    assert dtw(x, y, window) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    kwargs = (
        {} if window is None else {"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": window}
    )
    assert tsl_dtw(x, y, **kwargs) == pytest.approx(ref, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("window", [None, 0, 2, 6])
def test_cdist_equals_naive(rng, window):
    X = rng.standard_normal((11, 23)).cumsum(1)
    Y = rng.standard_normal((10, 19)).cumsum(1)  # 10 = one full lane group of 8 plus a ragged one
    ref = np.array([[naive_dtw(a, b, window) for b in Y] for a in X])
    np.testing.assert_allclose(cdist_dtw(X, Y, window), ref, rtol=1e-12, atol=1e-12)
    self_ref = np.array([[naive_dtw(a, b, window) for b in X] for a in X])
    D = cdist_dtw(X, None, window)
    np.testing.assert_allclose(D, self_ref, rtol=1e-12, atol=1e-12)
    assert np.all(np.diag(D) == 0) and np.array_equal(D, D.T)


@pytest.mark.parametrize("window", [None, 0, 4])
def test_laws_identity_symmetry_lower_bounds(rng, window):
    for _ in range(20):
        n = int(rng.integers(2, 40))
        x, y = walk(rng, n), walk(rng, n)
        d = dtw(x, y, window)
        assert dtw(x, x, window) == 0.0
        assert dtw(y, x, window) == pytest.approx(d, rel=1e-12)
        assert lb_kim(x, y) <= d + 1e-12
        assert lb_keogh(x, y, window) <= d + 1e-12
        assert lb_keogh(y, x, window) <= d + 1e-12
        assert lb_keogh(x, y, window) == pytest.approx(naive_lb_keogh(x, y, window), rel=1e-12)
        # a wider band can only lower the distance; no band is the lowest
        assert dtw(x, y, None) <= d + 1e-12
    lower, upper = envelope(y, window)
    ref_lower, ref_upper = naive_envelope(y, window)
    np.testing.assert_array_equal(lower, ref_lower)
    np.testing.assert_array_equal(upper, ref_upper)


def test_lb_kim_unequal_lengths(rng):
    for _ in range(20):
        x, y = walk(rng, int(rng.integers(1, 20))), walk(rng, int(rng.integers(1, 20)))
        assert lb_kim(x, y) <= dtw(x, y) + 1e-12


def test_early_abandoning(rng):
    for _ in range(30):
        x, y = walk(rng, 30), walk(rng, 30)
        d = dtw(x, y, 3)
        assert dtw(x, y, 3, max_dist=d * 1.0001 + 1e-9) == pytest.approx(d, rel=1e-12)
        assert dtw(x, y, 3, max_dist=d * 0.999) == math.inf


@pytest.mark.parametrize("n,m,window", [(9, 13, 2), (16, 16, None), (5, 5, 0)])
def test_torch_wavefront_equals_numba(rng, n, m, window):
    X, Y = rng.standard_normal((6, n)), rng.standard_normal((5, m))
    rl, rh = band_limits(n, m, window)
    got = cdist_dtw_gpu(torch.tensor(X), torch.tensor(Y), rl, rh, backend="torch")
    np.testing.assert_allclose(got.numpy(), cdist_dtw(X, Y, window), rtol=1e-12, atol=1e-12)
    sym = cdist_dtw_gpu(torch.tensor(X), None, *band_limits(n, n, window), backend="torch")
    np.testing.assert_allclose(sym.numpy(), cdist_dtw(X, None, window), rtol=1e-12, atol=1e-12)


def test_tensor_in_tensor_out(rng):
    X = torch.tensor(rng.standard_normal((4, 12)))
    D = cdist_dtw(X, None, 2)
    assert isinstance(D, torch.Tensor) and D.shape == (4, 4)
    np.testing.assert_allclose(D.numpy(), cdist_dtw(X.numpy(), None, 2))


def test_band_cells_counts_the_band():
    for n, m, window in [(128, 128, 12), (9, 13, 2), (7, 7, None)]:
        rl, rh = band_limits(n, m, window)
        inside = sum(1 for i in range(n) for j in range(m) if -rl <= j - i <= rh)
        assert band_cells(n, m, rl, rh) == inside
    assert band_cells(128, 128, 12, 12) == 128 * 25 - 12 * 13


def test_bad_input_messages():
    with pytest.raises(ValueError, match="non-negative integer"):
        dtw([1.0, 2.0], [1.0], window=-1)
    with pytest.raises(ValueError, match="NaN"):
        cdist_dtw(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match=r"shape \[N, n\]"):
        cdist_dtw(np.ones(3))
    with pytest.raises(ValueError, match="equal lengths"):
        lb_keogh([1.0, 2.0], [1.0], 1)


@pytest.mark.gpu
@pytest.mark.parametrize("n,m,window", [(128, 128, 12), (97, 131, 5), (40, 33, None)])
def test_triton_kernel_matches_numba(rng, n, m, window):
    X, Y = rng.standard_normal((70, n)).cumsum(1), rng.standard_normal((45, m)).cumsum(1)
    ref = cdist_dtw(X, Y, window)
    got = cdist_dtw(torch.tensor(X, device="cuda"), torch.tensor(Y, device="cuda"), window)
    rel = np.linalg.norm(got.double().cpu().numpy() - ref) / np.linalg.norm(ref)
    assert rel < 1e-5


def test_cumulative_bound_abandoning_is_exact(rng):
    from tsdyn.kernels.dtw.cpu import dtw_sq_cb, envelope_into, lb_keogh_suffix

    for _ in range(50):
        n, r = int(rng.integers(2, 30)), int(rng.integers(0, 5))
        x, y = walk(rng, n), walk(rng, n)
        lower, upper, cb = np.empty(n), np.empty(n), np.empty(n + 1)
        envelope_into(y, r, lower, upper)
        lb = lb_keogh_suffix(x, lower, upper, cb)
        d2 = naive_dtw(x, y, r) ** 2
        assert lb <= d2 * (1 + 1e-12) + 1e-12
        assert np.all(np.diff(cb) <= 0)
        got, _ = dtw_sq_cb(x, y, r, d2 * (1 + 1e-9) + 1e-12, np.empty(2 * r + 3), cb)
        assert got == pytest.approx(d2, rel=1e-12, abs=1e-12)
        below, _ = dtw_sq_cb(x, y, r, d2 * 0.99, np.empty(2 * r + 3), cb)
        assert below == math.inf or below == pytest.approx(d2, rel=1e-12)  # never a wrong value


def test_lb_improved_between_keogh_and_dtw(rng):
    from tsdyn.kernels.dtw.cpu import envelope_into, lb_improved_sq, lb_keogh_sq

    for _ in range(50):
        n, r = int(rng.integers(2, 30)), int(rng.integers(0, 5))
        x, y = walk(rng, n), walk(rng, n)
        lower, upper = np.empty(n), np.empty(n)
        envelope_into(y, r, lower, upper)
        keogh = lb_keogh_sq(x, lower, upper, math.inf)
        scratch = [np.empty(n) for _ in range(3)]
        improved = lb_improved_sq(x, y, lower, upper, r, keogh, *scratch, math.inf)
        assert keogh <= improved <= naive_dtw(x, y, r) ** 2 * (1 + 1e-12) + 1e-12
