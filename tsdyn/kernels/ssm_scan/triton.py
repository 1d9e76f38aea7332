"""Fused diagonal SSM scan in Triton (CUDA): only `u` is read and `y` (or `du`) written.

One program owns `BH` channels of one batch row and their [BH, N] complex state (two float planes)
in registers, and walks time one step at a time in unrolled groups of `BT` steps (the loads of a
group do not depend on the state, so they are all in flight before the arithmetic needs them).
Per step: s = a s + Bt u_t (complex), y_t = sum_n Re(C s) + D u_t (a reduction over the N lanes).
The backward walks time backwards with the two adjoint states V, W of README "Fused backward".
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _ld8(ptr, row, H, h, hm, T, t0, REV: tl.constexpr, WT: tl.constexpr):
    """The [BH] rows of 8 consecutive steps (walk order) starting at walk step t0, zeros past T."""
    if REV:
        base = row + T - 1 - t0
        s = -1
    else:
        base = row + t0
        s = 1
    x0 = tl.load(ptr + (base + 0 * s) * H + h, mask=hm & (t0 + 0 < T), other=0.0).to(WT)
    x1 = tl.load(ptr + (base + 1 * s) * H + h, mask=hm & (t0 + 1 < T), other=0.0).to(WT)
    x2 = tl.load(ptr + (base + 2 * s) * H + h, mask=hm & (t0 + 2 < T), other=0.0).to(WT)
    x3 = tl.load(ptr + (base + 3 * s) * H + h, mask=hm & (t0 + 3 < T), other=0.0).to(WT)
    x4 = tl.load(ptr + (base + 4 * s) * H + h, mask=hm & (t0 + 4 < T), other=0.0).to(WT)
    x5 = tl.load(ptr + (base + 5 * s) * H + h, mask=hm & (t0 + 5 < T), other=0.0).to(WT)
    x6 = tl.load(ptr + (base + 6 * s) * H + h, mask=hm & (t0 + 6 < T), other=0.0).to(WT)
    x7 = tl.load(ptr + (base + 7 * s) * H + h, mask=hm & (t0 + 7 < T), other=0.0).to(WT)
    return x0, x1, x2, x3, x4, x5, x6, x7


@triton.jit
def _fwd_step(ut, t, T, row, H, h, hm, ar, ai, br, bim, cr, ci, dv, sr, si, y_ptr):
    ok = t < T
    nr = ar * sr - ai * si + br * ut[:, None]
    ni = ar * si + ai * sr + bim * ut[:, None]
    sr = tl.where(ok, nr, sr)
    si = tl.where(ok, ni, si)
    y = tl.sum(cr * sr - ci * si, axis=1) + dv * ut
    tl.store(y_ptr + (row + t) * H + h, y.to(y_ptr.dtype.element_ty), mask=hm & ok)
    return sr, si


@triton.jit
def _bwd_step(g, ut, t, row, H, hm, ar, ai, er, ei, dv, vr, vi, wr, wi, pr, pi, qr, qi, dptr):
    # the step at time t (walked backwards; dptr = du_ptr + the program's channels).
    # W_t = V_{t+1} + conj(a) W_{t+1}; V_t = gy_t + conj(a) V_{t+1}
    # (steps before the start, t < 0: V, W unchanged, and u = gy = 0 adds nothing to P, Q)
    ok = t >= 0
    nwr = vr + ar * wr + ai * wi
    nwi = vi + ar * wi - ai * wr
    nvr = g[:, None] + ar * vr + ai * vi
    nvi = ar * vi - ai * vr
    wr = tl.where(ok, nwr, wr)
    wi = tl.where(ok, nwi, wi)
    vr = tl.where(ok, nvr, vr)
    vi = tl.where(ok, nvi, vi)
    pr += ut[:, None] * vr
    pi += ut[:, None] * vi
    qr += ut[:, None] * wr
    qi += ut[:, None] * wi
    du = tl.sum(er * vr - ei * vi, axis=1) + dv * g
    tl.store(dptr + (row + t) * H, du.to(dptr.dtype.element_ty), mask=hm & ok)
    return vr, vi, wr, wi, pr, pi, qr, qi


@triton.jit
def _ssm_fwd_kernel(
    u_ptr,
    a_ptr,
    bt_ptr,
    c_ptr,
    d_ptr,
    s_ptr,
    y_ptr,
    T,
    H,
    N,
    HAS_H0: tl.constexpr,
    F64: tl.constexpr,
    BT: tl.constexpr,
    BH: tl.constexpr,
    BN: tl.constexpr,
):
    # a, bt, c: [H, N, 2] float views of complex; s: [B, H, N, 2] in/out (h0 in, last state out)
    WT: tl.constexpr = tl.float64 if F64 else tl.float32
    pid_h = tl.program_id(0)
    bi = tl.program_id(1).to(tl.int64)
    h = pid_h * BH + tl.arange(0, BH)
    n = tl.arange(0, BN)
    hm = h < H
    m = hm[:, None] & (n < N)[None, :]
    pn = (h[:, None] * N + n[None, :]) * 2  # [BH, BN] offsets of the real parts
    ar = tl.load(a_ptr + pn, mask=m, other=0.0).to(WT)
    ai = tl.load(a_ptr + pn + 1, mask=m, other=0.0).to(WT)
    br = tl.load(bt_ptr + pn, mask=m, other=0.0).to(WT)
    bim = tl.load(bt_ptr + pn + 1, mask=m, other=0.0).to(WT)
    cr = tl.load(c_ptr + pn, mask=m, other=0.0).to(WT)
    ci = tl.load(c_ptr + pn + 1, mask=m, other=0.0).to(WT)
    dv = tl.load(d_ptr + h, mask=hm, other=0.0).to(WT)
    ps = bi * H * N * 2 + pn
    if HAS_H0:
        sr = tl.load(s_ptr + ps, mask=m, other=0.0).to(WT)
        si = tl.load(s_ptr + ps + 1, mask=m, other=0.0).to(WT)
    else:
        sr = tl.zeros([BH, BN], WT)
        si = tl.zeros([BH, BN], WT)
    row = bi * T
    # the next group's 8 loads are issued before this group's stores (which the compiler may not
    # move loads across): the load latency overlaps 8 steps of arithmetic instead of each step
    u0, u1, u2, u3, u4, u5, u6, u7 = _ld8(u_ptr, row, H, h, hm, T, 0, False, WT)
    for t0 in range(0, T, 8):
        c0, c1, c2, c3, c4, c5, c6, c7 = u0, u1, u2, u3, u4, u5, u6, u7
        u0, u1, u2, u3, u4, u5, u6, u7 = _ld8(u_ptr, row, H, h, hm, T, t0 + 8, False, WT)
        sr, si = _fwd_step(c0, t0, T, row, H, h, hm, ar, ai, br, bim, cr, ci, dv, sr, si, y_ptr)
        sr, si = _fwd_step(c1, t0 + 1, T, row, H, h, hm, ar, ai, br, bim, cr, ci, dv, sr, si, y_ptr)
        sr, si = _fwd_step(c2, t0 + 2, T, row, H, h, hm, ar, ai, br, bim, cr, ci, dv, sr, si, y_ptr)
        sr, si = _fwd_step(c3, t0 + 3, T, row, H, h, hm, ar, ai, br, bim, cr, ci, dv, sr, si, y_ptr)
        sr, si = _fwd_step(c4, t0 + 4, T, row, H, h, hm, ar, ai, br, bim, cr, ci, dv, sr, si, y_ptr)
        sr, si = _fwd_step(c5, t0 + 5, T, row, H, h, hm, ar, ai, br, bim, cr, ci, dv, sr, si, y_ptr)
        sr, si = _fwd_step(c6, t0 + 6, T, row, H, h, hm, ar, ai, br, bim, cr, ci, dv, sr, si, y_ptr)
        sr, si = _fwd_step(c7, t0 + 7, T, row, H, h, hm, ar, ai, br, bim, cr, ci, dv, sr, si, y_ptr)
    tl.store(s_ptr + ps, sr, mask=m)
    tl.store(s_ptr + ps + 1, si, mask=m)


@triton.jit
def _ssm_bwd_kernel(
    u_ptr,
    gy_ptr,
    a_ptr,
    e_ptr,
    d_ptr,
    du_ptr,
    out_ptr,
    T,
    H,
    N,
    F64: tl.constexpr,
    BT: tl.constexpr,
    BH: tl.constexpr,
    BN: tl.constexpr,
):
    # e = conj(Bt C); out: [B, 4, H, N, 2] = P, Q, V0, W_{-1} (README "Fused backward")
    WT: tl.constexpr = tl.float64 if F64 else tl.float32
    pid_h = tl.program_id(0)
    bi = tl.program_id(1).to(tl.int64)
    h = pid_h * BH + tl.arange(0, BH)
    n = tl.arange(0, BN)
    hm = h < H
    m = hm[:, None] & (n < N)[None, :]
    pn = (h[:, None] * N + n[None, :]) * 2
    ar = tl.load(a_ptr + pn, mask=m, other=0.0).to(WT)
    ai = tl.load(a_ptr + pn + 1, mask=m, other=0.0).to(WT)
    er = tl.load(e_ptr + pn, mask=m, other=0.0).to(WT)
    ei = tl.load(e_ptr + pn + 1, mask=m, other=0.0).to(WT)
    dv = tl.load(d_ptr + h, mask=hm, other=0.0).to(WT)
    vr = tl.zeros([BH, BN], WT)
    vi = tl.zeros([BH, BN], WT)
    wr = tl.zeros([BH, BN], WT)
    wi = tl.zeros([BH, BN], WT)
    pr = tl.zeros([BH, BN], WT)
    pi = tl.zeros([BH, BN], WT)
    qr = tl.zeros([BH, BN], WT)
    qi = tl.zeros([BH, BN], WT)
    row = bi * T
    dptr = du_ptr + h
    g0, g1, g2, g3, g4, g5, g6, g7 = _ld8(gy_ptr, row, H, h, hm, T, 0, True, WT)
    u0, u1, u2, u3, u4, u5, u6, u7 = _ld8(u_ptr, row, H, h, hm, T, 0, True, WT)
    for k0 in range(0, T, 8):
        f0, f1, f2, f3, f4, f5, f6, f7 = g0, g1, g2, g3, g4, g5, g6, g7
        c0, c1, c2, c3, c4, c5, c6, c7 = u0, u1, u2, u3, u4, u5, u6, u7
        g0, g1, g2, g3, g4, g5, g6, g7 = _ld8(gy_ptr, row, H, h, hm, T, k0 + 8, True, WT)
        u0, u1, u2, u3, u4, u5, u6, u7 = _ld8(u_ptr, row, H, h, hm, T, k0 + 8, True, WT)
        t = T - 1 - k0  # walk step k0 is time T - 1 - k0
        vr, vi, wr, wi, pr, pi, qr, qi = _bwd_step(
            f0, c0, t, row, H, hm, ar, ai, er, ei, dv, vr, vi, wr, wi, pr, pi, qr, qi, dptr
        )
        vr, vi, wr, wi, pr, pi, qr, qi = _bwd_step(
            f1, c1, t - 1, row, H, hm, ar, ai, er, ei, dv, vr, vi, wr, wi, pr, pi, qr, qi, dptr
        )
        vr, vi, wr, wi, pr, pi, qr, qi = _bwd_step(
            f2, c2, t - 2, row, H, hm, ar, ai, er, ei, dv, vr, vi, wr, wi, pr, pi, qr, qi, dptr
        )
        vr, vi, wr, wi, pr, pi, qr, qi = _bwd_step(
            f3, c3, t - 3, row, H, hm, ar, ai, er, ei, dv, vr, vi, wr, wi, pr, pi, qr, qi, dptr
        )
        vr, vi, wr, wi, pr, pi, qr, qi = _bwd_step(
            f4, c4, t - 4, row, H, hm, ar, ai, er, ei, dv, vr, vi, wr, wi, pr, pi, qr, qi, dptr
        )
        vr, vi, wr, wi, pr, pi, qr, qi = _bwd_step(
            f5, c5, t - 5, row, H, hm, ar, ai, er, ei, dv, vr, vi, wr, wi, pr, pi, qr, qi, dptr
        )
        vr, vi, wr, wi, pr, pi, qr, qi = _bwd_step(
            f6, c6, t - 6, row, H, hm, ar, ai, er, ei, dv, vr, vi, wr, wi, pr, pi, qr, qi, dptr
        )
        vr, vi, wr, wi, pr, pi, qr, qi = _bwd_step(
            f7, c7, t - 7, row, H, hm, ar, ai, er, ei, dv, vr, vi, wr, wi, pr, pi, qr, qi, dptr
        )
    base = bi * 4 * H * N * 2 + pn
    stride = H * N * 2
    tl.store(out_ptr + base, pr, mask=m)
    tl.store(out_ptr + base + 1, pi, mask=m)
    tl.store(out_ptr + base + stride, qr, mask=m)
    tl.store(out_ptr + base + stride + 1, qi, mask=m)
    tl.store(out_ptr + base + 2 * stride, vr, mask=m)
    tl.store(out_ptr + base + 2 * stride + 1, vi, mask=m)
    # W_{-1} = V_0 + conj(a) W_0
    tl.store(out_ptr + base + 3 * stride, vr + ar * wr + ai * wi, mask=m)
    tl.store(out_ptr + base + 3 * stride + 1, vi + ar * wi - ai * wr, mask=m)


#: tuning knobs (benchmarks/scan.py --sweep): channels per program and warps (None: automatic)
TUNE = {"bh": None, "num_warps": None}


def plan(Bn: int, H: int, N: int):
    """(BH, BN, BT, num_warps): ~8 state elements per thread, at least ~4 programs per SM."""
    BN = triton.next_power_of_2(max(N, 1))
    BH = max(1, min(triton.next_power_of_2(H), max(1, 512 // BN)))
    while BH > 1 and Bn * triton.cdiv(H, BH) < 528:
        BH //= 2
    if TUNE["bh"] is not None:
        BH = TUNE["bh"]
    num_warps = max(1, min(8, BH * BN // 256))
    if TUNE["num_warps"] is not None:
        num_warps = TUNE["num_warps"]
    return BH, BN, 8, num_warps


def _fv(z: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(z.resolve_conj().contiguous())


def ssm_fwd(u, a, Bt, C, D, h0):
    """u [B, T, H]; a, Bt, C [H, N] complex; D [H]; h0 [B, H, N] or None -> (y, last state)."""
    Bn, T, H = u.shape
    N = a.shape[1]
    BH, BN, BT, num_warps = plan(Bn, H, N)
    cdt = torch.complex128 if u.dtype == torch.float64 else torch.complex64
    state = (
        h0.to(cdt).clone()
        if h0 is not None
        else torch.empty((Bn, H, N), dtype=cdt, device=u.device)
    )
    y = torch.empty_like(u)
    grid = (triton.cdiv(H, BH), Bn)
    _ssm_fwd_kernel[grid](
        u,
        _fv(a),
        _fv(Bt),
        _fv(C),
        D.contiguous(),
        torch.view_as_real(state),
        y,
        T,
        H,
        N,
        HAS_H0=h0 is not None,
        F64=u.dtype == torch.float64,
        BT=BT,
        BH=BH,
        BN=BN,
        num_warps=num_warps,
    )
    return y, state


def ssm_bwd(u, gy, a, Bt, C, D):
    """Reverse sweep: du [B, T, H] and per-row sums P, Q, V0, W_{-1} [B, H, N] complex."""
    Bn, T, H = u.shape
    N = a.shape[1]
    BH, BN, BT, num_warps = plan(Bn, H, N)
    cdt = torch.complex128 if u.dtype == torch.float64 else torch.complex64
    du = torch.empty_like(u)
    out = torch.empty((Bn, 4, H, N), dtype=cdt, device=u.device)
    grid = (triton.cdiv(H, BH), Bn)
    _ssm_bwd_kernel[grid](
        u,
        gy.contiguous(),
        _fv(a),
        _fv((Bt * C).conj()),
        D.contiguous(),
        du,
        torch.view_as_real(out),
        T,
        H,
        N,
        F64=u.dtype == torch.float64,
        BT=BT,
        BH=BH,
        BN=BN,
        num_warps=num_warps,
    )
    return du, out[:, 0], out[:, 1], out[:, 2], out[:, 3]
