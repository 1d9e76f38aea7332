"""Recipe sweep for the AL-RNN on Lorenz-63: many training variants in parallel processes (one core
each), selected on a validation trajectory, reported on the test trajectory (issue 6 protocol).

Trajectories (dt 0.01, 100 000 steps each, z-scored with the training mean/SD): training seed 0,
test seed 1, validation seed 2 (the benchmark's training and test series). Each variant trains
`--runs` runs, keeps each run's best checkpoint by its selection score on the validation
trajectory, then free-runs from the test's first point (1000 steps dropped, 100 000 kept) for
D_stsp, D_H, PE(20), lambda_max, regions and the wing/centre check. No polars (runs on the device
image).

    python benchmarks/reconstruct_sweep.py --variants paper,gtf01 --runs 2 --epochs 300 --out /tmp/sw
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

PAPER = dict(M=20, P=2, window=200, tau=16, lr_start=1e-3, lr_end=1e-5, epochs=2000, noise=0.05)

#: name -> ReconstructConfig overrides on top of the paper's Lorenz-63 recipe
VARIANTS: dict[str, dict] = {
    "paper": {},
    "paper_sel": dict(eval_every=5, select_dh=5.0),
    "paper_ema_sel": dict(ema=0.999, eval_every=5, select_dh=5.0),
    "tau32": dict(tau=32),
    "tau48": dict(tau=48),
    "tau64": dict(tau=64),
    "tau16to64": dict(tau_end=64),
    "tau32_sel": dict(tau=32, eval_every=5, select_dh=5.0),
    "tau48_sel_ema": dict(tau=48, ema=0.999, eval_every=5, select_dh=5.0),
    "tau32_noise01": dict(tau=32, noise=0.01),
    "tau32_lrend1e4": dict(tau=32, lr_end=1e-4),
    "gtf002": dict(forcing="gtf", alpha=0.02),
    "gtf004": dict(forcing="gtf", alpha=0.04),
    "gtf01to001": dict(forcing="gtf", alpha=0.1, alpha_end=0.01),
    "gtf002_sel_ema": dict(forcing="gtf", alpha=0.02, ema=0.999, eval_every=5, select_dh=5.0),
    "tau32_noise0_sel": dict(tau=32, noise=0.0, eval_every=5, select_dh=5.0),
    "tau8": dict(tau=8),
    "tau12": dict(tau=12),
    "tau10": dict(tau=10),
    "lr2e3": dict(lr_start=2e-3),
    "bal05": dict(balance=0.5),
    "bal1": dict(balance=1.0),
    "M40": dict(M=40),
    "M40_e600": dict(M=40, epochs=600, lr_end=1e-4),
    "M30_e900": dict(M=30, epochs=900, lr_end=1e-4),
    # third session: diagnostics and new training terms (tau 12 base)
    "tau1": dict(tau=1),
    "tau12_burn20": dict(tau=12, burn_in=20),
    "tau12_tail36": dict(tau=12, tail=36),
    "tau12_tail36_w3": dict(tau=12, tail=36, tail_weight=3.0),
    "tau12_T600_b17": dict(tau=12, window=600, batches_per_epoch=17),
    "tau12_S48_b17": dict(tau=12, batch_size=48, batches_per_epoch=17),
    "tau12_M30": dict(tau=12, M=30),
    "tau12_noise0": dict(tau=12, noise=0.0),
    "tau12_noise001": dict(tau=12, noise=0.01),
    "tau16_noise0": dict(tau=16, noise=0.0),
    "tau14_noise0": dict(tau=14, noise=0.0),
    "tau16_dec09": dict(tau=16, horizon_decay=0.9),
    "tau24_dec09": dict(tau=24, horizon_decay=0.9),
    "tau16_noise0_dec09": dict(tau=16, noise=0.0, horizon_decay=0.9),
    "tau16_dec08": dict(tau=16, horizon_decay=0.8),
    "tau20_dec085": dict(tau=20, horizon_decay=0.85),
    "tau14_dec09": dict(tau=14, horizon_decay=0.9),
    "tau16_dec07": dict(tau=16, horizon_decay=0.7),
    "tau20_dec08": dict(tau=20, horizon_decay=0.8),
    "tau12_dec08": dict(tau=12, horizon_decay=0.8),
    # fourth session: capacity at P = 2 and a free-run state-distribution (MMD) term
    "tau16_dec08_M30": dict(tau=16, horizon_decay=0.8, M=30),
    "tau16_dec08_M50": dict(tau=16, horizon_decay=0.8, M=50),
    "tau16_dec08_zw2": dict(tau=16, horizon_decay=0.8, dim_weights=(1.0, 1.0, 2.0)),
    "tau16_dec08_dist025": dict(
        tau=16, horizon_decay=0.8, dist_weight=0.25, dist_every=5, dist_steps=100
    ),
    "tau16_dec08_dist005": dict(
        tau=16, horizon_decay=0.8, dist_weight=0.05, dist_every=5, dist_steps=100
    ),
    "tau16_dec08_dist1": dict(
        tau=16, horizon_decay=0.8, dist_weight=1.0, dist_every=5, dist_steps=100
    ),
    "tau16_dec08_dist005_200": dict(
        tau=16, horizon_decay=0.8, dist_weight=0.05, dist_every=5, dist_steps=200
    ),
    # fifth session: optimisation settings on top of tau 16 + horizon_decay 0.8
    "tau16_dec08_S32": dict(tau=16, horizon_decay=0.8, batch_size=32),
    "tau16_dec08_S64": dict(tau=16, horizon_decay=0.8, batch_size=64),
    "tau16_dec08_S128": dict(tau=16, horizon_decay=0.8, batch_size=128),
    "tau16_dec08_noise01": dict(tau=16, horizon_decay=0.8, noise=0.1),
    "tau16_dec08_noise002": dict(tau=16, horizon_decay=0.8, noise=0.02),
    "tau16_dec08_T100_b100": dict(tau=16, horizon_decay=0.8, window=100, batches_per_epoch=100),
    "tau16_dec08_lr5e4": dict(tau=16, horizon_decay=0.8, lr_start=5e-4),
    "tau16_dec08_lr2e3": dict(tau=16, horizon_decay=0.8, lr_start=2e-3),
    "tau16_dec08_wd1e3": dict(tau=16, horizon_decay=0.8, weight_decay=1e-3),
    "tau16_dec08_wd1e2": dict(tau=16, horizon_decay=0.8, weight_decay=1e-2),
    "tau16_dec08_wd1e1": dict(tau=16, horizon_decay=0.8, weight_decay=1e-1),
    "tau16_dec08_S8": dict(tau=16, horizon_decay=0.8, batch_size=8),
    "tau16_dec08_S8_b100": dict(tau=16, horizon_decay=0.8, batch_size=8, batches_per_epoch=100),
    "tau16_dec08_b100": dict(tau=16, horizon_decay=0.8, batches_per_epoch=100),
    "tau16_dec08_lrend1e4": dict(tau=16, horizon_decay=0.8, lr_end=1e-4),
    "tau16_dec08_T400": dict(tau=16, horizon_decay=0.8, window=400),
    "tau16_dec08_T400_b25": dict(tau=16, horizon_decay=0.8, window=400, batches_per_epoch=25),
    "tau16_dec08_T800": dict(tau=16, horizon_decay=0.8, window=800),
    "tau16_dec08_T1600": dict(tau=16, horizon_decay=0.8, window=1600),
    "tau16_dec08_S4": dict(tau=16, horizon_decay=0.8, batch_size=4),
    "tau16_dec08_S4_b200": dict(tau=16, horizon_decay=0.8, batch_size=4, batches_per_epoch=200),
    "tau16_dec08_n01to0025": dict(tau=16, horizon_decay=0.8, noise=0.1, noise_end=0.025),
    "tau16_dec08_n005to002": dict(tau=16, horizon_decay=0.8, noise=0.05, noise_end=0.02),
    # sixth session: long windows with fewer windows per batch (work <= window 800 x 16)
    "tau16_dec08_T1600_S8": dict(tau=16, horizon_decay=0.8, window=1600, batch_size=8),
    "tau16_dec08_T3200_S4": dict(tau=16, horizon_decay=0.8, window=3200, batch_size=4),
    "tau16_dec08_T6400_S2": dict(tau=16, horizon_decay=0.8, window=6400, batch_size=2),
    # ... and shorter windows with more of them (samples per step of window 800 / 1600 x 16)
    "tau16_dec08_T400_S32": dict(tau=16, horizon_decay=0.8, window=400, batch_size=32),
    "tau16_dec08_T800_S32": dict(tau=16, horizon_decay=0.8, window=800, batch_size=32),
    "tau16_dec08_T800_S32_lyap5": dict(
        tau=16, horizon_decay=0.8, window=800, batch_size=32, select_lyap=5.0
    ),
}


def data_file(out: Path, steps: int) -> Path:
    from tsdyn.datasets.systems import simulate

    path = out / "lorenz63_data.npz"
    if not path.exists():
        arrays = {
            k: simulate("lorenz63", steps, seed=s).values
            for k, s in (("train", 0), ("test", 1), ("val", 2))
        }
        np.savez(path, **arrays)
    return path


def run_variant(name: str, args) -> dict:
    import torch

    torch.set_num_threads(1)
    from reconstruct import wing_centre_topology

    from tsdyn.reconstruct import ALRNNReconstructor

    d = np.load(Path(args.out) / "lorenz63_data.npz")
    settings = {**PAPER, **VARIANTS[name], "runs": args.runs, "seed": args.seed}
    if args.epochs:
        settings["epochs"] = args.epochs
    rec = ALRNNReconstructor(**settings)
    log = open(Path(args.out) / f"{name}.log", "w")

    def progress(task, done, total, info):
        if done % 50 == 0 or done == total:
            print(
                f"{name} epoch {done}/{total} {info} {time.strftime('%H:%M:%S')}",
                file=log,
                flush=True,
            )

    fp_history = []

    def on_checkpoint(epoch, params):
        # observed units of every region's fixed point per run (z-scored): how the centre
        # saddle moves during training
        from tsdyn.reconstruct.symbolic import fixed_points

        a, W, h, _ = (p.astype(np.float64) for p in params)
        fps = [fixed_points(a[r], W[r], h[r], settings["P"]) for r in range(len(a))]
        fp_history.append(
            {
                "epoch": epoch,
                "fixed_points": [
                    {
                        f["symbol"]: [round(v, 3) for v in f["z"][:3]] + [f["real"]]
                        for f in run
                        if f.get("exists")
                    }
                    for run in fps
                ],
            }
        )

    t0 = time.perf_counter()
    rec.fit(
        d["train"], dt=0.01, progress=progress, validation=d["val"], on_checkpoint=on_checkpoint
    )
    train_s = time.perf_counter() - t0
    rec.save(Path(args.out) / f"{name}_model")
    rep = rec.evaluate(d["test"], transient=1000, data_lyapunov=False)
    per = rep["per_run"]
    codes = [
        rec.symbolic_code(run=r, states=rec.last_eval_["states"][r], max_period=1)
        for r in range(rec.config_.runs)
    ]
    per["wing_centre"] = [wing_centre_topology(c)["holds"] for c in codes]
    # observed units (z-scored) of each region's fixed point: the centre saddle's z is the
    # diagnostic of the missing dives (true Lorenz: (0, 0, -2.74) in training z-scores)
    per["fixed_points"] = [
        {
            fp["symbol"]: [round(v, 3) for v in fp["z"][: rec.model_.N]]
            + [fp.get("real", False), fp.get("type", "")]
            for fp in c["fixed_points"]
            if fp.get("exists")
        }
        for c in codes
    ]
    tr = rec.train_
    result = {
        "variant": name,
        "settings": settings,
        "train_s": train_s,
        "per_run": per,
        "mean_sem": rep["mean"],
        "best_epoch": tr.best_epoch.tolist(),
        "selection_dh": tr.best_dh.tolist(),
        "history": [
            {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in h.items()}
            for h in tr.history
        ],
        "fixed_point_history": fp_history,
    }
    with open(Path(args.out) / f"{name}.json", "w") as f:
        json.dump(result, f)
    ms = rep["mean"]
    print(
        f"{name}: D_stsp {ms['dstsp']['mean']:.3f}±{ms['dstsp']['sem']:.3f} "
        f"D_H {ms['dh']['mean']:.3f}±{ms['dh']['sem']:.3f} "
        f"lam {ms['lyapunov_max']['mean']:.3f} wc {sum(per['wing_centre'])}/{len(codes)} "
        f"{train_s:.0f}s",
        file=log,
        flush=True,
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--parallel", type=int, default=os.cpu_count())
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/reconstruct_sweep"))
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_file(out, args.steps)
    if args.one:
        run_variant(args.one, args)
        return
    names = args.variants.split(",")
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    base = [
        sys.executable,
        __file__,
        "--runs",
        str(args.runs),
        "--seed",
        str(args.seed),
        "--out",
        str(out),
    ] + (["--epochs", str(args.epochs)] if args.epochs else [])
    pending, running = list(names), []
    while pending or running:
        while pending and len(running) < args.parallel:
            n = pending.pop(0)
            err = open(out / f"{n}.err", "w")
            running.append((n, subprocess.Popen([*base, "--one", n], env=env, stderr=err)))
        time.sleep(2)
        for n, p in list(running):
            if p.poll() is not None:
                running.remove((n, p))
                print(f"{n} exited {p.returncode}", flush=True)
    for n in names:
        f = out / f"{n}.json"
        if f.exists():
            r = json.load(open(f))
            ms, per = r["mean_sem"], r["per_run"]
            print(
                f"{n:>16} D_stsp {ms['dstsp']['mean']:6.3f}±{ms['dstsp']['sem']:.3f} "
                f"D_H {ms['dh']['mean']:.3f}±{ms['dh']['sem']:.3f} "
                f"PE {ms['pe']['mean']:.4f} lam {ms['lyapunov_max']['mean']:.3f} "
                f"reg1% {ms['regions_1pct']['mean']:.1f} wc {sum(per['wing_centre'])}"
                f"/{len(per['dstsp'])} ep {r['best_epoch']} {r['train_s']:.0f}s"
            )


if __name__ == "__main__":
    main()
