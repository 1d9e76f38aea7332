"""tma mode of triton.py: `h_t = a_t * h_{t-1} + b_t` with tiles fed by Hopper bulk tensor copies.

A program owns `BD = bd * nw` channels of one batch row (`bd` = 64 in one warp where such programs
fill the GPU, `WIDE`; else 32, or 8 in rows of 32 bytes where wider rows leave too few programs;
`tw` more warps per program laid along time where there is about one program per SM,
`time_warps`) and walks the whole time axis in tiles of `BT` steps, like
column mode (column.py). What changes is how tiles arrive. Column mode issues each tile's loads
from registers (one tile ahead), so its bytes in flight are bounded by registers and by the number
of warps (B * D / 32): at T = 16K-64K there are 1-4 warps per SM, too few to cover the memory
latency. Here every tile is one bulk tensor copy (TMA) into shared memory, and the compiler's
software pipeline keeps `NS` tiles in flight per program without registers (HOPPER.md: "two or
three shared-memory stages deep"). Tiles are addressed through `[B, T, D]` tensor descriptors:
rows outside `[0, T)` read as zeros and are dropped by the bulk stores, so no load or store
carries a mask. Tiles start at multiples of BT in both walk directions (a bulk store at a negative
row faulted on the H200); the walk's first and last tiles are peeled out of the pipelined loop.
With 32 channels per warp the tiles are read out of shared memory (ldmatrix) into column mode's
layout, every thread holding whole time columns: the forward scan is an in-thread FMA chain (sm_90
PTX of this kernel compiled with Triton 3.6: 0-1 `shfl`). Two exceptions: 8-channel rows put time
on 4 lanes (230 `shfl`), and Triton lowers a *reverse* scan, which every backward of a forward
scan walks, to ~1900 shuffles even in-thread; `flip` scans flipped tiles forward instead (the
flips fold into register renaming: 1 `shfl`, 1090 PTX instructions against 3103), the default in
one-warp programs (with more warps the flip crosses warps and halved the backward's speed). Where a
batch row's channels give too few programs, time is split (reduce-then-scan, `segments_for`).

Backward (BWD): x is dh, walked against the forward's direction; the coefficient of time t is
a_{t+1} (a_{t-1} for a reverse scan): the same descriptor read one row shifted; da_t = g_t h_{t-1}
reads h one row shifted the other way, h0 at the sequence's edge; dh0 = a_0 g_0.
"""

from __future__ import annotations

import os
import threading

import torch
import triton
import triton.language as tl

from .column import _compose_real
from .triton import _comb_real, _pow_real, _row


@triton.jit
def _tile(
    a_d, x_d, hs_d, out_d, da_d, bi, t0, d0, c, acc_a, a_c, pw, h0, da_acc, T,
    A_TV: tl.constexpr, HAS_H0: tl.constexpr, REV: tl.constexpr, BWD: tl.constexpr,
    AGG: tl.constexpr, BT: tl.constexpr, BD: tl.constexpr, EDGE: tl.constexpr,
    FLIP: tl.constexpr,
):  # fmt: skip
    """One tile at time rows [t0, t0 + BT) entered with carry c; returns (carry, acc_a, da_acc).
    FLIP: a reverse walk scans the flipped tile forward instead of scanning in reverse.
    AGG: only the segment's aggregate (acc_a: product of the coefficients), no stores. EDGE: the
    tile may hold rows >= T (a = 1 there: the carry passes through them unchanged) and the
    backward's h0 edge (t = 0, or T - 1 reversed). A time-invariant `a` carries c in float64
    and adds it as pw * c (pw: a^k, k = 1..BT steps into the tile, exact to one rounding) to the
    carry-free scan; folded into the first row, the carry would cross rounded powers of `a` that
    the scan network forms, the same in every tile: a bias that grows with the number of tiles
    within the memory 1 / (1 - a) (2.6e-5 relative error at 2^20 steps, a in (0.99, 0.9999))."""
    r = tl.arange(0, BT)
    if REV:
        CO: tl.constexpr = 1  # BWD: coefficient of time t = a_{t+1}; h_prev = h_{t-1}
    else:
        CO: tl.constexpr = -1
    # the scan's direction over the rows held (flipped tiles are scanned forward)
    SREV: tl.constexpr = REV and not FLIP
    if SREV:
        FIRST: tl.constexpr = BT - 1  # the walk enters a tile at its last row
        LAST: tl.constexpr = 0
    else:
        FIRST: tl.constexpr = 0
        LAST: tl.constexpr = BT - 1
    EXACT: tl.constexpr = not A_TV and not EDGE
    LOAD_H: tl.constexpr = BWD and not AGG
    x = x_d.load([bi, t0, d0]).reshape(BT, BD).to(tl.float32)
    if A_TV:
        if BWD:
            a = a_d.load([bi, t0 + CO, d0]).reshape(BT, BD).to(tl.float32)
        else:
            a = a_d.load([bi, t0, d0]).reshape(BT, BD).to(tl.float32)
    else:
        a = tl.broadcast_to(a_c[None, :], (BT, BD))
    if LOAD_H:
        hp = hs_d.load([bi, t0 - CO, d0]).reshape(BT, BD).to(tl.float32)
    if EDGE:
        t = t0 + r
        a = tl.where((t < T)[:, None], a, 1.0)
        if LOAD_H and HAS_H0:  # h_prev at the sequence's edge is h0
            if REV:
                edge = 0
            else:
                edge = T - 1
            hp = tl.where((t == edge)[:, None], h0[None, :], hp)
    if REV and FLIP:
        # Triton 3.6 compiles a reverse scan over in-thread rows to ~1900 shuffles (sm_90 PTX, this
        # kernel); flipped rows (XOR swaps inside the thread) make it a forward chain of FMAs
        x = tl.flip(x, 0)
        a = tl.flip(a, 0)
    if EXACT:
        _, hf = tl.associative_scan((a, x), 0, _comb_real, reverse=SREV)
        h = hf + pw * c.to(tl.float32)[None, :]
        c_out = _row(hf, r, LAST).to(tl.float64) + _row(pw, r, LAST).to(tl.float64) * c
    else:
        x = tl.where(r[:, None] == FIRST, x + a * c.to(tl.float32)[None, :], x)
        A, h = tl.associative_scan((a, x), 0, _comb_real, reverse=SREV)
        if AGG:
            acc_a = acc_a * _row(A, r, LAST)
        c_out = _row(h, r, LAST).to(c.dtype)
    if REV and FLIP:
        h = tl.flip(h, 0)
    if not AGG:
        out_d.store([bi, t0, d0], h.reshape(1, BT, BD).to(out_d.dtype))
        if BWD:
            g = h * hp
            if A_TV:
                da_d.store([bi, t0, d0], g.reshape(1, BT, BD).to(da_d.dtype))
            else:
                da_acc += tl.sum(g, axis=0)  # rows outside [0, T): h_prev reads as 0
    return c_out, acc_a, da_acc


@triton.jit
def _bounds(p, n, TPS, BT: tl.constexpr, REV: tl.constexpr):
    """Time tiles [j0, j1) of segment p (numbered in walk order). Tiles start at multiples of BT
    (bulk stores at negative rows fault on the H200), so the rows >= T sit in the top tile."""
    if REV:
        j1 = n - p * TPS
        j0 = tl.maximum(j1 - TPS, 0)
    else:
        j0 = p * TPS
        j1 = tl.minimum(j0 + TPS, n)
    return j0, j1


@triton.jit
def _t0(j0, j1, w, BT: tl.constexpr, REV: tl.constexpr):
    """First row of the w-th tile (walk order) of the segment of tiles [j0, j1)."""
    if REV:
        return (j1 - 1 - w) * BT
    else:
        return (j0 + w) * BT


@triton.jit
def _walk(
    a_d, x_d, hs_d, out_d, da_d, bi, d0, c, acc_a, a_c, pw, h0, da_acc, T, j0, j1,
    A_TV: tl.constexpr, HAS_H0: tl.constexpr, REV: tl.constexpr, BWD: tl.constexpr,
    AGG: tl.constexpr, BT: tl.constexpr, BD: tl.constexpr, NS: tl.constexpr,
    FLIP: tl.constexpr,
):  # fmt: skip
    """The tiles [j0, j1) of one segment in walk order from carry c; the first and last are peeled
    (no conditionals inside the compiler's pipeline). Returns (carry, acc_a, da_acc)."""
    m = j1 - j0
    c, acc_a, da_acc = _tile(
        a_d, x_d, hs_d, out_d, da_d, bi, _t0(j0, j1, 0, BT, REV), d0, c, acc_a, a_c, pw, h0,
        da_acc, T, A_TV, HAS_H0, REV, BWD, AGG, BT, BD, True, FLIP,
    )  # fmt: skip
    if m > 1:
        for w in tl.range(1, m - 1, num_stages=NS):
            c, acc_a, da_acc = _tile(
                a_d, x_d, hs_d, out_d, da_d, bi, _t0(j0, j1, w, BT, REV), d0, c, acc_a, a_c, pw,
                h0, da_acc, T, A_TV, HAS_H0, REV, BWD, AGG, BT, BD, False, FLIP,
            )  # fmt: skip
        c, acc_a, da_acc = _tile(
            a_d, x_d, hs_d, out_d, da_d, bi, _t0(j0, j1, m - 1, BT, REV), d0, c, acc_a, a_c, pw,
            h0, da_acc, T, A_TV, HAS_H0, REV, BWD, AGG, BT, BD, True, FLIP,
        )  # fmt: skip
    return c, acc_a, da_acc


@triton.jit
def _walk2(
    a_d, x_d, hs_d, out_d, da_d, bi, d0, cz, c, a_c, pw, h0, da_acc, T, k0, k1, s0, s1,
    A_TV: tl.constexpr, HAS_H0: tl.constexpr, REV: tl.constexpr, BWD: tl.constexpr,
    BT: tl.constexpr, BD: tl.constexpr, NS: tl.constexpr, FLIP: tl.constexpr,
    EDGES: tl.constexpr,
):  # fmt: skip
    """Two segments of as many tiles (at least 2) in lockstep, in one pipelined loop: tiles
    [k0, k1) walked from carry cz for their map (AGG), tiles [s0, s1) walked from carry c and
    stored. EDGES: first and last tiles peeled as `_walk` does; else (segments away from both ends
    of the axis) every tile is in the loop. Returns (k's carry, k's coefficient product, s's
    carry, da_acc)."""
    m = k1 - k0
    acc = tl.full([BD], 1.0, tl.float32)
    if EDGES:
        w0 = 1
        w1 = m - 1
        cz, acc, _ = _tile(
            a_d, x_d, hs_d, out_d, da_d, bi, _t0(k0, k1, 0, BT, REV), d0, cz, acc, a_c, pw, h0,
            da_acc, T, A_TV, HAS_H0, REV, BWD, True, BT, BD, True, FLIP,
        )  # fmt: skip
        c, _, da_acc = _tile(
            a_d, x_d, hs_d, out_d, da_d, bi, _t0(s0, s1, 0, BT, REV), d0, c, acc, a_c, pw, h0,
            da_acc, T, A_TV, HAS_H0, REV, BWD, False, BT, BD, True, FLIP,
        )  # fmt: skip
    else:
        w0 = 0
        w1 = m
    for w in tl.range(w0, w1, num_stages=NS):
        cz, acc, _ = _tile(
            a_d, x_d, hs_d, out_d, da_d, bi, _t0(k0, k1, w, BT, REV), d0, cz, acc, a_c, pw, h0,
            da_acc, T, A_TV, HAS_H0, REV, BWD, True, BT, BD, False, FLIP,
        )  # fmt: skip
        c, _, da_acc = _tile(
            a_d, x_d, hs_d, out_d, da_d, bi, _t0(s0, s1, w, BT, REV), d0, c, acc, a_c, pw, h0,
            da_acc, T, A_TV, HAS_H0, REV, BWD, False, BT, BD, False, FLIP,
        )  # fmt: skip
    if EDGES:
        cz, acc, _ = _tile(
            a_d, x_d, hs_d, out_d, da_d, bi, _t0(k0, k1, m - 1, BT, REV), d0, cz, acc, a_c, pw,
            h0, da_acc, T, A_TV, HAS_H0, REV, BWD, True, BT, BD, True, FLIP,
        )  # fmt: skip
        c, _, da_acc = _tile(
            a_d, x_d, hs_d, out_d, da_d, bi, _t0(s0, s1, m - 1, BT, REV), d0, c, acc, a_c, pw,
            h0, da_acc, T, A_TV, HAS_H0, REV, BWD, False, BT, BD, True, FLIP,
        )  # fmt: skip
    return cz, acc, c, da_acc


@triton.jit
def _setup(a_ptr, h0_ptr, D: tl.constexpr, A_TV: tl.constexpr, HAS_H0: tl.constexpr,
           REV: tl.constexpr, BT: tl.constexpr, BD: tl.constexpr, FLIP: tl.constexpr):  # fmt: skip
    """The program's channel block, batch row and segment (or chain) index, its channels d and
    their mask, h0, the time-invariant coefficient a_c (1 for a time-varying a) and its powers pw
    (a^k for the k-th walk step into a tile, rows counted from the scan's entry row; _tile's
    exact carry)."""
    pid_d = tl.program_id(0)
    bi = tl.program_id(1)
    p = tl.program_id(2)
    d0 = pid_d * BD
    d = d0 + tl.arange(0, BD)
    dm = d < D
    vec = bi.to(tl.int64) * D + d
    h0 = tl.zeros([BD], tl.float32)
    if HAS_H0:
        h0 = tl.load(h0_ptr + vec, mask=dm, other=0.0).to(tl.float32)
    a_c = tl.full([BD], 1.0, tl.float32)
    pw = tl.full([BT, BD], 1.0, tl.float32)
    if not A_TV:
        a_c = tl.load(a_ptr + vec, mask=dm, other=1.0).to(tl.float32)
        r = tl.arange(0, BT)
        if REV and not FLIP:
            k = BT - r
        else:
            k = r + 1
        pw = _pow_real(tl.broadcast_to(a_c[None, :], (BT, BD)), k[:, None], tl.float32, 12)
    return pid_d, bi, p, d0, d, dm, h0, a_c, pw


@triton.jit
def _store_agg(agg_ptr, bi, S, p, d, dm, acc_a, c, a_c, T, j0, j1, D: tl.constexpr,
               A_TV: tl.constexpr, BT: tl.constexpr):  # fmt: skip
    """Segment p's map h -> A h + X into agg [B, S, 2, D]."""
    if not A_TV:  # the segment's rows [j0 BT, min(j1 BT, T)), in either walk direction
        acc_a = _pow_real(a_c, tl.minimum(j1 * BT, T) - j0 * BT, tl.float32, 31)
    ga = (bi * S + p).to(tl.int64) * 2 * D + d
    tl.store(agg_ptr + ga, acc_a, mask=dm)
    tl.store(agg_ptr + ga + D, c.to(tl.float32), mask=dm)


@triton.jit
def _store_dh0(a_ptr, dh0_ptr, bi, d, dm, c, a_c, T, last, D: tl.constexpr, A_TV: tl.constexpr,
               REV: tl.constexpr):  # fmt: skip
    """dh0 = a_0 g_0 (the walk's last step), by the program of the last segment (`last`)."""
    if A_TV:
        if REV:
            te = 0
        else:
            te = T - 1
        a0 = tl.load(a_ptr + (bi.to(tl.int64) * T + te) * D + d, mask=dm, other=0.0)
        a0 = a0.to(tl.float32)
    else:
        a0 = a_c
    dh0 = (a0 * c.to(tl.float32)).to(dh0_ptr.dtype.element_ty)
    tl.store(dh0_ptr + bi.to(tl.int64) * D + d, dh0, mask=dm & last)


@triton.jit
def _tma_real(
    a_d, x_d, hs_d, out_d, da_d, a_ptr, h0_ptr, dh0_ptr, dsum_ptr, agg_ptr, T, n, TPS, S,
    D: tl.constexpr, A_TV: tl.constexpr, HAS_H0: tl.constexpr, REV: tl.constexpr,
    BWD: tl.constexpr, AGG: tl.constexpr, BT: tl.constexpr, BD: tl.constexpr,
    NS: tl.constexpr, FLIP: tl.constexpr,
):  # fmt: skip
    # n = cdiv(T, BT) time tiles in S segments of TPS tiles, numbered p in walk order. AGG: pass 1
    # of a split, each segment's map h -> A h + X (agg [B, S, 2, D]); else the segment is walked
    # from the composition of the maps before it (reduce-then-scan, as column.py) and stored.
    # REV: walk time backwards. BWD: as column.py (x = dh; outputs db, da or its per-segment sums
    # dsum [B, S, D], dh0).
    _, bi, p, d0, d, dm, h0, a_c, pw = _setup(a_ptr, h0_ptr, D, A_TV, HAS_H0, REV, BT, BD, FLIP)
    c = tl.zeros([BD], tl.float32)
    if not AGG:
        if HAS_H0 and not BWD:
            c = h0
        c = _compose_real(agg_ptr, bi, S, 0, p, d, dm, 0, c, D, tl.float32)
    if not A_TV:
        c = c.to(tl.float64)  # _tile: exact carry path
    acc_a = tl.full([BD], 1.0, tl.float32)
    da_acc = tl.zeros([BD], tl.float32)
    j0, j1 = _bounds(p, n, TPS, BT, REV)
    c, acc_a, da_acc = _walk(
        a_d, x_d, hs_d, out_d, da_d, bi, d0, c, acc_a, a_c, pw, h0, da_acc, T, j0, j1,
        A_TV, HAS_H0, REV, BWD, AGG, BT, BD, NS, FLIP,
    )  # fmt: skip
    if AGG:
        _store_agg(agg_ptr, bi, S, p, d, dm, acc_a, c, a_c, T, j0, j1, D, A_TV, BT)
    elif BWD:
        if not A_TV:
            tl.store(dsum_ptr + (bi * S + p).to(tl.int64) * D + d, da_acc, mask=dm)
        _store_dh0(a_ptr, dh0_ptr, bi, d, dm, c, a_c, T, p == S - 1, D, A_TV, REV)


@triton.jit
def _publish(agg_ptr, flags, bi, S, k, d, dm, acc_a, ca, a_c, T, j0, j1, D: tl.constexpr,
             A_TV: tl.constexpr, BT: tl.constexpr):  # fmt: skip
    """Segment k's map into agg, then its flag with release semantics."""
    _store_agg(agg_ptr, bi, S, k, d, dm, acc_a, ca, a_c, T, j0, j1, D, A_TV, BT)
    tl.debug_barrier()  # every thread's map stores precede the flag (release is cumulative)
    tl.atomic_xchg(flags + k, 1, sem="release")


@triton.jit
def _tma_chain(
    a_d, x_d, hs_d, out_d, da_d, a_ptr, h0_ptr, dh0_ptr, dsum_ptr, agg_ptr, flag_ptr, T, n, TPS,
    S, P, D: tl.constexpr, A_TV: tl.constexpr, HAS_H0: tl.constexpr, REV: tl.constexpr,
    BWD: tl.constexpr, BT: tl.constexpr, BD: tl.constexpr, NS: tl.constexpr, FLIP: tl.constexpr,
    PB: tl.constexpr, CB: tl.constexpr,
):  # fmt: skip
    # Single launch over S segments (walk order) with P < PB programs per batch row and channel
    # block, all resident at once: program p stores segments s = p, p + P, ... Segment s needs
    # the maps of segments s - P + 1 .. s - 1 (the other programs' segments since its own previous
    # one), applied in order to the carry its previous segment ended with (h0 / 0 for s < P). Each
    # map is published with a release flag by the program that walked the segment for it, one
    # round ahead: in one pipelined loop a program walks segment s + P for its map and segment s,
    # walked for its map in the round before and so still in L2, from its carry, storing (DRAM sees
    # about 12 bytes per element, not the 20 of two passes; the pipeline drains once per round).
    # So program p waits only for programs q < p to finish their previous round. The carry is a
    # fixed formula of the inputs: bitwise reproducible, unlike CUB-style look-back.
    # dsum [B, P, D]: a time-invariant a's gradient summed per program.
    pid_d, bi, p, d0, d, dm, h0, a_c, pw = _setup(a_ptr, h0_ptr, D, A_TV, HAS_H0, REV, BT, BD, FLIP)
    nblk = tl.num_programs(0)
    own = tl.zeros([BD], tl.float32)  # carry at the end of this program's previous segment
    if HAS_H0 and not BWD:
        own = h0
    da_acc = tl.zeros([BD], tl.float32)
    flags = flag_ptr + (bi * nblk + pid_d).to(tl.int64) * S
    w = tl.arange(0, PB)
    cz = tl.zeros([BD], tl.float32)
    if not A_TV:
        cz = cz.to(tl.float64)
    ones = tl.full([BD], 1.0, tl.float32)
    j0, j1 = _bounds(p, n, TPS, BT, REV)
    ca, acc_a, _ = _walk(
        a_d, x_d, hs_d, out_d, da_d, bi, d0, cz, ones, a_c, pw, h0, da_acc, T, j0, j1,
        A_TV, HAS_H0, REV, BWD, True, BT, BD, NS, FLIP,
    )  # fmt: skip
    _publish(agg_ptr, flags, bi, S, p, d, dm, acc_a, ca, a_c, T, j0, j1, D, A_TV, BT)
    for s in range(p, S, P):
        first = tl.maximum(s - P + 1, 0)
        wm = first + w < s
        f = tl.atomic_add(flags + first + w, 0, mask=wm, sem="acquire")
        pending = tl.sum(tl.where(wm, 1 - f, 0))  # only a scalar crosses the loop (Triton 3.6)
        while pending > 0:
            f = tl.atomic_add(flags + first + w, 0, mask=wm, sem="acquire")
            pending = tl.sum(tl.where(wm, 1 - f, 0))
        tl.debug_barrier()
        c = _compose_real(agg_ptr, bi, S, first, s, d, dm, 0, own, D, tl.float32, CB)
        if not A_TV:
            c = c.to(tl.float64)
        s0, s1 = _bounds(s, n, TPS, BT, REV)
        k = s + P
        k0, k1 = _bounds(k, n, TPS, BT, REV)
        ca = cz
        acc_a = ones
        if (s > 0) & (k < S - 1) & (k1 - k0 == s1 - s0) & (s1 - s0 > 1):
            ca, acc_a, c, da_acc = _walk2(
                a_d, x_d, hs_d, out_d, da_d, bi, d0, cz, c, a_c, pw, h0, da_acc, T, k0, k1, s0,
                s1, A_TV, HAS_H0, REV, BWD, BT, BD, NS, FLIP, False,
            )  # fmt: skip
        elif (k < S) & (k1 - k0 == s1 - s0) & (s1 - s0 > 1):  # the axis' first or last segment
            ca, acc_a, c, da_acc = _walk2(
                a_d, x_d, hs_d, out_d, da_d, bi, d0, cz, c, a_c, pw, h0, da_acc, T, k0, k1, s0,
                s1, A_TV, HAS_H0, REV, BWD, BT, BD, NS, FLIP, True,
            )  # fmt: skip
        else:  # the last segments (the walk's last may be shorter): one walk after the other
            if k < S:
                ca, acc_a, _ = _walk(
                    a_d, x_d, hs_d, out_d, da_d, bi, d0, cz, ones, a_c, pw, h0, da_acc, T, k0,
                    k1, A_TV, HAS_H0, REV, BWD, True, BT, BD, NS, FLIP,
                )  # fmt: skip
            c, _, da_acc = _walk(
                a_d, x_d, hs_d, out_d, da_d, bi, d0, c, ones, a_c, pw, h0, da_acc, T, s0, s1,
                A_TV, HAS_H0, REV, BWD, False, BT, BD, NS, FLIP,
            )  # fmt: skip
        if k < S:
            _publish(agg_ptr, flags, bi, S, k, d, dm, acc_a, ca, a_c, T, k0, k1, D, A_TV, BT)
        own = c.to(tl.float32)
        if BWD:
            _store_dh0(a_ptr, dh0_ptr, bi, d, dm, c, a_c, T, s == S - 1, D, A_TV, REV)
    if BWD and not A_TV:
        tl.store(dsum_ptr + (bi * P + p).to(tl.int64) * D + d, da_acc, mask=dm)


#: tile rows, pipeline stages and channels per warp, by element size (bytes); warps per program
#: come from `plan`. H200 sweeps (benchmarks/scan.py --tma, RESULTS.md `## scan`): fp32 tiles of 32
#: rows, 4 stages (91% of copy forward at [64, 16384, 256]); bf16 64 rows (78% against 45%)
TMA = {4: {"bt": 32, "ns": 4, "bd": 32}, 2: {"bt": 64, "ns": 4, "bd": 32}}
#: programs per SM below which tma mode is not used (one program per SM left ~35% of the copy
#: bandwidth unused at [16, 65536, 256]), and the most warps per program, forward / backward
MIN_PROGRAMS_PER_SM = 1.9
MAX_WARPS = {(4, False): 2, (4, True): 2, (2, False): 1, (2, True): 1}
NARROW_BD = 8


def plan(Bn, D, itemsize, sms, bwd=False):
    """Warps per program for tma mode, or 0 where it should not be used: the most warps (up to
    MAX_WARPS) that still leave MIN_PROGRAMS_PER_SM programs per SM. Measured on the H200, fp32:
    [256, 4096, 256] 2 warps (87.2% / 87.0% fwd / fwd+bwd; 4 warps forward measured 90.5% on the
    host of 2026-11-30 but 80.4% on that of 2026-12-01, same PTX); [64, 16384, 256] 2 (91% /
    90%); [32, 32768, 256] 1 (89% fwd against 62% in stream mode); bf16 [64, 16384, 256] 1
    (78% against 62% with 2)."""
    nw = MAX_WARPS[itemsize, bwd]
    while nw >= 1:
        if Bn * -(-D // (TMA[itemsize]["bd"] * nw)) >= MIN_PROGRAMS_PER_SM * sms:
            return nw
        nw //= 2
    return 0


#: fp32 programs of 32 channels with `tw` warps laid along time, in tiles of `bt` rows, for
#: between `from` and one program per SM (where `plan` finds none): [16, 65536, 256] (0.97 per
#: SM) 77.6% / 76.2% of copy fwd / fwd+bwd against 71.3% / 73.2% in rows of 32 bytes (NARROW_BD);
#: 8 warps, tiles of 256 rows, or 64 rows: 52-59% (H200, RESULTS.md `## scan`)
TIME_WARPS = {"tw": 4, "bt": 128, "ns": 4, "from": 0.75}


def time_warps(Bn, D, itemsize, sms):
    """Warps per program laid along time: TIME_WARPS["tw"] where fp32 programs of 32 channels
    number between TIME_WARPS["from"] and 1 per SM and `plan` finds none, else 1."""
    programs = Bn * -(-D // TMA[itemsize]["bd"])
    lo = TIME_WARPS["from"] * sms
    if itemsize == 4 and not plan(Bn, D, itemsize, sms) and lo <= programs <= sms:
        return TIME_WARPS["tw"]
    return 1


#: one-warp programs of `bd` channels (fp32 rows of 256 bytes, bf16 of 128) where they number at
#: least `from` per SM, in the backward too where `bwd`. H200, fraction of copy fwd / fwd+bwd
#: (RESULTS.md `## scan`, sixth session): fp32 [256, 4096, 256] 90.5 / 90.1% against 84.6 / 85.8%
#: with 2 warps of 32 channels (128 channels: 91.5 / 90.4%), [64, 16384, 256] 92.1 / 90.3%
#: against 90.7 / 89.6%; bf16 forward [256, 4096, 256] 77.0% against 67.8%, but at [64, 16384,
#: 256] (1.9 per SM) 60.2% against 77.6%, and slower in every bf16 backward (46-47%)
WIDE = {
    4: {"bd": 64, "from": MIN_PROGRAMS_PER_SM, "bwd": True},
    2: {"bd": 64, "from": 4.0, "bwd": False},
}


def channels_per_warp(Bn, D, itemsize, sms, bwd=False):
    """WIDE[itemsize]["bd"] where D is a multiple of it and those one-warp programs fill the GPU,
    else TMA[itemsize]["bd"]
    where `plan` finds warps (in either direction: both end at one warp) or `time_warps` lays them
    along time, or NARROW_BD (fp32) where that alone gives enough programs (71% / 73% of copy fwd /
    fwd+bwd at [16, 65536, 256], before TIME_WARPS); else 0 (no tma mode without a time split)."""
    w = WIDE[itemsize]
    if (w["bwd"] or not bwd) and D % w["bd"] == 0 and Bn * D // w["bd"] >= w["from"] * sms:
        return w["bd"]
    if plan(Bn, D, itemsize, sms) or time_warps(Bn, D, itemsize, sms) > 1:
        return TMA[itemsize]["bd"]
    if itemsize == 4 and Bn * -(-D // NARROW_BD) >= MIN_PROGRAMS_PER_SM * sms:
        return NARROW_BD
    return 0


def layout(Bn, D, itemsize, sms, bwd=False, bd=None, nw=None, tw=None):
    """(channels per warp, warps, warps along time) of one direction's tma programs: those given,
    the others `launch`'s defaults (`channels_per_warp`, `plan`, `time_warps`)."""
    base = TMA[itemsize]["bd"]
    if tw is None:
        tw = time_warps(Bn, D, itemsize, sms) if bd in (None, base) and nw is None else 1
    if bd is None:
        bd = channels_per_warp(Bn, D, itemsize, sms, bwd) or base
    if nw is None:
        nw = max(1, plan(Bn, D, itemsize, sms, bwd)) if bd == base else 1
    return bd, nw, tw


#: `_tma_chain`: tiles per segment, resident programs per SM (fewer where fewer fit:
#: `_resident_per_sm`), maps composed per load. Opt-in (col=dict(chain=...)), tested (GPU: 1-70
#: rounds, more programs than fit, bitwise reproducible; interpreter: one round, and one program
#: walking every segment) and measured slower than the two-pass split on the H200 (RESULTS.md
#: `## scan`, sixth session). Walking the next round's segment for its map in lockstep with
#: storing this round's (one pipelined loop, no peeled tiles away from the axis' ends) and 3
#: programs per SM took fwd / fwd+bwd from 32 / 35% to 42 / 44% of copy at 64 ch x 1M (two-pass
#: split 52 / 57%) and from 36 / 39% to 53 / 57% at 256 ch x 1M (56 / 61%). What is left is a
#: fixed cost per round that no program streams through (waiting, composing up to P - 1 maps,
#: refilling the pipeline: ~15 us per round against ~18 us of streaming at 256 ch x 1M)
CHAIN = {"tiles": 16, "per_sm": 3, "cb": 16}

#: time segments: about SPLIT_TO programs per SM where the channels alone give too few
SPLIT_TO = 4.0


def segments_for(Bn, T, D, itemsize, sms, BT=None, BD=None):
    """Time segments for tma mode: 1 where `plan` or `channels_per_warp` give enough programs,
    else about SPLIT_TO programs per SM (segments of at least 4 tiles, at most 512)."""
    if channels_per_warp(Bn, D, itemsize, sms):
        return 1
    BT = BT or TMA[itemsize]["bt"]
    BD = BD or TMA[itemsize]["bd"]
    programs = Bn * -(-D // BD)
    want = -(-int(SPLIT_TO * sms) // programs)
    return max(1, min(want, -(-T // BT) // 4, 512))


def usable(*tensors) -> bool:
    """Whether tma mode can take these [B, T, D] / [B, D] operands: 32-bit or 16-bit real data,
    16-byte aligned bases and rows (a bulk tensor copy's requirements), Hopper or newer (or the
    interpreter)."""
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


_RESIDENT: dict = {}


def _resident_per_sm(kernel, grid, args, meta) -> int:
    """Programs of `kernel` (compiled for these arguments, not launched) that fit on one SM at
    once, by shared memory, registers and warps; kept per device, dtypes and meta-parameters."""
    from triton.runtime import driver

    key = (args[1].base.device, args[1].base.dtype, args[0].base.dtype, tuple(sorted(meta.items())))
    if key not in _RESIDENT:
        k = kernel.warmup(*args, grid=grid, **meta)
        k._init_handles()
        props = driver.active.utils.get_device_properties(driver.active.get_current_device())
        warps = meta["num_warps"]
        by_smem = (props["max_shared_mem"] + 1024) // (k.metadata.shared + 1024)  # 1 KB each
        by_regs = props["max_num_regs"] // (-(-k.n_regs * 32 // 256) * 256 * warps)
        _RESIDENT[key] = max(0, min(by_smem, by_regs, 64 // warps, 32))
    return _RESIDENT[key]


_BOUND = threading.local()


def _bind_context(device) -> None:
    """Make the device's CUDA context current in this thread. Triton 3.6 builds tensor
    descriptors (cuTensorMapEncodeTiled) before its launcher binds the context, so in a thread that
    has not used CUDA yet, such as autograd's backward thread when its first kernel is a tma one,
    building them failed with "invalid device context" (seen on the H200). A runtime call binds
    the primary context; done once per thread and device."""
    if device.type != "cuda":
        return
    done = getattr(_BOUND, "devices", None)
    if done is None:
        done = _BOUND.devices = set()
    if device.index not in done:
        torch.cuda.current_stream(device).query()
        done.add(device.index)


def launch(
    a, x, hs, h0, out, da, dh0, reverse, bwd, segments=None, bt=None, nw=None, ns=None, bd=None,
    flip=None, tw=None, chain=None, cb=None,
):  # fmt: skip
    """One scan in tma mode (arguments as triton._launch; `usable` must hold). segments: time
    segments (reduce-then-scan; default `segments_for`); bt / nw / ns / bd: tile rows, warps,
    stages, channels per warp (default: TMA and `plan`, or TIME_WARPS); flip: reverse walks scan
    flipped tiles forward (`_tile`; default: in one-warp programs, where it measured 86% against
    71% of copy fwd+bwd at [32, 32768, 256], bf16 [64, 16384, 256] 72% against 61%; with 2-4
    warps it halved the backward's speed); tw: warps per program that the compiler lays along
    time (a [BT, BD] tile of `nw * tw` warps with BD = bd * nw: each warp scans BT / tw rows
    in-thread, the warps combine through shared memory; default `time_warps`); chain: run the
    time split as `_tma_chain` (one launch, P programs per row and channel block walking segments
    of CHAIN["tiles"] tiles; chain = P, or True for CHAIN["per_sm"] programs per SM; segments
    then counts segments of the whole axis, default from CHAIN["tiles"]; cb: maps composed per
    load, default CHAIN["cb"]). Returns da [B, D]
    for a time-invariant `a` in the backward, else None."""
    from triton.tools.tensor_descriptor import TensorDescriptor

    _bind_context(x.device)
    Bn, T, D = x.shape
    isz = x.element_size()
    cfg = TMA[isz]
    sms = torch.cuda.get_device_properties(x.device).multi_processor_count if x.is_cuda else 132
    bd, nw, tw = layout(Bn, D, isz, sms, bwd, bd, nw, tw)
    if tw > 1:
        cfg = dict(cfg, bt=TIME_WARPS["bt"], ns=TIME_WARPS["ns"])
    BT = bt or cfg["bt"]
    BD = bd * nw
    n = triton.cdiv(T, BT)
    if segments is None:
        if chain:
            segments = triton.cdiv(n, CHAIN["tiles"])
        else:
            segments = segments_for(Bn, T, D, isz, sms, BT, BD)
    tps = triton.cdiv(n, max(1, min(int(segments), n)))
    S = triton.cdiv(n, tps)
    nblk = triton.cdiv(D, BD)
    if chain:  # programs per row and channel block, all resident at once (they wait on each other)
        P = int(chain) if chain is not True else CHAIN["per_sm"] * sms // (nblk * Bn)
        P = max(1, min(P, S))

    def desc(t):
        return TensorDescriptor(t, [Bn, T, D], [T * D, D, 1], [1, BT, BD])

    tv = a.dim() == 3
    xd = desc(x)
    f32 = dict(dtype=torch.float32, device=x.device)
    dsum = torch.empty((Bn, P if chain else S, D), **f32) if bwd and not tv else None
    agg = torch.empty((Bn, S, 2, D), **f32) if S > 1 or chain else None
    args = [
        desc(a) if tv else xd,
        xd,
        desc(hs) if hs is not None else xd,
        desc(out),
        desc(da) if bwd and tv else xd,
        a,
        h0 if h0 is not None else x,
        dh0 if dh0 is not None else x,
        dsum if dsum is not None else x,
        agg if agg is not None else x,
        T,
        n,
        tps,
        S,
    ]
    meta = dict(
        D=D, A_TV=tv, HAS_H0=h0 is not None, REV=bool(reverse), BWD=bwd, BT=BT, BD=BD,
        NS=ns or cfg["ns"], FLIP=bool(nw * tw == 1 if flip is None else flip),
        num_warps=nw * tw,
    )  # fmt: skip
    if chain:
        flags = torch.zeros((Bn, nblk, S), dtype=torch.int32, device=x.device)
        args[10:10] = [flags]
        meta.update(PB=triton.next_power_of_2(P), CB=cb or CHAIN["cb"])
        if x.is_cuda:  # programs wait on each other: all of a row and block must be resident
            fit = _resident_per_sm(_tma_chain, (nblk, Bn, P), [*args, P], meta) * sms
            if fit // (nblk * Bn) < P:
                P = max(1, fit // (nblk * Bn))  # one program per row and block waits on none
                meta["PB"] = triton.next_power_of_2(P)
                if dsum is not None:
                    args[8] = dsum = torch.empty((Bn, P, D), **f32)
        _tma_chain[(nblk, Bn, P)](*args, P, **meta)
        return None if dsum is None else dsum.sum(1)
    grid = (nblk, Bn, S)
    if S > 1:
        _tma_real[grid](*args, AGG=True, **meta)
    _tma_real[grid](*args, AGG=False, **meta)
    return None if dsum is None else dsum.sum(1)
