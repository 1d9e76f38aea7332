"""Diagnostics of the AL-RNN's Lorenz-63 failure mode (issue 6, third session): is the centre
saddle's bias (z = -1.5 instead of -2.74 in training z-scores) a limit of 3-region piecewise-linear
maps or of how they are trained?

1. Direct one-step least squares of 3-region piecewise-linear maps in the observed space (no RNN):
   three affine maps x_{t+1} = A_k x_t + b_k, regions by u = x + y against +-c (a wing/centre
   partition). "discontinuous": each region's map fitted separately; "continuous": one
   regression on [x, 1, relu(u - c), relu(-u - c)] (the AL-RNN's ReLU form, 3 observed units).
   Reports the centre fixed point and the free run's D_stsp / D_H against the test trajectory.
2. The same discontinuous fit with Gaussian noise of SD s on the fitted series (inputs and
   targets, as the training windows get it): errors-in-variables attenuation.
3. Missed-mass decomposition of D_stsp: truth cells a free run never visits, their share of the
   test mass and of D_stsp, split by where they lie (z < -1.5: dives; z > 1.8 or |x| > 1.8: edges).

    python benchmarks/reconstruct_diag.py [--models benchmarks/results/reconstruct_lorenz63_tau12_model]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsdyn.datasets.systems import simulate
from tsdyn.reconstruct import ALRNNReconstructor
from tsdyn.reconstruct import metrics as met


def fit_discontinuous(x: np.ndarray, c: float) -> list[np.ndarray]:
    """Affine map per region of u = x + y (< -c, |u| <= c, > c): [4, 3] coefficients each."""
    X, Y = x[:-1], x[1:]
    u = X[:, 0] + X[:, 1]
    maps = []
    for m in (u < -c, np.abs(u) <= c, u > c):
        coef, *_ = np.linalg.lstsq(np.c_[X[m], np.ones(m.sum())], Y[m], rcond=None)
        maps.append(coef)
    return maps


def run_discontinuous(maps, c, x0, steps) -> np.ndarray | None:
    out = np.empty((steps, 3))
    s = x0.copy()
    for t in range(steps):
        u = s[0] + s[1]
        k = 0 if u < -c else (1 if u <= c else 2)
        s = np.r_[s, 1.0] @ maps[k]
        out[t] = s
        if not np.all(np.isfinite(s)) or np.abs(s).max() > 1e3:
            return None
    return out


def _hinge(X, c):
    u = X[:, 0] + X[:, 1]
    return np.c_[X, np.ones(len(X)), np.maximum(u - c, 0.0), np.maximum(-u - c, 0.0)]


def run_continuous(coef, c, x0, steps) -> np.ndarray | None:
    out = np.empty((steps, 3))
    s = x0.copy()
    for t in range(steps):
        s = _hinge(s[None], c)[0] @ coef
        out[t] = s
        if not np.all(np.isfinite(s)) or np.abs(s).max() > 1e3:
            return None
    return out


def missed_mass(B: met.BinnedDstsp, g: np.ndarray) -> dict:
    a = B.alpha
    ct, cg = B.true, B._count(g)
    p = (ct + a) / (ct.sum() + a * B.n_cells)
    q = (cg + a) / (cg.sum() + a * B.n_cells)
    term = p * np.log(p / q)
    miss = (ct > 0) & (cg == 0)
    idx = np.flatnonzero(miss)
    kz, kx = idx % B.n_bins, idx // B.n_bins**2
    zc = B.lo[2] + (kz + 0.5) * B.width[2]
    xc = B.lo[0] + (kx + 0.5) * B.width[0]
    pm = p[idx]
    return {
        "dstsp": float(term.sum()),
        "missed_cells": int(miss.sum()),
        "missed_mass": float(ct[miss].sum() / ct.sum()),
        "missed_dstsp": float(term[miss].sum()),
        "share_dives_z_lt_-1.5": float(pm[zc < -1.5].sum() / pm.sum()),
        "share_top_z_gt_1.8": float(pm[zc > 1.8].sum() / pm.sum()),
        "share_outer_absx_gt_1.8": float(pm[np.abs(xc) > 1.8].sum() / pm.sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", default="benchmarks/results/reconstruct_lorenz63_tau12_model")
    ap.add_argument("--runs", default="0,4,9")
    ap.add_argument("--json-out", default="benchmarks/results/reconstruct_diag.json")
    args = ap.parse_args()
    train = simulate("lorenz63", 100_000, seed=0).values
    test = simulate("lorenz63", 100_000, seed=1).values
    mu, sd = train.mean(0), train.std(0)
    x, xt = (train - mu) / sd, (test - mu) / sd
    B = met.BinnedDstsp(xt, 30)
    steps = 101_000
    out: dict = {"true_saddle_z": float(-mu[2] / sd[2]), "fits": [], "noise": [], "models": []}
    print(f"true centre saddle z = {out['true_saddle_z']:.2f} (training z-scores)")

    def report(kind, c, g, fp, extra=None):
        row = {
            "kind": kind,
            "c": c,
            "centre_fixed_point": np.round(fp, 3).tolist(),
            **(extra or {}),
        }
        if g is None:
            row["diverged"] = True
            print(f"{kind:>14} c {c}: centre fp {np.round(fp, 2)}  free run diverged")
        else:
            g = g[1000:]
            row.update(
                dh=float(met.hellinger_spectrum(xt, g, 20)),
                z_min=float(g[:, 2].min()),
                z_max=float(g[:, 2].max()),
                **missed_mass(B, g),
            )
            print(
                f"{kind:>14} c {c}: centre fp {np.round(fp, 2)}  D_stsp {row['dstsp']:.2f} D_H "
                f"{row['dh']:.3f} z {row['z_min']:.2f}..{row['z_max']:.2f} missed mass "
                f"{row['missed_mass']:.3f} (dives {row['share_dives_z_lt_-1.5']:.2f})"
            )
        return row

    for c in (0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0):
        maps = fit_discontinuous(x, c)
        fp = np.linalg.solve(np.eye(3) - maps[1][:3].T, maps[1][3])
        out["fits"].append(report("discontinuous", c, run_discontinuous(maps, c, xt[0], steps), fp))
    for c in (0.0, 0.4, 0.8):
        coef, *_ = np.linalg.lstsq(_hinge(x[:-1], c), x[1:], rcond=None)
        fp = np.linalg.solve(np.eye(3) - coef[:3].T, coef[3])  # the centre region: hinges off
        out["fits"].append(report("continuous", c, run_continuous(coef, c, xt[0], steps), fp))
    rng = np.random.default_rng(0)
    for s in (0.0, 0.01, 0.05, 0.1):
        xn = x + rng.normal(0.0, s, x.shape)
        maps = fit_discontinuous(xn, 0.8)
        fp = np.linalg.solve(np.eye(3) - maps[1][:3].T, maps[1][3])
        g = run_discontinuous(maps, 0.8, xt[0], steps)
        out["noise"].append(report(f"noise {s}", 0.8, g, fp, {"noise": s}))
    if args.models and Path(args.models).exists():
        rec = ALRNNReconstructor.load(args.models)
        Z = rec.simulate_states(100_000, test[0], 1000)
        for r in (int(v) for v in args.runs.split(",")):
            mm = missed_mass(B, Z[r, :, :3])
            out["models"].append({"folder": args.models, "run": r, **mm})
            print(
                f"model run {r}: D_stsp {mm['dstsp']:.2f}, missed cells {mm['missed_cells']}, "
                f"mass {mm['missed_mass']:.3f} -> {mm['missed_dstsp']:.2f}; dives "
                f"{mm['share_dives_z_lt_-1.5']:.2f}, top {mm['share_top_z_gt_1.8']:.2f}, outer "
                f"{mm['share_outer_absx_gt_1.8']:.2f}"
            )
    from tsdyn.outputs import write_json

    write_json(Path(args.json_out), out)
    print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
