"""Public entry point: input checks, dtype promotion, backend dispatch, autograd."""

from __future__ import annotations

import importlib
import os

import torch

BACKENDS = ("naive", "chunk", "cpu", "triton")
_HALF = (torch.float16, torch.bfloat16)


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in _HALF else dtype


class _Naive:
    @staticmethod
    def scan_fwd(a, b, h0, reverse):
        from .naive import naive_linear_scan

        with torch.no_grad():
            return naive_linear_scan(a, b, h0, reverse)


class _Chunk:
    @staticmethod
    def scan_fwd(a, b, h0, reverse):
        from .chunk import chunk_linear_scan

        return chunk_linear_scan(a, b, h0, reverse)


def _module(name: str):
    if name == "naive":
        return _Naive
    if name == "chunk":
        return _Chunk
    return importlib.import_module(f"{__package__}.{name}")


def _available(name: str, device: torch.device) -> bool:
    if name in ("naive", "chunk"):
        return True
    if name == "cpu":
        return device.type == "cpu" and importlib.util.find_spec("numba") is not None
    if name == "triton":
        # TRITON_INTERPRET=1 runs the Triton kernels on CPU tensors (slowly): used by the tests
        interpret = os.environ.get("TRITON_INTERPRET") == "1"
        usable = device.type == "cuda" or (interpret and device.type == "cpu")
        return usable and importlib.util.find_spec("triton") is not None
    return False


def default_backend(device: torch.device) -> str:
    """The backend `linear_scan` uses on `device` when none is forced."""
    if device.type == "cuda" and _available("triton", device):
        return "triton"
    if _available("cpu", device):
        return "cpu"
    return "chunk"


def generic_scan_bwd(backend, a, h, h0, gh, reverse):
    """Backward of the scan as the same scan run the other way (README, "Backward").

    g_t = gh_t + conj(a_{t+1}) g_{t+1}; db_t = g_t; da_t = g_t conj(h_{t-1}); dh0 = conj(a_0) g_0
    (indices mirrored when `reverse`). a: [B, T, D] or [B, D]; returns (da, db, dh0) in the work
    dtype (float32 for half inputs).
    """
    w = _work_dtype(h.dtype)
    a, h, gh = a.to(w), h.to(w), gh.to(w)
    h0 = None if h0 is None else h0.to(w)

    tv = a.dim() == 3
    ac = a.conj().resolve_conj()
    if tv:
        a_sh = torch.zeros_like(ac)
        if reverse:
            a_sh[:, 1:] = ac[:, :-1]
        else:
            a_sh[:, :-1] = ac[:, 1:]
    else:
        a_sh = ac
    g = backend.scan_fwd(a_sh, gh, None, not reverse)
    start = torch.zeros_like(h[:, 0]) if h0 is None else h0
    if reverse:
        h_prev = torch.cat([h[:, 1:], start[:, None]], dim=1)
        a_first, g_first = (ac[:, -1] if tv else ac), g[:, -1]
    else:
        h_prev = torch.cat([start[:, None], h[:, :-1]], dim=1)
        a_first, g_first = (ac[:, 0] if tv else ac), g[:, 0]
    da = g * h_prev.conj()
    if not tv:
        da = da.sum(1)
    return da, g, a_first * g_first


class _LinearScanFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, h0, reverse, backend_name):
        backend = _module(backend_name)
        h = backend.scan_fwd(a, b, h0, reverse)
        ctx.save_for_backward(a, h, h0)
        ctx.reverse, ctx.backend_name = reverse, backend_name
        return h

    @staticmethod
    def backward(ctx, gh):
        a, h, h0 = ctx.saved_tensors
        backend = _module(ctx.backend_name)
        gh = gh.contiguous()
        if hasattr(backend, "scan_bwd"):
            da, db, dh0 = backend.scan_bwd(a, h, h0, gh, ctx.reverse)
        else:
            da, db, dh0 = generic_scan_bwd(backend, a, h, h0, gh, ctx.reverse)
        da = da.to(a.dtype) if ctx.needs_input_grad[0] else None
        db = db.to(h.dtype) if ctx.needs_input_grad[1] else None
        dh0 = dh0.to(h0.dtype) if h0 is not None and ctx.needs_input_grad[2] else None
        return da, db, dh0, None, None


def _check(a, b, h0):
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError("linear_scan: a and b must be torch tensors")
    if b.dim() != 3:
        raise ValueError(f"linear_scan: b must be [B, T, D], got shape {tuple(b.shape)}")
    Bn, T, D = b.shape
    if tuple(a.shape) not in ((Bn, T, D), (D,), (Bn, D)):
        raise ValueError(
            f"linear_scan: a must be [B, T, D] = {(Bn, T, D)}, [D] = ({D},) or [B, D] = "
            f"{(Bn, D)} to match b; got {tuple(a.shape)}"
        )
    if h0 is not None and tuple(h0.shape) != (Bn, D):
        raise ValueError(f"linear_scan: h0 must be [B, D] = {(Bn, D)}, got {tuple(h0.shape)}")
    tensors = [a, b] + ([h0] if h0 is not None else [])
    if len({t.device for t in tensors}) != 1:
        raise ValueError("linear_scan: a, b and h0 must be on one device; move them with .to()")
    dtype = a.dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    ok = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    ok += (torch.complex64, torch.complex128)
    if dtype not in ok:
        raise TypeError(
            f"linear_scan: dtype {dtype} is not supported; use float32/float64, bfloat16/float16 "
            "or complex64/complex128"
        )
    return dtype


def linear_scan(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    reverse: bool = False,
    return_last: bool = False,
    backend: str | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """First-order linear recurrence over time, elementwise per channel.

    ``h_t = a_t * h_{t-1} + b_t`` for t = 0..T-1 with ``h_{-1} = h0`` (zeros when None);
    with ``reverse=True``: ``h_t = a_t * h_{t+1} + b_t`` for t = T-1..0 with ``h_T = h0``.

    Parameters
    ----------
    a : [B, T, D] (time-varying), or [D] / [B, D] (time-invariant, one value per channel).
    b : [B, T, D].
    h0 : [B, D] or None. The carried-in state, e.g. the last state of a previous call.
    reverse : scan from the end of time to the start.
    return_last : also return the final state h_{T-1} (h_0 when `reverse`), [B, D].
    backend : None (Triton on CUDA, numba on CPU, else "chunk") or one of
        "naive", "chunk", "cpu", "triton".

    Dtypes: float32/float64, complex64/complex128, bfloat16/float16 (computed in float32, output in
    the input dtype). Mixed inputs are promoted (real `a` with complex `b` gives complex `h`).
    Differentiable in `a`, `b` and `h0`; the backward is the same scan run the other way.

    Returns
    -------
    h : [B, T, D], or (h, h_last) with ``h_last`` [B, D] when `return_last`.

    Examples
    --------
    >>> a = torch.full((1, 5, 2), 0.5); b = torch.ones(1, 5, 2)
    >>> linear_scan(a, b)[0, :, 0]
    tensor([1.0000, 1.5000, 1.7500, 1.8750, 1.9375])
    """
    dtype = _check(a, b, h0)
    Bn, T, D = b.shape
    if backend is None:
        backend = default_backend(b.device)
    elif backend not in BACKENDS:
        raise ValueError(f"linear_scan: backend must be one of {BACKENDS} or None, got {backend!r}")
    elif not _available(backend, b.device):
        raise ValueError(
            f"linear_scan: backend {backend!r} is not available for {b.device.type} tensors "
            "(cpu needs numba and CPU tensors, triton needs triton and CUDA tensors)"
        )
    a, b = a.to(dtype), b.to(dtype)
    if a.dim() == 1:
        a = a.expand(Bn, D)
    a, b = a.contiguous(), b.contiguous()
    if h0 is not None:
        h0 = h0.to(dtype).contiguous()
    if T == 0:
        h = b.clone()
        last = torch.zeros(Bn, D, dtype=dtype, device=b.device) if h0 is None else h0
    else:
        h = _LinearScanFn.apply(a, b, h0, reverse, backend)
        last = h[:, 0] if reverse else h[:, -1]
    return (h, last) if return_last else h
