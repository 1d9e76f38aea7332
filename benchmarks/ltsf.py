"""LTSF-Linear and OLinear on the papers' protocol: ETTh1 (L=336) and ILI (L=104), one seed.

Prints a table of test MSE/MAE (standardized, all test windows) beside the papers' numbers and the
Repeat baseline, with time per epoch and per run, and writes JSON. `MSE/32` is the same model's MSE
on the test windows truncated to a multiple of 32, as the LTSF-Linear paper's test loader did
(drop_last=True); it is the column to compare with the paper where the window count matters (ILI).

    python benchmarks/ltsf.py                       # Linear, NLinear, DLinear on ETTh1 and ILI (CPU)
    python benchmarks/ltsf.py --olinear-only --device cuda   # OLinear, L=96, ETTh1 (use a GPU)

Reference numbers: LTSF-Linear paper Table 2 (multivariate, L=336, ILI L=104) and OLinear Table 1
(ETT average over ETTh1/ETTh2/ETTm1/ETTm2 and four horizons, L=96: 0.359 / 0.376).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tsdyn.datasets import load_table  # noqa: E402
from tsdyn.forecast import Forecaster, paper_preset  # noqa: E402

PAPER = {  # (dataset, model, H) -> (MSE, MAE), LTSF-Linear Table 2
    ("ETTh1", "linear", 96): (0.375, 0.397), ("ETTh1", "linear", 192): (0.418, 0.429),
    ("ETTh1", "linear", 336): (0.479, 0.476), ("ETTh1", "linear", 720): (0.624, 0.592),
    ("ETTh1", "nlinear", 96): (0.374, 0.394), ("ETTh1", "nlinear", 192): (0.408, 0.415),
    ("ETTh1", "nlinear", 336): (0.429, 0.427), ("ETTh1", "nlinear", 720): (0.440, 0.453),
    ("ETTh1", "dlinear", 96): (0.375, 0.399), ("ETTh1", "dlinear", 192): (0.405, 0.416),
    ("ETTh1", "dlinear", 336): (0.439, 0.443), ("ETTh1", "dlinear", 720): (0.472, 0.490),
    ("national_illness", "linear", 24): (1.947, 0.985), ("national_illness", "linear", 36): (2.182, 1.036),
    ("national_illness", "linear", 48): (2.256, 1.060), ("national_illness", "linear", 60): (2.390, 1.104),
    ("national_illness", "nlinear", 24): (1.683, 0.858), ("national_illness", "nlinear", 36): (1.703, 0.859),
    ("national_illness", "nlinear", 48): (1.719, 0.884), ("national_illness", "nlinear", 60): (1.819, 0.917),
    ("national_illness", "dlinear", 24): (2.215, 1.081), ("national_illness", "dlinear", 36): (1.963, 0.963),
    ("national_illness", "dlinear", 48): (2.130, 1.024), ("national_illness", "dlinear", 60): (2.368, 1.096),
}  # fmt: skip
OLINEAR_ETT_AVG = (0.359, 0.376)  # OLinear Table 1, ETT average (4 data sets x 4 horizons), L=96
HORIZONS = {"ETTh1": (96, 192, 336, 720), "national_illness": (24, 36, 48, 60)}


def run_one(table, model: str, horizon: int, device: str, seed: int) -> dict:
    s = paper_preset(model, table.name, horizon)
    kwargs = {k: s[k] for k in ("d_model", "d_ff", "e_layers", "dropout", "embed_size") if k in s}
    f = Forecaster(
        model,
        s["seq_len"],
        horizon,
        epochs=s["epochs"],
        batch_size=s["batch_size"],
        lr=s["lr"],
        patience=s["patience"],
        lr_schedule=s["lr_schedule"],
        loss=s.get("loss"),
        model_kwargs=kwargs or None,
        seed=seed,
        device=device,
    )
    tick = time.perf_counter()
    f.fit(table)
    ev = f.evaluate()
    seconds = time.perf_counter() - tick
    paper = PAPER.get((table.name, model, horizon))
    tr = f.train_result_
    return {
        "data": table.name,
        "model": model,
        "H": horizon,
        "L": s["seq_len"],
        "mse": ev["mse"],
        "mae": ev["mae"],
        "mse_paper_protocol_drop_last": f.evaluate(truncate_to=32)["mse"],
        "windows": ev["windows"],
        "repeat_mse": ev["repeat"]["mse"],
        "repeat_mae": ev["repeat"]["mae"],
        "paper_mse": None if paper is None else paper[0],
        "paper_mae": None if paper is None else paper[1],
        "rel_diff_mse": None if paper is None else (ev["mse"] - paper[0]) / paper[0],
        "epochs": len(tr.history),
        "best_epoch": tr.best_epoch,
        "seconds_per_epoch": tr.seconds / len(tr.history),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--models", default="linear,nlinear,dlinear")
    parser.add_argument("--datasets", default="ETTh1,national_illness")
    parser.add_argument("--olinear", action="store_true", help="also run OLinear on ETTh1 (L=96)")
    parser.add_argument("--olinear-only", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--seeds", default="2021", help="comma-separated; the first is the headline seed"
    )
    parser.add_argument(
        "--json-out", type=Path, default=REPO / "benchmarks" / "results" / "ltsf.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    jobs = []
    if not args.olinear_only:
        for name in args.datasets.split(","):
            jobs += [(name, m, h) for m in args.models.split(",") for h in HORIZONS[name]]
    if args.olinear or args.olinear_only:
        jobs += [("ETTh1", "olinear", h) for h in HORIZONS["ETTh1"]]
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(*job, seed) for job in jobs for seed in seeds]
    tables = {}
    rows = []
    print(
        f"{'data':<17}{'model':<8}{'L':>4}{'H':>5}{'MSE':>8}{'MAE':>8}{'MSE/32':>8}{'paper':>14}{'diff':>8}"
        f"{'repeat':>8}{'ep':>4}{'s/ep':>7}{'s':>7}",
        flush=True,
    )
    for name, model, h, seed in jobs:
        path = args.data_dir / f"{name}.csv"
        if not path.is_file():
            print(f"skip {name}: {path} is absent (the benchmark CSVs live in ../shared/data)")
            continue
        table = tables.setdefault(name, load_table(path))
        r = {**run_one(table, model, h, args.device, seed), "seed": seed}
        rows.append(r)
        paper = "" if r["paper_mse"] is None else f"{r['paper_mse']:.3f}/{r['paper_mae']:.3f}"
        diff = "" if r["rel_diff_mse"] is None else f"{100 * r['rel_diff_mse']:+.1f}%"
        print(
            f"{name:<17}{model:<8}{r['L']:>4}{h:>5}{r['mse']:>8.4f}{r['mae']:>8.4f}{r['mse_paper_protocol_drop_last']:>8.4f}{paper:>14}{diff:>8}"
            f"{r['repeat_mse']:>8.3f}{r['epochs']:>4}{r['seconds_per_epoch']:>7.2f}{r['seconds']:>7.1f}",
            flush=True,
        )
    summary = {}
    if len(seeds) > 1:
        for key in sorted({(r["data"], r["model"], r["H"]) for r in rows}):
            mses = sorted(r["mse"] for r in rows if (r["data"], r["model"], r["H"]) == key)
            paper = PAPER.get(key)
            med = mses[len(mses) // 2]
            summary["median_mse/" + "/".join(map(str, key))] = med
            print(
                f"median over seeds {key}: {med:.4f} (min {mses[0]:.4f}, max {mses[-1]:.4f})"
                + (
                    ""
                    if paper is None
                    else f", paper {paper[0]:.3f}, {100 * (med - paper[0]) / paper[0]:+.1f}%"
                )
            )
    for model in {r["model"] for r in rows}:
        etth1 = [
            r
            for r in rows
            if r["model"] == model and r["data"] == "ETTh1" and r["seed"] == seeds[0]
        ]
        if len(etth1) == 4:
            summary[f"{model}_etth1_total_seconds"] = sum(r["seconds"] for r in etth1)
            summary[f"{model}_etth1_avg_mse"] = sum(r["mse"] for r in etth1) / 4
            summary[f"{model}_etth1_avg_mae"] = sum(r["mae"] for r in etth1) / 4
    if "olinear_etth1_avg_mse" in summary:
        summary["olinear_paper_ett_avg"] = OLINEAR_ETT_AVG
    for k, v in summary.items():
        print(f"{k}: {v}")
    doc = {
        "machine": platform.platform(),
        "device": args.device,
        "threads": args.threads,
        "torch": torch.__version__,
        "seeds": [int(s) for s in args.seeds.split(",")],
        "rows": rows,
        "summary": summary,
    }
    if args.device.startswith("cuda"):
        doc["gpu"] = torch.cuda.get_device_name()
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(doc, indent=2))
    print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
