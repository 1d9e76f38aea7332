"""TiVy-R (`tsdyn summarize`) against the straightforward DTW clustering of the same cells.

Data: `planted_motifs` (6 motifs on smoothed-noise backgrounds, windows of w = 32) at about 10^3,
10^4 and 10^5 cells (cells = series x windows). TiVy-R runs with its defaults (global alphabet,
band 0.1, delta 0.5, one refinement pass, the representative index), with `refine=0`, and, up to
`--scan-max` cells, with `index=False` (the previous one-by-one search: the "before" column; its
symbols must equal the indexed run's, which the benchmark checks). What is timed is `TiVy.fit`,
the whole summariser from the raw table to the groups (normalisation, symbols, mining, grouping,
group statistics) and nothing else: no CSV parsing and no chart rendering (the CLI draws the
charts and writes the files after `fit`), as the baseline renders nothing either.

Baseline (research note sec. 2.3 / 2.5): DTW between all pairs of cells, then average-linkage
clustering cut at the same eps (scipy). Its DTW is timed twice:
- "full": unconstrained DTW through dtaidistance `distance_matrix_fast(parallel=True)`, the
  straightforward version (w^2 cells per pair). Timed on the whole matrix at 10^3 cells; at larger
  sizes on `--sample` random cells, and its wall time is projected as pairs / measured rate.
  Baseline time = that DTW time + the measured linkage.
- "banded": tsdyn's own `cdist_dtw` with the same radius as TiVy-R (the strongest baseline);
  its matrix feeds the clustering and the ARI. Run once, up to `--max-baseline` cells.
ARI: cells labelled by group (TiVy-R) or cluster (baseline), against the planted motifs; unlabelled
cells (TiVy residual, singleton clusters, planted background) count as singletons (`planted_ari`).

The 2-vCPU machine is shared, so the speed of both sides moves with its load. The timings are
therefore interleaved: each of `--repeat` rounds times TiVy-R, then the dtaidistance sample, then
the linkage, back to back in this process, and records the load average and TiVy-R's CPU time.
Reported: the median of each, the ratio of the medians, and the smallest and largest ratio of one
round (a round's ratio compares timings taken under the same load).

    .venv/bin/python benchmarks/tivy.py                       # 10^3, 10^4, 10^5 cells (~5 min)
    .venv/bin/python benchmarks/tivy.py --sizes 1000 --repeat 3   # quick
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsdyn.datasets.motifs import planted_motifs
from tsdyn.kernels.dtw import cdist_dtw
from tsdyn.kernels.dtw.gpu import band_cells
from tsdyn.summarize import TiVy, planted_ari

SHAPES = {1000: (50, 20), 10_000: (200, 50), 100_000: (1000, 100)}  # cells -> (series, windows)
W = 32


def cells_of(tv) -> np.ndarray:
    """[M * n_windows, w] cells in series-major order (cell s = i * n_windows + k)."""
    return np.ascontiguousarray(tv.normalized_.T.reshape(-1, tv.window_))


def baseline_clusters(D: np.ndarray, eps: float) -> np.ndarray:
    """Average linkage on a full distance matrix, cut at eps; labels (0 = singleton)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    Z = linkage(squareform(D, checks=False), method="average")
    labels = fcluster(Z, t=eps, criterion="distance")
    sizes = np.bincount(labels)
    return np.where(sizes[labels] > 1, labels, 0)


def timed(fn):
    """(wall seconds, process CPU seconds, result)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def median(xs) -> float:
    return float(statistics.median(xs))


def run_size(n_cells: int, args) -> dict:
    M, K = SHAPES[n_cells]
    data = planted_motifs(n_series=M, n_windows=K, window=W, seed=args.seed)
    values = data.table.values
    truth = data.labels
    rounds = args.repeat if n_cells <= 10_000 else max(1, args.repeat_large)

    tv = TiVy(window=W).fit(values)  # untimed: first touch of this size's arrays
    tv0 = TiVy(window=W, refine=0).fit(values)
    C = cells_of(tv)
    N = len(C)
    pairs = N * (N - 1) // 2
    row = {
        "cells": n_cells,
        "series": M,
        "windows": K,
        "w": W,
        "radius": tv.radius_,
        "rounds": rounds,
        "tivy_dtw_cells": tv.counters_["dtw_cells"],
        "tivy_ari": round(planted_ari(truth, tv.cell_labels()), 4),
        "tivy_ari_background_class": round(planted_ari(truth, tv.cell_labels(), "class"), 4),
        "alphabet": tv.alphabet_size_,
        "groups": len(tv.groups_),
        "counters": tv.counters_,
        "timings": {k: round(v, 4) for k, v in tv.timings_.items()},
        "tivy_refine0_dtw_cells": tv0.counters_["dtw_cells"],
        "tivy_refine0_ari": round(planted_ari(truth, tv0.cell_labels()), 4),
        "tivy_refine0_ari_background_class": round(
            planted_ari(truth, tv0.cell_labels(), "class"), 4
        ),
        "tivy_refine0_groups": len(tv0.groups_),
        "baseline_full_dtw_cells": pairs * W * W,
        "baseline_band_dtw_cells": pairs * band_cells(W, W, tv.radius_, tv.radius_),
    }
    scan = n_cells <= args.scan_max
    if scan:  # the previous search: identical results, checked here
        ts = TiVy(window=W, index=False).fit(values)
        row["scan_identical"] = bool(
            (ts.symbols_ == tv.symbols_).all()
            and (ts.cell_distance_ == tv.cell_distance_).all()
            and (ts.assignment_ == tv.assignment_).all()
        )
        row["scan_dtw_cells"] = ts.counters_["dtw_cells"]

    D = None
    if N <= args.max_baseline:
        wall, _, D = timed(lambda: cdist_dtw(C, None, tv.radius_))
        row["baseline_band_dtw_s"] = round(wall, 3)
        labels = baseline_clusters(D, tv.eps_)
        row["baseline_ari"] = round(planted_ari(truth.reshape(-1), labels), 4)
        row["baseline_ari_background_class"] = round(
            planted_ari(truth.reshape(-1), labels, "class"), 4
        )
        row["baseline_clusters"] = len(np.unique(labels[labels > 0]))
    else:
        row["baseline_note"] = (
            f"no linkage above {args.max_baseline} cells (a matrix of {pairs:.2e} pairs): "
            "the baseline time is its projected DTW alone"
        )

    try:
        from dtaidistance import dtw as dtai
    except ImportError:
        dtai = None
    whole = N <= args.sample
    sample = C if whole else C[np.random.default_rng(0).choice(N, args.sample, replace=False)]
    sample_cells = len(sample) * (len(sample) - 1) // 2 * W * W
    if dtai is not None:
        dtai.distance_matrix_fast(sample[:8], parallel=True)

    per_round = []
    for _ in range(rounds):
        rec = {"load_before": load1()}
        rec["tivy_s"], rec["tivy_cpu_s"], _ = timed(lambda: TiVy(window=W).fit(values))
        rec["refine0_s"], _, _ = timed(lambda: TiVy(window=W, refine=0).fit(values))
        if scan:
            rec["scan_s"], _, _ = timed(lambda: TiVy(window=W, index=False).fit(values))
        if dtai is not None:
            sec, _, _ = timed(lambda: dtai.distance_matrix_fast(sample, parallel=True))
            rec["dtai_Mcells_s"] = sample_cells / sec / 1e6
            rec["base_full_dtw_s"] = row["baseline_full_dtw_cells"] / (sample_cells / sec)
        if D is not None:
            rec["linkage_s"], _, _ = timed(lambda: baseline_clusters(D, tv.eps_))
        if dtai is not None:
            rec["base_full_s"] = rec["base_full_dtw_s"] + rec.get("linkage_s", 0.0)
            rec["ratio"] = rec["base_full_s"] / rec["tivy_s"]
        if D is not None:
            rec["base_band_s"] = row["baseline_band_dtw_s"] + rec["linkage_s"]
        rec["load_after"] = load1()
        per_round.append({k: round(v, 4) for k, v in rec.items()})
    row["per_round"] = per_round
    row["load_range"] = [
        min(r["load_before"] for r in per_round),
        max(r["load_after"] for r in per_round),
    ]
    for key in ("tivy_s", "tivy_cpu_s", "refine0_s", "scan_s", "dtai_Mcells_s", "linkage_s"):
        if key in per_round[0]:
            row[key] = round(median([r[key] for r in per_round]), 4)
    for key in ("base_full_dtw_s", "base_full_s", "base_band_s"):
        if key in per_round[0]:
            row[key] = round(median([r[key] for r in per_round]), 3)
    row["dtai_measured_on"] = "whole matrix" if whole else f"{args.sample} random cells"
    if "base_full_s" in row:
        row["speedup_full"] = round(row["base_full_s"] / row["tivy_s"], 1)  # ratio of medians
        ratios = [r["ratio"] for r in per_round]
        row["speedup_full_round_min"] = round(min(ratios), 1)
        row["speedup_full_round_max"] = round(max(ratios), 1)
        row["speedup_full_refine0"] = round(row["base_full_s"] / row["refine0_s"], 1)
        if scan:
            row["speedup_full_scan"] = round(row["base_full_s"] / row["scan_s"], 1)
    if "base_band_s" in row:
        row["speedup_band"] = round(row["base_band_s"] / row["tivy_s"], 1)
    if scan:
        row["index_speedup"] = round(row["scan_s"] / row["tivy_s"], 2)
    row["cell_ratio_full"] = round(row["baseline_full_dtw_cells"] / max(1, row["tivy_dtw_cells"]))
    row["cell_ratio_band"] = round(row["baseline_band_dtw_cells"] / max(1, row["tivy_dtw_cells"]))
    row["cell_ratio_full_refine0"] = round(
        row["baseline_full_dtw_cells"] / max(1, row["tivy_refine0_dtw_cells"])
    )
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000], choices=sorted(SHAPES)
    )
    p.add_argument("--sample", type=int, default=1500, help="cells in the dtaidistance timing")
    p.add_argument("--max-baseline", type=int, default=10_000, help="largest baseline clustering")
    p.add_argument("--scan-max", type=int, default=10_000, help="largest run of index=False")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=5, help="interleaved rounds up to 10^4 cells")
    p.add_argument("--repeat-large", type=int, default=3, help="rounds at 10^5 cells")
    p.add_argument("--json-out", type=Path, default=None)
    args = p.parse_args()
    warm = planted_motifs(n_series=10, n_windows=4, window=W, n_motifs=1)
    TiVy(window=W).fit(warm.table.values)
    TiVy(window=W, index=False).fit(warm.table.values)
    cdist_dtw(np.zeros((3, W)), None, 4)
    result = {
        "cpu_count": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "rows": [],
    }
    skip = ("counters", "timings", "per_round")
    for n in args.sizes:
        row = run_size(n, args)
        result["rows"].append(row)
        print(json.dumps({k: v for k, v in row.items() if k not in skip}), flush=True)
    result["loadavg_after"] = os.getloadavg()
    result["finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    print()
    print(
        f"{'cells':>7} {'TiVy s':>7} {'scan s':>7} {'DTW cells':>10} {'x fewer':>7} {'ARI':>6} "
        f"{'base ARI':>8} {'base full s':>11} {'x faster':>8} {'round min-max':>13} "
        f"{'base band s':>11} {'x faster':>8} {'load':>9}"
    )
    nan = math.nan
    for r in result["rows"]:
        span = (
            f"{r['speedup_full_round_min']:.0f}-{r['speedup_full_round_max']:.0f}"
            if "speedup_full_round_min" in r
            else "-"
        )
        print(
            f"{r['cells']:>7} {r['tivy_s']:>7.3f} {r.get('scan_s', nan):>7.3f} "
            f"{r['tivy_dtw_cells']:>10.3g} {r['cell_ratio_full']:>7.0f} {r['tivy_ari']:>6.3f} "
            f"{r.get('baseline_ari', nan):>8.3f} {r.get('base_full_s', nan):>11.1f} "
            f"{r.get('speedup_full', nan):>8.0f} {span:>13} {r.get('base_band_s', nan):>11.2f} "
            f"{r.get('speedup_band', nan):>8.1f} {r['load_range'][0]:>4.1f}-{r['load_range'][1]:<4.1f}"
        )
    out = args.json_out or Path(__file__).parent / "results" / "tivy.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
