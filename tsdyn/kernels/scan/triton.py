"""Fused Triton kernels for `h_t = a_t * h_{t-1} + b_t` on CUDA, channel-last [B, T, D].

One program owns a block of `BD` channels of one batch row and walks time in tiles of `BT` steps:
each tile is loaded once ([BT, BD], rows contiguous in memory), scanned along time with the affine
combine (Blelloch 1990, §1.4.1), offset by the state carried in registers, and stored once; the
tile's last row becomes the next carry. Math is float32 (float64 for double inputs); bf16/fp16 are
widened on load and rounded on store; complex tensors are read as interleaved (re, im) pairs and
split into two planes in registers.

When `B * ceil(D / BD)` programs cannot fill the GPU, time is cut into `S` segments
(reduce-then-scan): phase 1 computes each segment's aggregate map `h -> A h + X`, phase 2 re-runs
every segment from the carry obtained by composing the aggregates before it. That moves 20 bytes per
fp32 element instead of 12 (research note §0.2).

The backward is the same kernel run the other way in time on (conj(a_{t+1}), dh) with a fused
epilogue: db_t = g_t, da_t = g_t conj(h_{t-1}) (summed in-kernel for a time-invariant `a`),
dh0 = conj(a_0) g_0.

That is "stream" mode (_scan_*_kernel). "column" mode (column.py) keeps whole time columns in each
thread (no scan network); "tma" mode (tma.py) feeds column-style programs by bulk tensor copies
pipelined through shared memory; `choose_mode` picks per direction what measured faster on the
H200. A single-pass "lookback" mode (one program per tile, carries composed from a tree of
published block maps) measured slower at every shape and was removed (RESULTS.md, `## scan`).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _comb_real(a1, x1, a2, x2):
    return a2 * a1, a2 * x1 + x2


@triton.jit
def _comb_cplx(ar1, ai1, xr1, xi1, ar2, ai2, xr2, xi2):
    return (
        ar2 * ar1 - ai2 * ai1,
        ar2 * ai1 + ai2 * ar1,
        ar2 * xr1 - ai2 * xi1 + xr2,
        ar2 * xi1 + ai2 * xr1 + xi2,
    )


@triton.jit
def _row(x, r, i: tl.constexpr):
    # row i of a tile; where each thread holds whole time columns (column.py) it folds to a register
    return tl.sum(tl.where(r[:, None] == i, x, 0.0), axis=0)


@triton.jit
def _last_row(x, r, BT: tl.constexpr):
    return _row(x, r, BT - 1)


@triton.jit
def _pow_real(x, n, WT: tl.constexpr, BITS: tl.constexpr):
    """x ** n for 0 <= n < 2^BITS (n scalar or broadcastable to x), by repeated squaring in
    float64: a time split's segment map, or a tile's powers, for a time-invariant `a`. The tile
    product a^BT raised to the number of tiles repeats one rounding error n / BT times (relative
    error 3.6e-5 over 3200 steps in float32, against 4e-6 for a step-by-step product and one
    rounding here)."""
    base = x.to(tl.float64)
    res = tl.full(x.shape, 1.0, tl.float64)
    for i in tl.static_range(BITS):
        res = tl.where(((n >> i) & 1) == 1, res * base, res)
        base = base * base
    return res.to(WT)


@triton.jit
def _pow_cplx(xr, xi, n, WT: tl.constexpr, BITS: tl.constexpr):
    """(xr + i xi) ** n as _pow_real, for complex `a`."""
    br = xr.to(tl.float64)
    bi = xi.to(tl.float64)
    rr = tl.full(xr.shape, 1.0, tl.float64)
    ri = tl.zeros(xr.shape, tl.float64)
    for i in tl.static_range(BITS):
        on = ((n >> i) & 1) == 1
        nr = rr * br - ri * bi
        ri = tl.where(on, rr * bi + ri * br, ri)
        rr = tl.where(on, nr, rr)
        br, bi = br * br - bi * bi, 2.0 * br * bi
    return rr.to(WT), ri.to(WT)


@triton.jit
def _tile_real(
    a_ptr,
    x_ptr,
    hs_ptr,
    row0,
    k,
    k_end,
    T,
    D,
    d,
    dm,
    a_c,
    h0,
    A_TV: tl.constexpr,
    HAS_H0: tl.constexpr,
    REV: tl.constexpr,
    BWD: tl.constexpr,
    LOAD_H: tl.constexpr,
    WT: tl.constexpr,
):
    """Loads of one [BT, BD] tile at walk steps k: coefficients, inputs, previous states."""
    km = k < k_end
    if REV:
        t = T - 1 - k
    else:
        t = k
    m = km[:, None] & dm[None, :]
    offs = (row0 + t)[:, None] * D + d[None, :]
    x = tl.load(x_ptr + offs, mask=m, other=0.0).to(WT)
    if A_TV:
        if BWD:
            # coefficient of step k is conj(a) at the time of step k - 1 of this walk
            if REV:
                tp = t + 1
            else:
                tp = t - 1
            am = m & (k >= 1)[:, None]
            a = tl.load(a_ptr + (row0 + tp)[:, None] * D + d[None, :], mask=am, other=0.0)
            a = tl.where(km[:, None], a.to(WT), 1.0)
        else:
            a = tl.load(a_ptr + offs, mask=m, other=1.0).to(WT)
    else:
        a = tl.where(km[:, None], a_c[None, :], 1.0)
    hp = x
    if LOAD_H:
        # previous state h_{t-1} of the forward recurrence = the state at walk step k + 1
        if REV:
            tq = t - 1
        else:
            tq = t + 1
        hm = m & (k + 1 < T)[:, None]
        hp = tl.load(hs_ptr + (row0 + tq)[:, None] * D + d[None, :], mask=hm, other=0.0)
        hp = hp.to(WT)
        if HAS_H0:
            hp = tl.where((k + 1 == T)[:, None], h0[None, :], hp)
    return a, x, hp


@triton.jit
def _tile_cplx(
    a_ptr,
    x_ptr,
    hs_ptr,
    row0,
    k,
    k_end,
    T,
    D,
    d,
    dm,
    acr,
    aci,
    h0r,
    h0i,
    A_TV: tl.constexpr,
    HAS_H0: tl.constexpr,
    REV: tl.constexpr,
    BWD: tl.constexpr,
    LOAD_H: tl.constexpr,
    WT: tl.constexpr,
):
    two = tl.arange(0, 2)
    km = k < k_end
    if REV:
        t = T - 1 - k
    else:
        t = k
    m3 = (km[:, None] & dm[None, :])[:, :, None]
    offs = ((row0 + t)[:, None] * D + d[None, :])[:, :, None] * 2 + two[None, None, :]
    xr, xi = tl.split(tl.load(x_ptr + offs, mask=m3, other=0.0).to(WT))
    if A_TV:
        if BWD:
            if REV:
                tp = t + 1
            else:
                tp = t - 1
            am = m3 & (k >= 1)[:, None, None]
            po = ((row0 + tp)[:, None] * D + d[None, :])[:, :, None] * 2 + two[None, None, :]
            ar, ai = tl.split(tl.load(a_ptr + po, mask=am, other=0.0).to(WT))
            ai = -ai
        else:
            ar, ai = tl.split(tl.load(a_ptr + offs, mask=m3, other=0.0).to(WT))
        ar = tl.where(km[:, None], ar, 1.0)
        ai = tl.where(km[:, None], ai, 0.0)
    else:
        ar = tl.where(km[:, None], acr[None, :], 1.0)
        ai = tl.where(km[:, None], aci[None, :], 0.0)
    pr = xr
    pi = xi
    if LOAD_H:
        if REV:
            tq = t - 1
        else:
            tq = t + 1
        hm = m3 & (k + 1 < T)[:, None, None]
        qo = ((row0 + tq)[:, None] * D + d[None, :])[:, :, None] * 2 + two[None, None, :]
        pr, pi = tl.split(tl.load(hs_ptr + qo, mask=hm, other=0.0).to(WT))
        if HAS_H0:
            first = (k + 1 == T)[:, None]
            pr = tl.where(first, h0r[None, :], pr)
            pi = tl.where(first, h0i[None, :], pi)
    return ar, ai, xr, xi, pr, pi


@triton.jit
def _scan_real_kernel(
    a_ptr,
    x_ptr,
    hs_ptr,
    h0_ptr,
    out_ptr,
    da_ptr,
    agg_ptr,
    dh0_ptr,
    T,
    D,
    SEG,
    NSEG,
    A_TV: tl.constexpr,
    HAS_H0: tl.constexpr,
    REV: tl.constexpr,
    BWD: tl.constexpr,
    PHASE: tl.constexpr,
    F64: tl.constexpr,
    BT: tl.constexpr,
    BD: tl.constexpr,
):
    # PHASE 0: whole time axis; 1: segment aggregates only; 2: segments with carry-in from aggregates.
    # REV: walk time backwards. BWD: x is dh, coefficients are a at the previous step of the walk,
    # outputs are db (out_ptr), da and dh0.
    WT: tl.constexpr = tl.float64 if F64 else tl.float32
    pid_d = tl.program_id(0)
    bi = tl.program_id(1).to(tl.int64)
    s = tl.program_id(2)
    d = pid_d * BD + tl.arange(0, BD)
    dm = d < D
    r = tl.arange(0, BT)
    row0 = bi * T
    k_begin = s * SEG
    k_end = tl.minimum(k_begin + SEG, T)
    last_seg = s == NSEG - 1

    LOAD_H: tl.constexpr = BWD and PHASE != 1
    c = tl.zeros([BD], WT)
    h0 = tl.zeros([BD], WT)
    if HAS_H0:
        h0 = tl.load(h0_ptr + bi * D + d, mask=dm, other=0.0).to(WT)
        if not BWD and PHASE != 1:  # phase 1 aggregates start from a zero state
            c = h0
    if PHASE == 2:
        for j in range(0, NSEG):
            jm = dm & (j < s)
            aj = tl.load(agg_ptr + ((bi * NSEG + j) * 2) * D + d, mask=jm, other=1.0)
            xj = tl.load(agg_ptr + ((bi * NSEG + j) * 2 + 1) * D + d, mask=jm, other=0.0)
            c = aj.to(WT) * c + xj.to(WT)
    a_c = tl.full([BD], 1.0, WT)
    pw = tl.full([BT, BD], 1.0, WT)
    if not A_TV:
        a_c = tl.load(a_ptr + bi * D + d, mask=dm, other=1.0).to(WT)
        # a time-invariant a: the carry enters as pw * c with exact powers (pw = a^(k+1)) and is
        # carried in float64; the scan's own rounded powers A, the same in every tile, would bias
        # it (tma.py's _tile)
        c = c.to(tl.float64)
        pw = _pow_real(tl.broadcast_to(a_c[None, :], (BT, BD)), r[:, None] + 1, WT, 12)
    acc_a = tl.full([BD], 1.0, WT)
    da_acc = tl.zeros([BD], WT)

    # software pipelining by hand: the next tile's loads are issued before this tile's scan
    a_n, x_n, hp_n = _tile_real(
        a_ptr,
        x_ptr,
        hs_ptr,
        row0,
        k_begin + r,
        k_end,
        T,
        D,
        d,
        dm,
        a_c,
        h0,
        A_TV,
        HAS_H0,
        REV,
        BWD,
        LOAD_H,
        WT,
    )
    for k0 in range(0, SEG, BT):
        a = a_n
        x = x_n
        hp = hp_n
        k = k_begin + k0 + r
        a_n, x_n, hp_n = _tile_real(
            a_ptr,
            x_ptr,
            hs_ptr,
            row0,
            k + BT,
            k_end,
            T,
            D,
            d,
            dm,
            a_c,
            h0,
            A_TV,
            HAS_H0,
            REV,
            BWD,
            LOAD_H,
            WT,
        )
        km = k < k_end
        if REV:
            t = T - 1 - k
        else:
            t = k
        m = km[:, None] & dm[None, :]
        offs = (row0 + t)[:, None] * D + d[None, :]
        A, X = tl.associative_scan((a, x), 0, _comb_real)
        if A_TV:
            H = X + A * c[None, :]
        else:  # rows past the segment's end have a = 1: their multiplier is A, not a power
            P = tl.where(km[:, None], pw, A)
            H = X + P * c.to(WT)[None, :]
            c_next = _last_row(X, r, BT).to(tl.float64) + _last_row(P, r, BT).to(tl.float64) * c
        if PHASE == 1:
            if A_TV:  # a time-invariant a's segment map is a^n (_pow_real, after the loop)
                acc_a = acc_a * _last_row(A, r, BT)
        else:
            tl.store(out_ptr + offs, H.to(out_ptr.dtype.element_ty), mask=m)
            if BWD:
                if A_TV:
                    tl.store(da_ptr + offs, (H * hp).to(da_ptr.dtype.element_ty), mask=m)
                else:
                    da_acc += tl.sum(tl.where(m, H * hp, 0.0), axis=0)
        if A_TV:
            c = _last_row(H, r, BT)
        else:
            c = c_next

    if PHASE == 1:
        if not A_TV:
            acc_a = _pow_real(a_c, k_end - k_begin, WT, 31)
        tl.store(agg_ptr + ((bi * NSEG + s) * 2) * D + d, acc_a, mask=dm)
        tl.store(agg_ptr + ((bi * NSEG + s) * 2 + 1) * D + d, c.to(WT), mask=dm)
    if BWD and PHASE != 1:
        if not A_TV:
            tl.store(da_ptr + (bi * NSEG + s) * D + d, da_acc, mask=dm)
        # dh0 = conj(a at the first step of the forward recurrence) * g there (last segment)
        if A_TV:
            if REV:
                t0 = 0
            else:
                t0 = T - 1
            a0 = tl.load(a_ptr + (row0 + t0) * D + d, mask=dm & last_seg, other=0.0).to(WT)
        else:
            a0 = a_c
        dh0 = (a0 * c.to(WT)).to(dh0_ptr.dtype.element_ty)
        tl.store(dh0_ptr + bi * D + d, dh0, mask=dm & last_seg)


@triton.jit
def _scan_cplx_kernel(
    a_ptr,
    x_ptr,
    hs_ptr,
    h0_ptr,
    out_ptr,
    da_ptr,
    agg_ptr,
    dh0_ptr,
    T,
    D,
    SEG,
    NSEG,
    A_TV: tl.constexpr,
    HAS_H0: tl.constexpr,
    REV: tl.constexpr,
    BWD: tl.constexpr,
    PHASE: tl.constexpr,
    F64: tl.constexpr,
    BT: tl.constexpr,
    BD: tl.constexpr,
):
    # Same walk as _scan_real_kernel; every pointer is a float view of interleaved (re, im) pairs.
    WT: tl.constexpr = tl.float64 if F64 else tl.float32
    pid_d = tl.program_id(0)
    bi = tl.program_id(1).to(tl.int64)
    s = tl.program_id(2)
    d = pid_d * BD + tl.arange(0, BD)
    dm = d < D
    r = tl.arange(0, BT)
    two = tl.arange(0, 2)
    row0 = bi * T
    k_begin = s * SEG
    k_end = tl.minimum(k_begin + SEG, T)
    last_seg = s == NSEG - 1
    vec = (bi * D + d)[:, None] * 2 + two[None, :]  # [BD, 2] offsets of a [B, D] complex vector

    LOAD_H: tl.constexpr = BWD and PHASE != 1
    cr = tl.zeros([BD], WT)
    ci = tl.zeros([BD], WT)
    h0r = tl.zeros([BD], WT)
    h0i = tl.zeros([BD], WT)
    if HAS_H0:
        h0r, h0i = tl.split(tl.load(h0_ptr + vec, mask=dm[:, None], other=0.0).to(WT))
        if not BWD and PHASE != 1:  # phase 1 aggregates start from a zero state
            cr = h0r
            ci = h0i
    if PHASE == 2:
        for j in range(0, NSEG):
            jm = dm & (j < s)
            base = (bi * NSEG + j) * 4 * D
            ajr = tl.load(agg_ptr + base + d, mask=jm, other=1.0).to(WT)
            aji = tl.load(agg_ptr + base + D + d, mask=jm, other=0.0).to(WT)
            xjr = tl.load(agg_ptr + base + 2 * D + d, mask=jm, other=0.0).to(WT)
            xji = tl.load(agg_ptr + base + 3 * D + d, mask=jm, other=0.0).to(WT)
            ncr = ajr * cr - aji * ci + xjr
            ci = ajr * ci + aji * cr + xji
            cr = ncr
    acr = tl.full([BD], 1.0, WT)
    aci = tl.zeros([BD], WT)
    if not A_TV:
        acr, aci = tl.split(tl.load(a_ptr + vec, mask=dm[:, None], other=0.0).to(WT))
        if BWD:
            aci = -aci
    acc_ar = tl.full([BD], 1.0, WT)
    acc_ai = tl.zeros([BD], WT)
    da_r = tl.zeros([BD], WT)
    da_i = tl.zeros([BD], WT)

    ar_n, ai_n, xr_n, xi_n, pr_n, pi_n = _tile_cplx(
        a_ptr,
        x_ptr,
        hs_ptr,
        row0,
        k_begin + r,
        k_end,
        T,
        D,
        d,
        dm,
        acr,
        aci,
        h0r,
        h0i,
        A_TV,
        HAS_H0,
        REV,
        BWD,
        LOAD_H,
        WT,
    )
    for k0 in range(0, SEG, BT):
        ar = ar_n
        ai = ai_n
        xr = xr_n
        xi = xi_n
        pr = pr_n
        pi = pi_n
        k = k_begin + k0 + r
        ar_n, ai_n, xr_n, xi_n, pr_n, pi_n = _tile_cplx(
            a_ptr,
            x_ptr,
            hs_ptr,
            row0,
            k + BT,
            k_end,
            T,
            D,
            d,
            dm,
            acr,
            aci,
            h0r,
            h0i,
            A_TV,
            HAS_H0,
            REV,
            BWD,
            LOAD_H,
            WT,
        )
        km = k < k_end
        if REV:
            t = T - 1 - k
        else:
            t = k
        m = km[:, None] & dm[None, :]
        m3 = m[:, :, None]
        offs = ((row0 + t)[:, None] * D + d[None, :])[:, :, None] * 2 + two[None, None, :]
        Ar, Ai, Xr, Xi = tl.associative_scan((ar, ai, xr, xi), 0, _comb_cplx)
        Hr = Xr + Ar * cr[None, :] - Ai * ci[None, :]
        Hi = Xi + Ar * ci[None, :] + Ai * cr[None, :]
        if PHASE == 1:
            if A_TV:  # a time-invariant a's segment map is a^n (_pow_cplx, after the loop)
                lar = _last_row(Ar, r, BT)
                lai = _last_row(Ai, r, BT)
                nr = lar * acc_ar - lai * acc_ai
                acc_ai = lar * acc_ai + lai * acc_ar
                acc_ar = nr
        else:
            tl.store(out_ptr + offs, tl.join(Hr, Hi).to(out_ptr.dtype.element_ty), mask=m3)
            if BWD:
                # da = g * conj(h_prev)
                gr = Hr * pr + Hi * pi
                gi = Hi * pr - Hr * pi
                if A_TV:
                    tl.store(da_ptr + offs, tl.join(gr, gi).to(da_ptr.dtype.element_ty), mask=m3)
                else:
                    da_r += tl.sum(tl.where(m, gr, 0.0), axis=0)
                    da_i += tl.sum(tl.where(m, gi, 0.0), axis=0)
        cr = _last_row(Hr, r, BT)
        ci = _last_row(Hi, r, BT)

    if PHASE == 1:
        if not A_TV:
            acc_ar, acc_ai = _pow_cplx(acr, aci, k_end - k_begin, WT, 31)
        base = (bi * NSEG + s) * 4 * D
        tl.store(agg_ptr + base + d, acc_ar, mask=dm)
        tl.store(agg_ptr + base + D + d, acc_ai, mask=dm)
        tl.store(agg_ptr + base + 2 * D + d, cr, mask=dm)
        tl.store(agg_ptr + base + 3 * D + d, ci, mask=dm)
    if BWD and PHASE != 1:
        if not A_TV:
            po = ((bi * NSEG + s) * D + d)[:, None] * 2 + two[None, :]
            tl.store(da_ptr + po, tl.join(da_r, da_i), mask=dm[:, None])
        lm = (dm & last_seg)[:, None]
        if A_TV:
            if REV:
                t0 = 0
            else:
                t0 = T - 1
            po = ((row0 + t0) * D + d)[:, None] * 2 + two[None, :]
            a0r, a0i = tl.split(tl.load(a_ptr + po, mask=lm, other=0.0).to(WT))
            a0i = -a0i
        else:
            a0r = acr
            a0i = aci
        tl.store(dh0_ptr + vec, tl.join(a0r * cr - a0i * ci, a0r * ci + a0i * cr), mask=lm)


def _sm_count(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count


#: tuning knobs. "mode": "stream" is the default path (`choose_mode` hands over to column or tma
#: mode where they measured faster; "column" / "tma" force one); stream mode splits time into
#: segments when there are fewer than `split_below` programs per SM, into about `split_to` per SM
TUNE = {"mode": "stream", "split_below": 0.5, "split_to": 4.0}

#: tiles per input kind: bytes per tile row (channels), elements per tile (complex elements count
#: once), warps. Stream mode: fp32 by the H200 sweep (2048-element tiles: 85% fwd / 82% fwd+bwd
#: against 81% / 74% with 4096, whose backward spills registers); bf16 keeps 4096 (its 2048 tiles
#: measured slower: 42% against 51% fwd+bwd at T = 16K); complex64 1024 (spill-free, 24% / 28%
#: against 17% / 14% with the spilling 4096); float64 / complex128 by register count only.
STREAM = {
    "f32": {"row_bytes": 128, "tile_elems": 2048, "num_warps": 4},
    "half": {"row_bytes": 128, "tile_elems": 4096, "num_warps": 4},
    "f64": {"row_bytes": 128, "tile_elems": 1024, "num_warps": 4},
    "c64": {"row_bytes": 128, "tile_elems": 1024, "num_warps": 4},
    "c128": {"row_bytes": 128, "tile_elems": 512, "num_warps": 4},
}


def dtype_kind(itemsize: int, cplx: bool) -> str:
    if cplx:
        return "c128" if itemsize == 16 else "c64"
    return {2: "half", 4: "f32", 8: "f64"}[itemsize]


def plan(Bn: int, T: int, D: int, itemsize: int, cplx: bool, device=None, segments=None, bwd=False):
    """Stream mode's tile sizes, warps and time segments: (BT, BD, num_warps, S, SEG). itemsize:
    bytes of one element (complex: both parts); bwd: the backward's tiles ("bwd_tile_elems")."""
    cfg = STREAM[dtype_kind(itemsize, cplx)]
    row_elems = max(1, cfg["row_bytes"] // itemsize)
    BD = max(4, min(triton.next_power_of_2(max(D, 1)), row_elems))
    tile = cfg.get("bwd_tile_elems", cfg["tile_elems"]) if bwd else cfg["tile_elems"]
    BT = max(16, min(1024, tile // BD))
    num_warps = cfg["num_warps"]
    programs = Bn * triton.cdiv(D, BD)
    sms = _sm_count(device) if device is not None and device.type == "cuda" else 132
    narrow = Bn * triton.cdiv(D, max(4, min(BD, 64 // itemsize)))
    f32 = cfg is STREAM["f32"]  # the two rules below were measured for fp32 only
    if f32 and segments in (None, 1) and programs < 2 * sms and narrow >= TUNE["split_below"] * sms:
        # one program per SM holds one tile in flight, too few bytes to cover the memory latency:
        # narrower rows (down to 64 bytes) give twice the programs (an H200 sweep of the earlier
        # kernel at [16, 65536, 256]: 61% with 64-byte rows against 51% with 128-byte rows)
        while BD * itemsize > 64 and programs < 2 * sms:
            BD //= 2
            BT = min(1024, BT * 2)
            programs = Bn * triton.cdiv(D, BD)
    if segments is None:
        segments = 1
        if programs < TUNE["split_below"] * sms:
            want = int(TUNE["split_to"] * sms)
            segments = min(triton.cdiv(want, programs), max(1, T // (4 * BT)), 256)
    S = max(1, int(segments))
    if bwd and f32 and S == 1 and "bwd_tile_elems" not in cfg and 3 * sms < programs <= 5 * sms:
        # the backward's tiles of 2048 fp32 fit 3 programs per SM (168 registers), those of 1024
        # fit 5: between 3 and 5 programs per SM the smaller tiles run in one wave instead of
        # ~1.3 (H200, [64, 16384, 256] fwd+bwd: 84% of copy against 73%; elsewhere 2048 wins)
        BT = max(16, min(1024, (cfg["tile_elems"] // 2) // BD))
    SEG = triton.cdiv(triton.cdiv(T, S), BT) * BT
    S = triton.cdiv(T, SEG)
    return BT, BD, num_warps, S, SEG


#: column mode (column.py): channels per lane (VEC: 1, or 16 bytes), tile rows BT, warps; time is
#: split when there are fewer than `split_below` warps per SM, into about `split_to` warps per SM
COL = {
    "f32": {"vec": 1, "bt": 32, "num_warps": 1},
    "half": {"vec": 1, "bt": 32, "num_warps": 1},
    "f64": {"vec": 1, "bt": 16, "num_warps": 1},
    "c64": {"vec": 1, "bt": 16, "num_warps": 1},
    "c128": {"vec": 1, "bt": 8, "num_warps": 1},
    "split_below": 2.0,
    "split_to": 8.0,
}


def plan_col(
    Bn,
    T,
    D,
    itemsize,
    cplx,
    device=None,
    segments=None,
    bwd=False,
    vec=None,
    bt=None,
    nw=None,
    ns=None,
):
    """Column mode's tiles: (BT, BD, num_warps, S, SEG, VEC, NS); BD = VEC * 32 * num_warps
    channels (every lane and warp along the channels, each thread holds whole time columns); NS:
    0 = the next tile's loads issued by hand into registers, else the compiler's pipelining of
    the loads through shared memory with NS stages (cp.async; 16-bit data is not pipelined)."""
    cfg = COL[dtype_kind(itemsize, cplx)]
    ns = cfg.get("ns", 0) if ns is None else ns
    vec = vec or cfg["vec"]
    if vec > 1:  # the compiler vectorises to 16 bytes or not at all (D % 16 == 0 or not)
        vec = max(1, 16 // itemsize)
    BT = bt or cfg["bt"]
    num_warps = nw or cfg["num_warps"]
    BD = vec * 32 * num_warps
    warps = Bn * triton.cdiv(D, BD) * num_warps
    sms = _sm_count(device) if device is not None and device.type == "cuda" else 132
    if segments is None:
        segments = 1
        if warps < COL["split_below"] * sms:
            want = int(COL["split_to"] * sms)
            segments = min(triton.cdiv(want, warps), max(1, T // (4 * BT)), 256)
    S = max(1, int(segments))
    SEG = triton.cdiv(triton.cdiv(T, S), BT) * BT
    S = triton.cdiv(T, SEG)
    return BT, BD, num_warps, S, SEG, vec, ns


#: smallest call (B * T * D) for tma mode: its launch builds five tensor descriptors, ~23 us more
#: host time per launch than column mode (H200 host, 64 ch x 1M: 127 against 80 us per call with
#: two launches), about the GPU time of 2^23 fp32 elements at the copy bandwidth
TMA_MIN_ELEMENTS = 1 << 23
#: most blocks of 32 channels (B * ceil(D / 32)) for which a time split runs in tma mode, not in
#: column mode (measured: fp32 2 blocks tma, 8 column; bf16 forward 8 blocks tma)
TMA_SPLIT_BLOCKS = {"f32": 4, "half": 8}


def _capability(device) -> int:
    return torch.cuda.get_device_capability(device)[0]


def choose_mode(
    Bn: int,
    T: int,
    D: int,
    itemsize: int,
    cplx: bool,
    device=None,
    bwd: bool = False,
    tma_ok: bool = True,
) -> str:
    """The kernel one direction of a call uses: TUNE["mode"], except that the default ("stream")
    hands over to tma or column mode where they measured faster on the H200 (benchmarks/scan.py
    --tma / --column; RESULTS.md, `## scan`):

    - tma mode (bulk tensor copies, Hopper, rows of 16-byte multiples, calls of at least
      TMA_MIN_ELEMENTS; tma_ok: the operands allow it) wherever it has >= 1.9 programs per SM
      (tma.plan): fp32 [64, 16384, 256] 91% / 90% of copy fwd / fwd+bwd against 87% / 85%,
      [32, 32768, 256] 89% / 86% against 62% / 59%; bf16 [64, 16384, 256] 78% / 72% against
      45% / 53%; fp32 with warps along time at about one program per SM (tma.time_warps:
      [16, 65536, 256] 78% / 76% against stream mode's 68% / 66%), or in rows of 32 bytes where
      that gives the programs;
    - tma mode with a time split (tma.segments_for) for up to TMA_SPLIT_BLOCKS blocks of 32
      channels: fp32 64 ch x 1M 52% / 53% against column mode's 43% / 50% (at 256 ch x 1M column
      mode stays ahead, 56% / 61% against 55% / 56%); the bf16 forward at 256 ch x 1M 44% against
      39%;
    - complex64: always (T = 16K: 88% / 92% of copy fwd / fwd+bwd against 24% / 27%; the stream
      kernel is element-rate bound, column mode is not);
    - wherever stream mode would split time (few channels, long T): both split, and column mode's
      passes are cheaper (fp32 256 ch x 1M: 56% / 61% against 46% / 47%; 64 ch x 1M: 44% / 50%
      against 43% / 44%);
    - fp32 backward with >= 8 column warps per SM ([256, 4096, 256]: 1.46 ms against 1.59 ms);
      the forward stays with stream there (0.88 against 0.90-0.94 ms), and both stay at 4 warps per
      SM ([64, 16384, 256]: stream 85% / 84% against 72% / 74%) and when column mode would split
      but stream would not ([16, 65536, 256]: 68% against 57%);
    - bf16 forward when column mode needs no split ([64, 16384, 256]: 0.83 against 0.92 ms; its
      backward stays with stream: 1.05 against 1.16 ms) and tma mode is not available.
    """
    mode = TUNE["mode"]
    kind = dtype_kind(itemsize, cplx)
    if mode != "stream" or kind in ("f64", "c128"):
        return mode
    if kind == "c64":
        return "column"
    sms = _sm_count(device) if device is not None and device.type == "cuda" else 132
    split = plan(Bn, T, D, itemsize, cplx, device, None, bwd)[3] > 1
    big = Bn * T * D >= TMA_MIN_ELEMENTS
    if tma_ok and big and (D * itemsize) % 16 == 0:
        from . import tma

        hopper = device is None or device.type != "cuda" or _capability(device) >= 9
        # bf16 / fp16 backward: only in one-warp programs without a time split (flipped tiles)
        half_ok = kind == "f32" or not bwd or tma.plan(Bn, D, itemsize, sms, True)
        if (
            hopper
            and half_ok
            and (
                tma.channels_per_warp(Bn, D, itemsize, sms)
                or (split and Bn * triton.cdiv(D, 32) <= TMA_SPLIT_BLOCKS[kind])
            )
        ):
            return "tma"
    if split:
        return "column"
    BD, nw = plan_col(Bn, T, D, itemsize, cplx, device, None, bwd)[1:3]
    warps = Bn * triton.cdiv(D, BD) * nw
    if kind == "f32" and bwd and warps >= 8 * sms:
        return "column"
    if kind == "half" and not bwd and warps >= COL["split_below"] * sms:
        return "column"
    return mode


def _float_view(x: torch.Tensor | None) -> torch.Tensor | None:
    if x is None:
        return None
    return torch.view_as_real(x) if x.is_complex() else x


def _work(x: torch.Tensor) -> torch.dtype:
    f64 = x.dtype in (torch.float64, torch.complex128)
    if x.is_complex():
        return torch.complex128 if f64 else torch.complex64
    return torch.float64 if f64 else torch.float32


def _launch(a, x, hs, h0, out, da, dh0, reverse, bwd, segments=None, mode=None, col=None):
    """Runs one scan; returns da [B, D] for a time-invariant `a` in the backward (summed over the
    per-tile or per-segment parts the kernel writes), else None."""
    Bn, T, D = x.shape
    cplx = x.is_complex()
    f64 = x.dtype in (torch.float64, torch.complex128)
    work = torch.float64 if f64 else torch.float32
    if mode is None:
        mode = "stream" if segments is not None else None
        mode = mode or choose_mode(Bn, T, D, x.element_size(), cplx, x.device, bwd)
    if mode == "tma":
        from . import tma

        if not cplx and not f64 and tma.usable(x, a, hs, out, da):
            return tma.launch(a, x, hs, h0, out, da, dh0, reverse, bwd, segments, **(col or {}))
        # bulk copies need 16-byte aligned rows and Hopper: the choice without tma mode
        mode = choose_mode(Bn, T, D, x.element_size(), cplx, x.device, bwd, tma_ok=False)
        col = {k: v for k, v in (col or {}).items() if k in ("bt", "nw", "ns")}
    if mode == "column" and f64:
        mode = "stream"  # column mode is built and measured for 32-bit and 16-bit math only
    tv = a.dim() == 3
    dummy = _float_view(x)
    VEC = NS = 0
    if mode == "column":
        BT, BD, num_warps, S, SEG, VEC, NS = plan_col(
            Bn, T, D, x.element_size(), cplx, x.device, segments, bwd, **(col or {})
        )
    else:
        BT, BD, num_warps, S, SEG = plan(Bn, T, D, x.element_size(), cplx, x.device, segments, bwd)
    parts = None
    if bwd and not tv:
        parts = torch.empty((Bn, S, D), dtype=_work(x), device=x.device)
        da = parts
    kernel = _scan_cplx_kernel if cplx else _scan_real_kernel
    agg = torch.empty((Bn, S, 4 if cplx else 2, D), dtype=work, device=x.device) if S > 1 else None
    args = [
        _float_view(a),
        _float_view(x),
        _float_view(hs) if hs is not None else dummy,
        _float_view(h0) if h0 is not None else dummy,
        _float_view(out),
        _float_view(da) if da is not None else dummy,
        agg if agg is not None else dummy,
        _float_view(dh0) if dh0 is not None else dummy,
        T,
        D,
        SEG,
        S,
    ]
    meta = dict(
        A_TV=tv,
        HAS_H0=h0 is not None,
        REV=bool(reverse),
        BWD=bwd,
        F64=f64,
        BT=BT,
        BD=BD,
        num_warps=num_warps,
    )
    if VEC:
        from . import column

        kernel = column.KERNELS[cplx]
        args[9] = 0  # Z
        if cplx:  # one 64-bit word per complex64 element (column.py, _ld2)
            words = [a, x, hs, h0, out, da, None, dh0]
            for i, t in enumerate(words):
                if t is not None:
                    args[i] = t.view(torch.int64)
        meta.update(D=D, EVEN_D=D % BD == 0, SCALAR=VEC == 1, NS=NS)
    grid = (triton.cdiv(D, BD), Bn, S)
    if S > 1:
        kernel[grid](*args, PHASE=1, **meta)
        kernel[grid](*args, PHASE=2, **meta)
    else:
        kernel[grid](*args, PHASE=0, **meta)
    return None if parts is None else parts.sum(1)


def scan_fwd(a, b, h0, reverse, segments=None, mode=None, col=None):
    """a: [B, T, D] or [B, D]; b: [B, T, D]; h0: [B, D] or None -> h [B, T, D] (dtype of b).

    segments: force this many time segments (stream mode unless `mode` says otherwise); mode:
    force "stream"/"column"/"tma"; col: column mode's vec / bt / nw (plan_col), tma
    mode's bt / nw / ns (tma.launch).
    """
    out = torch.empty_like(b)
    _launch(a, b, None, h0, out, None, None, reverse, False, segments, mode, col)
    return out


def scan_bwd(a, h, h0, gh, reverse, segments=None, mode=None, col=None):
    """Fused backward: (da, db, dh0) shaped like a ([B, D] summed over time), h, [B, D]."""
    Bn, _, D = h.shape
    db = torch.empty_like(h)
    dh0 = torch.empty((Bn, D), dtype=_work(h), device=h.device)
    tv = a.dim() == 3
    da = torch.empty_like(a) if tv else None
    da_sum = _launch(a, gh.to(h.dtype), h, h0, db, da, dh0, not reverse, True, segments, mode, col)
    return (da if tv else da_sum), db, dh0
