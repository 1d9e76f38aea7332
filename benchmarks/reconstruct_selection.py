"""How much of the AL-RNN's Lorenz-63 gap is model selection? (issue 6, fourth session)

Two measurements on the issue-6 test protocol (training seed 0, test seed 1, validation seed 2,
100 000 steps each, dt 0.01, z-scored with the training statistics; a run free-runs from the
test's first point, drops 1000 steps and keeps 100 000):

``noise``  a trained model folder (no training): the test metrics of every run from `--starts`
           different initial conditions (test points 0, 10 000, 20 000, ...) and from one
           `--long`-step free run: how much a fixed model's D_stsp / D_H move with the start,
           i.e. the noise any selection score has to see through.
``oracle`` trains a recipe (`benchmarks/reconstruct.py`'s flags that matter here) and, through
           `on_checkpoint`, evaluates every checkpoint on the TEST protocol as well as on the
           selection (validation) protocol. The report compares the test metrics of the
           checkpoint each selection rule picks (validation score, every 25 / every `eval_every`
           epochs, with or without the D_H and lambda terms) with the oracle (the checkpoint with
           the best test D_stsp or test score): the oracle bounds what any selection can reach.

    python benchmarks/reconstruct_selection.py noise --models \
        benchmarks/results/reconstruct_lorenz63_tau16_dec08_lyap_model
    python benchmarks/reconstruct_selection.py oracle --tau 16 --horizon-decay 0.8 --runs 10 \
        --eval-every 5 --json-out benchmarks/results/reconstruct_selection_tau16_dec08.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsdyn.datasets.systems import simulate
from tsdyn.kernels.rollout.cpu import alrnn_free_run, alrnn_largest_lyapunov
from tsdyn.reconstruct import ALRNNReconstructor
from tsdyn.reconstruct import metrics as met

DT = 0.01


def trajectories(steps: int = 100_000) -> dict[str, np.ndarray]:
    return {
        k: simulate("lorenz63", steps, seed=s).values
        for k, s in (("train", 0), ("test", 1), ("val", 2))
    }


class Protocol:
    """Free run of every run from x[start] (z-scored), `transient` dropped, len(x) kept; D_stsp,
    D_H against x and lambda_max (one tangent vector, 20 000 steps, per time unit)."""

    def __init__(self, xs: np.ndarray, transient: int = 1000, lyap_steps: int = 20_000):
        self.xs, self.transient, self.lyap_steps = xs, transient, lyap_steps
        self.dstsp = met.BinnedDstsp(xs, 30)
        self.dh = met.SpectrumHellinger(xs, 20.0)

    def __call__(self, a, W, h, L, P: int, start: int = 0, steps: int | None = None) -> dict:
        N = self.xs.shape[1]
        steps = len(self.xs) if steps is None else steps
        x0 = self.xs[start]
        z0 = np.concatenate([np.broadcast_to(x0, (len(a), N)), L @ x0], axis=1)
        z = alrnn_free_run(a, W, h, z0[:, None, :], self.transient + steps - 1, P)[:, 0]
        z = np.concatenate([z0[:, None, :], z], axis=1)[:, self.transient :]
        gen = z[..., :N].astype(np.float64)
        lam = alrnn_largest_lyapunov(a, W, h, z[:, 0], self.lyap_steps, P) / DT
        return {
            "dstsp": [self.dstsp(g) for g in gen],
            "dh": [self.dh(g[: len(self.xs)]) if len(g) >= len(self.xs) else np.nan for g in gen],
            "lyap": lam.tolist(),
        }


def noise(args) -> dict:
    rec = ALRNNReconstructor.load(args.models)
    d = trajectories()
    xs = rec.scale(d["test"])
    proto = Protocol(xs)
    a, W, h, L = rec._params()  # float64, as `evaluate`
    P = rec.model_.P
    starts = [k * 10_000 for k in range(args.starts)]
    per_start = [proto(a, W, h, L, P, start=s) for s in starts]
    ds = np.array([r["dstsp"] for r in per_start])  # [starts, R]
    dh = np.array([r["dh"] for r in per_start])
    long = proto(a, W, h, L, P, steps=args.long)
    out = {
        "models": str(args.models),
        "starts": starts,
        "dstsp": ds.tolist(),
        "dh": dh.tolist(),
        "dstsp_long": long["dstsp"],
        "long_steps": args.long,
    }
    print(
        f"{'run':>4} {'D_stsp start 0':>14} {'mean +- sd over starts':>24} {'long':>7} "
        f"{'D_H start 0':>11} {'mean +- sd':>16}"
    )
    for r in range(ds.shape[1]):
        print(
            f"{r:>4} {ds[0, r]:>14.3f} {ds[:, r].mean():>14.3f} +- {ds[:, r].std(ddof=1):.3f} "
            f"{long['dstsp'][r]:>7.3f} {dh[0, r]:>11.3f} {dh[:, r].mean():>8.3f} +- "
            f"{dh[:, r].std(ddof=1):.3f}"
        )
    m = ds.mean(axis=1)
    print(
        f"10-run mean over starts: D_stsp {m.mean():.3f} (sd over starts {m.std(ddof=1):.3f}), "
        f"D_H {dh.mean(axis=1).mean():.3f}; long run {np.mean(long['dstsp']):.3f}"
    )
    return out


def oracle(args) -> dict:
    settings = dict(
        runs=args.runs,
        seed=args.seed,
        tau=args.tau,
        horizon_decay=args.horizon_decay,
        M=args.M,
        epochs=args.epochs,
        eval_every=args.eval_every,
        select_dh=5.0,
        select_lyap=5.0,
        lr_end=args.lr_end,
    )
    rec = ALRNNReconstructor(preset="lorenz63", **settings)
    d = trajectories()
    train = d["train"]
    mean, sd = train.mean(0), train.std(0)
    proto = Protocol((d["test"] - mean) / sd)
    P = rec.config.P
    tests: list[dict] = []
    t_eval = [0.0]

    def on_checkpoint(epoch, params):
        t0 = time.perf_counter()
        a, W, h, L = params
        tests.append({"epoch": epoch, **proto(a, W, h, L, P)})
        t_eval[0] += time.perf_counter() - t0

    def progress(task, done, total, info):
        if done % 100 == 0 or done == total:
            print(f"epoch {done}/{total} {info} {time.strftime('%H:%M:%S')}", flush=True)

    t0 = time.perf_counter()
    rec.fit(train, dt=DT, progress=progress, validation=d["val"], on_checkpoint=on_checkpoint)
    wall = time.perf_counter() - t0
    hist = rec.train_.history
    epochs = np.array([h["epoch"] for h in hist])
    val = {k: np.array([h[k] for h in hist], dtype=np.float64) for k in ("dstsp", "dh", "lyapunov")}
    lam_data = hist[0]["lyapunov_data"]
    val["rel"] = np.abs(val["lyapunov"] / lam_data - 1.0)
    test = {k: np.array([t[k] for t in tests], dtype=np.float64) for k in ("dstsp", "dh", "lyap")}
    lam_test = args.lambda_data
    test["rel"] = np.abs(test["lyap"] / lam_test - 1.0)

    def clean(v):
        return np.where(np.isfinite(v), v, np.inf)

    scores = {
        "val D_stsp + 5 D_H + 5 lam, every 25": (
            clean(val["dstsp"] + 5 * val["dh"] + 5 * val["rel"]),
            25,
        ),
        f"val D_stsp + 5 D_H + 5 lam, every {args.eval_every}": (
            clean(val["dstsp"] + 5 * val["dh"] + 5 * val["rel"]),
            args.eval_every,
        ),
        "val D_stsp + 5 D_H, every 25": (clean(val["dstsp"] + 5 * val["dh"]), 25),
        f"val D_stsp + 5 D_H, every {args.eval_every}": (
            clean(val["dstsp"] + 5 * val["dh"]),
            args.eval_every,
        ),
        "val D_stsp, every 25": (clean(val["dstsp"]), 25),
        "ORACLE test D_stsp": (clean(test["dstsp"]), args.eval_every),
        "ORACLE test D_stsp + 5 D_H + 5 lam": (
            clean(test["dstsp"] + 5 * test["dh"] + 5 * test["rel"]),
            args.eval_every,
        ),
        "last checkpoint": (
            np.where(epochs[:, None] == epochs[-1], 0.0, np.inf) * np.ones_like(val["dstsp"]),
            args.eval_every,
        ),
    }
    rules = {}
    print(f"\ntraining {wall / 60:.1f} min wall (test evaluations {t_eval[0] / 60:.1f} min)")
    print(f"{'rule':>42} {'test D_stsp':>14} {'D_H':>14} {'lambda':>14} {'|lam/lam_d-1|':>13}")
    for name, (sc, every) in scores.items():
        mask = (epochs % every == 0)[:, None]
        pick = np.argmin(np.where(mask, sc, np.inf), axis=0)  # [R]
        cols = np.arange(sc.shape[1])
        ds, dh, lam = (test[k][pick, cols] for k in ("dstsp", "dh", "lyap"))
        rules[name] = {
            "epochs": epochs[pick].tolist(),
            "dstsp": ds.tolist(),
            "dh": dh.tolist(),
            "lyap": lam.tolist(),
        }

        def ms(v):
            return f"{np.mean(v):.3f}±{np.std(v, ddof=1) / np.sqrt(len(v)):.3f}"

        print(
            f"{name:>42} {ms(ds):>14} {ms(dh):>14} {ms(lam):>14} "
            f"{abs(np.mean(lam) / lam_test - 1):>13.3f}"
        )
    return {
        "settings": settings,
        "train_wall_s": wall,
        "eval_s": t_eval[0],
        "lambda_data_per_step_validation": lam_data,
        "lambda_data_test": lam_test,
        "epochs": epochs.tolist(),
        "validation": {k: v.tolist() for k, v in val.items()},
        "test": {k: v.tolist() for k, v in test.items()},
        "rules": rules,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    n = sub.add_parser("noise")
    n.add_argument("--models", required=True)
    n.add_argument("--starts", type=int, default=8)
    n.add_argument("--long", type=int, default=1_000_000)
    o = sub.add_parser("oracle")
    o.add_argument("--runs", type=int, default=10)
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--epochs", type=int, default=2000)
    o.add_argument("--M", type=int, default=20)
    o.add_argument("--tau", type=int, default=16)
    o.add_argument("--horizon-decay", type=float, default=0.8)
    o.add_argument("--lr-end", type=float, default=1e-5)
    o.add_argument("--eval-every", type=int, default=5)
    o.add_argument("--lambda-data", type=float, default=0.882, help="test data lambda_max")
    for p in (n, o):
        p.add_argument("--json-out", default=None)
    args = ap.parse_args()
    out = noise(args) if args.mode == "noise" else oracle(args)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json_out, "w") as f:
            json.dump(out, f)
        print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
