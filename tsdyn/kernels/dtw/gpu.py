"""DTW of many pairs on a GPU: one pair per lane, the band row in a scratch buffer.

Both paths below run the recurrence of `cpu.dtw_sq` in band coordinates (README.md): for each row i
and band cell k, D = (x_i - y_j)^2 + min(left, diag, up), where `left` is the cell just written,
`diag` the same band slot from row i-1 and `up` the next band slot from row i-1. A pair is a lane,
so there is no synchronisation at all; the scratch row lives in a [W + 2, P] buffer laid out so
that neighbouring lanes touch neighbouring addresses (coalesced).

- `_pairs_triton`: a Triton kernel, BLOCK pairs per program, float32, used on CUDA when Triton is
  installed. The previous row's values are carried in registers (`diag`, `left`), so each cell
  costs one scratch load (`up`, written a whole row earlier) and one store.
- `_pairs_torch`: the same loop as batched PyTorch ops over all pairs (any device, any float
  dtype): the fallback without Triton, and the CPU-testable twin of the kernel.
"""

from __future__ import annotations

import torch

__all__ = ["band_cells", "cdist_dtw_gpu", "pairs_dtw_gpu"]


def band_cells(n: int, m: int, rl: int, rh: int) -> int:
    """Number of DP cells one pair updates in the band -rl <= j - i <= rh."""
    W = rl + rh + 1
    return sum(min(W - 1, m - 1 - i + rl) - max(0, rl - i) + 1 for i in range(n))


def _pairs_torch(Xt, Yt, ia, ib, rl: int, rh: int) -> torch.Tensor:
    """DTW of pairs (X[ia[p]], Y[ib[p]]); Xt [n, N], Yt [m, M] are the series transposed."""
    n, m = Xt.shape[0], Yt.shape[0]
    W = rl + rh + 1
    P = ia.shape[0]
    xs = Xt[:, ia]  # [n, P]
    ys = Yt[:, ib]  # [m, P]
    buf = torch.full((W + 2, P), float("inf"), dtype=Xt.dtype, device=Xt.device)
    buf[rl + 1] = 0.0
    for i in range(n):
        for k in range(max(0, rl - i), min(W - 1, m - 1 - i + rl) + 1):
            best = torch.minimum(torch.minimum(buf[k], buf[k + 1]), buf[k + 2])
            buf[k + 1] = (xs[i] - ys[i - rl + k]).square_() + best
    return buf[rh + 1].sqrt()


_KERNEL = None


def _triton_kernel():
    """Build the Triton kernel on first use (Triton is imported lazily and may be absent)."""
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    import triton
    import triton.language as tl

    @triton.jit
    def dtw_pairs_kernel(
        xt_ptr, yt_ptr, ia_ptr, ib_ptr, buf_ptr, out_ptr, P, n, m, rl, rh, sx, sy,
        BLOCK: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        offs = pid * BLOCK + tl.arange(0, BLOCK)
        live = offs < P
        ia = tl.load(ia_ptr + offs, mask=live, other=0)
        ib = tl.load(ib_ptr + offs, mask=live, other=0)
        W = rl + rh + 1
        inf = float("inf")
        lane = offs.to(tl.int64)
        row = buf_ptr + lane  # slot s of this lane is at row + s * P
        for s in range(0, W + 2):
            tl.store(row + s * P, tl.full([BLOCK], inf, tl.float32), mask=live)
        tl.store(row + (rl + 1) * P, tl.zeros([BLOCK], tl.float32), mask=live)  # D[-1, -1]
        for i in range(0, n):
            xi = tl.load(xt_ptr + i * sx + ia, mask=live, other=0.0)
            kstart = tl.maximum(rl - i, 0)
            kend = tl.minimum(W - 1, m - 1 - i + rl)
            left = tl.full([BLOCK], inf, tl.float32)
            diag = tl.load(row + (kstart + 1) * P, mask=live, other=inf)
            for k in range(kstart, kend + 1):
                up = tl.load(row + (k + 2) * P, mask=live, other=inf)
                yj = tl.load(yt_ptr + (i - rl + k) * sy + ib, mask=live, other=0.0)
                d = xi - yj
                v = d * d + tl.minimum(tl.minimum(left, diag), up)
                tl.store(row + (k + 1) * P, v, mask=live)
                left = v
                diag = up
        res = tl.load(row + (rh + 1) * P, mask=live, other=0.0)
        tl.store(out_ptr + offs, tl.sqrt(res), mask=live)

    _KERNEL = dtw_pairs_kernel
    return _KERNEL


def _has_triton() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def _pairs_triton(Xt, Yt, ia, ib, rl: int, rh: int, block: int = 128) -> torch.Tensor:
    n, m = Xt.shape[0], Yt.shape[0]
    P = ia.shape[0]
    W = rl + rh + 1
    buf = torch.empty((W + 2) * P, dtype=torch.float32, device=Xt.device)
    out = torch.empty(P, dtype=torch.float32, device=Xt.device)
    grid = (-(-P // block),)
    _triton_kernel()[grid](
        Xt, Yt, ia, ib, buf, out, P, n, m, rl, rh, Xt.stride(0), Yt.stride(0),
        BLOCK=block, num_warps=4, num_stages=1,
    )  # fmt: skip
    return out


def pairs_dtw_gpu(
    Xt, Yt, ia, ib, rl: int, rh: int, backend: str = "auto", chunk: int = 1 << 22
) -> torch.Tensor:
    """DTW of the pairs (ia[p], ib[p]) of Xt [n, N], Yt [m, M] (series transposed), in chunks.

    backend: "triton" (float32, CUDA), "torch" (the input dtype, any device) or "auto".
    """
    if backend == "auto":
        backend = "triton" if Xt.is_cuda and _has_triton() else "torch"
    if backend == "triton":
        Xt = Xt.float().contiguous()
        Yt = Yt.float().contiguous()
        ia, ib = ia.to(torch.int32), ib.to(torch.int32)
        run = _pairs_triton
    else:
        run = _pairs_torch
    outs = [
        run(Xt, Yt, ia[s : s + chunk], ib[s : s + chunk], rl, rh)
        for s in range(0, ia.shape[0], chunk)
    ]
    return torch.cat(outs) if outs else torch.empty(0, dtype=Xt.dtype, device=Xt.device)


def cdist_dtw_gpu(X, Y, rl: int, rh: int, backend: str = "auto") -> torch.Tensor:
    """All-pairs DTW of X [N, n] and Y [M, m] (Y None: X with itself, upper triangle only)."""
    N = X.shape[0]
    symmetric = Y is None
    Yc = X if symmetric else Y
    M = Yc.shape[0]
    dev = X.device
    if symmetric:
        ia, ib = torch.triu_indices(N, N, 1, device=dev)
    else:
        ia = torch.arange(N, device=dev).repeat_interleave(M)
        ib = torch.arange(M, device=dev).repeat(N)
    d = pairs_dtw_gpu(X.T.contiguous(), Yc.T.contiguous(), ia, ib, rl, rh, backend)
    out = torch.zeros((N, M), dtype=d.dtype, device=dev)
    out[ia, ib] = d
    if symmetric:
        out[ib, ia] = d
    return out
