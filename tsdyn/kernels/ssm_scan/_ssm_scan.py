"""Public entry point of the fused diagonal SSM scan: checks, dispatch, autograd."""

from __future__ import annotations

import importlib

import torch

# the same backends with the same availability rules as linear_scan
from tsdyn.kernels.scan._linear_scan import _available, default_backend

BACKENDS = ("naive", "chunk", "cpu", "triton")


def fused_grads(a, Bt, C, h0, P, Q, V0, Wm):
    """Parameter gradients from the reverse sweep's per-row sums (README, "Fused backward").

    a, Bt, C: [H, N]; h0: [B, H, N] or None; P, Q, V0, Wm: [B, H, N] complex.
    Returns (da, dBt, dC, dh0).
    """
    ca, cC, cBt = a.conj(), C.conj(), Bt.conj()
    Ps, Qs = P.sum(0), Q.sum(0)
    da_h0 = 0.0 if h0 is None else (h0.conj() * Wm).sum(0)
    dC_h0 = 0.0 if h0 is None else (h0.conj() * V0).sum(0) * ca
    da = cC * (cBt * Qs + da_h0)
    dBt = cC * Ps
    dC = cBt * Ps + dC_h0
    dh0 = ca * cC * V0
    return da, dBt, dC, dh0


class _SSMScanFn(torch.autograd.Function):
    """y = ssm(u; a, Bt, C, D, h0) with a = exp(dt A), Bt = dt B prepared by the caller."""

    @staticmethod
    def forward(ctx, u, a, Bt, C, D, h0, backend_name):
        mod = importlib.import_module(f"{__package__}.{backend_name}")
        y, last = mod.ssm_fwd(u, a, Bt, C, D, h0)
        ctx.save_for_backward(u, a, Bt, C, D, h0)
        ctx.backend_name = backend_name
        ctx.mark_non_differentiable(last)
        return y, last

    @staticmethod
    def backward(ctx, gy, _glast):
        u, a, Bt, C, D, h0 = ctx.saved_tensors
        mod = importlib.import_module(f"{__package__}.{ctx.backend_name}")
        gy = gy.contiguous()
        du, P, Q, V0, Wm = mod.ssm_bwd(u, gy, a, Bt, C, D)
        da, dBt, dC, dh0 = fused_grads(a, Bt, C, h0, P, Q, V0, Wm)
        dD = (gy * u).sum((0, 1))
        return du, da, dBt, dC, dD, (dh0 if h0 is not None else None), None


def ssm_scan(
    u: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    return_last: bool = False,
    backend: str | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Diagonal state-space scan (S4D recurrent mode), fused: only `u` is read and `y` written.

    Per channel h and state n: ``a = exp(dt_h A_hn)``, ``s_t = a s_{t-1} + dt_h B_hn u_t``
    (``s_{-1} = h0``, zeros when None), ``y_t = Re(sum_n C_hn s_tn) + D_h u_t``.

    Parameters
    ----------
    u : [B, T, H] real (float32 or float64).
    dt : [H] positive real step sizes (already exponentiated).
    A : [H, N] complex continuous-time eigenvalues.
    B, C : [H, N] complex.
    D : [H] real skip connection.
    h0 : [B, H, N] complex initial state, or None.
    return_last : also return the last state [B, H, N] (complex).
    backend : None (Triton on CUDA, numba on CPU, else "chunk"), or "naive" / "chunk" (unfused
        composition of `linear_scan`, materialises [B, T, H, N]), "cpu", "triton".

    Returns
    -------
    y : [B, T, H] in the real dtype of the computation (float64 if any input is double precision,
        else float32); with `return_last`, (y, last).

    Differentiable in u, dt, A, B, C, D and h0 (the last state is not differentiable on the fused
    backends; use the "naive" backend to differentiate through it).
    """
    _check(u, dt, A, B, C, D, h0)
    dev = u.device
    if backend is None:
        backend = default_backend(dev)
    elif backend not in BACKENDS:
        raise ValueError(f"ssm_scan: backend must be one of {BACKENDS} or None, got {backend!r}")
    elif not _available(backend, dev):
        raise ValueError(
            f"ssm_scan: backend {backend!r} is not available for {dev.type} tensors "
            "(cpu needs numba and CPU tensors, triton needs triton and CUDA tensors)"
        )
    double = any(
        t is not None and t.dtype in (torch.float64, torch.complex128)
        for t in (u, dt, A, B, C, D, h0)
    )
    rdt = torch.float64 if double else torch.float32
    cdt = torch.complex128 if double else torch.complex64
    u, dt, D = u.to(rdt), dt.to(rdt), D.to(rdt)
    A, B, C = A.to(cdt), B.to(cdt), C.to(cdt)
    h0 = None if h0 is None else h0.to(cdt)
    if backend in ("naive", "chunk"):
        from .naive import naive_ssm_scan

        return naive_ssm_scan(u, dt, A, B, C, D, h0, return_last=return_last, scan_backend=backend)
    # the [H, N] prologue is tiny: evaluate it in double precision, round once to the work dtype
    dt64 = dt.to(torch.float64)[:, None]
    a = torch.exp(dt64 * A.to(torch.complex128)).to(cdt)  # [H, N]
    Bt = (dt64 * B.to(torch.complex128)).to(cdt)  # [H, N]
    y, last = _SSMScanFn.apply(u.contiguous(), a, Bt, C.contiguous(), D, h0, backend)
    return (y, last) if return_last else y


def _check(u, dt, A, B, C, D, h0):
    if u.dim() != 3:
        raise ValueError(f"ssm_scan: u must be [B, T, H], got shape {tuple(u.shape)}")
    if u.is_complex() or not u.is_floating_point():
        raise TypeError(f"ssm_scan: u must be real float32/float64, got {u.dtype}")
    Bn, T, H = u.shape
    if A.dim() != 2 or A.shape[0] != H:
        raise ValueError(f"ssm_scan: A must be [H, N] with H = {H}, got {tuple(A.shape)}")
    N = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if tuple(t.shape) != (H, N):
            raise ValueError(f"ssm_scan: {name} must be [H, N] = {(H, N)}, got {tuple(t.shape)}")
    for name, t in (("dt", dt), ("D", D)):
        if tuple(t.shape) != (H,):
            raise ValueError(f"ssm_scan: {name} must be [H] = ({H},), got {tuple(t.shape)}")
        if t.is_complex():
            raise TypeError(f"ssm_scan: {name} must be real, got {t.dtype}")
    if h0 is not None and tuple(h0.shape) != (Bn, H, N):
        raise ValueError(f"ssm_scan: h0 must be [B, H, N] = {(Bn, H, N)}, got {tuple(h0.shape)}")
    tensors = [t for t in (u, dt, A, B, C, D, h0) if t is not None]
    if len({t.device for t in tensors}) != 1:
        raise ValueError("ssm_scan: all inputs must be on one device; move them with .to()")
    return Bn, T, H, N
