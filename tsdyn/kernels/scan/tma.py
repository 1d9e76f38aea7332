"""tma mode of triton.py: `h_t = a_t * h_{t-1} + b_t` with tiles fed by Hopper bulk tensor copies.

A program owns `BD = bd * num_warps` channels of one batch row (`bd` = 32, or 8 in rows of 32 bytes
where wider rows leave too few programs) and walks the whole time axis in tiles of `BT` steps, like
column mode (column.py). What changes is how tiles arrive. Column mode issues each tile's loads
from registers (one tile ahead), so its bytes in flight are bounded by registers and by the number
of warps (B * D / 32): at T = 16K-64K there are 1-4 warps per SM, too few to cover the memory
latency. Here every tile is one bulk tensor copy (TMA) into shared memory, and the compiler's
software pipeline keeps `NS` tiles in flight per program without registers (HOPPER.md: "two or
three shared-memory stages deep"). Tiles are addressed through `[B, T, D]` tensor descriptors:
rows outside `[0, T)` read as zeros and are dropped by the bulk stores, so no load or store
carries a mask. Tiles start at multiples of BT in both walk directions (a bulk store at a negative
row faulted on the H200); the walk's first and last tiles are peeled out of the pipelined loop.
Triton reads the tiles out of shared memory in a vectorised layout, so `tl.associative_scan`
along time is a shuffle network here (PTX for sm_90: ~900 `shfl` in the forward), not column
mode's in-thread FMA chain. The time axis is never split (choose_mode uses column mode where a
split is needed).

Backward (BWD): x is dh, walked against the forward's direction; the coefficient of time t is
a_{t+1} (a_{t-1} for a reverse scan): the same descriptor read one row shifted; da_t = g_t h_{t-1}
reads h one row shifted the other way, h0 at the sequence's edge; dh0 = a_0 g_0.
"""

from __future__ import annotations

import functools

import triton
import triton.language as tl

from .triton import _comb_real


@triton.jit
def _row(x, r, i: tl.constexpr):
    # one row of a tile
    return tl.sum(tl.where(r[:, None] == i, x, 0.0), axis=0)


@triton.jit
def _tile(
    a_d, x_d, hs_d, out_d, da_d, out_ptr, bi, t0, d0, d, dm, c, a_c, h0, da_acc, T, Z,
    D: tl.constexpr, A_TV: tl.constexpr, HAS_H0: tl.constexpr, REV: tl.constexpr,
    BWD: tl.constexpr, BT: tl.constexpr, BD: tl.constexpr, PAD: tl.constexpr,
    H0E: tl.constexpr, PTR: tl.constexpr,
):  # fmt: skip
    """One tile at time rows [t0, t0 + BT) entered with carry c; returns (carry, da_acc). PAD: the
    tile holds rows >= T; H0E: it holds the backward's h0 edge (t = 0, or T - 1 reversed)."""
    r = tl.arange(0, BT)
    if REV:
        FIRST: tl.constexpr = BT - 1  # the walk enters a tile at its last row
        LAST: tl.constexpr = 0
        CO: tl.constexpr = 1  # BWD: coefficient of time t = a_{t+1}; h_prev = h_{t-1}
    else:
        FIRST: tl.constexpr = 0
        LAST: tl.constexpr = BT - 1
        CO: tl.constexpr = -1
    x = x_d.load([bi, t0, d0]).reshape(BT, BD).to(tl.float32)
    if A_TV:
        if BWD:
            a = a_d.load([bi, t0 + CO, d0]).reshape(BT, BD).to(tl.float32)
        else:
            a = a_d.load([bi, t0, d0]).reshape(BT, BD).to(tl.float32)
    else:
        a = tl.broadcast_to(a_c[None, :], (BT, BD))
    if BWD:
        hp = hs_d.load([bi, t0 - CO, d0]).reshape(BT, BD).to(tl.float32)
    t = t0 + r
    if PAD:  # a = 1 at rows >= T (read as zeros): the carry passes through them unchanged
        a = tl.where((t < T)[:, None], a, 1.0)
    if H0E and BWD and HAS_H0:  # h_prev at the sequence's edge is h0
        if REV:
            edge = 0
        else:
            edge = T - 1
        hp = tl.where((t == edge)[:, None], h0[None, :], hp)
    x = tl.where(r[:, None] == FIRST, x + a * c[None, :], x)
    _, h = tl.associative_scan((a, x), 0, _comb_real, reverse=REV)
    if PTR:  # plain stores, one element per lane (Z = 0 hides the alignment, as in column.py)
        q = out_ptr + Z + (bi.to(tl.int64) * T + t)[:, None] * D + d[None, :]
        tl.store(q, h.to(out_ptr.dtype.element_ty), mask=(t < T)[:, None] & dm)
    else:
        out_d.store([bi, t0, d0], h.reshape(1, BT, BD).to(out_d.dtype))
    if BWD:
        g = h * hp
        if A_TV:
            da_d.store([bi, t0, d0], g.reshape(1, BT, BD).to(da_d.dtype))
        else:
            da_acc += tl.sum(g, axis=0)  # rows outside [0, T): h_prev reads as 0
    return _row(h, r, LAST), da_acc


@functools.partial(triton.jit, do_not_specialize=["Z"])
def _tma_real(
    a_d, x_d, hs_d, out_d, da_d, a_ptr, h0_ptr, out_ptr, dh0_ptr, dsum_ptr, T, n, Z,
    D: tl.constexpr, A_TV: tl.constexpr, HAS_H0: tl.constexpr, REV: tl.constexpr,
    BWD: tl.constexpr, BT: tl.constexpr, BD: tl.constexpr, NS: tl.constexpr,
    PTR: tl.constexpr,
):  # fmt: skip
    # n = cdiv(T, BT) tiles; the walk's first and last tiles are peeled (no conditionals inside
    # the compiler's pipeline). REV: walk time backwards. BWD: as column.py (x = dh;
    # outputs db, da, dh0). PTR: plain stores instead of bulk copies out.
    pid_d = tl.program_id(0)
    bi = tl.program_id(1)
    d0 = pid_d * BD
    d = d0 + tl.arange(0, BD)
    dm = d < D
    vec = bi.to(tl.int64) * D + d
    c = tl.zeros([BD], tl.float32)
    h0 = tl.zeros([BD], tl.float32)
    if HAS_H0:
        h0 = tl.load(h0_ptr + vec, mask=dm, other=0.0).to(tl.float32)
        if not BWD:
            c = h0
    a_c = tl.full([BD], 1.0, tl.float32)
    if not A_TV:
        a_c = tl.load(a_ptr + vec, mask=dm, other=1.0).to(tl.float32)
    da_acc = tl.zeros([BD], tl.float32)
    # tiles start at multiples of BT (bulk stores at negative rows fault on the H200), so the
    # rows >= T sit in the last tile, which a reverse walk visits first
    if n == 1:
        c, da_acc = _tile(
            a_d, x_d, hs_d, out_d, da_d, out_ptr, bi, 0, d0, d, dm, c, a_c, h0, da_acc, T, Z,
            D, A_TV, HAS_H0, REV, BWD, BT, BD, True, True, PTR,
        )  # fmt: skip
    else:
        if REV:
            t0 = (n - 1) * BT
        else:
            t0 = 0
        c, da_acc = _tile(
            a_d, x_d, hs_d, out_d, da_d, out_ptr, bi, t0, d0, d, dm, c, a_c, h0, da_acc, T, Z,
            D, A_TV, HAS_H0, REV, BWD, BT, BD, REV, False, PTR,
        )  # fmt: skip
        for i in tl.range(1, n - 1, num_stages=NS):
            if REV:
                t0 = (n - 1 - i) * BT
            else:
                t0 = i * BT
            c, da_acc = _tile(
                a_d, x_d, hs_d, out_d, da_d, out_ptr, bi, t0, d0, d, dm, c, a_c, h0, da_acc, T, Z,
                D, A_TV, HAS_H0, REV, BWD, BT, BD, False, False, PTR,
            )  # fmt: skip
        if REV:
            t0 = 0
        else:
            t0 = (n - 1) * BT
        c, da_acc = _tile(
            a_d, x_d, hs_d, out_d, da_d, out_ptr, bi, t0, d0, d, dm, c, a_c, h0, da_acc, T, Z,
            D, A_TV, HAS_H0, REV, BWD, BT, BD, not REV, True, PTR,
        )  # fmt: skip
    if BWD:
        if not A_TV:
            tl.store(dsum_ptr + vec, da_acc, mask=dm)
        if A_TV:
            if REV:
                te = 0
            else:
                te = T - 1
            a0 = tl.load(a_ptr + (bi.to(tl.int64) * T + te) * D + d, mask=dm, other=0.0)
            a0 = a0.to(tl.float32)
        else:
            a0 = a_c
        tl.store(dh0_ptr + vec, a0 * c, mask=dm)


#: tile rows, pipeline stages and channels per warp, by element size (bytes); warps per program
#: come from `plan`. H200 sweeps (benchmarks/scan.py --tma, RESULTS.md `## scan`): fp32 tiles of 32
#: rows, 4 stages (91% of copy forward at [64, 16384, 256]); bf16 64 rows (78% against 45%)
TMA = {4: {"bt": 32, "ns": 4, "bd": 32}, 2: {"bt": 64, "ns": 4, "bd": 32}}
#: programs per SM below which tma mode is not used (one program per SM left ~35% of the copy
#: bandwidth unused at [16, 65536, 256]), and the most warps per program, forward / backward
MIN_PROGRAMS_PER_SM = 1.9
MAX_WARPS = {(4, False): 4, (4, True): 2, (2, False): 1, (2, True): 1}
NARROW_BD = 8


def plan(Bn, D, itemsize, sms, bwd=False):
    """Warps per program for tma mode, or 0 where it should not be used: the most warps (up to
    MAX_WARPS) that still leave MIN_PROGRAMS_PER_SM programs per SM. Measured on the H200, fp32:
    [256, 4096, 256] 4 warps forward (90.5%), 2 backward; [64, 16384, 256] 2 (91% / 90% fwd /
    fwd+bwd); [32, 32768, 256] 1 (89% fwd against 62% in stream mode); bf16 [64, 16384, 256] 1
    (78% against 62% with 2)."""
    nw = MAX_WARPS[itemsize, bwd]
    while nw >= 1:
        if Bn * -(-D // (TMA[itemsize]["bd"] * nw)) >= MIN_PROGRAMS_PER_SM * sms:
            return nw
        nw //= 2
    return 0


def channels_per_warp(Bn, D, itemsize, sms):
    """TMA[itemsize]["bd"], or NARROW_BD (fp32) where that alone gives enough programs: [16, 65536,
    256] in rows of 32 bytes, 71% / 73% of copy fwd / fwd+bwd against stream mode's 68% / 66%."""
    if plan(Bn, D, itemsize, sms):
        return TMA[itemsize]["bd"]
    if itemsize == 4 and Bn * -(-D // NARROW_BD) >= MIN_PROGRAMS_PER_SM * sms:
        return NARROW_BD
    return 0


def usable(*tensors) -> bool:
    """Whether tma mode can take these [B, T, D] / [B, D] operands: 32-bit or 16-bit real data,
    16-byte aligned bases and rows (a bulk tensor copy's requirements), Hopper or newer (or the
    interpreter)."""
    import os

    import torch

    x = tensors[0]
    if x.device.type == "cuda":
        if torch.cuda.get_device_capability(x.device)[0] < 9:
            return False
    elif os.environ.get("TRITON_INTERPRET") != "1":
        return False
    for t in tensors:
        if t is None:
            continue
        if t.is_complex() or t.element_size() not in (2, 4) or t.data_ptr() % 16:
            return False
        if (t.shape[-1] * t.element_size()) % 16:
            return False
    return True


def launch(a, x, hs, h0, out, da, dh0, reverse, bwd, bt=None, nw=None, ns=None, ptr=None, bd=None):
    """One scan in tma mode (arguments as triton._launch; `usable` must hold). bt / nw / ns / bd:
    tile rows, warps, stages, channels per warp (default: TMA and `plan`); ptr: plain stores.
    Returns da [B, D] for a time-invariant `a` in the backward, else None."""
    import torch
    from triton.tools.tensor_descriptor import TensorDescriptor

    Bn, T, D = x.shape
    cfg = TMA[x.element_size()]
    BT = bt or cfg["bt"]
    sms = torch.cuda.get_device_properties(x.device).multi_processor_count if x.is_cuda else 132
    if bd is None:
        bd = channels_per_warp(Bn, D, x.element_size(), sms) or cfg["bd"]
    if nw is None:
        nw = max(1, plan(Bn, D, x.element_size(), sms, bwd)) if bd == cfg["bd"] else 1
    num_warps = nw
    BD = bd * num_warps

    def desc(t):
        return TensorDescriptor(t, [Bn, T, D], [T * D, D, 1], [1, BT, BD])

    tv = a.dim() == 3
    xd = desc(x)
    dsum = torch.empty((Bn, D), dtype=torch.float32, device=x.device) if bwd and not tv else None
    _tma_real[(triton.cdiv(D, BD), Bn)](
        desc(a) if tv else xd,
        xd,
        desc(hs) if hs is not None else xd,
        desc(out),
        desc(da) if bwd and tv else xd,
        a,
        h0 if h0 is not None else x,
        out,
        dh0 if dh0 is not None else x,
        dsum if dsum is not None else x,
        T,
        triton.cdiv(T, BT),
        0,
        D=D,
        A_TV=tv,
        HAS_H0=h0 is not None,
        REV=bool(reverse),
        BWD=bwd,
        BT=BT,
        BD=BD,
        NS=ns or cfg["ns"],
        PTR=bool(cfg.get("ptr", False) if ptr is None else ptr),
        num_warps=num_warps,
    )
    return dsum
