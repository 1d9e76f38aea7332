"""AL-RNN reconstruction of Lorenz-63: metrics per run and mean +- SEM beside the ground-truth floor,
and the cost of one training batch (fused CPU kernel vs the eager PyTorch reference, same run).

Protocol (issue 6): 100 000 training steps (dt 0.01, seed 0), z-scored with the training mean/SD;
a separate 100 000-step test trajectory (seed 1); each run free-runs from the test's first point,
drops 1000 steps and keeps 100 000 (equal length). Floor = training vs test trajectory.

    python benchmarks/reconstruct.py                          # full protocol: 10 runs x 2000 epochs
    python benchmarks/reconstruct.py --epochs 100 --runs 2    # a quick look
    python benchmarks/reconstruct.py --timing-only --device cuda   # batch timings on a GPU
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsdyn.datasets.systems import simulate
from tsdyn.kernels.rollout.cpu import alrnn_forced_loss_grad, noisy_windows
from tsdyn.kernels.rollout.naive import naive_alrnn_forced_loss
from tsdyn.reconstruct import PRESETS, ALRNNReconstructor, ReconstructConfig
from tsdyn.reconstruct import metrics as met

LORENZ_LAMBDA = 0.906  # literature value per time unit


def batch_timings(cfg: ReconstructConfig, data: np.ndarray, device: str, repeats: int) -> dict:
    """Seconds per training batch (all runs together): fused numba kernel (CPU, float32) and the
    eager PyTorch reference with autograd (float32) on `device`; plus a CUDA-graph replay of the
    reference on CUDA."""
    rng = np.random.default_rng(0)
    R, M, N, S, T = cfg.runs, cfg.M, data.shape[1], cfg.batch_size, cfg.window
    from tsdyn.reconstruct.alrnn import ALRNN

    model = ALRNN(M, N, cfg.P, runs=R)
    params = [model.a, model.W, model.h, model.L]
    alpha = np.zeros((R, T + 1), dtype=np.float32)
    alpha[:, cfg.tau :: cfg.tau] = 1.0
    data32 = data.astype(np.float32)
    keys = np.arange(R, dtype=np.uint64)
    out = {}

    def starts():
        return rng.integers(0, len(data) - T - 1, (R, S))

    arrays = [p.detach().numpy() for p in params]
    alrnn_forced_loss_grad(*arrays, data32, starts(), alpha, cfg.P, cfg.noise, keys)  # compile
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        alrnn_forced_loss_grad(*arrays, data32, starts(), alpha, cfg.P, cfg.noise, keys)
    out["fused_cpu_wall_s"] = (time.perf_counter() - t0) / repeats
    out["fused_cpu_cpu_s"] = (time.process_time() - c0) / repeats

    dev = torch.device(device)
    if dev.type == "cuda":
        out["fused_cuda_wall_s"] = _fused_cuda_timing(params, data32, starts, alpha, cfg, keys)
    ps = [p.detach().to(dev).requires_grad_(True) for p in params]
    al = torch.as_tensor(alpha, device=dev)

    def eager(x):
        for p in ps:
            p.grad = None
        naive_alrnn_forced_loss(*ps, x, al, cfg.P).sum().backward()

    n_eager = max(2, repeats // 10)
    xs = [
        torch.as_tensor(noisy_windows(data32, starts(), T, cfg.noise, keys), device=dev)
        for _ in range(n_eager + 1)
    ]
    eager(xs[0])
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for x in xs[1:]:
        eager(x)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    out[f"eager_{dev.type}_wall_s"] = (time.perf_counter() - t0) / n_eager
    if dev.type == "cuda":
        try:
            out["cuda_graph_wall_s"] = _cuda_graph_timing(ps, xs, al, cfg.P, eager)
        except Exception as exc:  # report, do not lose the other timings
            out["cuda_graph_error"] = f"{type(exc).__name__}: {exc}"
    batches = cfg.epochs * cfg.batches_per_epoch
    out["batches_full_protocol"] = batches
    for k in [k for k in out if k.endswith("wall_s")]:
        out[k.replace("wall_s", "full_protocol_min")] = out[k] * batches / 60
    out["speedup_fused_vs_eager_cpu"] = (
        out.get("eager_cpu_wall_s", float("nan")) / out["fused_cpu_wall_s"]
    )
    return out


def _fused_cuda_timing(params, data32, starts, alpha, cfg, keys, repeats=50) -> float:
    """Seconds per batch of the Triton kernel (loss and gradients of all runs, noise drawn in
    the kernel, the batch's window starts copied to the GPU as in training)."""
    from tsdyn.kernels.rollout.triton import alrnn_forced_loss_grad as fused

    ps = [p.detach().cuda() for p in params]
    data, al = torch.as_tensor(data32, device="cuda"), torch.as_tensor(alpha, device="cuda")
    draws = [starts() for _ in range(repeats + 1)]

    def batch(st):
        return fused(*ps, data, torch.as_tensor(st, device="cuda"), al, cfg.P, cfg.noise, keys)

    batch(draws[0])
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for st in draws[1:]:
        batch(st)
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeats


def _cuda_graph_timing(ps, xs, al, P, eager) -> float:
    """Seconds per batch when the reference forward + backward is replayed as one CUDA graph."""
    static_x = xs[0].clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            eager(static_x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    for p in ps:
        p.grad = None
    with torch.cuda.graph(graph):
        naive_alrnn_forced_loss(*ps, static_x, al, P).sum().backward()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for x in xs[1:]:
        static_x.copy_(x)
        graph.replay()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / (len(xs) - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="lorenz63", choices=sorted(PRESETS))
    ap.add_argument("--epochs", type=int, default=None, help="default: the preset's (2000)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--batches-per-epoch", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=None, help="default: the preset's (25)")
    ap.add_argument("--eval-every-late", type=int, default=None)
    ap.add_argument("--select-dh", type=float, default=None, help="selection D_stsp + w D_H")
    ap.add_argument("--select-lyap", type=float, default=None, help="+ w |lambda/lambda_data - 1|")
    ap.add_argument("--ema", type=float, default=None, help="parameter EMA decay per batch")
    ap.add_argument("--balance", type=float, default=None, help="rarity-balanced windows share")
    ap.add_argument("--tau", type=int, default=None)
    ap.add_argument("--tau-end", type=int, default=None)
    ap.add_argument("--alpha-end", type=float, default=None)
    ap.add_argument("--noise", type=float, default=None)
    ap.add_argument("--noise-end", type=float, default=None, help="noise SD anneals to this")
    ap.add_argument("--batch-size", type=int, default=None, help="windows per batch (16)")
    ap.add_argument("--window", type=int, default=None, help="steps per training window (200)")
    ap.add_argument("--weight-decay", type=float, default=None, help="decoupled decay of W, L")
    ap.add_argument("--horizon-decay", type=float, default=None, help="STF loss weight d^(k-1)")
    ap.add_argument("--burn-in", type=int, default=None)
    ap.add_argument("--tail", type=int, default=None)
    ap.add_argument("--tail-weight", type=float, default=None)
    ap.add_argument("--M", type=int, default=None, help="latent units (default: the preset's)")
    ap.add_argument("--dist-weight", type=float, default=None, help="free-run MMD term weight")
    ap.add_argument("--dist-every", type=int, default=None, help="batches between MMD terms")
    ap.add_argument("--dist-steps", type=int, default=None, help="free-run steps of the MMD")
    ap.add_argument(
        "--dist-bandwidths", default=None, help="MMD kernel bandwidths, comma-separated"
    )
    ap.add_argument(
        "--select-on",
        default="train",
        choices=["train", "validation"],
        help="selection free runs against the training series (paper) or a third trajectory "
        "(seed + 2)",
    )
    ap.add_argument("--train-steps", type=int, default=100_000)
    ap.add_argument("--test-steps", type=int, default=100_000)
    ap.add_argument("--transient", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="device of the eager reference timing")
    ap.add_argument("--train-device", default="cpu", help="device of the training (cuda: Triton)")
    ap.add_argument("--timing-repeats", type=int, default=40, help="0: no batch timings")
    ap.add_argument("--timing-only", action="store_true", help="only the per-batch timings")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--forcing", default=None, choices=["stf", "gtf"])
    ap.add_argument("--alpha", type=float, default=None, help="GTF weight (default: adaptive)")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--save-model", default=None, help="folder for the trained runs' parameters")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    system = args.preset.removesuffix("-paper")
    settings = dict(
        runs=args.runs,
        seed=args.seed,
        batches_per_epoch=args.batches_per_epoch,
        eval_every=args.eval_every,
        eval_every_late=args.eval_every_late,
        select_dh=args.select_dh,
        select_lyap=args.select_lyap,
        ema=args.ema,
        balance=args.balance,
        tau=args.tau,
        tau_end=args.tau_end,
        alpha_end=args.alpha_end,
        noise=args.noise,
        noise_end=args.noise_end,
        batch_size=args.batch_size,
        window=args.window,
        weight_decay=args.weight_decay,
        horizon_decay=args.horizon_decay,
        burn_in=args.burn_in,
        tail=args.tail,
        tail_weight=args.tail_weight,
        M=args.M,
        dist_weight=args.dist_weight,
        dist_every=args.dist_every,
        dist_steps=args.dist_steps,
        dist_bandwidths=None
        if args.dist_bandwidths is None
        else tuple(float(v) for v in args.dist_bandwidths.split(",")),
        forcing=args.forcing,
        alpha=args.alpha,
    )
    if args.epochs:
        settings["epochs"] = args.epochs
    rec = ALRNNReconstructor(preset=system, **settings)
    cfg = rec.config
    t0 = time.perf_counter()
    train = simulate(system, args.train_steps, seed=args.seed)
    test = simulate(system, args.test_steps, seed=args.seed + 1)
    dt = float(train.freq)
    print(f"integrated {system} train + test in {time.perf_counter() - t0:.1f} s", flush=True)
    result: dict = {
        "system": system,
        "config": {**cfg.__dict__},
        "protocol": {
            **met.PROTOCOL,
            "train": f"{args.train_steps} steps, seed {args.seed}",
            "test": f"{args.test_steps} steps, seed {args.seed + 1}",
            "transient": args.transient,
            "dt": dt,
            "selection": "training series"
            if args.select_on == "train"
            else f"validation trajectory, {args.train_steps} steps, seed {args.seed + 2}",
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_avg_start": os.getloadavg(),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
    }
    z_train = (train.values - train.values.mean(0)) / train.values.std(0)
    if args.timing_repeats > 0:
        timing = batch_timings(cfg, z_train, args.device, args.timing_repeats)
        result["timing"] = timing
        line = ", ".join(f"{k} {v:.4g}" for k, v in timing.items())
        print(f"per batch (all runs): {line}", flush=True)
    if args.timing_only:
        _write(result, args)
        return

    # ground-truth floor and the data's Lyapunov exponent
    mean, sd = train.values.mean(0), train.values.std(0)
    xs_train, xs_test = (train.values - mean) / sd, (test.values - mean) / sd
    n = min(len(xs_train), len(xs_test))
    floor = {
        "dstsp": met.dstsp(xs_test[:n], xs_train[:n], cfg.n_bins, cfg.gmm_sigma2),
        "dh": met.hellinger_spectrum(xs_test[:n], xs_train[:n], cfg.dh_sigma),
        "lyapunov_max_test": float(met.lyapunov_from_data(xs_test, dt)[0]),
        "lyapunov_max_train": float(met.lyapunov_from_data(xs_train, dt)[0]),
    }
    result["floor"] = floor
    print(f"floor: {floor}", flush=True)

    last = [time.perf_counter()]

    def progress(task, done, total, info):
        if done % max(1, cfg.eval_every) == 0 or done == total:
            now = time.perf_counter()
            print(f"epoch {done}/{total} {info} ({now - last[0]:.1f} s)", flush=True)
            last[0] = now

    t0, c0 = time.perf_counter(), time.process_time()
    validation = (
        simulate(system, args.train_steps, seed=args.seed + 2).values
        if args.select_on == "validation"
        else None
    )
    rec.fit(train.values, dt=dt, progress=progress, validation=validation, device=args.train_device)
    train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    if args.save_model:  # before the evaluation, so that a stopped run keeps its training
        rec.save(args.save_model)
    report = rec.evaluate(test.values, transient=args.transient)
    per = report["per_run"]
    ref = int(
        np.nanargmin(np.where(np.isfinite(rec.train_.best_dstsp), rec.train_.best_dstsp, np.inf))
    )
    codes = [
        rec.symbolic_code(run=r, states=rec.last_eval_["states"][r], max_period=2)
        for r in range(cfg.runs)
    ]
    code = codes[ref]
    topo = wing_centre_topology(code)
    per["wing_centre"] = [wing_centre_topology(c)["holds"] for c in codes]
    per["region_shares"] = [{r["symbol"]: r["share"] for r in c["regions"]} for c in codes]
    result.update(
        train_wall_s=train_wall,
        train_cpu_s=train_cpu,
        load_avg_end=os.getloadavg(),
        per_run=per,
        mean_sem=report["mean"],
        data_lyapunov=report["data_lyapunov"],
        best_epoch=rec.train_.best_epoch.tolist(),
        diverged_at=rec.train_.diverged_at,
        reference_run=ref,
        symbolic=code,
        wing_centre_topology=topo,
    )
    print_table(result, cfg, dt)
    _write(result, args)


def wing_centre_topology(code: dict) -> dict:
    """Regions holding >= 1% of the run; wing/centre = 3 such regions, one (the centre) linked
    both ways to the two others, which have no direct link."""
    regions = [r for r in code["regions"] if r["share"] >= 0.01]
    syms = code["transition_matrix"]["symbols"]
    Pm = np.array(code["transition_matrix"]["probabilities"])
    keep = [syms.index(r["symbol"]) for r in regions]
    sub = Pm[np.ix_(keep, keep)] > 0
    ok = False
    centre = None
    if len(keep) == 3:
        for c in range(3):
            o = [k for k in range(3) if k != c]
            if (
                all(sub[c, k] and sub[k, c] for k in o)
                and not sub[o[0], o[1]]
                and not sub[o[1], o[0]]
            ):
                ok, centre = True, regions[c]["symbol"]
    return {"regions_1pct": [r["symbol"] for r in regions], "holds": ok, "centre": centre}


def print_table(result: dict, cfg, dt: float) -> None:
    per, ms, fl = result["per_run"], result["mean_sem"], result["floor"]
    print(
        f"\nAL-RNN M={cfg.M} P={cfg.P}, {cfg.runs} runs x {cfg.epochs} epochs; "
        f"training {result['train_wall_s'] / 60:.1f} min wall, {result['train_cpu_s'] / 60:.1f} "
        f"min CPU; load {result['machine']['load_avg_start'][0]:.1f} -> "
        f"{result['load_avg_end'][0]:.1f}"
    )
    print(
        f"{'run':>5} {'D_stsp':>8} {'D_H':>7} {'PE(20)':>9} {'lambda_max':>10} {'regions':>7} "
        f"{'>=1%':>5} {'wing/centre':>11}"
    )
    for r in range(len(per["dstsp"])):
        print(
            f"{r:>5} {per['dstsp'][r]:>8.3f} {per['dh'][r]:>7.3f} {per['pe'][r]:>9.4f} "
            f"{per['lyapunov_max'][r]:>10.3f} {per['regions'][r]:>7d} "
            f"{per['regions_1pct'][r]:>5d} {per['wing_centre'][r]!s:>11}"
        )

    def f(k, d=3):
        return f"{ms[k]['mean']:.{d}f}±{ms[k]['sem']:.{d}f}"

    print(
        f"{'mean':>5} {f('dstsp'):>8} {f('dh'):>7} {f('pe', 4):>9} {f('lyapunov_max'):>10} "
        f"{f('regions', 1):>7} {f('regions_1pct', 1):>5}"
    )
    print(
        f"{'floor':>5} {fl['dstsp']:>8.3f} {fl['dh']:>7.3f} {'':>9} "
        f"{fl['lyapunov_max_test']:>10.3f}   (data; literature {LORENZ_LAMBDA})"
    )
    topo = result["wing_centre_topology"]
    print(
        f"reference run {result['reference_run']}: regions >= 1% {topo['regions_1pct']}, "
        f"wing/centre topology {topo['holds']} (centre {topo['centre']})"
    )


def _write(result: dict, args) -> None:
    from tsdyn.outputs import write_json

    path = (
        Path(args.json_out)
        if args.json_out
        else (Path(__file__).resolve().parent / "results" / "reconstruct.json")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
