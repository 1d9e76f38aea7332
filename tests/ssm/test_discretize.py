"""Discretizations against scipy.signal.cont2discrete (note C10), diagonal forms, gradients."""

import numpy as np
import pytest
import torch
from scipy.signal import cont2discrete

from tsdyn.errors import InputError
from tsdyn.ssm import discretize, discretize_diag, log_discrete_diag, transition

SCIPY = {
    "forward_euler": "euler",
    "backward_euler": "backward_diff",
    "bilinear": "bilinear",
    "zoh": "zoh",
}


@pytest.mark.parametrize("method", list(SCIPY))
@pytest.mark.parametrize(("measure", "N"), [("legs", 32), ("fout", 16), ("legt", 9)])
def test_c10_equals_scipy_cont2discrete(method, measure, N):
    A, B = transition(measure, N)
    dA, dB = discretize(A, B, 0.01, method)
    ref = cont2discrete((A, B[:, None], np.eye(N), np.zeros((N, 1))), 0.01, method=SCIPY[method])
    np.testing.assert_allclose(dA, ref[0], rtol=0, atol=1e-13)
    np.testing.assert_allclose(dB, ref[1][:, 0], rtol=0, atol=1e-13)


def test_batched_dt_matches_one_at_a_time():
    A, B = transition("legs", 8)
    dts = torch.tensor([1e-3, 0.05, 0.7], dtype=torch.float64)
    for method in SCIPY:
        dA, dB = discretize(torch.tensor(A), torch.tensor(B), dts, method)
        assert dA.shape == (3, 8, 8) and dB.shape == (3, 8)
        for i, dt in enumerate(dts.tolist()):
            a, b = discretize(A, B, dt, method)
            np.testing.assert_allclose(dA[i].numpy(), a, atol=1e-14)
            np.testing.assert_allclose(dB[i].numpy(), b, atol=1e-14)


@pytest.mark.parametrize("method", list(SCIPY))
def test_diagonal_equals_dense_on_a_diagonal_matrix(method):
    rng = np.random.default_rng(1)
    lam = -rng.uniform(0.1, 2, 5) + 1j * rng.normal(size=5) * 3
    B = rng.normal(size=5) + 1j * rng.normal(size=5)
    dA, dB = discretize(np.diag(lam), B, 0.3, method)
    a, b = discretize_diag(lam, B, 0.3, method)
    np.testing.assert_allclose(np.diag(dA), a, atol=1e-13)
    np.testing.assert_allclose(dB, b, atol=1e-13)
    log_a = log_discrete_diag(torch.tensor(lam), 0.3, method).numpy()
    np.testing.assert_allclose(np.exp(log_a), a, atol=1e-13)


def test_lssl_lemma_backward_euler_is_a_sigmoid_gate():
    """A=-1, B=1, Δ=e^z: backward Euler gives x = (1-σ(z)) x_prev + σ(z) u (LSSL Lemma 3.1)."""
    z = 0.37
    dA, dB = discretize(np.array([[-1.0]]), np.array([1.0]), np.exp(z), "backward_euler")
    sig = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose([dA[0, 0], dB[0]], [1 - sig, sig], atol=1e-15)


@pytest.mark.parametrize("method", ["bilinear", "zoh", "backward_euler"])
def test_gradients_match_finite_differences(method):
    A, B = transition("legs", 4)
    A = torch.tensor(A, requires_grad=True)
    B = torch.tensor(B, requires_grad=True)
    dt = torch.tensor([0.1, 0.4], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, d: discretize(a, b, d, method), (A, B, dt))


def test_zoh_diag_is_finite_at_zero_eigenvalue():
    a, b = discretize_diag(
        torch.zeros(2, dtype=torch.complex128), torch.ones(2, dtype=torch.complex128), 0.5, "zoh"
    )
    np.testing.assert_allclose(a.numpy(), 1)
    np.testing.assert_allclose(b.numpy(), 0.5)


def test_unknown_method():
    with pytest.raises(InputError, match="unknown discretization 'rk4'"):
        discretize(np.eye(2), np.ones(2), 0.1, "rk4")
