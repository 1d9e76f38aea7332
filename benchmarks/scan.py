"""Benchmark of tsdyn's linear-recurrence scan and fused SSM scan (research note kernels.md §5).

GPU (one call on the H200):

    PYTHONPATH=. python benchmarks/scan.py --json-out $OUT/scan.json

measures in one process: the device-to-device copy bandwidth (the ceiling), tsdyn's Triton scan
forward and forward+backward on channel-last [B, T, D] for N = 2^28 elements at T = 4K ... 1M and
for 64 / 256 channels at T = 1M, side by side with accelerated-scan (its own [B, D, T] layout, and
with the transposes a channel-last model needs), torch.cumsum and a compiled
torch._higher_order_ops.associative_scan; bf16 and complex64; and the fused SSM scan against the
unfused composition and the FFT convolution at H = 256, N = 64, T = 1K ... 64K.
CPU (`--cpu`): 64 channels x 100K steps, the numba kernel against a plain compiled loop and a
Python loop over T. Prints a table last; writes JSON (default benchmarks/results/scan.json).
Bytes are the logical minimum (each input read once, each output written once).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROWS: list[dict] = []
STATE: dict = {"json_out": None, "info": {}}


def save():
    """Write what was measured so far (a run cut short by a time limit keeps its rows)."""
    if STATE["json_out"] is not None:
        STATE["json_out"].parent.mkdir(parents=True, exist_ok=True)
        doc = dict(info=STATE["info"], rows=ROWS)
        STATE["json_out"].write_text(json.dumps(doc, indent=1, default=str))


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def add(impl, shape, dtype, mode, ms, nbytes, bw, **extra):
    gbs = nbytes / (ms * 1e-3) / 1e9 if ms else float("nan")
    row = dict(
        impl=impl,
        shape=shape,
        dtype=dtype,
        mode=mode,
        ms=ms,
        bytes=nbytes,
        gbs=gbs,
        frac_copy=gbs * 1e9 / bw if bw else None,
        **extra,
    )
    ROWS.append(row)
    save()
    frac = f"{row['frac_copy']:.1%}" if row["frac_copy"] is not None else "-"
    log(f"{impl:28s} {shape!s:24s} {dtype:10s} {mode:8s} {ms:9.3f} ms {gbs:8.1f} GB/s {frac}")
    return row


def bench_gpu(fn, rep=100):
    import triton.testing

    return triton.testing.do_bench(fn, warmup=10, rep=rep, return_mode="median")


def rel_err(x, ref):
    x = x.detach().to(ref.dtype)
    return ((x - ref).norm() / ref.norm()).item()


# ------------------------------------------------------------------------------------------ GPU


def env_record():
    p = torch.cuda.get_device_properties(0)
    info = dict(
        gpu=p.name,
        sms=p.multi_processor_count,
        l2_bytes=getattr(p, "L2_cache_size", None),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        python=platform.python_version(),
    )
    import triton

    info["triton"] = triton.__version__
    try:
        import accelerated_scan

        info["accelerated_scan"] = accelerated_scan.__version__
    except ImportError as e:
        info["accelerated_scan"] = f"missing: {e}"
    try:
        q = "--query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu"
        info["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", q, "--format=csv"], capture_output=True, text=True, timeout=20
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        info["nvidia_smi"] = str(e)
    return info


def copy_bandwidth():
    src = torch.randn(1 << 30, device="cuda")  # 4 GiB
    dst = torch.empty_like(src)
    ms = bench_gpu(lambda: dst.copy_(src), rep=200)
    return ms, 2 * src.numel() * 4 / (ms * 1e-3)


def make_inputs(Bn, T, D, dtype, layout="btd"):
    shape = (Bn, T, D) if layout == "btd" else (Bn, D, T)
    if dtype.is_complex:
        r = 0.9 + 0.099 * torch.rand(shape, device="cuda")
        a = torch.polar(r, torch.rand(shape, device="cuda") * 6.283).to(dtype)
        b = torch.randn(shape, device="cuda", dtype=dtype)
    else:
        a = (0.9 + 0.099 * torch.rand(shape, device="cuda")).to(dtype)
        b = torch.randn(shape, device="cuda").to(dtype)
    return a, b


def check_error(a, b, h, channels=4):
    """Relative error of h on batch 0, the first channels, against the float64 chunked scan."""
    from tsdyn.kernels.scan.chunk import chunk_linear_scan

    w = torch.complex128 if a.is_complex() else torch.float64
    sl = (slice(0, 1), slice(None), slice(0, channels))
    ref = chunk_linear_scan(a[sl].to(w), b[sl].to(w))
    return rel_err(h[sl], ref)


def time_tsdyn(Bn, T, D, dtype, bw, tag="tsdyn-triton", segments=None):
    torch.cuda.empty_cache()
    from tsdyn.kernels import linear_scan
    from tsdyn.kernels.scan import triton as tk

    a, b = make_inputs(Bn, T, D, dtype)
    N = Bn * T * D
    s = a.element_size()
    mode = tk.choose_mode(Bn, T, D, s, a.is_complex(), a.device) if segments is None else None
    mode_b = (
        tk.choose_mode(Bn, T, D, s, a.is_complex(), a.device, True) if segments is None else None
    )
    if "tma" in (mode, mode_b):  # the directions' modes, then tma programs' (bd, nw, tw) each
        from tsdyn.kernels.scan import tma

        sms = torch.cuda.get_device_properties(0).multi_processor_count
        plan = [mode, mode_b, *(list(tma.layout(Bn, D, s, sms, bwd)) for bwd in (False, True))]
    elif "column" in (mode, mode_b):  # the forward's plan, then the backward's
        cp = ["column", *tk.plan_col(Bn, T, D, s, a.is_complex(), a.device)]
        sp = ["stream", *tk.plan(Bn, T, D, s, a.is_complex(), a.device)]
        plan = [cp if mode == "column" else sp, [mode_b]]
    else:
        plan = ["stream", *tk.plan(Bn, T, D, s, a.is_complex(), a.device, segments)]

    def fwd():
        if segments is None:
            return linear_scan(a, b, backend="triton")
        return tk.scan_fwd(a, b, None, False, segments=segments)

    with torch.no_grad():
        h = fwd()
        err = check_error(a, b, h)
        ms = bench_gpu(fwd)
    shape = (Bn, T, D)
    add(
        tag,
        shape,
        str(dtype).replace("torch.", ""),
        "fwd",
        ms,
        3 * s * N,
        bw,
        rel_err=err,
        plan=list(plan),
    )
    a.requires_grad_(True)
    b.requires_grad_(True)
    gh = torch.randn_like(h)
    del h
    if segments is None:

        def fb():
            out = linear_scan(a, b, backend="triton")
            return torch.autograd.grad(out, (a, b), gh)

    else:

        def fb():
            out = tk.scan_fwd(a, b, None, False, segments=segments)
            return tk.scan_bwd(a, out, None, gh, False, segments=segments)

    torch.cuda.reset_peak_memory_stats()
    ms2 = bench_gpu(fb)
    add(
        tag,
        shape,
        str(dtype).replace("torch.", ""),
        "fwd+bwd",
        ms2,
        8 * s * N,
        bw,
        peak_gb=torch.cuda.max_memory_allocated() / 1e9,
        plan=list(plan),
    )
    return ms, ms2


def time_accel(Bn, T, D, bw):
    torch.cuda.empty_cache()
    try:
        from accelerated_scan.scalar import scan
    except ImportError as e:
        log("accelerated-scan missing:", e)
        return
    N = Bn * T * D
    shape = (Bn, T, D)
    a, b = make_inputs(Bn, T, D, torch.float32, layout="bdt")
    with torch.no_grad():
        ms = bench_gpu(lambda: scan(a, b))
    add("accel-scan (own [B,D,T])", shape, "float32", "fwd", ms, 12 * N, bw)
    a.requires_grad_(True)
    b.requires_grad_(True)
    gh = torch.randn_like(a)

    def fb():
        return torch.autograd.grad(scan(a, b), (a, b), gh)

    ms = bench_gpu(fb)
    add("accel-scan (own [B,D,T])", shape, "float32", "fwd+bwd", ms, 32 * N, bw)
    time_accel_transposed(Bn, T, D, bw, scan)


def time_accel_transposed(Bn, T, D, bw, scan):
    torch.cuda.empty_cache()
    N = Bn * T * D
    shape = (Bn, T, D)
    a, b = make_inputs(Bn, T, D, torch.float32)

    def fwd_t():
        at = a.transpose(1, 2).contiguous()
        bt = b.transpose(1, 2).contiguous()
        return scan(at, bt).transpose(1, 2).contiguous()

    with torch.no_grad():
        ms = bench_gpu(fwd_t)
    add("accel-scan + transposes", shape, "float32", "fwd", ms, 12 * N, bw)
    a.requires_grad_(True)
    b.requires_grad_(True)
    gh = torch.randn_like(a)
    ms = bench_gpu(lambda: torch.autograd.grad(fwd_t(), (a, b), gh))
    add("accel-scan + transposes", shape, "float32", "fwd+bwd", ms, 32 * N, bw)


def time_cumsum(Bn, T, D, bw):
    torch.cuda.empty_cache()
    b = torch.randn(Bn, T, D, device="cuda")
    ms = bench_gpu(lambda: torch.cumsum(b, dim=1))
    add("torch.cumsum (8 B/elem)", (Bn, T, D), "float32", "fwd", ms, 8 * b.numel(), bw)


def time_assoc(Bn, T, D, bw, backward=False):
    from torch._higher_order_ops.associative_scan import associative_scan

    def comb(x, y):
        return (y[0] * x[0], y[0] * x[1] + y[1])

    def f(a, b):
        return associative_scan(comb, (a, b), dim=1, combine_mode="pointwise")[1]

    shape = (Bn, T, D)
    try:
        cf = torch.compile(f, fullgraph=True, dynamic=False)
        a, b = make_inputs(Bn, T, D, torch.float32)
        t0 = time.perf_counter()
        with torch.no_grad():
            h = cf(a, b)
        torch.cuda.synchronize()
        compile_s = time.perf_counter() - t0
        err = check_error(a, b, h)
        with torch.no_grad():
            ms = bench_gpu(lambda: cf(a, b))
        add(
            "torch associative_scan (compiled)",
            shape,
            "float32",
            "fwd",
            ms,
            12 * a.numel(),
            bw,
            compile_s=compile_s,
            rel_err=err,
        )
    except Exception as e:  # a failure to compile is a result (research note §5)
        ROWS.append(
            dict(
                impl="torch associative_scan (compiled)",
                shape=shape,
                mode="fwd",
                error=f"{type(e).__name__}: {str(e)[:300]}",
            )
        )
        log("associative_scan fwd failed:", type(e).__name__, str(e)[:300])
        return
    if not backward:
        return
    try:
        a.requires_grad_(True)
        b.requires_grad_(True)
        gh = torch.randn_like(a)
        ms = bench_gpu(lambda: torch.autograd.grad(cf(a, b), (a, b), gh))
        add(
            "torch associative_scan (compiled)", shape, "float32", "fwd+bwd", ms, 32 * a.numel(), bw
        )
    except Exception as e:
        ROWS.append(
            dict(
                impl="torch associative_scan (compiled)",
                shape=shape,
                mode="fwd+bwd",
                error=f"{type(e).__name__}: {str(e)[:300]}",
            )
        )
        log("associative_scan fwd+bwd failed:", type(e).__name__, str(e)[:300])
    torch.cuda.empty_cache()


def _timed_pair(a, b, gh, bw, name, shape, fwd_kw, extra, both=True):
    """Forward (and forward + backward) of the Triton scan with the current tuning, one row each."""
    from tsdyn.kernels.scan import triton as tk

    try:
        with torch.no_grad():
            h = tk.scan_fwd(a, b, None, False, **fwd_kw)
            err = check_error(a, b, h)
            ms = bench_gpu(lambda: tk.scan_fwd(a, b, None, False, **fwd_kw), rep=30)
        s = a.element_size()
        n = a.numel()
        add(name, shape, str(a.dtype)[6:], "fwd", ms, 3 * s * n, bw, rel_err=err, **extra)
        if both:

            def fb():
                out = tk.scan_fwd(a, b, None, False, **fwd_kw)
                return tk.scan_bwd(a, out, None, gh, False, **fwd_kw)

            ms2 = bench_gpu(fb, rep=30)
            add(name, shape, str(a.dtype)[6:], "fwd+bwd", ms2, 8 * s * n, bw, **extra)
    except Exception as e:  # a setting that does not compile is a result, not the end of the sweep
        ROWS.append(dict(impl=name, shape=shape, error=f"{type(e).__name__}: {str(e)[:300]}"))
        log(name, shape, "failed:", type(e).__name__, str(e)[:300])


def sweep(bw):
    """Stream mode's fp32 tile sizes at two shapes, and the fused SSM scan's channels per program
    and warps. (It also swept the tiles of the lookback mode, removed since: RESULTS.md.)"""
    from tsdyn.kernels.scan import triton as tk

    for shape in [(256, 4096, 256), (16, 65536, 256)]:
        a, b = make_inputs(*shape, torch.float32)
        gh = torch.randn_like(b)
        for te in (4096, 2048):
            old = tk.STREAM["f32"]["tile_elems"]
            tk.STREAM["f32"]["tile_elems"] = te
            _timed_pair(
                a,
                b,
                gh,
                bw,
                f"sweep stream 128,{te},4",
                shape,
                dict(mode="stream"),
                dict(plan=list(tk.plan(*shape, 4, False, a.device))),
            )
            tk.STREAM["f32"]["tile_elems"] = old
        del a, b, gh
        torch.cuda.empty_cache()
    ssm_sweep(bw)


def _bwd_errors(a, b, h, gh, grads, channels=4):
    """Relative errors of (da, db) on batch 0, the first channels, against float64 chunked scans:
    g_t = gh_t + conj(a_{t+1}) g_{t+1}, da_t = g_t conj(h_{t-1})."""
    from tsdyn.kernels.scan.chunk import chunk_linear_scan

    w = torch.complex128 if a.is_complex() else torch.float64
    sl = (slice(0, 1), slice(None), slice(0, channels))
    a_s, b_s, g_s = a[sl].detach().to(w), b[sl].detach().to(w), gh[sl].to(w)
    h_ref = chunk_linear_scan(a_s, b_s)
    a_next = torch.cat([a_s[:, 1:], torch.zeros_like(a_s[:, :1])], 1).conj().resolve_conj()
    g = chunk_linear_scan(a_next, g_s, None, True)
    h_prev = torch.cat([torch.zeros_like(h_ref[:, :1]), h_ref[:, :-1]], 1)
    da = g * h_prev.conj()
    return rel_err(grads[0][sl], da), rel_err(grads[1][sl], g), rel_err(h[sl], h_ref)


def column_sweep(bw, budget_s=150.0, cases=None):
    """Column mode (column.py) against the default path, fp32 / bf16 / complex64, with forward
    and backward errors against float64 on each setting."""
    from tsdyn.kernels.scan import triton as tk

    t0 = time.time()
    f32, bf, c64 = torch.float32, torch.bfloat16, torch.complex64
    cases = cases or [
        ((256, 4096, 256), f32, [{}, dict(bt=16), dict(bt=16, ns=3)]),
        ((64, 16384, 256), f32, [{}, dict(bt=16), dict(ns=3), dict(bt=16, ns=4)]),
        ((16, 65536, 256), f32, [{}, dict(segments=1, ns=3), dict(segments=1, bt=64, ns=4)]),
        ((1, 1 << 20, 256), f32, [{}, dict(ns=3)]),
        ((1, 1 << 20, 64), f32, [{}, dict(ns=3)]),
        ((64, 16384, 256), bf, [{}, dict(bt=16)]),
        ((64, 16384, 256), c64, [{}, dict(ns=3)]),
        ((16, 65536, 256), f32, [dict(segments=2, ns=3), dict(segments=1)]),
    ]
    for shape, dtype, settings in cases:
        if time.time() - t0 > budget_s:
            log("column sweep: time budget spent, stopping before", shape, dtype)
            break
        torch.cuda.empty_cache()
        a, b = make_inputs(*shape, dtype)
        gh = torch.randn_like(b)
        s = a.element_size()
        n = a.numel()
        dt = str(dtype)[6:]
        runs = [("default", {})] + [(st.get("mode", "column"), dict(st)) for st in settings]
        for name, kw in runs:
            kw = dict(kw, mode=name) if name != "default" else {}
            seg = kw.pop("segments", None)
            keys = ("bt", "nw", "vec", "ns", "bd", "flip", "tw", "chain")
            col = {k: kw.pop(k) for k in keys if k in kw}
            fkw = dict(kw, segments=seg, col=col or None) if name != "default" else {}
            if name == "column":
                pl = tk.plan_col(*shape, s, a.is_complex(), a.device, seg, **col)
                tag = f"column bt={pl[0]} BD={pl[1]} w={pl[2]} S={pl[3]} vec={pl[5]} ns={pl[6]}"
            elif name == "tma":
                from tsdyn.kernels.scan import tma

                lay = tma.layout(
                    shape[0], shape[2], s, 132, False, *map(col.get, ("bd", "nw", "tw"))
                )
                cfg = dict(tma.TMA[s], **dict(zip(("bd", "nw", "tw"), lay, strict=True)))
                cfg.update(col)
                tag = "tma " + " ".join(f"{k}={v}" for k, v in sorted(cfg.items()))
                tag += f" S={seg}" if seg else ""
            else:
                mode = tk.choose_mode(*shape, s, a.is_complex(), a.device)
                tag = f"default ({mode})"
            try:
                with torch.no_grad():
                    h = tk.scan_fwd(a, b, None, False, **fkw)
                    grads = tk.scan_bwd(a, h, None, gh, False, **fkw)
                    e_da, e_db, e_h = _bwd_errors(a, b, h, gh, grads)
                    del grads
                    ms = bench_gpu(
                        lambda fkw=fkw, a=a, b=b: tk.scan_fwd(a, b, None, False, **fkw), rep=30
                    )

                    def fb(fkw=fkw, a=a, b=b, gh=gh):
                        out = tk.scan_fwd(a, b, None, False, **fkw)
                        return tk.scan_bwd(a, out, None, gh, False, **fkw)

                    ms2 = bench_gpu(fb, rep=30)
                errs = dict(rel_err=e_h, rel_err_db=e_db, rel_err_da=e_da)
                add(tag, shape, dt, "fwd", ms, 3 * s * n, bw, sweep="column", **errs)
                add(tag, shape, dt, "fwd+bwd", ms2, 8 * s * n, bw, sweep="column", **errs)
                log(f"   errors vs float64: h {e_h:.1e}  db {e_db:.1e}  da {e_da:.1e}")
                del h
            except Exception as e:  # a setting that fails is a result, not the end of the sweep
                msg = f"{type(e).__name__}: {str(e)[:300]}"
                ROWS.append(dict(impl=tag, shape=shape, dtype=dt, sweep="column", error=msg))
                log(tag, shape, "failed:", msg)


#: tma mode (tma.py) against the default path: tile rows, warps, pipeline stages
TMA_CASES = [
    (
        (1, 1 << 20, 64),
        torch.float32,
        [{}, dict(chain=True), dict(chain=66), dict(chain=True, segments=1024)],
    ),
    (
        (1, 1 << 20, 256),
        torch.float32,
        [dict(chain=True), dict(chain=True, segments=1024)],
    ),
    ((4, 262144, 256), torch.float32, [dict(chain=True)]),
    ((16, 65536, 256), torch.float32, [dict(chain=True, bd=32, nw=1, tw=1)]),
    ((1, 1 << 20, 256), torch.bfloat16, [{}, dict(chain=True)]),
]


#: interleaved A/B rounds (--ab): shape, dtype and variants, kwargs of scan_fwd / scan_bwd called
#: directly, or None: linear_scan + torch.autograd.grad, the path a model's training step takes.
#: The sixth kernels session's comparisons (RESULTS.md `## scan`): one-warp programs of 64
#: channels (the default where tma.WIDE applies) against 32-channel programs, and the opt-in
#: one-launch time split against the default two-pass split
AB_CASES = [
    (
        (256, 4096, 256),
        torch.float32,
        {"default": {}, "tma 32 ch x 2 warps": dict(mode="tma", col=dict(bd=32, nw=2))},
    ),
    (
        (64, 16384, 256),
        torch.float32,
        {"default": {}, "tma 32 ch x 2 warps": dict(mode="tma", col=dict(bd=32, nw=2))},
    ),
    (
        (256, 4096, 256),
        torch.bfloat16,
        {"default": {}, "tma 32 ch": dict(mode="tma", col=dict(bd=32, nw=1))},
    ),
    (
        (64, 16384, 256),
        torch.bfloat16,
        {"default": {}, "tma 64 ch": dict(mode="tma", col=dict(bd=64, nw=1))},
    ),
    (
        (1, 1 << 20, 64),
        torch.float32,
        {"default": {}, "chain": dict(mode="tma", col=dict(chain=True)), "autograd": None},
    ),
    (
        (1, 1 << 20, 256),
        torch.float32,
        {"default": {}, "chain": dict(mode="tma", col=dict(chain=True))},
    ),
]


def ab_rounds(bw, rounds=3):
    """Variants of one shape timed in turn, `rounds` times (machine drift shows as spread within
    a variant, not as a difference between variants)."""
    for shape, dtype, variants in AB_CASES:
        torch.cuda.empty_cache()
        _ab_shape(bw, shape, dtype, variants, rounds)


def _ab_shape(bw, shape, dtype, variants, rounds):
    from tsdyn.kernels import linear_scan
    from tsdyn.kernels.scan import triton as tk

    a, b = make_inputs(*shape, dtype)
    gh = torch.randn_like(b)
    a2, b2 = a.clone().requires_grad_(), b.clone().requires_grad_()
    s, n, dt = a.element_size(), a.numel(), str(dtype)[6:]

    def fwd(kw):
        if kw is None:
            return linear_scan(a2, b2, backend="triton")
        return tk.scan_fwd(a, b, None, False, **kw)

    def fb(kw):
        if kw is None:
            return torch.autograd.grad(fwd(None), (a2, b2), gh)
        return tk.scan_bwd(a, fwd(kw), None, gh, False, **kw)

    for rnd in range(rounds):
        for name, kw in variants.items():
            ms = bench_gpu(lambda kw=kw: fwd(kw))
            ms2 = bench_gpu(lambda kw=kw: fb(kw))
            add(f"A/B {name}", shape, dt, "fwd", ms, 3 * s * n, bw, round=rnd, sweep="ab")
            add(f"A/B {name}", shape, dt, "fwd+bwd", ms2, 8 * s * n, bw, round=rnd, sweep="ab")


def lti_accuracy():
    """A time-invariant `a` in (0.99, 0.9999): relative error against float64 of every mode, time
    split (the default) or whole (S = 1), on the whole tensor and on its worst channel."""
    from tsdyn.kernels import linear_scan
    from tsdyn.kernels.scan import triton as tk

    gen = torch.Generator().manual_seed(0)
    for Bn, T, D in [(1, 100003, 64), (2, 100003, 256), (1, 1 << 20, 64)]:
        b = torch.randn(Bn, T, D, generator=gen)
        a = 0.99 + 0.0099 * torch.rand(Bn, D, generator=gen)
        ref = linear_scan(a.double(), b.double())  # the CPU kernel in float64
        for mode in ("stream", "column", "tma"):
            for seg in (None, 1):
                h = tk.scan_fwd(a.cuda(), b.cuda(), None, False, mode=mode, segments=seg)
                e = (h.double().cpu() - ref).norm(dim=1) / ref.norm(dim=1)
                whole = ((h.double().cpu() - ref).norm() / ref.norm()).item()
                tag = f"lti {mode}" + (" S=1" if seg else "")
                ROWS.append(
                    dict(impl=tag, shape=(Bn, T, D), rel_err=whole, worst_channel=e.max().item())
                )
                log(f"{tag:16s} {(Bn, T, D)!s:18s} rel {whole:.2e} worst channel {e.max():.2e}")


def bwd_tiles(bw):
    """Forward + backward of fp32 at N = 2^28 with the backward's tiles of 2048 / 1024 / 4096
    elements (the forward keeps its tiles)."""
    from tsdyn.kernels.scan import triton as tk

    cfg = tk.STREAM["f32"]
    base = dict(cfg)
    for T in (4096, 16384, 65536, 262144, 1 << 20):
        shape = (max(1, (1 << 28) // T // 256), T, 256)
        a, b = make_inputs(*shape, torch.float32)
        gh = torch.randn_like(b)
        for te in (2048, 1024, 4096):
            cfg["bwd_tile_elems"] = te
            plan = tk.plan(*shape, 4, False, a.device, bwd=True)
            _timed_pair(a, b, gh, bw, f"bwd tiles {te}", shape, {}, dict(plan=list(plan)))
        cfg.clear()
        cfg.update(base)
        del a, b, gh
        torch.cuda.empty_cache()


def ssm_sweep(bw, Bn=8, T=16384, H=256, N=64):
    from tsdyn.kernels import ssm_scan
    from tsdyn.kernels.ssm_scan import triton as sk

    params, u, gy = ssm_inputs(Bn, T, H, N)
    io = 8 * Bn * T * H
    xs = [u, *params]
    for bh, nw in [(None, None), (1, 1), (2, 1), (4, 1), (4, 2), (8, 2), (2, 2)]:
        sk.TUNE.update(bh=bh, num_warps=nw)
        name = f"sweep ssm bh={bh},w={nw}"
        try:
            with torch.no_grad():
                ms = bench_gpu(lambda: ssm_scan(u, *params, backend="triton"), rep=30)
            add(name, (Bn, T, H, N), "float32", "fwd", ms, io, bw, plan=list(sk.plan(Bn, H, N)))
            for x in xs:
                x.requires_grad_(True)
            ms2 = bench_gpu(
                lambda: torch.autograd.grad(ssm_scan(u, *params, backend="triton"), xs, gy),
                rep=30,
            )
            add(name, (Bn, T, H, N), "float32", "fwd+bwd", ms2, 2 * io, bw)
        except Exception as e:
            ROWS.append(dict(impl=name, error=f"{type(e).__name__}: {str(e)[:300]}"))
            log(name, "failed:", type(e).__name__, str(e)[:300])
        for x in xs:
            x.requires_grad_(False)
    sk.TUNE.update(bh=None, num_warps=None)
    with torch.no_grad():
        ms = bench_gpu(lambda: ssm_fft(u, *params), rep=30)
    add("sweep ssm FFT conv", (Bn, T, H, N), "float32", "fwd", ms, io, bw)


def ssm_inputs(Bn, T, H, N):
    u = torch.randn(Bn, T, H, device="cuda")
    n = torch.arange(N, device="cuda", dtype=torch.float32)
    A = torch.complex(-0.5 * torch.ones(H, N, device="cuda"), math.pi * n.expand(H, N))
    dt = torch.exp(torch.rand(H, device="cuda") * 4.6 - 6.9)
    B = torch.randn(H, N, device="cuda", dtype=torch.complex64)
    C = torch.randn(H, N, device="cuda", dtype=torch.complex64)
    D = torch.randn(H, device="cuda")
    return [dt, A, B, C, D], u, torch.randn_like(u)


def ssm_section(bw, Ts, Bn=8, H=256, N=64):
    from tsdyn.kernels import ssm_scan

    for T in Ts:
        shape = (Bn, T, H, N)
        params, u, gy = ssm_inputs(Bn, T, H, N)
        io = 8 * Bn * T * H  # read u, write y (fp32)
        floor_ms = io / bw * 1e3
        for impl in ("triton", "chunk", "fft"):
            if impl == "chunk" and Bn * T * H * N > (1 << 30):
                ROWS.append(
                    dict(
                        impl="ssm unfused (linear_scan)",
                        shape=shape,
                        error="skipped: the [B,T,H,N] complex state would not fit",
                    )
                )
                continue

            if impl == "fft":

                def fwd(u=u, p=params, T=T):
                    return ssm_fft(u, *p)

            else:

                def fwd(u=u, p=params, impl=impl):
                    if impl == "chunk":
                        from tsdyn.kernels.ssm_scan.naive import naive_ssm_scan

                        dt, A, B, C, D = p
                        return naive_ssm_scan(u, dt, A, B, C, D, scan_backend="triton")
                    return ssm_scan(u, *p, backend=impl)

            name = {
                "triton": "ssm fused (triton)",
                "chunk": "ssm unfused (linear_scan)",
                "fft": "ssm FFT conv",
            }[impl]
            try:
                with torch.no_grad():
                    ms = bench_gpu(fwd, rep=50)
                add(
                    name,
                    shape,
                    "float32",
                    "fwd",
                    ms,
                    io,
                    bw,
                    floor_ms=floor_ms,
                    x_floor=ms / floor_ms,
                )
                xs = [u.requires_grad_(True)] + [p.requires_grad_(True) for p in params]
                ms2 = bench_gpu(
                    lambda f=fwd, xs=xs, gy=gy: torch.autograd.grad(f(), xs, gy), rep=50
                )
                add(name, shape, "float32", "fwd+bwd", ms2, 2 * io, bw)
                u.requires_grad_(False)
                for p in params:
                    p.requires_grad_(False)
            except torch.OutOfMemoryError as e:
                ROWS.append(dict(impl=name, shape=shape, error=f"OOM: {str(e)[:200]}"))
                u.requires_grad_(False)
                for p in params:
                    p.requires_grad_(False)
            torch.cuda.empty_cache()
        # accuracy of the fused kernel against the composition in float64 (batch 0)
        from tsdyn.kernels.ssm_scan.naive import naive_ssm_scan

        w = [x.detach()[:1].double() for x in (u,)] + [
            p.detach().to(torch.complex128 if p.is_complex() else torch.float64) for p in params
        ]
        if T * H * N <= (1 << 28):
            ref = naive_ssm_scan(*w, scan_backend="chunk")
            y = ssm_scan(u[:1], *params, backend="triton")
            ROWS.append(
                dict(
                    impl="ssm fused (triton) accuracy", shape=(1, T, H, N), rel_err=rel_err(y, ref)
                )
            )
        torch.cuda.empty_cache()


def ssm_fft(u, dt, A, B, C, D):
    """S4D convolution mode: K_t = Re(sum_n C_n dt B_n a_n^t), y = K * u (FFT) + D u."""
    T = u.shape[1]
    dtA = dt[:, None] * A  # [H, N]
    t = torch.arange(T, device=u.device, dtype=torch.float32)
    CB = C * B * dt[:, None]
    K = torch.einsum("hn,hnt->ht", CB, torch.exp(dtA[:, :, None] * t)).real  # [H, T]
    n = 2 * T
    uf = torch.fft.rfft(u, n=n, dim=1)  # [B, n/2+1, H]
    kf = torch.fft.rfft(K, n=n, dim=1).transpose(0, 1)  # [n/2+1, H]
    y = torch.fft.irfft(uf * kf, n=n, dim=1)[:, :T]
    return y + D * u


def gpu_main(args):
    info = env_record()
    STATE["info"] = info
    log(json.dumps(info))
    ms, bw = copy_bandwidth()
    info["copy_ms_4GiB"] = ms
    info["bw_copy"] = bw
    log(f"copy: {ms:.3f} ms for 8 GiB moved -> {bw / 1e12:.3f} TB/s")
    if args.sweep:
        sweep(bw)
    if args.bwd_tiles:
        bwd_tiles(bw)
    if args.column:
        column_sweep(bw, args.column_budget)
    if args.tma:
        cases = [(sh, dt, [dict(st, mode="tma") for st in sts]) for sh, dt, sts in TMA_CASES]
        column_sweep(bw, args.column_budget, cases)
    if args.ab:
        ab_rounds(bw)
    if args.lti:
        lti_accuracy()
    if not args.only_sweep:
        total = 1 << 28
        for T in (4096, 16384, 65536, 262144, 1 << 20):
            Bn, D = max(1, total // T // 256), 256
            time_tsdyn(Bn, T, D, torch.float32, bw)
            time_accel(Bn, T, D, bw)
            if T in (4096, 65536):
                time_cumsum(Bn, T, D, bw)
        time_tsdyn(16, 65536, 256, torch.float32, bw, tag="tsdyn stream split=4", segments=4)
        time_tsdyn(1, 1 << 20, 64, torch.float32, bw)
        time_accel(1, 1 << 20, 64, bw)
        ssm_section(bw, args.ssm_T)
        for dtype in (torch.bfloat16, torch.complex64):
            for T in (16384, 1 << 20):
                Bn = max(1, total // T // 256)
                time_tsdyn(Bn, T, 256, dtype, bw)
        time_tsdyn(1, 1 << 20, 64, torch.bfloat16, bw)
        time_tsdyn(1, 1 << 20, 64, torch.complex64, bw)
        if not args.no_assoc:
            # last: on 2026-11-30 (torch 2.11) the compiled backward did not finish within 300 s
            time_assoc(256, 4096, 256, bw, backward=args.assoc_bwd)
    return info


# ------------------------------------------------------------------------------------------ CPU


def cpu_main(args):
    import numba
    import numpy as np

    from tsdyn.kernels import linear_scan

    torch.set_num_threads(1)
    Bn, T, D = 1, 100_000, 64
    gen = torch.Generator().manual_seed(0)
    a = 0.9 + 0.099 * torch.rand(Bn, T, D, generator=gen)
    b = torch.randn(Bn, T, D, generator=gen)

    @numba.njit(cache=False)
    def plain(a, b, out):
        # the plain compiled loop: the floor a compiled CPU kernel can reach
        h = np.zeros(a.shape[2], dtype=a.dtype)
        for t in range(a.shape[1]):
            for d in range(a.shape[2]):
                h[d] = a[0, t, d] * h[d] + b[0, t, d]
                out[0, t, d] = h[d]

    out = np.empty_like(b.numpy())
    plain(a.numpy(), b.numpy(), out)
    linear_scan(a, b, backend="cpu")

    def best(fn, n):
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return 1e3 * sorted(ts)[len(ts) // 2]

    nbytes = 12 * a.numel()
    results = {}
    for rnd in range(2):  # two rounds: the spread is the noise on this shared 2-core machine
        results.setdefault("plain (output preallocated)", []).append(
            best(lambda: plain(a.numpy(), b.numpy(), out), 7)
        )
        # a function that returns its result allocates it: first-touch page faults included
        results.setdefault("plain", []).append(
            best(lambda: plain(a.numpy(), b.numpy(), np.empty_like(out)), 7)
        )
        results.setdefault("cpu", []).append(best(lambda: linear_scan(a, b, backend="cpu"), 7))
        results.setdefault("chunk", []).append(best(lambda: linear_scan(a, b, backend="chunk"), 3))
        if rnd == 0:
            results["naive"] = [best(lambda: linear_scan(a, b, backend="naive"), 1)]
    ag = a.clone().requires_grad_(True)
    bg = b.clone().requires_grad_(True)
    gh = torch.randn_like(b)
    results["cpu fwd+bwd"] = [
        best(lambda: torch.autograd.grad(linear_scan(ag, bg, backend="cpu"), (ag, bg), gh), 5)
    ]
    ref = linear_scan(a.double(), b.double(), backend="chunk")
    err = rel_err(linear_scan(a, b, backend="cpu"), ref)
    shape = (Bn, T, D)
    for k, v in results.items():
        ms = min(v)
        add(
            f"cpu: {k}",
            shape,
            "float32",
            "fwd+bwd" if "bwd" in k else "fwd",
            ms,
            nbytes * (32 / 12 if "bwd" in k else 1),
            None,
            runs_ms=v,
        )
    plain_ms, cpu_ms, naive_ms = min(results["plain"]), min(results["cpu"]), results["naive"][0]
    summary = dict(
        cpu_over_plain=cpu_ms / plain_ms,
        python_loop_over_cpu=naive_ms / cpu_ms,
        rel_err=err,
        numba=numba.__version__,
        torch=torch.__version__,
    )
    log(json.dumps(summary))
    return summary


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu", action="store_true", help="CPU benchmark (64 channels x 100K steps)")
    p.add_argument("--sweep", action="store_true", help="also time tile/warp/split settings")
    p.add_argument("--only-sweep", action="store_true", help="only the requested sweeps")
    p.add_argument("--bwd-tiles", action="store_true", help="time the backward's tile sizes")
    p.add_argument("--no-assoc", action="store_true", help="skip torch associative_scan")
    p.add_argument("--column", action="store_true", help="column mode against the default path")
    p.add_argument("--tma", action="store_true", help="tma mode against the default path")
    p.add_argument("--ab", action="store_true", help="interleaved A/B rounds (AB_CASES)")
    p.add_argument("--lti", action="store_true", help="time-invariant a: error of every mode")
    p.add_argument(
        "--column-budget", type=float, default=150.0, help="seconds for --column / --tma"
    )
    p.add_argument(
        "--assoc-bwd",
        action="store_true",
        help="also time associative_scan forward+backward (its compile did not finish in 300 s)",
    )
    p.add_argument("--ssm-T", type=int, nargs="*", default=[1024, 4096, 16384, 65536])
    p.add_argument("--json-out", type=Path, default=Path(__file__).parent / "results" / "scan.json")
    args = p.parse_args()
    STATE["json_out"] = args.json_out
    if args.cpu:
        info = cpu_main(args)
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device: run with --cpu, or on the GPU machine")
        info = gpu_main(args)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(dict(info=info, rows=ROWS), indent=1, default=str))
    print(f"\n{'impl':34s} {'shape':24s} {'dtype':10s} {'mode':8s} {'ms':>9s} {'GB/s':>8s} frac")
    for r in ROWS:
        if "ms" not in r:
            extra = r.get("error", r.get("rel_err"))
            print(f"{r['impl']:34s} {r.get('shape')!s:24s} {extra} {r.get('worst_channel', '')}")
            continue
        frac = f"{r['frac_copy']:.1%}" if r.get("frac_copy") is not None else "-"
        print(
            f"{r['impl'][:34]:34s} {r['shape']!s:24s} {r['dtype']:10s} {r['mode']:8s} "
            f"{r['ms']:9.3f} {r['gbs']:8.1f} {frac}"
        )


if __name__ == "__main__":
    main()
