"""Forecasting models against slow float64 references, and the laws the papers state."""

import numpy as np
import pytest
import torch

from tsdyn.forecast import OrthoTransWrapper, correlation_matrix, orthotrans_basis, weighted_l1_loss
from tsdyn.forecast.models import MODELS, DLinear, Linear, NLinear, OLinear
from tsdyn.forecast.models.linear import moving_average
from tsdyn.forecast.models.olinear import NormLin, RevIN

L, H, C = 37, 11, 3  # odd sizes on purpose


LTSF = ("linear", "nlinear", "dlinear")
SMALL = {"olinear": {"d_model": 16, "d_ff": 16}}  # small hyper-parameters to keep tests fast


@pytest.mark.parametrize(
    ("name", "individual"), [(n, False) for n in sorted(MODELS)] + [(n, True) for n in LTSF]
)
def test_shapes_and_gradients(name, individual):
    torch.manual_seed(0)
    kwargs = {"individual": individual} if name in LTSF else SMALL.get(name, {})
    model = MODELS[name](L, H, C, **kwargs)
    x = torch.randn(5, L, C)
    y = model(x)
    assert y.shape == (5, H, C)
    y.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_linear_matches_float64_reference():
    torch.manual_seed(1)
    model = Linear(L, H, C, individual=True).double()
    x = torch.randn(4, L, C, dtype=torch.float64)
    w, b = model.linear.weight.detach(), model.linear.bias.detach()  # (C H L), (C H)
    ref = torch.empty(4, H, C, dtype=torch.float64)
    for bi in range(4):
        for c in range(C):
            ref[bi, :, c] = w[c] @ x[bi, :, c] + b[c]
    torch.testing.assert_close(model(x), ref)


def test_dlinear_decomposition_is_the_papers_moving_average():
    x = torch.randn(3, L, C, dtype=torch.float64)
    k, pad = 25, 12
    ref = torch.empty_like(x)
    for t in range(L):  # window [t-12, t+12], indices clamped to the ends = edge replication
        idx = [min(max(s, 0), L - 1) for s in range(t - pad, t + pad + 1)]
        ref[:, t] = x[:, idx].mean(dim=1)
    torch.testing.assert_close(moving_average(x, k), ref)
    model = DLinear(L, H, C).double()
    trend = moving_average(x, 25)
    expected = model.seasonal(x - trend) + model.trend(trend)
    torch.testing.assert_close(model(x), expected)


def test_nlinear_is_linear_on_last_value_subtracted_input():
    torch.manual_seed(2)
    nl = NLinear(L, H, C)
    lin = Linear(L, H, C)
    lin.load_state_dict(nl.state_dict())
    x = torch.randn(6, L, C)
    last = x[:, -1:, :]
    torch.testing.assert_close(nl(x), lin(x - last) + last)
    # and it is invariant to a constant shift of each channel, up to that shift
    shift = torch.randn(1, 1, C)
    torch.testing.assert_close(nl(x + shift), nl(x) + shift, atol=1e-5, rtol=1e-5)


def _slow_correlation(values, length):
    mats = []
    n = values.shape[0]
    for j in range(values.shape[1]):
        windows = np.array([values[k : k + length, j] for k in range(n - length + 1)])  # (K T)
        cov = np.cov(windows.T)  # windows are observations, time steps are variables
        if (np.diag(cov) < 1e-4).any():
            continue
        mats.append(cov / np.diag(cov)[None, :])
    sigma = np.mean(mats, axis=0)
    return (sigma + sigma.T) / 2


def test_orthotrans_basis_is_orthogonal_and_diagonalizes_its_correlation():
    rng = np.random.default_rng(3)
    t = np.arange(400)
    values = np.stack(
        [
            np.sin(t / 7.0) + 0.3 * rng.standard_normal(400),
            np.cumsum(rng.standard_normal(400)),
            np.full(400, 2.0),
        ],
        axis=1,
    )  # the constant channel is skipped
    sigma = correlation_matrix(values, 24)
    np.testing.assert_allclose(sigma, _slow_correlation(values, 24), rtol=1e-10, atol=1e-12)
    q, eig = orthotrans_basis(values, 24)
    np.testing.assert_allclose(q @ q.T, np.eye(24), atol=1e-10)
    d = q @ sigma @ q.T
    np.testing.assert_allclose(d, np.diag(eig), atol=1e-9)
    assert np.all(np.diff(eig) <= 1e-12)  # descending


def test_orthotrans_wrapper_with_identity_basis_is_the_inner_model():
    inner = DLinear(L, H, C)
    wrapped = OrthoTransWrapper(inner, torch.eye(L), torch.eye(H))
    x = torch.randn(2, L, C)
    torch.testing.assert_close(wrapped(x), inner(x))
    q_in = torch.linalg.qr(torch.randn(L, L))[0].T
    q_out = torch.linalg.qr(torch.randn(H, H))[0].T
    wrapped = OrthoTransWrapper(inner, q_in, q_out)
    ref = torch.einsum("vt,bvc->btc", q_out, inner(torch.einsum("vt,btc->bvc", q_in, x)))
    torch.testing.assert_close(wrapped(x), ref)


def test_normlin_rows_are_a_convex_mixing():
    torch.manual_seed(4)
    layer = NormLin(7)
    a = layer.matrix()
    assert (a > 0).all()
    torch.testing.assert_close(a.sum(dim=-1), torch.ones(7))
    x = torch.randn(2, 7, 5)
    torch.testing.assert_close(layer(x), torch.einsum("nm,bmd->bnd", a, x))


def test_revin_round_trip_and_olinear_scale_equivariance():
    torch.manual_seed(5)
    revin = RevIN(C)
    with torch.no_grad():
        revin.weight.uniform_(0.5, 2.0)
        revin.bias.normal_()
    x = torch.randn(4, L, C) * 3 + 1
    z, stats = revin.normalize(x)
    torch.testing.assert_close(revin.denormalize(z, stats), x, atol=1e-4, rtol=1e-4)
    model = OLinear(L, H, C, d_model=16, d_ff=16).eval()
    # RevIN makes OLinear equivariant to a per-channel affine change of the input
    torch.testing.assert_close(model(x * 5 + 2), model(x) * 5 + 2, atol=2e-4, rtol=2e-4)


def test_weighted_l1_loss_matches_its_formula():
    pred, true = torch.randn(3, 5, 2), torch.randn(3, 5, 2)
    w = torch.tensor([(i + 1) ** -0.5 for i in range(5)])
    expected = sum(w[i] * (pred[:, i] - true[:, i]).abs().sum() for i in range(5)) / pred.numel()
    torch.testing.assert_close(weighted_l1_loss(pred, true), expected)
