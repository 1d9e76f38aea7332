"""The fused CPU kernels against the PyTorch reference (float64, fresh random inputs, odd sizes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsdyn.kernels.rollout.cpu import (
    alrnn_forced_loss_grad,
    alrnn_free_run,
    alrnn_lyapunov_spectrum,
    alrnn_prediction_error,
    noisy_windows,
)
from tsdyn.kernels.rollout.naive import naive_alrnn_forced_loss, naive_alrnn_free_run, phi


def _model(rng, R, M, N, scale=0.3):
    a = rng.uniform(0.3, 0.9, (R, M))
    W = rng.normal(0.0, scale / np.sqrt(M), (R, M, M))
    h = rng.normal(0.0, 0.1, (R, M))
    L = rng.normal(0.0, 0.5, (R, M - N, N))
    return a, W, h, L


def _alpha(R, T, kind, tau=7, value=0.3):
    alpha = np.zeros((R, T + 1))
    if kind == "stf":
        alpha[:, tau::tau] = 1.0
    elif kind == "gtf":
        alpha[:, 1:] = value
    return alpha


def _rel(x, y):
    return np.abs(x - y).max() / max(np.abs(y).max(), 1e-12)


@pytest.mark.parametrize(
    ("R", "S", "T", "M", "N", "P", "kind"),
    [
        (3, 5, 37, 9, 3, 2, "stf"),
        (2, 4, 63, 7, 2, 0, "stf"),
        (1, 3, 50, 6, 1, 5, "gtf"),
        (2, 16, 21, 20, 3, 2, "none"),
    ],
)
def test_fused_loss_and_gradients_match_autograd(R, S, T, M, N, P, kind):
    rng = np.random.default_rng([R, S, T, M])
    a, W, h, L = _model(rng, R, M, N)
    data = rng.normal(size=(T * 4, N))
    starts = rng.integers(0, len(data) - T - 1, (R, S))
    alpha = _alpha(R, T, kind)
    keys = rng.integers(0, 2**63, R).astype(np.uint64)
    loss, grads, Z = alrnn_forced_loss_grad(a, W, h, L, data, starts, alpha, P, 0.05, keys)
    x = torch.tensor(noisy_windows(data, starts, T, 0.05, keys))
    params = [torch.tensor(p, requires_grad=True) for p in (a, W, h, L)]
    ref, zhat = naive_alrnn_forced_loss(*params, x, torch.tensor(alpha), P, return_states=True)
    ref.sum().backward()
    assert _rel(loss, ref.detach().numpy()) < 1e-12
    for g, p in zip(grads, params, strict=True):
        assert _rel(g, p.grad.numpy()) < 1e-10
    # the stored states are the forced trajectory: predictions with the forcing applied
    al = alpha[:, None, 1:, None]
    forced = zhat.detach().numpy().copy()
    forced[..., :N] = (1 - al) * forced[..., :N] + al * x.numpy()[:, :, 1:]
    assert np.allclose(np.transpose(Z[:, 1:], (0, 3, 1, 2)), forced, atol=1e-12)


@pytest.mark.parametrize("kind", ["stf", "gtf"])
def test_weighted_loss_and_gradients_match_autograd(kind):
    """Per-step, per-unit loss weights (burn-in, tail, unit weights) on fresh random weights."""
    R, S, T, M, N, P = 2, 6, 41, 9, 3, 2
    rng = np.random.default_rng([R, S, T, M, 11])
    a, W, h, L = _model(rng, R, M, N)
    data = rng.normal(size=(T * 4, N))
    starts = rng.integers(0, len(data) - T - 1, (R, S))
    alpha = _alpha(R, T, kind)
    weights = rng.uniform(0.0, 3.0, (R, T + 1, N))
    weights[:, 5:9] = 0.0
    keys = rng.integers(0, 2**63, R).astype(np.uint64)
    loss, grads, _ = alrnn_forced_loss_grad(a, W, h, L, data, starts, alpha, P, 0.05, keys, weights)
    x = torch.tensor(noisy_windows(data, starts, T, 0.05, keys))
    params = [torch.tensor(p, requires_grad=True) for p in (a, W, h, L)]
    ref = naive_alrnn_forced_loss(*params, x, torch.tensor(alpha), P, weights=torch.tensor(weights))
    ref.sum().backward()
    assert _rel(loss, ref.detach().numpy()) < 1e-12
    for g, p in zip(grads, params, strict=True):
        assert _rel(g, p.grad.numpy()) < 1e-10
    # and by hand: the weighted mean of the squared errors of the unweighted reference's states
    _, zhat = naive_alrnn_forced_loss(
        *[p.detach() for p in params], x, torch.tensor(alpha), P, return_states=True
    )
    sq = (zhat[..., :N].numpy() - x.numpy()[:, :, 1:]) ** 2
    assert np.allclose(loss, (sq * weights[:, None, 1:]).mean(axis=(1, 2, 3)), rtol=1e-12)
    plain, _, _ = alrnn_forced_loss_grad(a, W, h, L, data, starts, alpha, P, 0.05, keys)
    assert not np.allclose(plain, loss)


def test_float32_kernel_close_to_float64():
    rng = np.random.default_rng(7)
    R, S, T, M, N, P = 2, 16, 120, 20, 3, 2
    a, W, h, L = _model(rng, R, M, N)
    data = rng.normal(size=(500, N))
    starts = rng.integers(0, 500 - T - 1, (R, S))
    alpha = _alpha(R, T, "stf", tau=16)
    l64, g64, _ = alrnn_forced_loss_grad(a, W, h, L, data, starts, alpha, P)
    f32 = [p.astype(np.float32) for p in (a, W, h, L)]
    l32, g32, _ = alrnn_forced_loss_grad(*f32, data.astype(np.float32), starts, alpha, P)
    assert _rel(l32, l64) < 1e-4
    for x, y in zip(g32, g64, strict=True):
        assert _rel(x, y) < 1e-3


def test_forced_units_pass_no_gradient():
    """With identity forcing (alpha = 1) the prediction of the observed units at a forced step
    influences nothing later: d(later loss)/d(zhat_t[:N]) = 0, while the hidden units do."""
    rng = np.random.default_rng(3)
    R, S, T, M, N, P, tau = 1, 4, 30, 8, 3, 2, 5
    a, W, h, L = (torch.tensor(p, requires_grad=True) for p in _model(rng, R, M, N))
    x = torch.tensor(rng.normal(size=(R, S, T + 1, N)))
    z = torch.cat((x[:, :, 0], torch.einsum("rkn,rsn->rsk", L, x[:, :, 0])), -1)
    preds = []
    for t in range(1, T + 1):
        zhat = a[:, None] * z + torch.einsum("rij,rsj->rsi", W, phi(z, P)) + h[:, None]
        zhat.retain_grad()
        preds.append(zhat)
        z = torch.cat((x[:, :, t], zhat[..., N:]), -1) if t % tau == 0 else zhat
    later = sum(((p[..., :N] - x[:, :, k + 1]) ** 2).sum() for k, p in enumerate(preds) if k >= tau)
    later.backward()
    forced = preds[tau - 1]  # zhat_tau, forced at step tau
    assert torch.all(forced.grad[..., :N] == 0)
    assert torch.any(forced.grad[..., N:] != 0)
    # and the fused kernel's gradients agree with this hand-written rollout
    alpha = np.zeros((R, T + 1))
    alpha[:, tau::tau] = 1.0
    starts = np.zeros((R, S), dtype=np.int64)
    for s in range(S):  # lay the windows end to end in one series
        starts[0, s] = s * (T + 1)
    data = np.concatenate([x[0, s].numpy() for s in range(S)])
    params = [p.detach().clone().requires_grad_(True) for p in (a, W, h, L)]
    ref = naive_alrnn_forced_loss(*params, x, torch.tensor(alpha), P)
    ref.sum().backward()
    _, grads, _ = alrnn_forced_loss_grad(
        *(p.detach().numpy() for p in params), data, starts, alpha, P
    )
    for g, p in zip(grads, params, strict=True):
        assert _rel(g, p.grad.numpy()) < 1e-10


def test_noise_is_gaussian_and_independent_of_batching():
    rng = np.random.default_rng(0)
    data = np.zeros((5000, 3))
    starts = rng.integers(0, 4000, (3, 16))
    keys = np.array([11, 12, 13], dtype=np.uint64)
    X = noisy_windows(data, starts, 200, 0.05, keys)
    assert abs(X.std() / 0.05 - 1) < 0.02 and abs(X.mean()) < 0.002
    alone = noisy_windows(data, starts[1:2], 200, 0.05, keys[1:2])
    assert np.array_equal(alone[0], X[1])
    other = noisy_windows(data, starts, 200, 0.05, keys + np.uint64(1))
    assert abs(np.corrcoef(other.ravel(), X.ravel())[0, 1]) < 0.01


def test_free_run_and_prediction_error_match_reference():
    rng = np.random.default_rng(5)
    R, B, M, N, P = 2, 3, 9, 3, 3
    a, W, h, L = _model(rng, R, M, N)
    z0 = rng.normal(size=(R, B, M))
    ours = alrnn_free_run(a, W, h, z0, 41, P)
    ref = naive_alrnn_free_run(*(torch.tensor(p) for p in (a, W, h)), torch.tensor(z0), 41, P)
    assert np.allclose(ours, ref.numpy(), rtol=1e-12, atol=1e-12)
    x = rng.normal(size=(57, N))
    pe = alrnn_prediction_error(a, W, h, L, x, 5, P)
    for r in range(R):
        errs = []
        for t in range(57 - 5):
            z = np.concatenate([x[t], L[r] @ x[t]])[None, None]
            zt = alrnn_free_run(a[r : r + 1], W[r : r + 1], h[r : r + 1], z, 5, P)[0, 0, -1]
            errs.append(np.mean((zt[:N] - x[t + 5]) ** 2))
        assert np.isclose(pe[r], np.mean(errs), rtol=1e-12)


def test_lyapunov_spectrum_of_a_linear_map_is_log_eigenvalue_moduli():
    rng = np.random.default_rng(2)
    M = 6
    Q, _ = np.linalg.qr(rng.normal(size=(M, M)))
    J = Q @ np.diag([1.2, 0.9, 0.8, -0.5, 0.3, 0.1]) @ Q.T  # symmetric: eigenvalues known
    a = np.zeros((1, M))
    W = J[None]
    h = np.zeros((1, M))
    spec = alrnn_lyapunov_spectrum(a, W, h, rng.normal(size=(1, M)), 400, P=0, transient=50)
    expected = np.sort(np.log([1.2, 0.9, 0.8, 0.5, 0.3, 0.1]))[::-1]
    assert np.allclose(spec[0], expected, atol=1e-10)


def test_generalised_forcing_passes_one_minus_alpha_of_the_gradient():
    """GTF (z_t[:N] = (1 - alpha_t) zhat_t[:N] + alpha_t x_t, alpha varying per step as in an
    annealed schedule): the gradient reaching a prediction through the forced observed units is
    exactly (1 - alpha_t) times the gradient of the forced state; the fused kernel agrees."""
    rng = np.random.default_rng(11)
    R, S, T, M, N, P = 1, 3, 25, 7, 2, 2
    a, W, h, L = (torch.tensor(p, requires_grad=True) for p in _model(rng, R, M, N))
    x = torch.tensor(rng.normal(size=(R, S, T + 1, N)))
    alpha = np.zeros((R, T + 1))
    alpha[:, 1:] = rng.uniform(0.05, 0.6, T)
    z = torch.cat((x[:, :, 0], torch.einsum("rkn,rsn->rsk", L, x[:, :, 0])), -1)
    preds, states = [], []
    for t in range(1, T + 1):
        zhat = a[:, None] * z + torch.einsum("rij,rsj->rsi", W, phi(z, P)) + h[:, None]
        zhat.retain_grad()
        preds.append(zhat)
        obs = (1 - alpha[0, t]) * zhat[..., :N] + alpha[0, t] * x[:, :, t]
        z = torch.cat((obs, zhat[..., N:]), -1)
        z.retain_grad()
        states.append(z)
    k = 9  # a loss on predictions after step k + 1 only: every gradient at step k is via z_k
    later = sum(((p[..., :N] - x[:, :, j + 1]) ** 2).sum() for j, p in enumerate(preds) if j > k)
    later.backward()
    g_pred, g_state = preds[k].grad, states[k].grad
    assert torch.allclose(g_pred[..., :N], (1 - alpha[0, k + 1]) * g_state[..., :N], atol=1e-14)
    assert torch.allclose(g_pred[..., N:], g_state[..., N:], atol=1e-14)
    assert torch.any(g_state[..., :N] != 0)
    starts = np.array([[s * (T + 1) for s in range(S)]])
    data = np.concatenate([x[0, s].numpy() for s in range(S)])
    params = [p.detach().clone().requires_grad_(True) for p in (a, W, h, L)]
    naive_alrnn_forced_loss(*params, x, torch.tensor(alpha), P).sum().backward()
    _, grads, _ = alrnn_forced_loss_grad(
        *(p.detach().numpy() for p in params), data, starts, alpha, P
    )
    for g, p in zip(grads, params, strict=True):
        assert _rel(g, p.grad.numpy()) < 1e-10


def test_largest_lyapunov_matches_a_tangent_vector_reference_and_linear_maps():
    from tsdyn.kernels.rollout.cpu import alrnn_largest_lyapunov

    rng = np.random.default_rng(5)
    R, M, N, P, steps, transient = 2, 6, 2, 3, 300, 40
    a, W, h, _ = _model(rng, R, M, N, scale=1.2)
    z0 = rng.normal(size=(R, M))
    v0 = np.random.default_rng(0).standard_normal(M)
    v0 /= np.linalg.norm(v0)
    expect = []
    for r in range(R):  # float64 reference: v <- J v / |J v| along z <- F(z)
        z, v, total = z0[r].copy(), v0.copy(), 0.0
        for t in range(transient + steps):
            d = np.concatenate([np.ones(M - P), (z[M - P :] > 0).astype(float)])
            v = a[r] * v + W[r] @ (d * v)
            z = a[r] * z + W[r] @ (d * z) + h[r]
            if t >= transient:
                total += np.log(np.linalg.norm(v))
            v /= np.linalg.norm(v)
        expect.append(total / steps)
    got = alrnn_largest_lyapunov(a, W, h, z0, steps, P, transient=transient)
    assert np.allclose(got, expect, rtol=1e-10)
    # P = 0: a linear map; the exponent is log of the spectral radius (dominant real eigenvalue)
    A = np.diag([0.9, 0.5, -0.3])
    Wl = (A - np.diag([0.2, 0.2, 0.2]))[None]
    lam = alrnn_largest_lyapunov(
        np.full((1, 3), 0.2), Wl, np.zeros((1, 3)), np.ones((1, 3)), 2000, 0
    )
    assert lam[0] == pytest.approx(np.log(0.9), abs=1e-9)
