"""Column-layout Triton kernels for `h_t = a_t * h_{t-1} + b_t` ("column" mode of triton.py).

A program owns `BD = VEC * 32 * num_warps` channels of one batch row (and one time segment) and walks
time in tiles of `BT` steps. With `BD` exactly one layout repetition wide, Triton's blocked layout
puts every lane and warp along the channels, so each thread holds all `BT` time rows of its `VEC`
channels: `tl.associative_scan` along time is a sequential chain of FMAs inside the thread (no
shuffles, no shared memory, no barriers; checked on the PTX for sm_90). The carry enters the
tile's first row before the scan (`x_0 <- x_0 + a_0 c`), so the scan's product of `a` is dead code
outside the segment-aggregate pass. `D` is a compile-time constant: the lane's pointer is formed
first and each row's offset is then an immediate of the load. `SCALAR` (`VEC = 1`: one channel per
lane, four times the threads of 16-byte accesses) adds a runtime zero `Z` to the offsets, so that
the compiler cannot prove 16-byte alignment and keeps one element per lane and row. complex64 is
read as one 64-bit word per element and split into (re, im) planes in registers (a [BT, BD, 2]
float tile would put a pair's halves on two lanes, hence shuffles).

Tiles that lie wholly inside the walk are loaded and stored without row masks; only the first tile
of a program (it may read before the start of the sequence in the backward) and the last one are
masked. The next tile's loads are issued before this tile's scan (software pipelining by hand);
`NS > 0` instead lets the compiler pipeline every (masked) tile load through shared memory with
`NS` stages (measured 2-4x slower on the H200, kept as an option). Time segments (reduce-then-scan:
the second pass composes the earlier segments' aggregates 16 at a time, again in-thread), the
backward's coefficients conj(a_{t+1}) and epilogue (db = g, da = g conj(h_{t-1}),
dh0 = conj(a_0) g_0) follow the stream kernels of triton.py.
"""

from __future__ import annotations

import triton
import triton.language as tl

# the scan's combine functions and the tile's last row are the stream kernels' own
from .triton import _comb_cplx, _comb_real, _pow_cplx, _pow_real
from .triton import _last_row as _last


@triton.jit
def _p(ptr, base, off):
    """Pointers of a tile: off = (rows [BT, 1] * stride, lanes [BD]); the lane part is added
    first, so that each row's part is a constant (an immediate offset of the load)."""
    rows, lanes = off
    return (ptr + base + lanes)[None, :] + rows


@triton.jit
def _ld_real(
    a_ptr, x_ptr, hs_ptr, base, roff, k, k_end, T, DD, dm, a_c, h0,
    A_TV: tl.constexpr, HAS_H0: tl.constexpr, BWD: tl.constexpr, LOAD_H: tl.constexpr,
    MASKED: tl.constexpr, EVEN_D: tl.constexpr, WT: tl.constexpr,
):  # fmt: skip
    """One [BT, BD] tile at walk steps k (rows), element offsets base + roff. DD: the signed
    stride of one walk step. MASKED: rows outside [.., k_end) / before the sequence are masked."""
    if MASKED:
        km = k < k_end
        if EVEN_D:
            m = tl.broadcast_to(km[:, None], (k.shape[0], dm.shape[0]))
        else:
            m = km[:, None] & dm[None, :]
        x = tl.load(_p(x_ptr, base, roff), mask=m, other=0.0).to(WT)
        if A_TV:
            if BWD:  # coefficient of walk step k: a at walk step k - 1 (conj is a no-op: real)
                am = m & (k >= 1)[:, None]
                a = tl.load(_p(a_ptr, base - DD, roff), mask=am, other=1.0).to(WT)
            else:
                a = tl.load(_p(a_ptr, base, roff), mask=m, other=1.0).to(WT)
        else:
            a = tl.where(km[:, None], a_c[None, :], 1.0)
        hp = x
        if LOAD_H:  # h_{t-1} of the forward recurrence: the state at walk step k + 1
            hm = m & (k + 1 < T)[:, None]
            hp = tl.load(_p(hs_ptr, base + DD, roff), mask=hm, other=0.0).to(WT)
            if HAS_H0:
                hp = tl.where((k + 1 == T)[:, None], h0[None, :], hp)
    else:
        if EVEN_D:
            x = tl.load(_p(x_ptr, base, roff)).to(WT)
        else:
            x = tl.load(_p(x_ptr, base, roff), mask=dm[None, :], other=0.0).to(WT)
        if A_TV:
            if BWD:
                off = base - DD
            else:
                off = base
            if EVEN_D:
                a = tl.load(_p(a_ptr, off, roff)).to(WT)
            else:
                a = tl.load(_p(a_ptr, off, roff), mask=dm[None, :], other=1.0).to(WT)
        else:
            a = tl.broadcast_to(a_c[None, :], x.shape)
        hp = x
        if LOAD_H:
            if EVEN_D:
                hp = tl.load(_p(hs_ptr, base + DD, roff)).to(WT)
            else:
                hp = tl.load(_p(hs_ptr, base + DD, roff), mask=dm[None, :], other=0.0).to(WT)
    return a, x, hp


@triton.jit
def _st(ptr, off, v, dm, m, MASKED: tl.constexpr, EVEN_D: tl.constexpr):
    q = _p(ptr, 0, off)
    if MASKED:
        tl.store(q, v.to(ptr.dtype.element_ty), mask=m)
    elif EVEN_D:
        tl.store(q, v.to(ptr.dtype.element_ty))
    else:
        tl.store(q, v.to(ptr.dtype.element_ty), mask=dm[None, :])


@triton.jit
def _compose_real(
    agg_ptr, bi, NSEG, first, s, d, dm, zd, c, D: tl.constexpr, WT: tl.constexpr,
    CB: tl.constexpr = 16,
):  # fmt: skip
    """The carry entering segment s: c passed through the maps (A, X) of segments first <= j < s
    of batch row bi (agg [B, NSEG, 2, D]), CB at a time: their loads are in flight together and
    the composition is again an in-thread scan (also tma.py's time split and chain)."""
    for j0 in range(first, s, CB):
        j = j0 + tl.arange(0, CB)
        jm = (j < s)[:, None] & dm[None, :]
        g = ((bi * NSEG + j).to(tl.int64) * 2 * D)[:, None] + (d + zd)[None, :]
        aj = tl.load(agg_ptr + g, mask=jm, other=1.0).to(WT)
        xj = tl.load(agg_ptr + D + g, mask=jm, other=0.0).to(WT)
        xj = tl.where((j == j0)[:, None], xj + aj * c[None, :], xj)
        _, cs = tl.associative_scan((aj, xj), 0, _comb_real)
        c = _last(cs, j - j0, CB)
    return c


def _col_real(
    a_ptr, x_ptr, hs_ptr, h0_ptr, out_ptr, da_ptr, agg_ptr, dh0_ptr, T, Z, SEG, NSEG,
    D: tl.constexpr, A_TV: tl.constexpr, HAS_H0: tl.constexpr, REV: tl.constexpr,
    BWD: tl.constexpr, PHASE: tl.constexpr, F64: tl.constexpr, EVEN_D: tl.constexpr,
    SCALAR: tl.constexpr, NS: tl.constexpr, BT: tl.constexpr, BD: tl.constexpr,
):  # fmt: skip
    # PHASE 0: the whole time axis; 1: segment aggregates (A, X) only; 2: segments seeded with the
    # composition of the aggregates before them. REV: walk time backwards. BWD: x is dh, the
    # coefficient of a walk step is a at the previous walk step, outputs db (out), da, dh0.
    WT: tl.constexpr = tl.float64 if F64 else tl.float32
    pid_d = tl.program_id(0)
    bi = tl.program_id(1).to(tl.int64)
    s = tl.program_id(2)
    d = pid_d * BD + tl.arange(0, BD)
    dm = d < D
    r = tl.arange(0, BT)
    k_begin = s * SEG
    k_end = tl.minimum(k_begin + SEG, T)
    LOAD_H: tl.constexpr = BWD and PHASE != 1
    if REV:
        DD: tl.constexpr = -D
        t_first = (bi * T + T - 1) * D  # element offset of walk step 0, channel 0
    else:
        DD: tl.constexpr = D
        t_first = bi * T * D
    zd = 0
    if SCALAR:  # Z = 0, not specialised: hides the 16-byte alignment (one element per lane)
        t_first += Z
        zd = Z
    roff = (r[:, None] * DD, d)  # offsets inside a tile (rows, lanes): see _p

    c = tl.zeros([BD], WT)
    h0 = tl.zeros([BD], WT)
    if HAS_H0:
        h0 = tl.load(h0_ptr + bi * D + d, mask=dm, other=0.0).to(WT)
        if not BWD and PHASE != 1:
            c = h0
    if PHASE == 2:
        c = _compose_real(agg_ptr, bi, NSEG, 0, s, d, dm, zd, c, D, WT)
    a_c = tl.full([BD], 1.0, WT)
    if not A_TV:
        a_c = tl.load(a_ptr + bi * D + d, mask=dm, other=1.0).to(WT)
    acc_a = tl.full([BD], 1.0, WT)
    da_acc = tl.zeros([BD], WT)
    # last walk step an unmasked tile may touch: the backward reads one row past the tile (hp)
    if LOAD_H:
        lim = tl.minimum(k_end, T - 1)
    else:
        lim = k_end
    ntiles = tl.cdiv(k_end - k_begin, BT)

    if NS == 0:
        a_n, x_n, hp_n = _ld_real(
            a_ptr, x_ptr, hs_ptr, t_first + k_begin.to(tl.int64) * DD, roff, k_begin + r, k_end,
            T, DD, dm, a_c, h0, A_TV, HAS_H0, BWD, LOAD_H, True, EVEN_D, WT,
        )  # fmt: skip
    for i in tl.range(0, ntiles, num_stages=max(NS, 1)):
        k0 = k_begin + i * BT
        if NS > 0:  # loads of this tile, pipelined by the compiler (cp.async through shared memory)
            a, x, hp = _ld_real(
                a_ptr, x_ptr, hs_ptr, t_first + k0.to(tl.int64) * DD, roff, k0 + r, k_end, T,
                DD, dm, a_c, h0, A_TV, HAS_H0, BWD, LOAD_H, True, EVEN_D, WT,
            )  # fmt: skip
        else:  # this tile was loaded one iteration ago; issue the next one's loads now
            a = a_n
            x = x_n
            hp = hp_n
            kn = k0 + BT
            bn = t_first + kn.to(tl.int64) * DD
            if kn + BT <= lim:
                a_n, x_n, hp_n = _ld_real(
                    a_ptr, x_ptr, hs_ptr, bn, roff, kn + r, k_end, T, DD, dm, a_c, h0,
                    A_TV, HAS_H0, BWD, LOAD_H, False, EVEN_D, WT,
                )  # fmt: skip
            else:
                a_n, x_n, hp_n = _ld_real(
                    a_ptr, x_ptr, hs_ptr, bn, roff, kn + r, k_end, T, DD, dm, a_c, h0,
                    A_TV, HAS_H0, BWD, LOAD_H, True, EVEN_D, WT,
                )  # fmt: skip
        # fold the carry into the first row; the in-thread scan is then h itself
        x = tl.where(r[:, None] == 0, x + a * c[None, :], x)
        A, H = tl.associative_scan((a, x), 0, _comb_real)
        if PHASE == 1:
            if A_TV:  # a time-invariant a's segment map is a^n (_pow_real, after the loop)
                acc_a = acc_a * _last(A, r, BT)
        else:
            b0 = t_first + k0.to(tl.int64) * DD
            full = k0 + BT <= k_end
            m = (k0 + r < k_end)[:, None] & dm[None, :]
            if full:
                _st(out_ptr + b0, roff, H, dm, m, False, EVEN_D)
                if BWD and A_TV:
                    _st(da_ptr + b0, roff, H * hp, dm, m, False, EVEN_D)
            else:
                _st(out_ptr + b0, roff, H, dm, m, True, EVEN_D)
                if BWD and A_TV:
                    _st(da_ptr + b0, roff, H * hp, dm, m, True, EVEN_D)
            if BWD and not A_TV:
                da_acc += tl.sum(H * hp, axis=0)  # masked rows: hp = 0
        c = _last(H, r, BT)

    if PHASE == 1:
        if not A_TV:
            acc_a = _pow_real(a_c, k_end - k_begin, WT, 31)
        tl.store(agg_ptr + ((bi * NSEG + s) * 2) * D + d, acc_a, mask=dm)
        tl.store(agg_ptr + ((bi * NSEG + s) * 2 + 1) * D + d, c, mask=dm)
    if BWD and PHASE != 1:
        last_seg = s == NSEG - 1
        if not A_TV:
            tl.store(da_ptr + (bi * NSEG + s) * D + d, da_acc, mask=dm)
        if A_TV:
            if REV:
                t0 = 0
            else:
                t0 = T - 1
            a0 = tl.load(a_ptr + (bi * T + t0) * D + d, mask=dm & last_seg, other=0.0).to(WT)
        else:
            a0 = a_c
        tl.store(dh0_ptr + bi * D + d, a0 * c, mask=dm & last_seg)


#: (re, im) = (1, 0) as one 64-bit word: the low half is the real part (little endian)
ONE64 = tl.constexpr(0x3F800000)


@triton.jit
def _unpack(v, WT: tl.constexpr):
    """One complex64 element read as a 64-bit integer -> (re, im) in WT."""
    lo = v.to(tl.uint32)
    hi = (v >> 32).to(tl.uint32)
    return lo.to(tl.float32, bitcast=True).to(WT), hi.to(tl.float32, bitcast=True).to(WT)


@triton.jit
def _pack(vr, vi):
    lo = vr.to(tl.float32).to(tl.uint32, bitcast=True).to(tl.uint64)
    hi = vi.to(tl.float32).to(tl.uint32, bitcast=True).to(tl.uint64)
    return ((hi << 32) | lo).to(tl.int64, bitcast=True)


@triton.jit
def _ld2(ptr, off, m, other, MASKED: tl.constexpr, EVEN_D: tl.constexpr, WT: tl.constexpr):
    """A tile of complex64 elements, each read as one 64-bit word (a [BT, BD, 2] float tile would
    put the pair's two halves on two lanes: shuffles), split into (re, im) planes."""
    if MASKED or not EVEN_D:
        v = tl.load(_p(ptr, 0, off), mask=m, other=other)
    else:
        v = tl.load(_p(ptr, 0, off))
    return _unpack(v, WT)


@triton.jit
def _ld2v(ptr, off, m, other, WT: tl.constexpr):
    """_ld2 for a [BD] vector at element offsets off."""
    return _unpack(tl.load(ptr + off, mask=m, other=other), WT)


@triton.jit
def _st2v(ptr, off, vr, vi, m):
    tl.store(ptr + off, _pack(vr, vi), mask=m)


@triton.jit
def _ld_cplx(
    a_ptr, x_ptr, hs_ptr, base, roff, k, k_end, T, DD, dm, acr, aci, h0r, h0i,
    A_TV: tl.constexpr, HAS_H0: tl.constexpr, BWD: tl.constexpr, LOAD_H: tl.constexpr,
    MASKED: tl.constexpr, EVEN_D: tl.constexpr, WT: tl.constexpr,
):  # fmt: skip
    """_ld_real for interleaved (re, im) pairs: offsets in floats, planes loaded separately (a
    [BT, BD, 2] tile would put the pair's two floats on two lanes: shuffles)."""
    km = k < k_end
    if MASKED and EVEN_D:
        m = tl.broadcast_to(km[:, None], (k.shape[0], dm.shape[0]))
    elif MASKED:
        m = km[:, None] & dm[None, :]
    else:
        rows, lanes = roff
        m = tl.broadcast_to(dm[None, :], (rows.shape[0], lanes.shape[0]))
    xr, xi = _ld2(x_ptr + base, roff, m, 0, MASKED, EVEN_D, WT)
    if A_TV:
        if BWD:
            off = base - DD
        else:
            off = base
        am = m
        if MASKED and BWD:
            am = m & (k >= 1)[:, None]
        ar, ai = _ld2(a_ptr + off, roff, am, ONE64, MASKED, EVEN_D, WT)
        if BWD:
            ai = -ai
    else:
        if MASKED:
            ar = tl.where(km[:, None], acr[None, :], 1.0)
            ai = tl.where(km[:, None], aci[None, :], 0.0)
        else:
            ar = tl.broadcast_to(acr[None, :], xr.shape)
            ai = tl.broadcast_to(aci[None, :], xr.shape)
    pr = xr
    pi = xi
    if LOAD_H:
        hm = m
        if MASKED:
            hm = m & (k + 1 < T)[:, None]
        pr, pi = _ld2(hs_ptr + (base + DD), roff, hm, 0, MASKED, EVEN_D, WT)
        if MASKED and HAS_H0:
            first = (k + 1 == T)[:, None]
            pr = tl.where(first, h0r[None, :], pr)
            pi = tl.where(first, h0i[None, :], pi)
    return ar, ai, xr, xi, pr, pi


@triton.jit
def _st2(ptr, off, vr, vi, m, MASKED: tl.constexpr, EVEN_D: tl.constexpr):
    if EVEN_D and not MASKED:
        tl.store(_p(ptr, 0, off), _pack(vr, vi))
    else:
        tl.store(_p(ptr, 0, off), _pack(vr, vi), mask=m)


def _col_cplx(
    a_ptr, x_ptr, hs_ptr, h0_ptr, out_ptr, da_ptr, agg_ptr, dh0_ptr, T, Z, SEG, NSEG,
    D: tl.constexpr, A_TV: tl.constexpr, HAS_H0: tl.constexpr, REV: tl.constexpr,
    BWD: tl.constexpr, PHASE: tl.constexpr, F64: tl.constexpr, EVEN_D: tl.constexpr,
    SCALAR: tl.constexpr, NS: tl.constexpr, BT: tl.constexpr, BD: tl.constexpr,
):  # fmt: skip
    # _col_real on complex64 tensors viewed as int64 (one 64-bit word per element; agg: floats).
    WT: tl.constexpr = tl.float64 if F64 else tl.float32
    pid_d = tl.program_id(0)
    bi = tl.program_id(1).to(tl.int64)
    s = tl.program_id(2)
    d = pid_d * BD + tl.arange(0, BD)
    dm = d < D
    r = tl.arange(0, BT)
    k_begin = s * SEG
    k_end = tl.minimum(k_begin + SEG, T)
    LOAD_H: tl.constexpr = BWD and PHASE != 1
    CB: tl.constexpr = 16  # segment aggregates composed per step (PHASE 2)
    if REV:
        DD: tl.constexpr = -D
        t_first = (bi * T + T - 1) * D
    else:
        DD: tl.constexpr = D
        t_first = bi * T * D
    zd = 0
    if SCALAR:
        t_first += Z
        zd = Z
    roff = (r[:, None] * DD, d)
    vec = bi * D + d

    cr = tl.zeros([BD], WT)
    ci = tl.zeros([BD], WT)
    h0r = tl.zeros([BD], WT)
    h0i = tl.zeros([BD], WT)
    if HAS_H0:
        h0r, h0i = _ld2v(h0_ptr, vec, dm, 0, WT)
        if not BWD and PHASE != 1:
            cr = h0r
            ci = h0i
    if PHASE == 2:
        for j0 in range(0, s, CB):  # as in _col_real
            j = j0 + tl.arange(0, CB)
            jm = (j < s)[:, None] & dm[None, :]
            g = ((bi * NSEG + j) * 4 * D)[:, None] + (d + zd)[None, :]
            ajr = tl.load(agg_ptr + g, mask=jm, other=1.0).to(WT)
            aji = tl.load(agg_ptr + D + g, mask=jm, other=0.0).to(WT)
            xjr = tl.load(agg_ptr + 2 * D + g, mask=jm, other=0.0).to(WT)
            xji = tl.load(agg_ptr + 3 * D + g, mask=jm, other=0.0).to(WT)
            first = (j == j0)[:, None]
            xjr = tl.where(first, xjr + ajr * cr[None, :] - aji * ci[None, :], xjr)
            xji = tl.where(first, xji + ajr * ci[None, :] + aji * cr[None, :], xji)
            _, _, sr, si = tl.associative_scan((ajr, aji, xjr, xji), 0, _comb_cplx)
            cr = _last(sr, j - j0, CB)
            ci = _last(si, j - j0, CB)
    acr = tl.full([BD], 1.0, WT)
    aci = tl.zeros([BD], WT)
    if not A_TV:
        acr, aci = _ld2v(a_ptr, vec, dm, ONE64, WT)
        if BWD:
            aci = -aci
    acc_ar = tl.full([BD], 1.0, WT)
    acc_ai = tl.zeros([BD], WT)
    da_r = tl.zeros([BD], WT)
    da_i = tl.zeros([BD], WT)
    if LOAD_H:
        lim = tl.minimum(k_end, T - 1)
    else:
        lim = k_end
    ntiles = tl.cdiv(k_end - k_begin, BT)

    if NS == 0:
        ar_n, ai_n, xr_n, xi_n, pr_n, pi_n = _ld_cplx(
            a_ptr, x_ptr, hs_ptr, t_first + k_begin.to(tl.int64) * DD, roff, k_begin + r, k_end,
            T, DD, dm, acr, aci, h0r, h0i, A_TV, HAS_H0, BWD, LOAD_H, True, EVEN_D, WT,
        )  # fmt: skip
    for i in tl.range(0, ntiles, num_stages=max(NS, 1)):
        k0 = k_begin + i * BT
        if NS > 0:
            ar, ai, xr, xi, pr, pi = _ld_cplx(
                a_ptr, x_ptr, hs_ptr, t_first + k0.to(tl.int64) * DD, roff, k0 + r, k_end, T,
                DD, dm, acr, aci, h0r, h0i, A_TV, HAS_H0, BWD, LOAD_H, True, EVEN_D, WT,
            )  # fmt: skip
        else:
            ar = ar_n
            ai = ai_n
            xr = xr_n
            xi = xi_n
            pr = pr_n
            pi = pi_n
            kn = k0 + BT
            bn = t_first + kn.to(tl.int64) * DD
            if kn + BT <= lim:
                ar_n, ai_n, xr_n, xi_n, pr_n, pi_n = _ld_cplx(
                    a_ptr, x_ptr, hs_ptr, bn, roff, kn + r, k_end, T, DD, dm, acr, aci, h0r,
                    h0i, A_TV, HAS_H0, BWD, LOAD_H, False, EVEN_D, WT,
                )  # fmt: skip
            else:
                ar_n, ai_n, xr_n, xi_n, pr_n, pi_n = _ld_cplx(
                    a_ptr, x_ptr, hs_ptr, bn, roff, kn + r, k_end, T, DD, dm, acr, aci, h0r,
                    h0i, A_TV, HAS_H0, BWD, LOAD_H, True, EVEN_D, WT,
                )  # fmt: skip
        first = r[:, None] == 0
        xr = tl.where(first, xr + ar * cr[None, :] - ai * ci[None, :], xr)
        xi = tl.where(first, xi + ar * ci[None, :] + ai * cr[None, :], xi)
        Ar, Ai, Hr, Hi = tl.associative_scan((ar, ai, xr, xi), 0, _comb_cplx)
        if PHASE == 1:
            if A_TV:  # a time-invariant a's segment map is a^n (_pow_cplx, after the loop)
                lar = _last(Ar, r, BT)
                lai = _last(Ai, r, BT)
                nr = lar * acc_ar - lai * acc_ai
                acc_ai = lar * acc_ai + lai * acc_ar
                acc_ar = nr
        else:
            b0 = t_first + k0.to(tl.int64) * DD
            full = k0 + BT <= k_end
            m = (k0 + r < k_end)[:, None] & dm[None, :]
            if BWD:  # da = g conj(h_prev)
                gr = Hr * pr + Hi * pi
                gi = Hi * pr - Hr * pi
            if full:
                _st2(out_ptr + b0, roff, Hr, Hi, m, False, EVEN_D)
                if BWD and A_TV:
                    _st2(da_ptr + b0, roff, gr, gi, m, False, EVEN_D)
            else:
                _st2(out_ptr + b0, roff, Hr, Hi, m, True, EVEN_D)
                if BWD and A_TV:
                    _st2(da_ptr + b0, roff, gr, gi, m, True, EVEN_D)
            if BWD and not A_TV:
                da_r += tl.sum(gr, axis=0)  # masked rows: h_prev = 0
                da_i += tl.sum(gi, axis=0)
        cr = _last(Hr, r, BT)
        ci = _last(Hi, r, BT)

    if PHASE == 1:
        if not A_TV:
            acc_ar, acc_ai = _pow_cplx(acr, aci, k_end - k_begin, WT, 31)
        gb = (bi * NSEG + s) * 4 * D
        tl.store(agg_ptr + gb + d, acc_ar, mask=dm)
        tl.store(agg_ptr + gb + D + d, acc_ai, mask=dm)
        tl.store(agg_ptr + gb + 2 * D + d, cr, mask=dm)
        tl.store(agg_ptr + gb + 3 * D + d, ci, mask=dm)
    if BWD and PHASE != 1:
        last_seg = s == NSEG - 1
        if not A_TV:
            po = (bi * NSEG + s) * D + d
            _st2v(da_ptr, po, da_r, da_i, dm)
        lm = dm & last_seg
        if A_TV:
            if REV:
                t0 = 0
            else:
                t0 = T - 1
            a0r, a0i = _ld2v(a_ptr, (bi * T + t0) * D + d, lm, 0, WT)
            a0i = -a0i
        else:
            a0r = acr
            a0i = aci
        _st2v(dh0_ptr, vec, a0r * cr - a0i * ci, a0r * ci + a0i * cr, lm)


#: SCALAR (VEC = 1: one channel per lane) adds the runtime zero Z to every offset, so that the
#: compiler cannot prove 16-byte alignment and keeps one element per lane and row; D is a
#: compile-time constant, so every row's offset inside a tile is an immediate
KERNELS = {
    False: triton.jit(_col_real, do_not_specialize=["Z"]),
    True: triton.jit(_col_cplx, do_not_specialize=["Z"]),
}
