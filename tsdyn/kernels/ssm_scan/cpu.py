"""Fused diagonal SSM scan on CPU (numba, compiled on first use).

Forward: per batch row a [H, N] complex state (real and imaginary planes), one sweep over time:
s = a s + Bt u_t, y_t = Re(sum_n C s) + D u_t. Backward: one reverse sweep with two adjoint
states V, W per (h, n) and no stored forward states (README, "Fused backward").
"""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def _kernels():
    import numba

    jit = numba.njit(cache=True, nogil=True)

    @jit
    def fwd(u, ar, ai, br, bi, cr, ci, Dv, s_re, s_im, y):
        nb, T, H = u.shape
        N = ar.shape[1]
        for i in range(nb):
            sr = s_re[i]
            si = s_im[i]
            for t in range(T):
                for h in range(H):
                    ut = u[i, t, h]
                    acc = 0.0
                    for n in range(N):
                        xr = ar[h, n] * sr[h, n] - ai[h, n] * si[h, n] + br[h, n] * ut
                        xi = ar[h, n] * si[h, n] + ai[h, n] * sr[h, n] + bi[h, n] * ut
                        sr[h, n] = xr
                        si[h, n] = xi
                        acc += cr[h, n] * xr - ci[h, n] * xi
                    y[i, t, h] = acc + Dv[h] * ut

    @jit
    def bwd(u, gy, ar, ai, er, ei, Dv, du, P, Q, V0, Wm):
        # conj(a) = ar - i ai; E = conj(Bt C) = er + i ei. Outputs P, Q, V0, Wm: [B, 2, H, N]
        nb, T, H = u.shape
        N = ar.shape[1]
        for i in range(nb):
            vr = np.zeros((H, N), dtype=u.dtype)
            vi = np.zeros((H, N), dtype=u.dtype)
            wr = np.zeros((H, N), dtype=u.dtype)
            wi = np.zeros((H, N), dtype=u.dtype)
            pr = np.zeros((H, N), dtype=u.dtype)
            pi = np.zeros((H, N), dtype=u.dtype)
            qr = np.zeros((H, N), dtype=u.dtype)
            qi = np.zeros((H, N), dtype=u.dtype)
            for k in range(T):
                t = T - 1 - k
                for h in range(H):
                    g = gy[i, t, h]
                    ut = u[i, t, h]
                    acc = 0.0
                    for n in range(N):
                        # W_t = V_{t+1} + conj(a) W_{t+1};  V_t = gy_t + conj(a) V_{t+1}
                        nwr = vr[h, n] + ar[h, n] * wr[h, n] + ai[h, n] * wi[h, n]
                        nwi = vi[h, n] + ar[h, n] * wi[h, n] - ai[h, n] * wr[h, n]
                        nvr = g + ar[h, n] * vr[h, n] + ai[h, n] * vi[h, n]
                        nvi = ar[h, n] * vi[h, n] - ai[h, n] * vr[h, n]
                        wr[h, n] = nwr
                        wi[h, n] = nwi
                        vr[h, n] = nvr
                        vi[h, n] = nvi
                        pr[h, n] += ut * nvr
                        pi[h, n] += ut * nvi
                        qr[h, n] += ut * nwr
                        qi[h, n] += ut * nwi
                        acc += er[h, n] * nvr - ei[h, n] * nvi
                    du[i, t, h] = acc + Dv[h] * g
            for h in range(H):
                for n in range(N):
                    P[i, 0, h, n] = pr[h, n]
                    P[i, 1, h, n] = pi[h, n]
                    Q[i, 0, h, n] = qr[h, n]
                    Q[i, 1, h, n] = qi[h, n]
                    V0[i, 0, h, n] = vr[h, n]
                    V0[i, 1, h, n] = vi[h, n]
                    # W_{-1} = V_0 + conj(a) W_0
                    Wm[i, 0, h, n] = vr[h, n] + ar[h, n] * wr[h, n] + ai[h, n] * wi[h, n]
                    Wm[i, 1, h, n] = vi[h, n] + ar[h, n] * wi[h, n] - ai[h, n] * wr[h, n]

    return fwd, bwd


def _planes(z):
    return np.ascontiguousarray(z.real), np.ascontiguousarray(z.imag)


def ssm_fwd(u, a, Bt, C, D, h0):
    """u [B, T, H] real; a, Bt, C [H, N] complex; D [H]; h0 [B, H, N] complex or None.

    Returns (y [B, T, H], last state [B, H, N] complex), as torch tensors in u's dtype.
    """
    import torch

    fwd, _ = _kernels()
    Bn, _, H = u.shape
    N = a.shape[1]
    un = u.detach().contiguous().numpy()
    s = np.zeros((2, Bn, H, N), dtype=un.dtype)
    if h0 is not None:
        s[0], s[1] = _planes(h0.detach().numpy())
    y = np.empty_like(un)
    ar, ai = _planes(a.detach().numpy())
    br, bi = _planes(Bt.detach().numpy())
    cr, ci = _planes(C.detach().numpy())
    fwd(un, ar, ai, br, bi, cr, ci, D.detach().contiguous().numpy(), s[0], s[1], y)
    last = torch.complex(torch.from_numpy(s[0]), torch.from_numpy(s[1]))
    return torch.from_numpy(y), last


def ssm_bwd(u, gy, a, Bt, C, D):
    """Reverse sweep: du [B, T, H] and per-row sums P, Q, V0, Wm [B, H, N] complex."""
    import torch

    _, bwd = _kernels()
    Bn, _, H = u.shape
    N = a.shape[1]
    un = u.detach().contiguous().numpy()
    gyn = gy.detach().contiguous().numpy()
    ar, ai = _planes(a.detach().numpy())
    er, ei = _planes((Bt * C).conj().resolve_conj().detach().numpy())
    du = np.empty_like(un)
    outs = [np.empty((Bn, 2, H, N), dtype=un.dtype) for _ in range(4)]
    bwd(un, gyn, ar, ai, er, ei, D.detach().contiguous().numpy(), du, *outs)
    cplx = [torch.complex(torch.from_numpy(o[:, 0]), torch.from_numpy(o[:, 1])) for o in outs]
    return (torch.from_numpy(du), *cplx)
