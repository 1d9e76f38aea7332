"""Compiled CPU kernels (numba, compiled on first use) for `h_t = a_t * h_{t-1} + b_t`.

Layout [B, T, D], channels in the inner loop (contiguous, vectorisable); the state of one batch row
lives in a [D] buffer. Half precision is widened to float32 before the call (numba has no bf16).
The backward is one fused reverse sweep: g_t = gh_t + conj(a_{t+1}) g_{t+1}, db_t = g_t,
da_t = g_t conj(h_{t-1}), dh0 = conj(a_0) g_0 (README, "Backward").
"""

from __future__ import annotations

import functools

import numpy as np
import torch


@functools.cache
def _kernels():
    import numba

    jit = numba.njit(cache=True, nogil=True, fastmath=False)

    @jit
    def fwd_tv(a, b, h0, out, rev):
        nb, T, D = b.shape
        for i in range(nb):
            h = h0[i].copy()
            for k in range(T):
                t = T - 1 - k if rev else k
                for d in range(D):
                    h[d] = a[i, t, d] * h[d] + b[i, t, d]
                    out[i, t, d] = h[d]

    @jit
    def fwd_lti(a, b, h0, out, rev):
        nb, T, D = b.shape
        for i in range(nb):
            h = h0[i].copy()
            ai = a[i]
            for k in range(T):
                t = T - 1 - k if rev else k
                for d in range(D):
                    h[d] = ai[d] * h[d] + b[i, t, d]
                    out[i, t, d] = h[d]

    @jit
    def bwd_tv(a, h, h0, gh, da, db, dh0, rev):
        nb, T, D = gh.shape
        step = 1 if rev else -1  # direction of the backward sweep
        for i in range(nb):
            g = np.zeros(D, dtype=gh.dtype)
            t = 0 if rev else T - 1
            for k in range(T):
                tp = t + step  # index of the previous state h_{t-1} in forward order
                first = k == 0
                last = k == T - 1
                for d in range(D):
                    gv = gh[i, t, d]
                    if not first:
                        gv += np.conj(a[i, t - step, d]) * g[d]
                    g[d] = gv
                    db[i, t, d] = gv
                    hp = h0[i, d] if last else h[i, tp, d]
                    da[i, t, d] = gv * np.conj(hp)
                t += step
            t0 = T - 1 if rev else 0
            for d in range(D):
                dh0[i, d] = np.conj(a[i, t0, d]) * g[d]

    @jit
    def bwd_lti(a, h, h0, gh, da, db, dh0, rev):
        nb, T, D = gh.shape
        step = 1 if rev else -1
        for i in range(nb):
            g = np.zeros(D, dtype=gh.dtype)
            acc = np.zeros(D, dtype=gh.dtype)
            ac = np.conj(a[i])
            t = 0 if rev else T - 1
            for k in range(T):
                tp = t + step
                first = k == 0
                last = k == T - 1
                for d in range(D):
                    gv = gh[i, t, d]
                    if not first:
                        gv += ac[d] * g[d]
                    g[d] = gv
                    db[i, t, d] = gv
                    hp = h0[i, d] if last else h[i, tp, d]
                    acc[d] += gv * np.conj(hp)
                t += step
            for d in range(D):
                da[i, d] = acc[d]
                dh0[i, d] = ac[d] * g[d]

    return fwd_tv, fwd_lti, bwd_tv, bwd_lti


def _work(x: torch.Tensor) -> np.ndarray:
    x = x.detach()
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return x.contiguous().numpy()


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def scan_fwd(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None, reverse: bool
) -> torch.Tensor:
    """a: [B, T, D] or [B, D]; b: [B, T, D]; h0: [B, D] or None -> h [B, T, D] (dtype of b)."""
    fwd_tv, fwd_lti, _, _ = _kernels()
    Bn, _, D = b.shape
    w = _work_dtype(b.dtype)
    out = torch.empty(b.shape, dtype=w)
    h0n = np.zeros((Bn, D), dtype=out.numpy().dtype) if h0 is None else _work(h0)
    (fwd_tv if a.dim() == 3 else fwd_lti)(_work(a), _work(b), h0n, out.numpy(), reverse)
    return out.to(b.dtype)


def scan_bwd(
    a: torch.Tensor,
    h: torch.Tensor,
    h0: torch.Tensor | None,
    gh: torch.Tensor,
    reverse: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients (da, db, dh0) of the forward scan, shaped like a, h, and [B, D]."""
    _, _, bwd_tv, bwd_lti = _kernels()
    Bn, _, D = h.shape
    w = _work_dtype(h.dtype)
    db = torch.empty(h.shape, dtype=w)
    da = torch.empty(a.shape, dtype=w)
    dh0 = torch.empty((Bn, D), dtype=w)
    h0n = np.zeros((Bn, D), dtype=db.numpy().dtype) if h0 is None else _work(h0)
    kernel = bwd_tv if a.dim() == 3 else bwd_lti
    kernel(_work(a), _work(h), h0n, _work(gh), da.numpy(), db.numpy(), dh0.numpy(), reverse)
    return da, db, dh0
