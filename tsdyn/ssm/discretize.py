"""Continuous (A, B) -> discrete (Ā, B̄) for ``x_k = Ā x_{k-1} + B̄ u_k`` (research note 1.5).

Dense and diagonal forms, in torch (differentiable in A, B and Δ, batched over leading dims); numpy
input gives numpy output. The formulas equal ``scipy.signal.cont2discrete`` (note C10):

- forward Euler (GBT α=0): ``Ā = I + ΔA``, ``B̄ = ΔB``
- backward Euler (α=1): ``Ā = (I - ΔA)^{-1}``, ``B̄ = Δ (I - ΔA)^{-1} B``
- bilinear / Tustin (α=½): ``Ā = (I - ΔA/2)^{-1}(I + ΔA/2)``, ``B̄ = Δ (I - ΔA/2)^{-1} B``
- ZOH: ``Ā = e^{ΔA}``, ``B̄ = A^{-1}(e^{ΔA} - I) B``, computed as the top-right block of
  ``expm([[A, B], [0, 0]] Δ)`` so that singular A (FouT's dead state) works.
"""

from __future__ import annotations

import numpy as np
import torch

from tsdyn.errors import InputError

__all__ = ["METHODS", "discretize", "discretize_diag", "log_discrete_diag"]

METHODS = ("forward_euler", "backward_euler", "bilinear", "zoh")
_ALIASES = {
    "euler": "forward_euler",
    "forward": "forward_euler",
    "backward_diff": "backward_euler",
    "backward": "backward_euler",
    "tustin": "bilinear",
    "trapezoid": "bilinear",
}


def _method(method: str) -> str:
    m = _ALIASES.get(method.lower(), method.lower())
    if m not in METHODS:
        raise InputError(f"unknown discretization '{method}'", f"use one of {', '.join(METHODS)}")
    return m


def _as_tensors(*xs):
    is_np = any(isinstance(x, np.ndarray) or np.isscalar(x) for x in xs[:2])
    out = [torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x for x in xs]
    return is_np, out


def discretize(A, B, dt, method: str = "bilinear"):
    """Discretize a dense SSM.

    Parameters
    ----------
    A : Tensor or ndarray, shape [..., N, N]
    B : Tensor or ndarray, shape [..., N]
    dt : float, Tensor or ndarray, shape [...]
        Step Δ, broadcast against the leading dims of A and B.
    method : {"forward_euler", "backward_euler", "bilinear", "zoh"}
        Aliases: euler, backward_diff, tustin.

    Returns
    -------
    dA : shape [..., N, N]
    dB : shape [..., N]
    """
    m = _method(method)
    is_np, (A, B, dt) = _as_tensors(A, B, dt)
    dtype = torch.promote_types(torch.promote_types(A.dtype, B.dtype), dt.dtype)
    if not dtype.is_floating_point and not dtype.is_complex:
        dtype = torch.float64
    A, B, dt = A.to(dtype), B.to(dtype), dt.to(dtype)
    N = A.shape[-1]
    eye = torch.eye(N, dtype=dtype, device=A.device)
    dtm = dt[..., None, None]
    dtv = dt[..., None]
    if m == "forward_euler":
        dA, dB = eye + dtm * A, dtv * B
    elif m == "backward_euler":
        M = eye - dtm * A
        dA = torch.linalg.solve(M, eye.expand_as(M))
        dB = torch.linalg.solve(M, (dtv * B).expand(M.shape[:-1]).unsqueeze(-1))[..., 0]
    elif m == "bilinear":
        M = eye - 0.5 * dtm * A
        dA = torch.linalg.solve(M, eye + 0.5 * dtm * A)
        dB = torch.linalg.solve(M, (dtv * B).expand(M.shape[:-1]).unsqueeze(-1))[..., 0]
    else:
        batch = torch.broadcast_shapes(A.shape[:-2], B.shape[:-1], dt.shape)
        top = torch.cat(
            [A.expand(*batch, N, N), B.expand(*batch, N).unsqueeze(-1)], dim=-1
        )  # [..., N, N+1]
        aug = torch.cat([top, torch.zeros_like(top[..., :1, :])], dim=-2)  # [..., N+1, N+1]
        E = torch.linalg.matrix_exp(aug * dt.expand(batch)[..., None, None])
        dA, dB = E[..., :N, :N], E[..., :N, N]
    if is_np:
        return dA.numpy(), dB.numpy()
    return dA, dB


def discretize_diag(Lambda, B, dt, method: str = "zoh"):
    """Discretize a diagonal SSM elementwise: Λ, B [..., N] (complex), Δ broadcast -> (Ā, B̄) [..., N].

    ZOH: ``Ā = e^{ΔΛ}``, ``B̄ = B (e^{ΔΛ} - 1)/Λ``; bilinear: ``Ā = (1 + ΔΛ/2)/(1 - ΔΛ/2)``,
    ``B̄ = ΔB/(1 - ΔΛ/2)`` (note 1.5, diagonal closed forms); the Euler forms likewise.
    """
    m = _method(method)
    is_np, (Lambda, B, dt) = _as_tensors(Lambda, B, dt)
    if not dt.is_complex() and Lambda.is_complex():
        dt = dt.to(Lambda.real.dtype)
    dL = dt * Lambda
    if m == "forward_euler":
        dA, dB = 1 + dL, dt * B
    elif m == "backward_euler":
        dA = 1 / (1 - dL)
        dB = dt * B * dA
    elif m == "bilinear":
        den = 1 - dL / 2
        dA, dB = (1 + dL / 2) / den, dt * B / den
    else:
        dA = torch.exp(dL)
        dB = B * dt * _expm1_over(dL)
    if is_np:
        return dA.numpy(), dB.numpy()
    return dA, dB


def log_discrete_diag(Lambda, dt, method: str = "zoh"):
    """``log Ā`` of the diagonal discretization (ZOH: ΔΛ exactly), for powers ``Ā^l = exp(l log Ā)``.

    Powers from ``exp(l · log Ā)`` keep complex64 accurate where a cumulative product drifts
    (note C9).
    """
    m = _method(method)
    if m == "zoh":
        return dt * Lambda
    dA, _ = discretize_diag(Lambda, torch.ones_like(Lambda), dt, m)
    return torch.log(dA)


def _expm1_over(z: torch.Tensor) -> torch.Tensor:
    """``(e^z - 1)/z``, finite at z = 0 (value 1)."""
    small = z.abs() < 1e-6
    safe = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, 1 + z / 2, torch.expm1(safe) / safe)
