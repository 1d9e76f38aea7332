"""HiPPO matrices, NPLR form, diagonal inits and closed-form bases (research note 2.2, C1-C5)."""

import numpy as np
import pytest
from scipy.linalg import expm

from tsdyn.errors import InputError
from tsdyn.ssm import MEASURES, basis, diag_init, nplr, rank_correction, transition

NPLR_MEASURES = [m for m in MEASURES if m != "lmu"]


def test_c1_legs_eigenvalues_are_minus_one_to_minus_n():
    A, _ = transition("legs", 64)
    assert np.allclose(np.tril(A), A)  # lower-triangular: the eigenvalues are the diagonal
    np.testing.assert_array_equal(np.sort(np.diag(A)), -np.arange(64, 0, -1.0))


@pytest.mark.parametrize("measure", NPLR_MEASURES)
@pytest.mark.parametrize("window", [1.0, 2.0])
def test_c2_normal_part_is_shifted_skew(measure, window):
    N = 32
    A, _ = transition(measure, N, window)
    P = rank_correction(measure, N, window)
    AP = A + P.T @ P
    shift = {"legs": -0.5, "foud": -0.5}.get(measure, 0.0) / window
    np.testing.assert_allclose(np.diag(AP), shift, atol=1e-13)
    off = AP - np.diag(np.diag(AP))
    np.testing.assert_allclose(off, -off.T, atol=1e-12)


def test_c2_lagt_eigenvalues_are_minus_half():
    A, _ = transition("lagt", 16)
    np.testing.assert_allclose(np.diag(A), -0.5)
    assert np.allclose(np.tril(A), A)


@pytest.mark.parametrize("measure", NPLR_MEASURES)
def test_nplr_reconstructs_the_normal_part_with_unitary_v(measure):
    N = 64
    A, B = transition(measure, N)
    P = rank_correction(measure, N)
    d = nplr(measure, N)
    assert d.Lambda.shape == (N // 2,) and d.V.shape == (N, N // 2)
    assert (d.Lambda.imag >= 0).all()
    np.testing.assert_allclose(d.V.conj().T @ d.V, np.eye(N // 2), atol=1e-12)
    full = 2 * ((d.V * d.Lambda) @ d.V.conj().T).real  # both conjugate halves
    np.testing.assert_allclose(full, A + P.T @ P, atol=1e-10 * np.abs(A).max())
    np.testing.assert_allclose(2 * (d.V @ d.B).real, B, atol=1e-10 * np.abs(B).max())
    np.testing.assert_allclose(2 * (d.V @ d.P.T).real, P.T, atol=1e-10)


def test_c3_legs_eigenvectors_are_ill_conditioned_but_nplr_is_not():
    A, _ = transition("legs", 16)
    _, W = np.linalg.eig(A)
    assert np.linalg.cond(W) > 1e9  # note C3: 8.3e10 at N=16
    d = nplr("legs", 16)
    assert np.linalg.cond(d.V) < 1 + 1e-10


def test_c4_s4d_legs_imaginary_parts():
    lam, B = diag_init("legs", 64)
    im = np.sort(np.abs(lam.imag))
    np.testing.assert_allclose(
        im[:6], [0.26386, 0.90586, 1.70297, 2.62566, 3.66481, 4.81914], atol=1e-4
    )
    np.testing.assert_allclose(im[-1], 1303.27, atol=1e-2)
    np.testing.assert_allclose(lam.real, -0.5, atol=1e-12)
    assert B.shape == (32,)


def test_c4b_s4d_inv_imaginary_parts():
    lam, B = diag_init("inv", 64)
    im = np.sort(lam.imag)
    np.testing.assert_allclose(
        im[:6], [0.32336, 1.00189, 1.72643, 2.50180, 3.33357, 4.22812], atol=1e-4
    )
    np.testing.assert_allclose(im[-1], 64 / np.pi * 63, rtol=1e-12)
    np.testing.assert_array_equal(B, 1.0)


def test_c4c_s4d_lin():
    lam, _ = diag_init("lin", 64)
    np.testing.assert_allclose(lam, -0.5 + 1j * np.pi * np.arange(32), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("measure", "N", "tol"), [("legs", 16, 1e-10), ("lagt", 16, 1e-10), ("foud", 16, 1e-10)]
)
@pytest.mark.parametrize("window", [1.0, 2.5])
def test_c5_exact_bases(measure, N, tol, window):
    A, B = transition(measure, N, window)
    t = np.array([0.1, 0.5, 1.0, 2.5]) * window
    exact = np.stack([expm(ti * A) @ B for ti in t])
    np.testing.assert_allclose(exact, basis(measure, N, t, window), rtol=0, atol=tol)


@pytest.mark.parametrize("measure", ["legt", "fout"])
def test_c5_window_bases_approach_the_ideal_ones(measure):
    """LegT/FouT e^{tA}B only approximate the finite-window basis; low orders match, zero after."""
    A, B = transition(measure, 256)
    inside = expm(0.3 * A) @ B
    ideal = basis(measure, 256, [0.3])[0]
    np.testing.assert_allclose(inside[:5], ideal[:5], atol=0.05)
    after = expm(1.5 * A) @ B
    assert np.abs(after[:5]).max() < 0.01


@pytest.mark.parametrize("measure", MEASURES)
def test_window_is_a_time_rescaling(measure):
    A1, B1 = transition(measure, 8)
    A3, B3 = transition(measure, 8, window=3.0)
    np.testing.assert_allclose(A3, A1 / 3)
    np.testing.assert_allclose(B3, B1 / 3)


def test_lmu_is_legt_up_to_a_diagonal_rescaling():
    n = np.arange(12)
    D = np.diag((-1.0) ** n * np.sqrt(2 * n + 1))
    A_t, B_t = transition("legt", 12)
    A_l, B_l = transition("lmu", 12)
    np.testing.assert_allclose(A_l, D @ A_t @ np.linalg.inv(D), atol=1e-12)
    np.testing.assert_allclose(B_l, D @ B_t, atol=1e-12)


def test_fout_has_a_dead_state_and_nplr_pairs_it():
    A, B = transition("fout", 8)
    assert not A[1].any() and not A[:, 1].any() and B[1] == 0
    d = nplr("fout", 8)
    assert np.isclose(d.Lambda[0], 0)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: transition("legx", 8), "unknown measure"),
        (lambda: transition("fout", 7), "even"),
        (lambda: transition("legs", 0), "positive"),
        (lambda: transition("legs", 8, window=0), "window"),
        (lambda: rank_correction("lmu", 8), "legt"),
        (lambda: diag_init("foo", 8), "unknown diagonal init"),
        (lambda: diag_init("lin", 7), "even"),
    ],
)
def test_bad_input_says_what_to_do(call, words):
    with pytest.raises(InputError, match=words):
        call()
