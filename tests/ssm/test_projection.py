"""Online HiPPO projection and reconstruction (note C11), the frozen-FouT readout (C12)."""

import numpy as np
import pytest
import torch

from tsdyn.errors import InputError
from tsdyn.ssm import HiPPO, discretize, krylov, transition, white_signal


def _last_window_mse(hippo, u, window):
    x = hippo.project(u, return_all=False)
    return np.mean((hippo.reconstruct(x, np.arange(window)) - u[::-1][:window]) ** 2)


def test_c11_legt_zoh_half_sample_lag_n64_10hz():
    u = white_signal(3000, 1e-3, 10, seed=0)
    assert _last_window_mse(HiPPO("legt", 64, window=1000, method="zoh"), u, 1000) < 1e-6


def test_c11_scaled_legs_bilinear_n64_3hz():
    u = white_signal(3000, 1e-3, 3, seed=0)
    h = HiPPO("legs", 64)  # no window: scaled LegS over the whole history
    x = h.project(u, return_all=False)
    mse = np.mean((h.reconstruct(x, np.arange(3000), length=3000) - u[::-1]) ** 2)
    assert mse < 1e-4


def test_bilinear_beats_euler_for_scaled_legs():
    """LSSL App. C.1.3 / note C11 (b): bilinear is far more accurate than either Euler method."""
    u = white_signal(1000, 1e-3, 3, seed=1)
    err = {}
    for method in ("bilinear", "forward_euler", "backward_euler"):
        h = HiPPO("legs", 32, method=method)
        x = h.project(u, return_all=False)
        err[method] = np.mean((h.reconstruct(x, np.arange(1000), length=1000) - u[::-1]) ** 2)
    assert err["bilinear"] * 10 < min(err["forward_euler"], err["backward_euler"])


@pytest.mark.parametrize("measure", ["legt", "lmu", "fout", "legs"])
def test_window_reconstruction_is_accurate_for_slow_signals(measure):
    u = white_signal(2000, 1e-3, 3, seed=2)
    bound = {"fout": 3e-3}.get(measure, 1e-4)
    assert _last_window_mse(HiPPO(measure, 64, window=500), u, 500) < bound


def test_legt_reproduces_low_order_polynomials():
    """A cubic lies in the span of the first four Legendre functions: the error is only the
    discretization's, and it shrinks as the window holds more samples."""
    errors = []
    for W in (100, 400):
        s = np.arange(2 * W) / W
        u = 0.3 - 0.4 * s + 0.4 * s**2 - 0.064 * s**3
        h = HiPPO("legt", 16, window=W)
        rec = h.reconstruct(h.project(u, return_all=False), np.arange(W))
        errors.append(np.abs(rec - u[::-1][:W]).max())
    assert errors[1] < 1e-4 and errors[1] < errors[0] / 4


def test_every_step_and_channels_match_the_final_state():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(50, 3))
    for h in (HiPPO("legt", 8, window=20), HiPPO("legs", 8)):
        all_steps = h.project(u)
        assert all_steps.shape == (50, 3, 8)
        close = dict(rtol=0, atol=1e-13)
        np.testing.assert_allclose(all_steps[-1], h.project(u, return_all=False), **close)
        np.testing.assert_allclose(all_steps[:, 1], h.project(u[:, 1]), **close)  # independent
        np.testing.assert_allclose(all_steps[19], h.project(u[:20], return_all=False), **close)


def test_lti_projection_equals_the_krylov_sum():
    """x_T = Σ_j Ā^{T-1-j} B̄ u_j, the state the convolution view predicts."""
    u = np.random.default_rng(3).normal(size=64)
    h = HiPPO("fout", 16, window=30)
    dA, dB = h.matrices()
    K = krylov(64, torch.tensor(dA), torch.tensor(dB)).numpy()  # [N, L]
    np.testing.assert_allclose(h.project(u, return_all=False), K[:, ::-1] @ u, atol=1e-12)


@pytest.mark.slow
def test_c12_frozen_fout_least_squares_readout():
    """HTTYH reconstruct task with a frozen FouT (N=256, Δ=0.002, window 2 = 1000 samples) and a
    least-squares readout of the final state: test MSE 7.5e-3 within 20% (note C12)."""
    N, dt, L = 256, 0.002, 4000
    A, B = transition("fout", N, window=2.0)
    dA, dB = discretize(torch.tensor(A), torch.tensor(B), dt, "zoh")
    K = krylov(L, dA, dB).numpy()  # [N, L]
    u = white_signal(L, 1e-3, 100, batch=1280, seed=0)
    X = np.concatenate([u @ K[:, ::-1].T, np.ones((1280, 1))], 1)  # final state + bias
    Y = u[:, -1000:]
    W = np.linalg.lstsq(X[:1024], Y[:1024], rcond=None)[0]
    test_mse = np.mean((X[1024:] @ W - Y[1024:]) ** 2)
    assert abs(test_mse - 7.5e-3) < 0.2 * 7.5e-3


def test_white_signal_is_band_limited_and_starts_at_zero():
    u = white_signal(1000, 1e-3, 20, batch=4, seed=0)
    assert u.shape == (4, 1000)
    np.testing.assert_array_equal(u[:, 0], 0)
    power = np.abs(np.fft.rfft(u - u.mean(1, keepdims=True), axis=1)) ** 2
    freqs = np.fft.rfftfreq(1000, 1e-3)
    assert power[:, freqs > 20].sum() < 1e-20 * power.sum() + 1e-12


@pytest.mark.parametrize(
    ("make", "call", "words"),
    [
        (lambda: HiPPO("legt", 8), lambda h: h.project(np.ones(5)), "needs a window"),
        (lambda: HiPPO("lexs", 8), lambda h: h.project(np.ones(5)), "unknown measure"),
        (lambda: HiPPO("legs", 8), lambda h: h.project([1.0, np.nan]), "NaN"),
        (lambda: HiPPO("legs", 8), lambda h: h.project(np.ones((2, 2, 2))), "shape"),
        (lambda: HiPPO("legs", 8), lambda h: h.reconstruct(np.ones(8), [0]), "history length"),
        (lambda: HiPPO("foud", 8, window=5), lambda h: h.reconstruct(np.ones(8), [0]), "fout"),
        (lambda: HiPPO("legt", 8, window=5), lambda h: h.reconstruct(np.ones(7), [0]), "N=8"),
        (lambda: HiPPO("legt", 8, window=5, method="rk"), lambda h: h.project([1.0]), "rk"),
    ],
)
def test_bad_input(make, call, words):
    with pytest.raises(InputError, match=words):
        call(make())
