"""SSM convolution kernels and the FFT convolution (research note 1.6, 1.7, 1.9).

- `krylov`: dense ``K̄_l = C Ā^l B̄`` by repeated squaring (LSSL; ~log₂ L batched matmuls).
- `vandermonde`: diagonal ``K̄_l = 2 Re Σ_n (C B̄)_n exp(l log Ā_n)`` (S4D), powers as
  ``exp(l · log Ā)`` rather than a cumulative product (note C9).
- `fft_conv`: ``y = irfft(rfft(u, 2L) · rfft(K̄, 2L))[:L] + D u`` (causal, no wrap-around).
- `diag_state_kernels`: the initial-state response and the final state of a diagonal SSM over a
  chunk (note 1.7, state forwarding).
- `dplr_kernel`, `dplr_step`: S4's diagonal-plus-low-rank bilinear kernel (generating function at the
  roots of unity, Cauchy sums, Woodbury) and its O(N) recurrent step (S4 Algorithm 1, note 1.8),
  in the full eigenbasis of `tsdyn.ssm.nplr`: ``A = diag(Λ) - P Pᴴ``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["diag_state_kernels", "dplr_kernel", "dplr_step", "fft_conv", "krylov", "vandermonde"]


def krylov(
    L: int, dA: torch.Tensor, dB: torch.Tensor, C: torch.Tensor | None = None
) -> torch.Tensor:
    """Krylov sequence ``(B̄, ĀB̄, …, Ā^{L-1}B̄)``, contracted with C when given.

    Parameters
    ----------
    L : int
        Kernel length.
    dA : Tensor [..., N, N]
    dB : Tensor [..., N]
    C : Tensor [..., M, N], optional

    Returns
    -------
    Tensor [..., M, L] (with C) or [..., N, L] (without).
    """
    X = dB.unsqueeze(-1)  # [..., N, 1]
    P = dA
    while X.shape[-1] < L:
        X = torch.cat([X, P @ X], dim=-1)  # [..., N, 2k]
        if X.shape[-1] < L:
            P = P @ P
    X = X[..., :L]  # [..., N, L]
    return X if C is None else C @ X


def vandermonde(L: int, log_dA: torch.Tensor, CB: torch.Tensor, conj: bool = True) -> torch.Tensor:
    """Diagonal SSM kernel ``K̄_l = Σ_n (C B̄)_n Ā_n^l`` (``2 Re`` of it for conjugate pairs).

    With ``l = j c + r`` (c ≈ √L), ``Ā^l = Ā^{jc} Ā^r`` and both factors come from ``exp``, so the
    sum over n is one batched complex matmul ``[√L, N] @ [N, √L]``: no [N, L] tensor is built
    (memory O(N √L) per channel instead of O(N L), research note section 5, issue #51).

    Parameters
    ----------
    L : int
    log_dA : Tensor [..., N], complex
        ``log Ā`` (ZOH: ΔΛ).
    CB : Tensor [..., N], complex
        ``C_n B̄_n``; a leading channel axis may be added, e.g. [..., M, N] with log_dA [..., 1, N].
    conj : bool
        Modes stand for conjugate pairs: return ``2 Re`` (real kernel). Otherwise the complex sum.

    Returns
    -------
    Tensor [..., L]
    """
    c = max(1, math.isqrt(L - 1) + 1) if L > 1 else 1  # ceil(sqrt(L))
    nq = -(-L // c)
    real = log_dA.real.dtype
    r = torch.arange(c, device=log_dA.device, dtype=real)
    q = torch.arange(nq, device=log_dA.device, dtype=real) * c
    P = torch.exp(log_dA.unsqueeze(-1) * r)  # [..., N, c]: Ā^r
    Q = torch.exp(log_dA.unsqueeze(-1) * q)  # [..., N, nq]: Ā^{jc}
    K = (CB.unsqueeze(-1) * Q).transpose(-1, -2) @ P  # [..., nq, c]
    K = K.flatten(-2)[..., :L]  # l = j c + r
    return 2 * K.real if conj else K


def diag_state_kernels(
    L: int, log_dA: torch.Tensor, C: torch.Tensor, dB: torch.Tensor, u: torch.Tensor, state
):
    """What a carried state adds to a diagonal SSM's output, and its state after the chunk.

    Parameters
    ----------
    L : int
    log_dA, C, dB : Tensor [H, N], complex
    u : Tensor [B, H, L], real
    state : Tensor [B, H, N], complex, or None
        State before the chunk (``x_{-1}``).

    Returns
    -------
    y_state : Tensor [B, H, L] or None
        ``2 Re Σ_n C_n Ā_n^{l+1} s_n``.
    next_state : Tensor [B, H, N]
        ``Ā^L s + Σ_j Ā^{L-1-j} B̄ u_j``.
    """
    ell = torch.arange(L, device=log_dA.device, dtype=log_dA.real.dtype)
    V = torch.exp(log_dA.unsqueeze(-1) * ell)  # [H, N, L]: Ā^l
    rev = V.flip(-1)  # Ā^{L-1-j}
    next_state = torch.einsum("hnl,bhl->bhn", rev * dB.unsqueeze(-1), u.to(V.dtype))
    y_state = None
    if state is not None:
        AL = torch.exp(log_dA * L)  # [H, N]
        next_state = next_state + AL * state
        y_state = 2 * torch.einsum("hn,hnl,bhn->bhl", C * torch.exp(log_dA), V, state).real
    return y_state, next_state


def fft_conv(u: torch.Tensor, K: torch.Tensor, D: torch.Tensor | None = None) -> torch.Tensor:
    """Causal convolution along the last axis through the FFT.

    Parameters
    ----------
    u : Tensor [B, H, L], real
    K : Tensor [H, L] or [H, M, L], real (a shorter kernel is zero-padded)
    D : Tensor [H] or [H, M], optional
        Skip term ``D u``.

    Returns
    -------
    Tensor [B, H, L] or [B, H, M, L]
    """
    L = u.shape[-1]
    n = L + K.shape[-1]
    if u.dtype in (torch.float16, torch.bfloat16):  # FFTs in fp32 under AMP (note section 5)
        u = u.float()
    K = K.to(u.dtype)
    uf = torch.fft.rfft(u, n=n)  # [B, H, n/2+1]
    kf = torch.fft.rfft(K, n=n)
    if K.dim() == 3:
        y = torch.fft.irfft(uf.unsqueeze(-2) * kf, n=n)[..., :L]  # [B, H, M, L]
        if D is not None:
            y = y + D.unsqueeze(-1) * u.unsqueeze(-2)
    else:
        y = torch.fft.irfft(uf * kf, n=n)[..., :L]  # [B, H, L]
        if D is not None:
            y = y + D.unsqueeze(-1) * u
    return y


def dplr_kernel(L: int, Lambda, P, B, C, dt) -> torch.Tensor:
    """Bilinear kernel of ``A = diag(Λ) - P Pᴴ`` without forming Ā (S4 Algorithm 1).

    ``K̂(ω) = 2/(1+ω) [k00 - k01 (I + k11)^{-1} k10]`` at ``ω_k = e^{-2πik/L}``, with the Cauchy sums
    ``k_ij = Σ_n v_ij,n / (g(ω) - Λ_n)``, ``g(ω) = (2/Δ)(1-ω)/(1+ω)``, ``v00 = C̃ B``, ``v01 = C̃ P``,
    ``v10 = Pᴴ B``, ``v11 = Pᴴ P``; then ``K̄ = ifft(K̂)``. ``C̃ = C (I - Ā^L)`` is what S4 stores as its
    C parameter; here it is computed from C with a dense power (O(N³ log L): a reference path).

    Parameters
    ----------
    L : int
    Lambda : Tensor [N], complex
    P : Tensor [N, r], complex
    B, C : Tensor [N], complex
    dt : float

    Returns
    -------
    Tensor [L], real
    """
    N = Lambda.shape[-1]
    eye = torch.eye(N, dtype=Lambda.dtype, device=Lambda.device)
    A = torch.diag(Lambda) - P @ P.conj().T
    dA = torch.linalg.solve(eye - dt / 2 * A, eye + dt / 2 * A)
    Ct = C @ (eye - torch.linalg.matrix_power(dA, L))  # [N]
    k = torch.arange(L, device=Lambda.device, dtype=Lambda.real.dtype)
    omega = torch.exp(-2j * math.pi * k / L)  # [L], roots of unity
    # 2/((1+ω)(g-λ)) = Δ/((1-ω) - (1+ω)Δλ/2): finite at ω = -1 (note 1.8)
    r = dt / ((1 - omega)[:, None] - (1 + omega)[:, None] * (dt / 2) * Lambda)  # [L, N]
    k00 = r @ (Ct * B)  # [L]
    k01 = r @ (Ct[:, None] * P)  # [L, R]
    k10 = r @ (P.conj() * B[:, None])  # [L, R]
    k11 = torch.einsum("ln,nr,ns->lrs", r, P.conj(), P)  # [L, R, R]
    # the sums carry the 2/(1+ω) factor already: Woodbury with I + (1+ω)/2 k11
    half = ((1 + omega) / 2)[:, None, None]
    eye_r = torch.eye(P.shape[-1], dtype=Lambda.dtype, device=Lambda.device)
    corr = torch.linalg.solve(eye_r + half * k11, k10.unsqueeze(-1))[..., 0]  # [L, R]
    K_hat = k00 - (k01 * corr).sum(-1) * (1 + omega) / 2
    return torch.fft.ifft(K_hat).real


def dplr_step(x, u, Lambda, P, B, dt):
    """One bilinear step in O(N r): ``x' = (2/Δ - A)^{-1}[(2/Δ + A) x + 2 B u]`` (note 1.8).

    ``z = E x - P (Pᴴ x) + 2 B u`` with ``E = 2/Δ + Λ``, then ``x' = D (z - P R z)`` with
    ``D = 1/(2/Δ - Λ)`` and ``R = (I + Pᴴ D P)^{-1} Pᴴ D`` (Woodbury).

    Parameters
    ----------
    x : Tensor [..., N], complex
    u : Tensor [...], real or complex
    Lambda : Tensor [N]; P : Tensor [N, r]; B : Tensor [N]
    dt : float

    Returns
    -------
    Tensor [..., N]
    """
    D = 1 / (2 / dt - Lambda)  # [N]
    E = 2 / dt + Lambda
    PH = P.conj().T  # [r, N]
    eye_r = torch.eye(P.shape[-1], dtype=Lambda.dtype, device=Lambda.device)
    R = torch.linalg.solve(eye_r + (PH * D) @ P, PH * D)  # [r, N]
    z = E * x - (x @ PH.T) @ P.T + 2 * B * u[..., None]
    return D * (z - (z @ R.T) @ P.T)
