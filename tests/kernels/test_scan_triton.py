"""Triton backends of linear_scan and ssm_scan.

`gpu` tests run on CUDA against float64 references (research note §6). Without CUDA, the kernels are
run through Triton's interpreter (TRITON_INTERPRET=1) on small shapes when triton is installed.
"""

from __future__ import annotations

import builtins
import importlib.util
import math
import sys

import numpy as np
import pytest
import torch

LENGTHS = [1, 2, 7, 63, 64, 65, 130, 1000, 100003]


def wide_dtype(dtype):
    return torch.complex128 if dtype.is_complex else torch.float64


def rel(x, ref):
    x = x.detach().to(ref.dtype)
    xr = torch.view_as_real(x) if x.is_complex() else x
    assert torch.isfinite(xr).all()
    return ((x - ref).norm() / ref.norm().clamp_min(1e-300)).item()


def ref_scan(a, b, h0=None, reverse=False):
    """float64 sequential loop on the inputs as given, on the CPU."""
    from tsdyn.kernels.scan.naive import naive_linear_scan

    w = wide_dtype(a.dtype if a.is_complex() else b.dtype)
    h0 = None if h0 is None else h0.detach().cpu().to(w)
    a, b = a.detach().cpu().to(w), b.detach().cpu().to(w)
    if a.dim() == 1:
        a = a.expand(b.shape[0], -1)
    if b.shape[1] > 5000:  # the chunked scan is tested against the loop in test_scan.py
        from tsdyn.kernels.scan.chunk import chunk_linear_scan

        return chunk_linear_scan(a, b, h0, reverse)
    return naive_linear_scan(a, b, h0, reverse)


def draw(kind, shape, gen, dtype, device):
    if kind == "unit":
        x = torch.rand(shape, generator=gen)
    elif kind == "negative":
        x = -torch.rand(shape, generator=gen)
    elif kind == "zero":
        x = torch.rand(shape, generator=gen)
        x = torch.where(torch.rand(shape, generator=gen) < 0.3, 0.0, x)
    elif kind == "one":
        x = torch.ones(shape)
    elif kind == "slow":
        x = 0.99 + 0.0099 * torch.rand(shape, generator=gen)
    else:
        raise ValueError(kind)
    if dtype.is_complex:
        phi = torch.rand(shape, generator=gen) * 6.283
        x = torch.polar(x.abs() * 0.999, phi) * torch.sign(x + 0.5)
    return x.to(dtype).to(device)


# ---------------------------------------------------------------- GPU tests (the device tool)


@pytest.mark.gpu
@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("kind", ["unit", "negative", "zero", "one"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.complex64])
def test_gpu_forward(T, kind, dtype):
    from tsdyn.kernels import linear_scan

    gen = torch.Generator().manual_seed(T + len(kind))
    Bn, D = (2, 67) if T < 5000 else (1, 24)
    a = draw(kind, (Bn, T, D), gen, dtype, "cuda")
    b = torch.randn(Bn, T, D, generator=gen).to(dtype).cuda()
    h0 = torch.randn(Bn, D, generator=gen).to(dtype).cuda()
    h = linear_scan(a, b, h0, backend="triton")
    assert h.dtype == dtype and h.shape == (Bn, T, D)
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-5
    if kind == "one":  # a running sum: rounding grows like sqrt(T)
        tol = max(tol, 3e-7 * math.sqrt(T))
    assert rel(h.cpu(), ref_scan(a, b, h0)) <= tol


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.complex64, torch.float64])
@pytest.mark.parametrize("a_shape", ["tv", "lti_d", "lti_bd"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("path", ["default", "stream5", "column", "column5"])
@pytest.mark.parametrize("T", [7, 1500])
def test_gpu_forward_backward(dtype, a_shape, reverse, path, T):
    """Forward and every gradient against float64 autograd through the loop, on the default path,
    on stream mode's time split (5 segments, checked against one segment too) and on column mode
    whole and split into 5 segments (float64 runs stream mode there)."""
    from tsdyn.kernels import linear_scan
    from tsdyn.kernels.scan import triton as tk
    from tsdyn.kernels.scan.naive import naive_linear_scan

    gen = torch.Generator().manual_seed(T)
    Bn, D = 3, 37
    shape = {"tv": (Bn, T, D), "lti_d": (D,), "lti_bd": (Bn, D)}[a_shape]
    # slow decay: a wrong carry between segments would show everywhere
    a = draw("slow", shape, gen, dtype, "cuda").requires_grad_()
    b = torch.randn(Bn, T, D, generator=gen).to(dtype).cuda().requires_grad_()
    h0 = torch.randn(Bn, D, generator=gen).to(dtype).cuda().requires_grad_()
    gy = torch.randn(Bn, T, D, generator=gen).to(dtype).cuda()
    w = wide_dtype(dtype)
    xs = [x.detach().cpu().to(w).requires_grad_() for x in (a, b, h0)]
    ref = naive_linear_scan(
        xs[0].expand(Bn, D) if a_shape == "lti_d" else xs[0], xs[1], xs[2], reverse
    )
    ref_g = torch.autograd.grad(ref, xs, gy.cpu().to(w))
    tol = {torch.bfloat16: 1e-2, torch.float64: 1e-12}.get(dtype, 1e-5)
    if path == "default":
        h = linear_scan(a, b, h0, reverse=reverse, backend="triton")
        grads = torch.autograd.grad(h, (a, b, h0), gy)
    else:
        kw = {
            "stream5": dict(segments=5),
            "column": dict(mode="column"),
            "column5": dict(mode="column", segments=5),
        }[path]
        a2 = a.detach().expand(Bn, D).contiguous() if a_shape == "lti_d" else a.detach()
        h = tk.scan_fwd(a2, b.detach(), h0.detach(), reverse, **kw)
        grads = tk.scan_bwd(a2, h, h0.detach(), gy, reverse, **kw)
        if a_shape == "lti_d":
            grads = (grads[0].sum(0), *grads[1:])
        if path == "stream5":
            one = tk.scan_fwd(a2, b.detach(), h0.detach(), reverse, segments=1)
            assert rel(h.cpu(), one.cpu().to(w)) <= tol
    assert rel(h.cpu(), ref.detach()) <= tol
    for g, r in zip(grads, ref_g, strict=True):
        assert rel(g.cpu(), r) <= 3 * tol


@pytest.mark.gpu
@pytest.mark.parametrize("T", [1, 65, 1000, 100003])
@pytest.mark.parametrize("D", [64, 67])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.complex64])
@pytest.mark.parametrize("col", [None, dict(bt=16, nw=2), dict(ns=3)])
def test_gpu_column_mode(T, D, dtype, col):
    """Column mode (column.py) forward and backward against float64: whole tiles (D = 64) and a
    ragged last channel block (67), one segment or time split by its plan (T = 100003)."""
    from tsdyn.kernels.scan import triton as tk
    from tsdyn.kernels.scan.naive import naive_linear_scan

    gen = torch.Generator().manual_seed(T + D)
    Bn = 2 if T < 5000 else 1
    a = draw("slow", (Bn, T, D), gen, dtype, "cuda")
    b = torch.randn(Bn, T, D, generator=gen).to(dtype).cuda()
    h0 = torch.randn(Bn, D, generator=gen).to(dtype).cuda()
    gy = torch.randn(Bn, T, D, generator=gen).to(dtype).cuda()
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-5
    h = tk.scan_fwd(a, b, h0, False, mode="column", col=col)
    assert rel(h.cpu(), ref_scan(a, b, h0)) <= tol
    if T > 5000:
        return
    w = wide_dtype(dtype)
    xs = [x.cpu().to(w).requires_grad_() for x in (a, b, h0)]
    ref_g = torch.autograd.grad(naive_linear_scan(*xs), xs, gy.cpu().to(w))
    grads = tk.scan_bwd(a, h, h0, gy, False, mode="column", col=col)
    for g, r in zip(grads, ref_g, strict=True):
        assert rel(g.cpu(), r) <= 3 * tol


@pytest.mark.gpu
@pytest.mark.parametrize("T", [1, 65, 1000, 100003])
@pytest.mark.parametrize("D", [64, 256, 67])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("reverse", [False, True])
def test_gpu_tma_mode(T, D, dtype, reverse):
    """tma mode (tma.py: bulk tensor copies, D = 64 / 256; D = 67 has rows of 268 bytes and falls
    back to column mode) forward and backward against float64, time-varying `a` with h0, and a
    time-invariant `a` for the gradient summed over time."""
    from tsdyn.kernels.scan import tma
    from tsdyn.kernels.scan import triton as tk
    from tsdyn.kernels.scan.naive import naive_linear_scan

    gen = torch.Generator().manual_seed(T + D)
    Bn = 2 if T < 5000 else 1
    b = torch.randn(Bn, T, D, generator=gen).to(dtype).cuda()
    assert tma.usable(b) == (D != 67)
    h0 = torch.randn(Bn, D, generator=gen).to(dtype).cuda()
    gy = torch.randn(Bn, T, D, generator=gen).to(dtype).cuda()
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-5
    w = wide_dtype(dtype)
    for shape in ((Bn, T, D), (Bn, D)):
        a = draw("slow", shape, gen, dtype, "cuda")
        h = tk.scan_fwd(a, b, h0, reverse, mode="tma")
        ref = ref_scan(a, b, h0, reverse)
        assert rel(h.cpu(), ref) <= tol
        if T > 5000:
            continue
        xs = [x.cpu().to(w).requires_grad_() for x in (a, b, h0)]
        ref_g = torch.autograd.grad(naive_linear_scan(*xs, reverse), xs, gy.cpu().to(w))
        grads = tk.scan_bwd(a, h, h0, gy, reverse, mode="tma")
        for g, r in zip(grads, ref_g, strict=True):
            assert rel(g.cpu(), r) <= 3 * tol


@pytest.mark.gpu
@pytest.mark.parametrize("T", [65, 1000])
@pytest.mark.parametrize("D", [64, 96, 256])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_gpu_tma_wide_rows(T, D, reverse, dtype):
    """One-warp tma programs of 64 channels (tma.WIDE: fp32 rows of 256 bytes, bf16 of 128; D = 96
    leaves a half-empty block): forward and backward against float64, both shapes of `a`, with
    h0."""
    from tsdyn.kernels.scan import triton as tk
    from tsdyn.kernels.scan.naive import naive_linear_scan

    gen = torch.Generator().manual_seed(T + D)
    Bn, kw = 3, dict(mode="tma", col=dict(bd=64, nw=1))
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-5
    b, gy = (torch.randn(Bn, T, D, generator=gen).to(dtype).cuda() for _ in range(2))
    h0 = torch.randn(Bn, D, generator=gen).to(dtype).cuda()
    for shape in ((Bn, T, D), (Bn, D)):
        a = draw("slow", shape, gen, dtype, "cuda")
        h = tk.scan_fwd(a, b, h0, reverse, **kw)
        assert rel(h.cpu(), ref_scan(a, b, h0, reverse)) <= tol
        xs = [x.cpu().double().requires_grad_() for x in (a, b, h0)]
        ref_g = torch.autograd.grad(naive_linear_scan(*xs, reverse), xs, gy.cpu().double())
        for g, r in zip(tk.scan_bwd(a, h, h0, gy, reverse, **kw), ref_g, strict=True):
            assert rel(g.cpu(), r) <= 3 * tol


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["stream", "column", "tma"])
@pytest.mark.parametrize("segments", [None, 1])
@pytest.mark.parametrize("reverse", [False, True])
def test_gpu_time_invariant_a_over_a_million_steps(mode, segments, reverse):
    """A time-invariant `a` in (0.99, 0.9999) over 2^20 steps, every mode, time split or whole:
    each channel within 1e-5 of float64. Carried through a tile as the scan's rounded powers of
    `a` (the same rounding in every tile) the state drifted to 2.6e-5 (RESULTS.md `## scan`)."""
    from tsdyn.kernels.scan import triton as tk

    gen = torch.Generator().manual_seed(7)
    Bn, T, D = 1, 1 << 20, 64
    a = draw("slow", (Bn, D), gen, torch.float32, "cuda")
    b = torch.randn(Bn, T, D, generator=gen).cuda()
    h = tk.scan_fwd(a, b, None, reverse, mode=mode, segments=segments)
    ref = ref_scan(a.expand(Bn, D), b, None, reverse)
    err = (h.cpu().double() - ref).norm(dim=1) / ref.norm(dim=1)
    assert err.max() <= 1e-5


@pytest.mark.gpu
@pytest.mark.parametrize("chain", [True, 4, 10**6])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gpu_tma_chain(chain, reverse, dtype):
    """tma mode's one-launch time split (tma._tma_chain) over several rounds of segments (chain =
    True: ~3 programs per SM, 1-2 rounds; 4 programs: ~70 rounds; 10**6: one program per segment,
    more than fit on the GPU at once, so the launch must cut them to the resident number, or
    they would wait forever): forward against float64, backward against the two-pass split, both
    shapes of `a`, with h0; bitwise reproducible."""
    from tsdyn.kernels.scan import triton as tk

    gen = torch.Generator().manual_seed(11)
    Bn, T, D = 1, 150001, 64
    b = torch.randn(Bn, T, D, generator=gen).to(dtype).cuda()
    h0 = torch.randn(Bn, D, generator=gen).to(dtype).cuda()
    gy = torch.randn(Bn, T, D, generator=gen).to(dtype).cuda()
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-5
    kw = dict(mode="tma", col=dict(chain=chain))
    for shape in ((Bn, T, D), (Bn, D)):
        a = draw("slow", shape, gen, dtype, "cuda")
        h = tk.scan_fwd(a, b, h0, reverse, **kw)
        assert torch.equal(h, tk.scan_fwd(a, b, h0, reverse, **kw))
        assert rel(h.cpu(), ref_scan(a, b, h0, reverse)) <= tol
        grads = tk.scan_bwd(a, h, h0, gy, reverse, **kw)
        ref_g = tk.scan_bwd(a, h, h0, gy, reverse, mode="tma")
        for g, r in zip(grads, ref_g, strict=True):
            assert rel(g.cpu(), r.cpu().double()) <= tol


@pytest.mark.gpu
def test_gpu_tma_backward_in_autograd_thread_of_a_fresh_process():
    """The first kernel of autograd's backward thread in tma mode: Triton builds tensor descriptors
    before it binds the CUDA context, which failed with "invalid device context"
    (tma._bind_context). A fresh process, so that no earlier kernel bound the context there."""
    import subprocess
    from pathlib import Path

    code = (
        "import torch\n"
        "from tsdyn.kernels import linear_scan\n"
        "from tsdyn.kernels.scan import triton as tk\n"
        "a = (0.5 + 0.5 * torch.rand(1, 1 << 17, 64)).cuda().requires_grad_()\n"
        "b = torch.randn(1, 1 << 17, 64).cuda().requires_grad_()\n"
        "assert tk.choose_mode(1, 1 << 17, 64, 4, False, a.device, True) == 'tma'\n"
        "gh = torch.randn_like(b)\n"
        "da, db = torch.autograd.grad(linear_scan(a, b, backend='triton'), (a, b), gh)\n"
        "h = tk.scan_fwd(a.detach(), b.detach(), None, False)\n"
        "ref = tk.scan_bwd(a.detach(), h, None, gh, False)\n"
        "assert torch.equal(da, ref[0]) and torch.equal(db, ref[1])\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=root
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.gpu
def test_gpu_state_passing_long_sequence_and_determinism(monkeypatch):
    from tsdyn.kernels import linear_scan

    gen = torch.Generator().manual_seed(1)
    Bn, T, D = 1, 1 << 20, 64
    a = draw("slow", (Bn, T, D), gen, torch.float32, "cuda")
    b = torch.randn(Bn, T, D, generator=gen).cuda()
    real_empty = torch.empty

    def nan_empty(*args, **kwargs):
        x = real_empty(*args, **kwargs)
        return x.fill_(float("nan")) if x.is_floating_point() or x.is_complex() else x

    monkeypatch.setattr(torch, "empty", nan_empty)
    monkeypatch.setattr(
        torch,
        "empty_like",
        lambda x, **kw: nan_empty(x.shape, dtype=kw.get("dtype", x.dtype), device=x.device),
    )
    h = linear_scan(a, b, backend="triton")  # 64 channels x 2^20 steps: thousands of tiles
    assert torch.isfinite(h).all()
    assert torch.equal(h, linear_scan(a, b, backend="triton"))
    ref = ref_scan(a, b).to(torch.float64)
    err = (h.cpu().double() - ref).view(1024, -1).norm(dim=1) / ref.view(1024, -1).norm(dim=1)
    assert err.max() <= 1e-5 and err[-1] <= max(2 * err[0], 1e-6)
    cut = 300_001
    h1, carry = linear_scan(a[:, :cut], b[:, :cut], return_last=True, backend="triton")
    h2 = linear_scan(a[:, cut:], b[:, cut:], carry, backend="triton")
    # the split moves tile boundaries, so rounding differs: absolute tolerance on the state's scale
    # (|h| reaches ~300 here; 2e-5 differences were seen on the H200)
    scale = h.abs().max().item()
    torch.testing.assert_close(torch.cat([h1, h2], 1), h, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.gpu
@pytest.mark.parametrize("T", [1, 7, 130, 4099])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gpu_ssm_scan_matches_cpu_kernel(T, dtype):
    from tsdyn.kernels import ssm_scan

    gen = torch.Generator().manual_seed(T)
    Bn, H, N = 2, 37, 64
    cdt = torch.complex128 if dtype == torch.float64 else torch.complex64
    n = torch.arange(N, dtype=torch.float64)
    A = torch.complex(-0.5 * torch.ones(H, N, dtype=torch.float64), math.pi * n.expand(H, N))
    dt = torch.exp(torch.rand(H, generator=gen, dtype=torch.float64) * 4.6 - 6.9)
    params = [dt.to(dtype), A.to(cdt)]
    params += [torch.randn(H, N, generator=gen, dtype=torch.complex128).to(cdt) for _ in range(2)]
    params += [torch.randn(H, generator=gen, dtype=torch.float64).to(dtype)]
    u = torch.randn(Bn, T, H, generator=gen, dtype=torch.float64).to(dtype)
    h0 = torch.randn(Bn, H, N, generator=gen, dtype=torch.complex128).to(cdt)
    cpu_x = [x.requires_grad_() for x in (u, *params, h0)]
    gpu_x = [x.detach().cuda().requires_grad_() for x in cpu_x]
    y_c, last_c = ssm_scan(*cpu_x, return_last=True, backend="cpu")
    y_g, last_g = ssm_scan(*gpu_x, return_last=True, backend="triton")
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    w = [wide_dtype(x.dtype) for x in (y_c, last_c)]
    assert rel(y_g.cpu(), y_c.detach().to(w[0])) <= tol
    assert rel(last_g.cpu(), last_c.detach().to(w[1])) <= tol
    gy = torch.randn(Bn, T, H, generator=gen, dtype=torch.float64).to(dtype)
    g_c = torch.autograd.grad(y_c, cpu_x, gy)
    g_g = torch.autograd.grad(y_g, gpu_x, gy.cuda())
    for x, r in zip(g_g, g_c, strict=True):
        assert rel(x.cpu(), r.to(wide_dtype(r.dtype))) <= 10 * tol


def test_choose_mode_follows_the_measured_rules():
    """Where tma or column mode measured faster on the H200 (triton.choose_mode's docstring)."""
    pytest.importorskip("triton")
    from tsdyn.kernels.scan import tma
    from tsdyn.kernels.scan import triton as tk

    def modes(Bn, T, D, itemsize=4, cplx=False, tma_ok=True):
        return tuple(
            tk.choose_mode(Bn, T, D, itemsize, cplx, None, bwd, tma_ok) for bwd in (False, True)
        )

    assert modes(256, 4096, 256) == ("tma", "tma")
    assert [tma.plan(256, 256, 4, 132, bwd) for bwd in (False, True)] == [2, 2]
    assert modes(256, 4096, 256, tma_ok=False) == ("stream", "column")
    assert modes(64, 16384, 256) == ("tma", "tma")
    assert tma.plan(64, 256, 4, 132) == 2 and tma.plan(32, 256, 4, 132) == 1
    assert modes(64, 16384, 256, tma_ok=False) == ("stream", "stream")
    assert modes(64, 16384, 67) == ("stream", "stream")  # rows of 268 bytes: no bulk copies
    assert modes(64, 256, 256) == ("stream", "stream")  # 2^22 elements: launch-bound, no tma
    assert modes(16, 65536, 256) == ("tma", "tma")
    assert tma.plan(16, 256, 4, 132) == 0 and tma.time_warps(16, 256, 4, 132) == 4
    assert tma.channels_per_warp(16, 256, 4, 132) == 32
    assert tma.time_warps(8, 256, 4, 132) == 1 and tma.channels_per_warp(8, 256, 4, 132) == 8
    assert tma.time_warps(16, 256, 2, 132) == 1 and tma.time_warps(64, 256, 4, 132) == 1
    # one-warp programs of 64 channels (tma.WIDE): fp32 from 1.9 per SM in both directions, the
    # 16-bit forward from 4 per SM (its backward keeps 32); D a multiple of 64
    assert [tma.channels_per_warp(256, 256, 2, 132, bwd) for bwd in (False, True)] == [64, 32]
    assert tma.channels_per_warp(64, 256, 2, 132) == 32
    assert [tma.channels_per_warp(64, 256, 4, 132, bwd) for bwd in (False, True)] == [64, 64]
    assert tma.channels_per_warp(32, 256, 4, 132) == 32
    assert tma.channels_per_warp(1024, 96, 4, 132) == 32
    assert modes(16, 65536, 256, tma_ok=False) == ("stream", "stream")
    assert modes(4, 262144, 256) == ("column", "column")
    assert modes(1, 1 << 20, 256) == ("column", "column")
    assert modes(1, 1 << 20, 64) == ("tma", "tma")  # split in time (tma.segments_for)
    assert tma.segments_for(1, 1 << 20, 64, 4, 132) == 264
    assert modes(1, 1 << 20, 64, tma_ok=False) == ("column", "column")
    assert modes(1, 1 << 20, 256, 2) == ("tma", "column")
    assert modes(64, 16384, 256, 2) == ("tma", "tma")  # one-warp programs, flipped tiles
    assert modes(64, 16384, 256, 2, tma_ok=False) == ("column", "stream")
    assert modes(16, 65536, 256, 2) == ("column", "column")  # bf16: no narrow rows
    assert modes(64, 16384, 256, 8, True) == ("column", "column")
    assert modes(64, 16384, 256, 8) == ("stream", "stream")  # float64: stream only
    assert modes(64, 16384, 256, 16, True) == ("stream", "stream")


# ---------------------------------------------------------------- interpreter tests (CPU)


def _patch_interpreter():
    """Triton 3.6's interpreter calls int() on 1-element arrays, which numpy >= 2.4 refuses."""
    import triton.runtime.interpreter as interp

    class _IntMeta(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, builtins.int)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, builtins.int)

        def __call__(cls, x=0, *args):
            if isinstance(x, np.ndarray):
                x = x.reshape(-1)[0]
            return builtins.int(x, *args)

    class _Int(metaclass=_IntMeta):
        pass

    interp.int = _Int


def check_against_loop(a, b, h0, gy, reverse, tol, **kw):
    """scan_fwd / scan_bwd with `kw` against float64 autograd through the loop: h within tol,
    every gradient (da, db and, with h0, dh0) within 3 tol."""
    from tsdyn.kernels.scan import triton as tk
    from tsdyn.kernels.scan.naive import naive_linear_scan

    w = wide_dtype(b.dtype)
    xs = [x.to(w).requires_grad_() for x in (a, b, h0) if x is not None]
    ref = naive_linear_scan(*xs, *([] if h0 is not None else [None]), reverse)
    ref_g = torch.autograd.grad(ref, xs, gy.to(w))
    h = tk.scan_fwd(a, b, h0, reverse, **kw)
    assert rel(h, ref.detach()) <= tol
    grads = tk.scan_bwd(a, h, h0, gy, reverse, **kw)
    for g, r in zip(grads[: len(xs)], ref_g, strict=True):
        assert rel(g, r) <= 3 * tol


def check_interpreter_scan(dtype):
    from tsdyn.kernels.scan import triton as tk

    gen = torch.Generator().manual_seed(2)
    Bn, T, D = 2, 45, 5
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-5
    check_interpreter_tma(dtype)
    for cfg in tk.STREAM.values():  # tiles of 16 steps, so that 3 segments really split time
        cfg["tile_elems"] = 64
    col = dict(mode="column", col=dict(bt=8))  # tiles of 8 steps, 32 channels
    for a_shape in ("tv", "lti"):
        for reverse in (False, True):
            for segments in (1, 3, "column", "column3"):
                kw = {
                    "column": col,
                    "column3": dict(mode="column", segments=3, col=dict(bt=8, ns=2)),
                }.get(segments, dict(segments=segments))
                if segments in (1, 3):
                    assert tk.plan(Bn, T, D, 4, False, segments=segments)[3] == segments
                shape = (Bn, T, D) if a_shape == "tv" else (Bn, D)
                kind = ("negative" if segments == 1 else "one") if reverse else "slow"
                a = draw(kind, shape, gen, dtype, "cpu")
                b = torch.randn(Bn, T, D, generator=gen).to(dtype)
                h0 = torch.randn(Bn, D, generator=gen).to(dtype)
                gy = torch.randn(Bn, T, D, generator=gen).to(dtype)
                check_against_loop(a, b, h0, gy, reverse, tol, **kw)
    # column mode with whole channel blocks (unmasked tiles), no h0, 2 segments
    a = draw("slow", (1, 40, 32), gen, dtype, "cpu")
    b, gy = (torch.randn(1, 40, 32, generator=gen).to(dtype) for _ in range(2))
    check_against_loop(a, b, None, gy, False, tol, segments=2, **col)


def check_interpreter_tma(dtype):
    """tma mode (tma.py): forward and every gradient against float64 autograd, both directions,
    both shapes of `a`, with and without h0; T = 45 in tiles of 16 steps (a partial top tile),
    D = 64 (two programs), time whole or split in 2 segments (of 2 and 1 tiles) or, at T = 75, in
    3 (2, 2, 1 tiles), reverse walks scanned in reverse or flipped (flip); the one-launch split
    (`_tma_chain`: flags, windows of published maps) with as many programs as segments, since the
    interpreter runs programs one after another (programs that wait on each other would wait
    forever here; the GPU test runs them), and with one program walking all segments (T = 150: 4
    segments of 3, 3, 3, 1 tiles: the lockstep loop `_walk2`, then the short last segment);
    D = 5 (rows of 20 bytes) and complex data fall back."""
    from tsdyn.kernels.scan import tma

    gen = torch.Generator().manual_seed(5)
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-5
    cases = [(2, 45, 64, None, False, None), (2, 45, 64, 2, True, None)]
    cases += [(2, 75, 64, 3, False, None), (2, 75, 64, 3, True, None), (1, 7, 5, None, False, None)]
    cases += [(2, 75, 64, 3, False, 3), (2, 75, 64, 5, True, 5)]
    cases += [(2, 150, 64, 4, False, 1), (1, 150, 64, 4, True, 1)]
    for Bn, T, D, segments, flip, chain in cases:
        kw = dict(mode="tma", segments=segments, col=dict(bt=16, ns=2, flip=flip, chain=chain))
        x = torch.empty(Bn, T, D, dtype=dtype)
        assert tma.usable(x) == (D == 64 and not dtype.is_complex)
        for a_shape in ("tv", "lti"):
            for reverse in (False, True):
                for with_h0 in (False, True):
                    shape = (Bn, T, D) if a_shape == "tv" else (Bn, D)
                    a = draw("slow" if reverse else "negative", shape, gen, dtype, "cpu")
                    b, gy = (torch.randn(Bn, T, D, generator=gen).to(dtype) for _ in range(2))
                    h0 = torch.randn(Bn, D, generator=gen).to(dtype) if with_h0 else None
                    check_against_loop(a, b, h0, gy, reverse, tol, **kw)


def check_interpreter_ssm_scan():
    from tsdyn.kernels import ssm_scan

    gen = torch.Generator().manual_seed(3)
    Bn, T, H, N = 2, 19, 3, 5
    u = torch.randn(Bn, T, H, generator=gen)
    dt = torch.rand(H, generator=gen) * 0.5 + 0.05
    A = torch.complex(-torch.rand(H, N, generator=gen) - 0.1, 3 * torch.randn(H, N, generator=gen))
    B, C = (torch.randn(H, N, generator=gen, dtype=torch.complex64) for _ in range(2))
    D = torch.randn(H, generator=gen)
    h0 = torch.randn(Bn, H, N, generator=gen, dtype=torch.complex64)
    xs = [x.requires_grad_() for x in (u, dt, A, B, C, D, h0)]
    y_t, last_t = ssm_scan(*xs, return_last=True, backend="triton")
    y_c, last_c = ssm_scan(*xs, return_last=True, backend="cpu")
    assert rel(y_t, y_c.detach().double()) <= 1e-6
    assert rel(last_t, last_c.detach().to(torch.complex128)) <= 1e-6
    gy = torch.randn(Bn, T, H, generator=gen)
    grads_t = torch.autograd.grad(y_t, xs, gy)
    grads_c = torch.autograd.grad(y_c, xs, gy)
    for g_t, g_c in zip(grads_t, grads_c, strict=True):
        assert rel(g_t, g_c.to(wide_dtype(g_c.dtype))) <= 1e-6


@pytest.mark.parametrize("what", ["float32", "complex64", "bfloat16", "ssm"])
def test_interpreter(what):
    """Runs the checks above in a fresh process with TRITON_INTERPRET=1 (set before triton loads)."""
    import os
    import subprocess
    from pathlib import Path

    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed (a GPU-only dependency): no interpreter run")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the gpu tests run the compiled kernels")
    env = dict(os.environ, TRITON_INTERPRET="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]
    )
    proc = subprocess.run(
        [sys.executable, __file__, what], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


if __name__ == "__main__":
    _patch_interpreter()
    if sys.argv[1] == "ssm":
        check_interpreter_ssm_scan()
    else:
        check_interpreter_scan(getattr(torch, sys.argv[1]))
