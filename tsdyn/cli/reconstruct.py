"""`tsdyn reconstruct`: AL-RNN dynamical-systems reconstruction with symbolic codes (issue 6)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from tsdyn.cli._common import (
    ColumnsOpt,
    DeviceOpt,
    JsonOpt,
    OutOpt,
    OverwriteOpt,
    QuietOpt,
    SeedOpt,
    ThreadsOpt,
    start_run,
)

_SYSTEMS = ("lorenz63", "rossler", "lorenz96")
_TRAIN = "Training"


class Preset(StrEnum):
    auto = "auto"
    lorenz63 = "lorenz63"
    lorenz63_paper = "lorenz63-paper"
    rossler = "rossler"
    lorenz96 = "lorenz96"
    none = "none"


class Forcing(StrEnum):
    stf = "stf"
    gtf = "gtf"


class SelectOn(StrEnum):
    train = "train"
    validation = "validation"


def register(app: typer.Typer) -> None:
    app.command("reconstruct")(reconstruct)


def _opt(help_: str, panel: str = _TRAIN, *names: str):
    return typer.Option(*names, help=help_, rich_help_panel=panel, show_default=True)


def reconstruct(
    data: Annotated[
        str,
        typer.Argument(
            help="A built-in system (lorenz63, rossler, lorenz96) or a CSV/Parquet trajectory."
        ),
    ] = "lorenz63",
    preset: Annotated[
        Preset,
        _opt("Recipe: auto (the system's own, if any), a system's name, or none (defaults)."),
    ] = Preset.auto,
    M: Annotated[int | None, _opt("Latent units (preset: 20).", _TRAIN, "--M")] = None,
    P: Annotated[
        int | None, _opt("ReLU units, the last P of M; 0 = linear (preset).", _TRAIN, "--P")
    ] = None,
    epochs: Annotated[int | None, _opt("Epochs (preset: 2000 / 3000).")] = None,
    runs: Annotated[int, _opt("Independent runs (seeds seed..seed+runs-1), trained together.")] = 1,
    batches_per_epoch: Annotated[int | None, _opt("Batches per epoch (50).")] = None,
    window: Annotated[int | None, _opt("Training window length T~ (preset).")] = None,
    tau: Annotated[int | None, _opt("Sparse teacher-forcing interval (preset).")] = None,
    forcing: Annotated[
        Forcing, _opt("stf: sparse identity TF; gtf: generalised TF.")
    ] = Forcing.stf,
    alpha: Annotated[
        float | None, _opt("GTF weight (default: adaptive).", _TRAIN, "--alpha")
    ] = None,
    alpha_end: Annotated[
        float | None, _opt("GTF: anneal alpha geometrically to this value.", _TRAIN, "--alpha-end")
    ] = None,
    tau_end: Annotated[
        int | None, _opt("STF: grow tau linearly to this value over the epochs.")
    ] = None,
    lr_start: Annotated[float | None, _opt("RAdam start learning rate (preset).")] = None,
    lr_end: Annotated[float | None, _opt("Final learning rate, geometric decay (1e-5).")] = None,
    noise: Annotated[float | None, _opt("Noise SD added to training windows (0.05).")] = None,
    eval_every: Annotated[
        int | None, _opt("Epochs between model-selection free runs (25).")
    ] = None,
    eval_every_late: Annotated[
        int | None, _opt("Epochs between selection free runs in the second half (preset).")
    ] = None,
    select_dh: Annotated[
        float | None, _opt("Selection score = D_stsp + this x D_H (paper: 0).")
    ] = None,
    select_lyap: Annotated[
        float | None, _opt("... + this x |lambda_max / lambda_max(data) - 1| (paper: 0).")
    ] = None,
    select_on: Annotated[
        SelectOn,
        _opt(
            "Selection free runs against the training series (paper) or a validation trajectory"
            " (systems: a third initial condition; files: the training rows' last part)."
        ),
    ] = SelectOn.train,
    ema: Annotated[
        float | None, _opt("Parameter moving-average decay per batch, 0 = off (preset).")
    ] = None,
    balance: Annotated[
        float | None, _opt("Share of windows drawn by rarity of their states (preset).")
    ] = None,
    horizon_decay: Annotated[
        float | None, _opt("STF loss weight d^(k-1) k steps after forcing; 1 = off (preset).")
    ] = None,
    burn_in: Annotated[
        int | None, _opt("Steps forced every step before each window, without loss (0).")
    ] = None,
    tail: Annotated[
        int | None, _opt("Free-run steps after each window's last forcing, in the loss (0).")
    ] = None,
    tail_weight: Annotated[float | None, _opt("Loss weight of the tail steps (1).")] = None,
    train_steps: Annotated[
        int | None,
        _opt("Training points (systems: 100000; files: all rows before the test part).", "Data"),
    ] = None,
    test_steps: Annotated[
        int | None,
        _opt("Test points (systems: 100000 from a second initial state; files: last 20%).", "Data"),
    ] = None,
    transient: Annotated[int, _opt("Free-run steps dropped before the metrics.", "Data")] = 1000,
    dt: Annotated[
        float | None,
        _opt("Sampling step for Lyapunov exponents per time unit (default: the data's).", "Data"),
    ] = None,
    columns: ColumnsOpt = None,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Reconstruct a chaotic system with an Almost-Linear RNN and its symbolic code.

    Metrics per run and mean +- SEM: D_stsp, D_H, PE(20), Lyapunov exponent, subregions used.

    Outputs: metrics.json, symbols.json, free_run.csv, model.safetensors,
    attractor.png, timeseries.png, symbolic_graph.png.

    Training runs a fused kernel: numba on the CPU, Triton on CUDA (auto picks CUDA when present).

    Example: tsdyn reconstruct lorenz63 --runs 10 --out runs/lorenz
    """
    settings = {
        "data": data,
        "device": device,
        "preset": preset.value,
        "M": M,
        "P": P,
        "epochs": epochs,
        "runs": runs,
        "batches_per_epoch": batches_per_epoch,
        "window": window,
        "tau": tau,
        "forcing": forcing.value,
        "alpha": alpha,
        "alpha_end": alpha_end,
        "tau_end": tau_end,
        "lr_start": lr_start,
        "lr_end": lr_end,
        "noise": noise,
        "eval_every": eval_every,
        "eval_every_late": eval_every_late,
        "select_dh": select_dh,
        "select_lyap": select_lyap,
        "select_on": select_on.value,
        "ema": ema,
        "balance": balance,
        "horizon_decay": horizon_decay,
        "burn_in": burn_in,
        "tail": tail,
        "tail_weight": tail_weight,
        "train_steps": train_steps,
        "test_steps": test_steps,
        "transient": transient,
        "dt": dt,
        "columns": columns,
    }
    with start_run(
        "reconstruct",
        settings,
        out=out,
        overwrite=overwrite,
        device=device,
        seed=seed,
        threads=threads,
        quiet=quiet,
        json_out=json_out,
    ) as run:
        _reconstruct(run, settings, seed)


def _validation_text(name: str, n: int, seed: int) -> str:
    if name in _SYSTEMS:
        return f"a validation trajectory ({n} steps, seed {seed + 2})"
    return f"a validation part (the last {n} training rows, not trained on)"


def _load(run, s: dict, seed: int):
    import numpy as np

    from tsdyn.datasets import load, parse_columns
    from tsdyn.datasets.systems import simulate
    from tsdyn.errors import InputError

    name = s["data"]
    from pathlib import Path

    for key in ("train_steps", "test_steps"):
        if s[key] is not None and s[key] < 100:
            raise InputError(f"--{key.replace('_', '-')} {s[key]} is too small", "use 100 or more")
    if name in _SYSTEMS and not Path(name).exists():
        n_train = s["train_steps"] or 100_000
        n_test = s["test_steps"] or 100_000
        run.log(f"integrating {name}: {n_train} training + {n_test} test steps")
        train = simulate(name, n_train, seed=seed)
        test = simulate(name, n_test, seed=seed + 1)
        if s["columns"]:
            raise InputError("--columns applies to files, not built-in systems", "leave it out")
        val = None
        if s["select_on"] == "validation":  # a third initial condition, as long as the training
            val = simulate(name, n_train, seed=seed + 2).values
        return train.values, test.values, val, list(train.columns), float(train.freq), name
    table = load(name, columns=parse_columns(s["columns"]))
    values = table.values
    T = len(values)
    n_test = s["test_steps"] or max(T // 5, 1)
    if n_test >= T:
        raise InputError(
            f"--test-steps {n_test} leaves no training rows of {T}", "pass fewer --test-steps"
        )
    train = values[: T - n_test]
    if s["train_steps"]:
        train = train[: s["train_steps"]]
    test = values[T - n_test :]
    val = None
    if s["select_on"] == "validation":  # the training rows' last part, as long as the test part
        if len(train) < 2 * n_test:
            raise InputError(
                f"--select-on validation needs {2 * n_test} training rows, the file has "
                f"{len(train)} before its test part",
                "pass fewer --test-steps or --select-on train",
            )
        train, val = train[: len(train) - n_test], train[len(train) - n_test :]
    step = table.freq if isinstance(table.freq, float) else 1.0
    if not np.all(np.isfinite(values)):
        raise InputError("the table has missing values", "fill them first (tsdyn datasets info)")
    return train, test, val, list(table.columns), float(step), table.name


def _reconstruct(run, s: dict, seed: int) -> None:
    import numpy as np

    from tsdyn.errors import InputError
    from tsdyn.reconstruct import PRESETS, ALRNNReconstructor, mean_sem, plots, symbolic
    from tsdyn.reconstruct import metrics as met

    train, test, val, columns, step, name = _load(run, s, seed)
    dt = s["dt"] or step
    if not dt > 0:
        raise InputError(f"--dt {dt} must be positive", "pass the sampling step")
    preset = s["preset"]
    if preset == "auto":
        preset = name if name in PRESETS else None
    elif preset == "none":
        preset = None
    overrides = {
        k: s[k]
        for k in (
            "M",
            "P",
            "epochs",
            "batches_per_epoch",
            "window",
            "tau",
            "alpha",
            "alpha_end",
            "tau_end",
            "lr_start",
            "lr_end",
            "noise",
            "eval_every",
            "eval_every_late",
            "select_dh",
            "select_lyap",
            "ema",
            "balance",
            "horizon_decay",
            "burn_in",
            "tail",
            "tail_weight",
        )
    }
    rec = ALRNNReconstructor(
        preset=preset, runs=s["runs"], seed=seed, forcing=s["forcing"], **overrides
    )
    cfg = rec.config
    cfg.check()
    if s["transient"] < 0:
        raise InputError("--transient must be >= 0")
    run.write_config(
        model={"preset": preset, **{k: getattr(cfg, k) for k in cfg.__dataclass_fields__}}
    )
    rec.fit(train, dt=dt, progress=run.progress, device=str(run.device), validation=val)
    report = rec.evaluate(test, transient=s["transient"])
    per = report["per_run"]
    # the reference run (figures, free_run.csv, symbols.json): lowest selection D_stsp
    sel = np.array(
        [np.inf if v is None or not np.isfinite(v) else v for v in rec.train_.best_dstsp]
    )
    ref = int(np.argmin(sel))
    Z = rec.last_eval_["states"][ref]
    xs = rec.last_eval_["test_scaled"]
    N = xs.shape[1]
    code = rec.symbolic_code(run=ref, states=Z)
    # the ground-truth floor: training vs test trajectory, equal length
    n = min(len(train), len(test))
    floor = {
        "dstsp": met.dstsp(xs[:n], rec.scale(train[-n:]), cfg.n_bins, cfg.gmm_sigma2),
        "dh": met.hellinger_spectrum(xs[:n], rec.scale(train[-n:]), cfg.dh_sigma),
    }
    folder = run.folder
    folder.write_json("symbols.json", code)
    gen = rec.unscale(Z[:, :N])
    with folder.open("free_run.csv") as f:
        f.write(",".join(["step", *columns, "symbol"]) + "\n")
        codes = rec.last_eval_["codes"][ref]
        names = {int(c): symbolic.symbol_name(c, rec.model_.P) for c in np.unique(codes)}
        for k in range(len(gen)):
            f.write(f"{k}," + ",".join(f"{v:.6g}" for v in gen[k]) + f",{names[codes[k]]}\n")
    order = [r["code"] for r in code["regions"]]
    labels = {r["code"]: r["symbol"] or "linear" for r in code["regions"]}
    fps = [
        (rec.unscale(np.array(fp["z"][:N])), fp["real"])
        for fp in code["fixed_points"]
        if fp.get("exists") and fp["code"] in labels
    ]
    folder.save_figure(
        "attractor.png",
        plots.attractor_figure(test, gen, codes, order, labels, columns, fps),
    )
    folder.save_figure(
        "timeseries.png",
        plots.timeseries_figure(test, gen, codes, order, labels, columns, dt),
    )
    folder.save_figure(
        "symbolic_graph.png",
        plots.symbolic_graph_figure(
            [labels[c] for c in order],
            code["transition_matrix"]["probabilities"],
            [r["share"] for r in code["regions"]],
        ),
    )
    from safetensors.numpy import save_file

    tensors = {k: v.astype(np.float32) for k, v in rec.model_.numpy_params().items()}
    tensors["mean"] = rec.mean_
    tensors["scale"] = rec.scale_
    with folder.temp_path("model.safetensors") as tmp:
        save_file(tensors, str(tmp))
    folder.write_json("model_config.json", {"model": rec.model_config()})

    tr = rec.train_
    metrics = {
        "data": name,
        "runs": cfg.runs,
        "protocol": {
            **met.PROTOCOL,
            "test": f"{len(test)} points"
            + (" (second initial condition)" if name in _SYSTEMS else " (last rows of the file)"),
            "train": f"{len(train)} points",
            "free_run": f"from the test's first point, {s['transient']} steps dropped, "
            f"{len(test)} kept (equal length)",
            "selection": f"lowest D_stsp + {cfg.select_dh:g} D_H "
            + (
                f"+ {cfg.select_lyap:g} |lambda_max / lambda_max(data) - 1| "
                if cfg.select_lyap
                else ""
            )
            + "of a "
            f"{cfg.eval_steps or len(train if val is None else val)}-step free run against "
            + ("the training series" if val is None else _validation_text(name, len(val), seed))
            + " every "
            f"{cfg.eval_every} epochs"
            + (f" ({cfg.eval_every_late} in the second half)" if cfg.eval_every_late else "")
            + (f", on the moving average (decay {cfg.ema:g})" if cfg.ema else ""),
            "units": "z-scored with the training mean and SD",
            "dt": dt,
        },
        "per_run": per,
        "mean_sem": report["mean"],
        "lyapunov_spectrum_model": report["lyapunov_spectrum"],
        "lyapunov_data": report["data_lyapunov"],
        "floor": floor,
        "reference_run": ref,
        "used_regions_reference": code["used_regions"],
        "best_epoch": tr.best_epoch,
        "diverged_at": tr.diverged_at,
        "final_loss": tr.final_loss,
        "train_seconds": round(tr.seconds, 2),
        "history": [{k: v for k, v in h.items() if v is not None} for h in tr.history],
    }
    ms = report["mean"]
    lines = [
        f"AL-RNN M={cfg.M} P={cfg.P} on {name}: {cfg.runs} run(s), {cfg.epochs} epochs, "
        f"{tr.seconds:.0f} s training",
        f"{'run':>4} {'D_stsp':>8} {'D_H':>7} {'PE(20)':>9} {'lambda_max':>10} {'regions':>7}",
    ]
    for r in range(cfg.runs):
        lines.append(
            f"{r:>4} {per['dstsp'][r]:>8.3f} {per['dh'][r]:>7.3f} {per['pe'][r]:>9.4f} "
            f"{per['lyapunov_max'][r]:>10.3f} {per['regions'][r]:>7d}"
        )

    def pm(key, fmt):
        m = ms[key]
        return f"{m['mean']:{fmt}}" + (f"±{m['sem']:.2g}" if np.isfinite(m["sem"]) else "")

    lines.append(
        f"mean {pm('dstsp', '.3f'):>8} {pm('dh', '.3f'):>7} {pm('pe', '.4f'):>9} "
        f"{pm('lyapunov_max', '.3f'):>10} {pm('regions', '.1f'):>7}"
    )
    lines.append(
        f"floor (train vs test) D_stsp {floor['dstsp']:.3f}  D_H {floor['dh']:.3f}; "
        f"data lambda_max {report['data_lyapunov'][0]:.3f}"
    )
    lines.append(
        f"run {ref}: {code['used_regions']} of {code['possible_regions']} subregions used ("
        + ", ".join(f"{r['symbol'] or '-'} {r['share']:.0%}" for r in code["regions"])
        + f"); {sum(fp.get('real', False) for fp in code['fixed_points'])} real fixed points, "
        f"{len(code['cycles'])} cycles (k <= 4)"
    )
    lines.append(f"outputs in {folder.path}")
    _ = mean_sem
    run.finish(metrics, "\n".join(lines))
