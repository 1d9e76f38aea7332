"""Chunked two-level scan in plain PyTorch (any device).

Time is cut into `nC` chunks of `L` steps. Level 1 runs the recurrence inside every chunk at once
(a loop over the `L` steps, vectorised over batch, chunks and channels) to get each chunk's
aggregate map `h -> P h + q` (P = product of the chunk's `a`, at most `L` factors). Level 2 carries
the state across the `nC` chunk aggregates. Level 3 re-runs every chunk from its carried-in state.
Python-level steps: 2 L + nC ~ 2.8 sqrt(T). Only products and sums appear: no global cumprod and no
division, so nothing under- or overflows that the sequential loop would not.
"""

from __future__ import annotations

import math

import torch


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def chunk_size_for(T: int) -> int:
    """Chunk length that balances the 2 L within-chunk steps and the T / L carry steps."""
    return max(8, min(4096, 1 << round(math.log2(max(1.0, math.sqrt(T / 2))))))


@torch.no_grad()
def chunk_linear_scan(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    reverse: bool = False,
    chunk: int | None = None,
) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t with a: [B, T, D] or [B, D], b: [B, T, D], h0: [B, D] or None.

    Returns h [B, T, D] in the dtype of `b` (half precision is computed in float32).
    Not differentiable by itself: `linear_scan` wraps it in an autograd function.
    """
    if reverse:
        a_f = a.flip(1) if a.dim() == 3 else a
        return chunk_linear_scan(a_f, b.flip(1), h0, reverse=False, chunk=chunk).flip(1)
    out_dtype = b.dtype
    work = _work_dtype(b.dtype)
    a, b = a.to(work), b.to(work)
    B, T, D = b.shape
    if T == 0:
        return b.to(out_dtype)
    L = chunk or chunk_size_for(T)
    nC = -(-T // L)
    pad = nC * L - T
    tv = a.dim() == 3
    if pad:
        # padded steps come after the real ones: they never influence an output that is kept
        b = torch.cat([b, b.new_zeros(B, pad, D)], dim=1)
        if tv:
            a = torch.cat([a, a.new_zeros(B, pad, D)], dim=1)
    bc = b.view(B, nC, L, D)
    ac = a.view(B, nC, L, D) if tv else a[:, None, :].expand(B, nC, D)

    # level 1: each chunk's aggregate (P, q) from a zero state
    q = torch.zeros(B, nC, D, dtype=work, device=b.device)
    P = torch.ones(B, nC, D, dtype=work, device=b.device) if tv else None
    for i in range(L):
        ai = ac[:, :, i] if tv else ac
        q = ai * q + bc[:, :, i]
        if tv:
            P = P * ai
    if not tv:
        P = _power(a, L)[:, None, :].expand(B, nC, D)

    # level 2: carried-in state of every chunk
    carry = torch.empty(B, nC, D, dtype=work, device=b.device)
    c = torch.zeros(B, D, dtype=work, device=b.device) if h0 is None else h0.to(work)
    for k in range(nC):
        carry[:, k] = c
        c = P[:, k] * c + q[:, k]

    # level 3: re-run every chunk from its carried-in state
    h = torch.empty(B, nC, L, D, dtype=work, device=b.device)
    x = carry
    for i in range(L):
        x = (ac[:, :, i] if tv else ac) * x + bc[:, :, i]
        h[:, :, i] = x
    return h.view(B, nC * L, D)[:, :T].to(out_dtype)


def _power(a: torch.Tensor, n: int) -> torch.Tensor:
    """a ** n by repeated squaring (exact products, works for complex and for a == 0)."""
    result = torch.ones_like(a)
    base = a
    while n:
        if n & 1:
            result = result * base
        base = base * base
        n >>= 1
    return result
