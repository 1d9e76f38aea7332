"""Convolution kernels: delay spikes (C6), dense vs diagonal (C7), complex64 powers (C9), FFT conv."""

import numpy as np
import pytest
import torch

from tsdyn.ssm import (
    discretize,
    discretize_diag,
    dplr_kernel,
    dplr_step,
    fft_conv,
    krylov,
    log_discrete_diag,
    nplr,
    rank_correction,
    transition,
    vandermonde,
)


def _fout_readout(N):
    _, b = transition("fout", N)
    return b.copy()  # b = (1, 0, √2, 0, ...), B = b at window 2


def _legt_readout(N):
    n = np.arange(N)
    return np.sqrt(2 * n + 1) * (-1.0) ** n


@pytest.mark.parametrize(
    ("measure", "readout", "expect"),
    [
        (
            "fout",
            _fout_readout,
            {
                ("zoh", 0.002): 998,
                ("zoh", 0.004): 499,
                ("bilinear", 0.002): 1005,
                ("bilinear", 0.004): 504,
            },
        ),
        (
            "legt",
            _legt_readout,
            {
                ("zoh", 0.002): 999,
                ("zoh", 0.004): 499,
                ("bilinear", 0.002): 1005,
                ("bilinear", 0.004): 505,
            },
        ),
    ],
)
def test_c6_window_two_puts_the_delay_spike_at_two_over_dt(measure, readout, expect):
    """Our window=2 is state-spaces/s4's convention: the 'other endpoint' kernel peaks near 2/Δ."""
    N = 256
    A, B = transition(measure, N, window=2.0)
    C = torch.tensor(readout(N))[None]
    for (method, dt), spike in expect.items():
        dA, dB = discretize(torch.tensor(A), torch.tensor(B), dt, method)
        K = krylov(1200, dA, dB, C)[0].numpy()
        assert 20 + np.argmax(np.abs(K[20:])) == spike, (method, dt)
    if measure == "legt":  # Padé approximant of a pure delay: nothing passes at lag 0
        assert abs(K[0]) < 1e-3


def test_c6b_s4d_lin_kernel_is_periodic_with_period_two_over_dt():
    half, tau = 512, 1000
    dt = 2.0 / tau
    for re, spike, height in [(0.0, 1000, 1.1806), (-0.5, 999, 0.4344)]:
        lam = torch.tensor(re + 1j * np.pi * np.arange(half))
        _, dB = discretize_diag(lam, torch.ones(half, dtype=torch.complex128), dt, "zoh")
        K = vandermonde(1500, log_discrete_diag(lam, dt, "zoh"), dB).numpy()
        assert abs(20 + np.argmax(np.abs(K[20:])) - spike) <= 1
        np.testing.assert_allclose(K[spike], height, atol=1e-3)
        if re == 0.0:
            np.testing.assert_allclose(K[0], K[1000], atol=1e-3)
            far = np.r_[K[10:990], K[1010:1500]]
            assert np.abs(far).max() < 0.031


@pytest.mark.parametrize("method", ["bilinear", "zoh"])
def test_c7_dense_krylov_equals_diagonal_vandermonde(method):
    """LegS normal part (S4D-LegS) in dense form vs its eigenbasis, N=64, L=1024, Δ=0.01."""
    N, L, dt = 64, 1024, 0.01
    A, B = transition("legs", N)
    P = rank_correction("legs", N)
    C = np.random.default_rng(0).normal(size=N)
    dA, dB = discretize(torch.tensor(A + P.T @ P), torch.tensor(B), dt, method)
    K_dense = krylov(L, dA, dB, torch.tensor(C)[None])[0]
    d = nplr("legs", N)
    lam = torch.tensor(d.Lambda)
    _, dBd = discretize_diag(lam, torch.tensor(d.B), dt, method)
    Ct = torch.tensor(C).to(torch.complex128) @ torch.tensor(d.V)
    K_diag = vandermonde(L, log_discrete_diag(lam, dt, method), Ct * dBd)
    assert (K_dense - K_diag).abs().max() < 1e-10


def test_krylov_equals_explicit_powers_at_odd_lengths():
    g = torch.Generator().manual_seed(0)
    dA = torch.randn(3, 5, 5, generator=g, dtype=torch.float64) * 0.3
    dB = torch.randn(3, 5, generator=g, dtype=torch.float64)
    C = torch.randn(3, 2, 5, generator=g, dtype=torch.float64)
    for L in (1, 2, 7, 63):
        K = krylov(L, dA, dB, C)
        ref = torch.stack(
            [C @ (torch.linalg.matrix_power(dA, k) @ dB[..., None])[..., 0:1] for k in range(L)], -1
        )[..., 0, :]
        assert K.shape == (3, 2, L)
        torch.testing.assert_close(K, ref, rtol=1e-12, atol=1e-12)


def test_c9_complex64_powers_through_exp_are_accurate():
    lam = torch.tensor(-0.5 + 1j * np.pi * np.arange(32))
    dt, L = 1e-3, 16384
    ell = torch.arange(L, dtype=torch.float64)
    exact = torch.exp((dt * lam)[:, None] * ell)
    fast = torch.exp((dt * lam).to(torch.complex64)[:, None] * ell.float())
    cum = torch.cumprod(torch.exp(dt * lam).to(torch.complex64)[:, None].expand(-1, L), -1)
    err_exp = (fast.to(torch.complex128) - exact).abs().max().item()
    err_cum = (cum.to(torch.complex128) / torch.exp(dt * lam)[:, None] - exact).abs().max().item()
    assert err_exp < 2e-5
    assert err_exp < err_cum


@pytest.mark.parametrize("L", [1, 17, 100])
def test_fft_conv_is_causal_convolution(L):
    rng = np.random.default_rng(L)
    u = rng.normal(size=(2, 3, L))
    K = rng.normal(size=(3, L))
    D = rng.normal(size=3)
    y = fft_conv(torch.tensor(u), torch.tensor(K), torch.tensor(D)).numpy()
    ref = np.stack(
        [[np.convolve(u[b, h], K[h])[:L] + D[h] * u[b, h] for h in range(3)] for b in range(2)]
    )
    np.testing.assert_allclose(y, ref, atol=1e-12)
    K2 = rng.normal(size=(3, 4, L))
    y2 = fft_conv(torch.tensor(u), torch.tensor(K2)).numpy()
    ref2 = np.array(
        [
            [[np.convolve(u[b, h], K2[h, m])[:L] for m in range(4)] for h in range(3)]
            for b in range(2)
        ]
    )
    np.testing.assert_allclose(y2, ref2, atol=1e-12)


@pytest.mark.parametrize("L", [1, 2, 7, 50, 1025])
def test_vandermonde_equals_explicit_power_sum(L):
    g = torch.Generator().manual_seed(L)
    log_dA = torch.complex(
        -torch.rand(3, 5, generator=g, dtype=torch.float64) * 0.1,
        torch.randn(3, 5, generator=g, dtype=torch.float64),
    )
    CB = torch.complex(
        torch.randn(3, 5, generator=g, dtype=torch.float64),
        torch.randn(3, 5, generator=g, dtype=torch.float64),
    )
    powers = torch.exp(log_dA[..., None] * torch.arange(L, dtype=torch.float64))  # [3, 5, L]
    ref = (CB[..., None] * powers).sum(-2)
    torch.testing.assert_close(vandermonde(L, log_dA, CB, conj=False), ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(vandermonde(L, log_dA, CB), 2 * ref.real, rtol=1e-12, atol=1e-12)
    # float32 within the tolerance of the s4 extension tests (1e-4 relative)
    K32 = vandermonde(L, log_dA.to(torch.complex64), CB.to(torch.complex64)).double()
    assert ((K32 - 2 * ref.real).abs().max() / ref.real.abs().max()) < 1e-4


def _legs_eigenbasis(N):
    """Full eigenbasis of the LegS NPLR form: A = V (diag(Λ) - P̃ P̃ᴴ) Vᴴ."""
    A, B = transition("legs", N)
    P = rank_correction("legs", N)
    d = nplr("legs", N)
    V = np.concatenate([d.V, d.V.conj()], 1)
    lam = np.concatenate([d.Lambda, d.Lambda.conj()])
    Vh = V.conj().T
    return A, B, V, torch.tensor(lam), torch.tensor(Vh @ P.T), torch.tensor(Vh @ B)


def test_c7_dplr_generating_function_equals_dense_bilinear_powers():
    """S4 Algorithm 1 on LegS itself (not its normal part), N=64, L=1024, Δ=0.01 (note C7)."""
    N, L, dt = 64, 1024, 0.01
    A, B, V, lam, P, Bt = _legs_eigenbasis(N)
    C = np.random.default_rng(0).normal(size=N)
    K = dplr_kernel(L, lam, P, Bt, torch.tensor(C @ V), dt)
    dA, dB = discretize(torch.tensor(A), torch.tensor(B), dt, "bilinear")
    K_dense = krylov(L, dA, dB, torch.tensor(C)[None])[0]
    assert (K - K_dense).abs().max() < 1e-12


def test_c7b_dplr_step_equals_dense_bilinear_step():
    N, dt = 32, 0.05
    _, _, _, lam, P, Bt = _legs_eigenbasis(N)
    A_e = torch.diag(lam) - P @ P.conj().T
    dA, dB = discretize(A_e, Bt, dt, "bilinear")
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(3, N)) + 1j * rng.normal(size=(3, N)))
    u = torch.tensor([0.7, -0.2, 1.0], dtype=torch.float64)
    ref = x @ dA.T + dB * u[:, None]
    assert (dplr_step(x, u, lam, P, Bt, dt) - ref).abs().max() < 1e-12
