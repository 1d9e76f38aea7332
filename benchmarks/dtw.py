"""All-pairs banded DTW throughput: tsdyn (numba CPU, Triton GPU) beside dtaidistance and tslearn.

Work: the upper triangle of the DTW matrix of N z-normalised random walks of length L with a
Sakoe-Chiba radius r = int(band * L) (dtaidistance `window = r + 1`). Throughput is counted in DP
cells: pairs * (L (2r + 1) - r (r + 1)) per second (Mcells/s on the CPU, Gcells/s on the GPU), and
every figure is a ratio to dtaidistance measured in the same run (the 2-core dev machine is shared).

    .venv/bin/python benchmarks/dtw.py                      # N=1000, L=128, 10% band, CPU
    PYTHONPATH=. python3 benchmarks/dtw.py --gpu-only       # on a CUDA machine: check + Gcells/s
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsdyn.kernels.dtw import cdist_dtw
from tsdyn.kernels.dtw.gpu import band_cells


def random_walks(n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.cumsum(rng.standard_normal((n, length)), axis=1)
    return (X - X.mean(1, keepdims=True)) / X.std(1, keepdims=True)


def timed(fn, repeat: int = 1):
    """(result, best wall seconds, cpu seconds of the best run)."""
    best = None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or wall < best[1]:
            best = (out, wall, cpu)
    return best


def cpu_rows(args, X, r: int) -> list[dict]:
    N, L = X.shape
    cells = band_cells(L, L, r, r)
    iu = np.triu_indices(N, 1)
    rows = []

    def add(name, n_series, wall, cpu, ref=None, out=None):
        pairs = n_series * (n_series - 1) // 2
        row = {
            "method": name,
            "N": n_series,
            "wall_s": round(wall, 4),
            "cpu_s": round(cpu, 3),
            "cores": round(cpu / wall, 2),
            "Mcells_s": round(pairs * cells / wall / 1e6, 1),
        }
        if ref is not None:
            row["max_abs_err"] = float(np.abs(out - ref).max())
        rows.append(row)

    cdist_dtw(X[:10], None, r)  # numba compile / load
    D, wall, cpu = timed(lambda: cdist_dtw(X, None, r), args.repeat)
    add("tsdyn cdist_dtw (numba, all threads)", N, wall, cpu)
    ref = D[iu]
    try:
        from dtaidistance import dtw as dtai
    except ImportError:
        print("dtaidistance is not installed: its rows are skipped (pip install dtaidistance)")
        dtai = None
    if dtai is not None:
        dtai.distance_matrix_fast(X[:10], window=r + 1, parallel=True)
        for parallel in (True, False):
            if not parallel and args.quick:
                continue
            M, wall, cpu = timed(
                lambda p=parallel: dtai.distance_matrix_fast(X, window=r + 1, parallel=p),
                args.repeat,
            )
            add(
                f"dtaidistance distance_matrix_fast ({'OpenMP' if parallel else 'serial'})",
                N,
                wall,
                cpu,
                ref,
                M[iu],
            )
    from tslearn.metrics import cdist_dtw as tsl_cdist

    n_tsl = min(N, args.tslearn_n)
    Xs = X[:n_tsl, :, None]
    tsl_cdist(Xs[:5], global_constraint="sakoe_chiba", sakoe_chiba_radius=r, n_jobs=1)
    T, wall, cpu = timed(
        lambda: tsl_cdist(Xs, global_constraint="sakoe_chiba", sakoe_chiba_radius=r, n_jobs=1)
    )
    sub = np.triu_indices(n_tsl, 1)
    add(
        f"tslearn cdist_dtw (n_jobs=1, N={n_tsl})", n_tsl, wall, cpu, D[:n_tsl, :n_tsl][sub], T[sub]
    )
    base = next((row["Mcells_s"] for row in rows if "OpenMP" in row["method"]), None)
    for row in rows:
        row["x_dtaidistance"] = round(row["Mcells_s"] / base, 2) if base else None
    return rows


def gpu_rows(args, r: int) -> list[dict]:
    import torch

    from tsdyn.kernels.dtw.gpu import cdist_dtw_gpu, pairs_dtw_gpu

    dev = torch.device("cuda")
    rows = []
    # correctness against numba float64 on fresh inputs: equal and unequal lengths, band and none
    rng = np.random.default_rng(args.seed + 1)
    for n, m, w in ((128, 128, r), (97, 131, 5), (64, 50, None), (33, 33, 0)):
        A, B = rng.standard_normal((300, n)).cumsum(1), rng.standard_normal((200, m)).cumsum(1)
        ref = cdist_dtw(A, B, w)
        got = cdist_dtw(torch.tensor(A, device=dev), torch.tensor(B, device=dev), w)
        rel = float(np.linalg.norm(got.cpu().double().numpy() - ref) / np.linalg.norm(ref))
        rows.append({"check": f"triton vs numba n={n} m={m} r={w}", "rel_err": rel})
        print(rows[-1], flush=True)
    L = args.length
    cells = band_cells(L, L, r, r)
    for N in args.gpu_n:
        X = torch.tensor(random_walks(N, L, args.seed), device=dev, dtype=torch.float32)
        Xt = X.T.contiguous()
        ia, ib = torch.triu_indices(N, N, 1, device=dev)
        for backend in ("triton", "torch"):
            if backend == "torch" and N > 1000:
                continue
            pairs_dtw_gpu(Xt, Xt, ia[:1024], ib[:1024], r, r, backend)
            times = []
            for _ in range(args.repeat_gpu):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(True)
                start.record()
                pairs_dtw_gpu(Xt, Xt, ia, ib, r, r, backend)
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
            sec = statistics.median(times)
            pairs = ia.shape[0]
            rows.append(
                {
                    "method": f"tsdyn gpu ({backend}, float32)",
                    "N": N,
                    "pairs": pairs,
                    "seconds": round(sec, 5),
                    "Gcells_s": round(pairs * cells / sec / 1e9, 1),
                    "device": torch.cuda.get_device_name(dev),
                }
            )
            print(rows[-1], flush=True)
    D = cdist_dtw_gpu(X[:1000], None, r, r)
    ref = cdist_dtw(X[:1000].double().cpu().numpy(), None, r)
    rows.append(
        {
            "check": "triton N=1000 matrix vs numba",
            "rel_err": float(np.linalg.norm(D.double().cpu().numpy() - ref) / np.linalg.norm(ref)),
        }
    )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000, help="series (CPU matrix)")
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--band", type=float, default=0.1, help="radius as a fraction of the length")
    p.add_argument("--tslearn-n", type=int, default=300, help="tslearn is timed on the first N")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="skip the serial dtaidistance run")
    p.add_argument("--gpu-only", action="store_true", help="only the CUDA checks and timings")
    p.add_argument("--gpu-n", type=int, nargs="+", default=[1000, 8192])
    p.add_argument("--repeat-gpu", type=int, default=5)
    p.add_argument("--json-out", type=Path, default=None)
    args = p.parse_args()
    r = int(args.band * args.length)
    result = {
        "N": args.n,
        "length": args.length,
        "radius": r,
        "cells_per_pair": band_cells(args.length, args.length, r, r),
        "cpu_count": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
    }
    if not args.gpu_only:
        rows = cpu_rows(args, random_walks(args.n, args.length, args.seed), r)
        result["cpu"] = rows
        print(f"\nall-pairs DTW, N={args.n}, L={args.length}, radius {r} (upper triangle)")
        print(f"{'method':<52} {'N':>5} {'wall s':>8} {'cores':>6} {'Mcells/s':>9} {'x dtai':>7}")
        for row in rows:
            print(
                f"{row['method']:<52} {row['N']:>5} {row['wall_s']:>8.3f} {row['cores']:>6.2f} "
                f"{row['Mcells_s']:>9.1f} {row['x_dtaidistance'] or float('nan'):>7.2f}"
            )
    import torch

    if torch.cuda.is_available():
        result["gpu"] = gpu_rows(args, r)
        for row in result["gpu"]:
            print(row)
    elif args.gpu_only:
        print("no CUDA device: nothing to do")
    out = args.json_out or Path(__file__).parent / "results" / "dtw.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
