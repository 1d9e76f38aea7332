"""Reference: the sequential loop `h_t = a_t * h_{t-1} + b_t`, one framework op per step.

Plain PyTorch, differentiable by autograd; every other backend is tested against it.
"""

from __future__ import annotations

import torch


def naive_linear_scan(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, reverse: bool = False
) -> torch.Tensor:
    """Sequential scan over time.

    Parameters
    ----------
    a : [B, T, D] (time-varying) or [B, D] (time-invariant), same dtype as `b`.
    b : [B, T, D].
    h0 : [B, D] or None (zeros). The state before the first step (after the last when `reverse`).
    reverse : scan from t = T-1 down to 0: h_t = a_t * h_{t+1} + b_t.

    Returns
    -------
    h : [B, T, D], dtype of `b`; half precision inputs are computed in float32.
    """
    out_dtype = b.dtype
    work = torch.float32 if b.dtype in (torch.float16, torch.bfloat16) else b.dtype
    a, b = a.to(work), b.to(work)
    T = b.shape[1]
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0.to(work)
    tv = a.dim() == 3
    steps = range(T - 1, -1, -1) if reverse else range(T)
    outs = [None] * T
    for t in steps:
        h = (a[:, t] if tv else a) * h + b[:, t]
        outs[t] = h
    if T == 0:
        return b.to(out_dtype)
    return torch.stack(outs, dim=1).to(out_dtype)
