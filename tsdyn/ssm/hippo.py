"""HiPPO transition matrices, their normal-plus-low-rank form and the diagonal (S4D) inits.

Every matrix is written for ``x'(t) = A x(t) + B u(t)`` (A already negated, as in state-spaces/s4),
in float64 numpy.

Window convention
-----------------
``window`` (θ) is a length of continuous time: ``transition(measure, N, window=θ)`` returns
``A(θ=1) / θ`` and ``B(θ=1) / θ``, the system run θ times slower. For the sliding-window measures
(LegT, LMU, FouT) the memory window is exactly θ time units; discretized with step Δ it spans ``θ / Δ``
samples. For LegS, LagT and FouD (infinite support) θ is the time scale of the measure
(e.g. LegS weights the past by ``exp(-s / θ)``).

state-spaces/s4 halves LegT and uses rotation frequencies πk for FouT: its matrices are ours with
``window=2`` (a window of ``2 / Δ`` samples); hippo-code, LMU and the HiPPO paper use ``window=1``.
``tsdyn`` defaults to ``window=1`` and the delay-spike check (research note C6) pins this down in
the tests: FouT/LegT with ``window=2`` and Δ = 0.002 put the kernel's spike at lag ~1000.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tsdyn.errors import InputError

__all__ = [
    "DIAG_INITS",
    "MEASURES",
    "NPLR",
    "basis",
    "diag_init",
    "nplr",
    "rank_correction",
    "transition",
]

#: Measures with a transition matrix (research note 1.2).
MEASURES = ("legs", "legt", "lagt", "fout", "foud", "lmu")
#: Diagonal inits of S4D (research note 1.4).
DIAG_INITS = ("legs", "inv", "lin")


def _check(measure: str, N: int, window: float) -> str:
    measure = measure.lower()
    if measure not in MEASURES:
        raise InputError(f"unknown measure '{measure}'", f"use one of {', '.join(MEASURES)}")
    if int(N) != N or N < 1:
        raise InputError(f"state size N={N} must be a positive integer", "pass e.g. N=64")
    if measure in ("fout", "foud") and N % 2:
        raise InputError(
            f"{measure} needs an even state size (cosine/sine pairs), got N={N}", "pass an even N"
        )
    if not np.isfinite(window) or window <= 0:
        raise InputError(f"window {window} must be a positive number", "pass e.g. window=1.0")
    return measure


def _rotation(N: int) -> tuple[np.ndarray, np.ndarray]:
    """Rotation generator R (θ=1, frequencies 2πk) and b = (1, 0, √2, 0, √2, 0, ...)."""
    k = np.arange(N // 2)
    R = np.zeros((N, N))
    R[2 * k, 2 * k + 1] = -2 * np.pi * k  # c_k' = -ω_k s_k
    R[2 * k + 1, 2 * k] = 2 * np.pi * k  # s_k' = +ω_k c_k
    b = np.zeros(N)
    b[0::2] = np.sqrt(2.0)
    b[0] = 1.0
    return R, b


def transition(measure: str, N: int, window: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The HiPPO (A, B) pair of a measure, for ``x' = A x + B u`` (research note 1.2).

    Parameters
    ----------
    measure : {"legs", "legt", "lagt", "fout", "foud", "lmu"}
        Scaled Legendre (LTI form), translated Legendre, Laguerre, truncated Fourier, decaying
        diagonal Fourier, and the LMU's rescaled LegT.
    N : int
        State size (even for the Fourier measures; their states are ``(c_0, s_0, c_1, s_1, ...)``,
        with ``s_0`` a dead all-zero state).
    window : float
        θ, see the module docstring: the result is ``(A₁ / θ, B₁ / θ)``.

    Returns
    -------
    A : ndarray, shape [N, N], float64
    B : ndarray, shape [N], float64
    """
    measure = _check(measure, N, window)
    n = np.arange(N)
    s = np.sqrt(2 * n + 1.0)
    nk = n[:, None] - n[None, :]
    if measure == "legs":
        A = -np.tril(np.outer(s, s), -1) - np.diag(n + 1.0)
        B = s.copy()
    elif measure == "legt":
        sign = np.where(nk >= 0, 1.0, (-1.0) ** np.abs(nk))
        A = -np.outer(s, s) * sign
        B = s.copy()
    elif measure == "lmu":
        A = (2 * n[:, None] + 1.0) * np.where(nk < 0, -1.0, (-1.0) ** (np.abs(nk) + 1))
        B = (-1.0) ** n * (2 * n + 1.0)
    elif measure == "lagt":
        A = 0.5 * np.eye(N) - np.tril(np.ones((N, N)))
        B = np.ones(N)
    elif measure == "fout":
        R, b = _rotation(N)
        A = R - 2 * np.outer(b, b)
        B = 2 * b
    else:  # foud
        R, b = _rotation(N)
        A = R - 0.5 * np.eye(N)
        B = b
    return A / window, B / window


def rank_correction(measure: str, N: int, window: float = 1.0) -> np.ndarray:
    """Low-rank P [r, N] such that ``A + Pᵀ P`` is normal (research note 1.3).

    LegS: ``-½ I +`` skew; LegT: skew (rank 2, even and odd indices); LagT: ``-½ I``-shifted skew;
    FouT: the skew rotation; FouD: already normal (P = 0). LMU has no such form (its rescaling is not
    orthogonal); use LegT.
    """
    measure = _check(measure, N, window)
    n = np.arange(N)
    if measure == "legs":
        P = np.sqrt(n + 0.5)[None]
    elif measure == "legt":
        s = np.sqrt(2 * n + 1.0)
        P = np.stack([np.where(n % 2 == 0, s, 0.0), np.where(n % 2 == 1, s, 0.0)])
    elif measure == "lagt":
        P = np.full((1, N), np.sqrt(0.5))
    elif measure == "fout":
        P = np.sqrt(2.0) * _rotation(N)[1][None]
    elif measure == "foud":
        P = np.zeros((1, N))
    else:
        raise InputError("lmu has no normal-plus-low-rank form", "use measure='legt' instead")
    return P / np.sqrt(window)


@dataclasses.dataclass(frozen=True)
class NPLR:
    """``A = V diag(Λ) V* - Pᵀ P`` with V unitary, stored for one half of the conjugate pairs.

    For a real vector x, ``(A + PᵀP) x = 2 Re(V[:, :] diag(Λ) V* x)`` over the kept half.

    Attributes
    ----------
    Lambda : ndarray [N/2], complex128
        Eigenvalues of the normal part with ``Im Λ ≥ 0``, sorted by imaginary part.
    V : ndarray [N, N/2], complex128
        Matching orthonormal eigenvectors.
    P : ndarray [r, N/2], complex128
        ``V* P`` (low-rank term in the eigenbasis).
    B : ndarray [N/2], complex128
        ``V* B``.
    """

    Lambda: np.ndarray
    V: np.ndarray
    P: np.ndarray
    B: np.ndarray


def nplr(measure: str, N: int, window: float = 1.0) -> NPLR:
    """Normal-plus-low-rank decomposition, built stably (research note 1.3).

    ``A + PᵀP = c I + S`` with S skew-symmetric, so ``-i S`` is Hermitian and ``eigh`` gives its
    eigenvectors in float64 with a condition number of 1. ``eig(A)`` itself is never called: LegS's
    eigenvector matrix has a condition number above 1e19 at N=32 (note C3).
    """
    measure = _check(measure, N, window)
    if N % 2:
        raise InputError(f"nplr needs an even state size, got N={N}", "pass an even N")
    A, B = transition(measure, N, window)
    P = rank_correction(measure, N, window)
    AP = A + P.T @ P
    sym = 0.5 * (AP + AP.T)
    c = float(np.mean(np.diag(sym)))
    if np.abs(sym - c * np.eye(N)).max() > 1e-8 * max(1.0, np.abs(AP).max()):
        raise AssertionError(f"{measure}: A + PᵀP is not a shifted skew matrix")
    S = 0.5 * (AP - AP.T)
    w, V = np.linalg.eigh(-1j * S)  # S V = i w V, w ascending
    tol = 1e-9 * max(1.0, np.abs(w).max())
    pos = w > tol
    zero = np.abs(w) <= tol
    Z = V[:, zero]
    kept_w, kept_V = [w[pos]], [V[:, pos]]
    if Z.shape[1]:
        # A real null space (FouT's dead state): pair an orthonormal real basis u1, u2 into
        # (u1 + i u2)/√2 and its conjugate, so that the kept half still sums to the projector.
        U, _, _ = np.linalg.svd(np.concatenate([Z.real, Z.imag], axis=1))
        U = U[:, : Z.shape[1]]
        pairs = (U[:, 0::2] + 1j * U[:, 1::2]) / np.sqrt(2.0)
        kept_w.insert(0, np.zeros(pairs.shape[1]))
        kept_V.insert(0, pairs)
    w_half = np.concatenate(kept_w)
    V_half = np.concatenate(kept_V, axis=1)
    if V_half.shape[1] != N // 2:
        raise AssertionError(f"{measure}: eigenvalues are not in conjugate pairs")
    Vh = V_half.conj().T
    return NPLR(Lambda=c + 1j * w_half, V=V_half, P=(Vh @ P.T).T, B=Vh @ B)


def diag_init(init: str, N: int) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal S4D inits: eigenvalues Λ [N/2] and input vector B [N/2] (research note 1.4).

    ``N`` is the full state size; N/2 conjugate-pair modes are returned (``Im Λ ≥ 0``).

    - ``"legs"``: ``-½ + i Im eig(A_LegS + PPᵀ)`` with ``B = V* B_LegS`` (S4D-LegS, the diagonal
      part of the LegS NPLR form; B not halved, as in the s4 code).
    - ``"inv"``: ``-½ + i (N/π)(N/(2n+1) - 1)`` (S4D-Inv), B = 1.
    - ``"lin"``: ``-½ + i π n`` (S4D-Lin), B = 1.
    """
    init = init.lower()
    if init not in DIAG_INITS:
        raise InputError(f"unknown diagonal init '{init}'", f"use one of {', '.join(DIAG_INITS)}")
    if int(N) != N or N < 2 or N % 2:
        raise InputError(f"S4D needs an even state size N >= 2, got N={N}", "pass e.g. N=64")
    n = np.arange(N // 2)
    if init == "legs":
        d = nplr("legs", N)
        return d.Lambda.copy(), d.B.copy()
    if init == "inv":
        lam = -0.5 + 1j * (N / np.pi) * (N / (2 * n + 1) - 1)
    else:
        lam = -0.5 + 1j * np.pi * n
    return lam.astype(np.complex128), np.ones(N // 2, dtype=np.complex128)


def basis(measure: str, N: int, t, window: float = 1.0) -> np.ndarray:
    """The impulse-response basis ``e^{tA} B`` in closed form, [len(t), N] (research note 1.2).

    Exact for LegS (``√(2n+1) P_n(2e^{-t}-1) e^{-t}``), LagT (``e^{-t/2} L_n(t)``) and FouD
    (``e^{-t/2} [1, 0, √2 cos 2πkt, √2 sin 2πkt, ...]``); for LegT and FouT it is the ideal
    finite-window basis (``√(2n+1) P_n(1-2t)`` and the truncated Fourier basis on [0, 1), zero after),
    which ``e^{tA}B`` only approaches as N grows. Times are scaled by ``window`` as in `transition`.
    """
    from scipy.special import eval_laguerre, eval_legendre

    measure = _check(measure, N, window)
    t = np.asarray(t, dtype=np.float64)[:, None] / window
    n = np.arange(N)[None]
    s = np.sqrt(2 * n + 1.0)
    if measure == "legs":
        out = s * eval_legendre(n, 2 * np.exp(-t) - 1) * np.exp(-t)
    elif measure == "lagt":
        out = np.exp(-t / 2) * eval_laguerre(n, t)
    elif measure == "legt":
        out = s * eval_legendre(n, 1 - 2 * t) * ((t >= 0) & (t <= 1))
    elif measure in ("fout", "foud"):
        k = n // 2
        wave = np.where(n % 2 == 0, np.cos(2 * np.pi * k * t), np.sin(2 * np.pi * k * t))
        out = np.where(n == 0, 1.0, np.sqrt(2.0) * wave) * np.where(n == 1, 0.0, 1.0)
        if measure == "fout":
            out = out * ((t >= 0) & (t < 1))
        else:
            out = out * np.exp(-t / 2)
    else:
        raise InputError("lmu has no closed-form basis here", "use measure='legt'")
    return out / window
