"""`tsdyn ssm`: HiPPO online projection, and S4D/LSSL state-space forecasters with their timescales."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Any

import typer

from tsdyn.cli._common import (
    ColumnsOpt,
    DateColOpt,
    DeviceOpt,
    Features,
    FillOpt,
    JsonOpt,
    NaValuesOpt,
    OutOpt,
    OverwriteOpt,
    QuietOpt,
    Schedule,
    SeedOpt,
    SplitScheme,
    ThreadsOpt,
    load_data,
    start_run,
)


class Measure(StrEnum):
    legs = "legs"
    legt = "legt"
    lmu = "lmu"
    fout = "fout"
    lagt = "lagt"


class Method(StrEnum):
    zoh = "zoh"
    bilinear = "bilinear"
    forward_euler = "forward_euler"
    backward_euler = "backward_euler"


class Layer(StrEnum):
    s4d = "s4d"
    lssl = "lssl"


class Disc(StrEnum):
    zoh = "zoh"
    bilinear = "bilinear"


ssm_app = typer.Typer(
    help="HiPPO online projection and S4D/LSSL state-space models.", no_args_is_help=True
)

_MODEL = "Model"
_TRAIN = "Training"


def register(app: typer.Typer) -> None:
    app.add_typer(ssm_app, name="ssm", help="HiPPO projections and LSSL/S4D state-space layers.")


def _time_unit(freq) -> tuple[float, str] | None:
    """Sampling step as (amount, unit): "1h" -> (1, "h"); a float step -> (step, "time units")."""
    if isinstance(freq, int | float) and not isinstance(freq, bool) and freq > 0:
        return float(freq), "time units"
    if isinstance(freq, str):
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]+)", freq.strip())
        if m:
            return float(m.group(1)), m.group(2)
    return None


@ssm_app.command("project")
def project(
    data: Annotated[str, typer.Argument(help="A CSV/Parquet file or a built-in name.")],
    measure: Annotated[
        Measure,
        typer.Option(
            help="legs without --window: scaled LegS over the whole history; legt/lmu/fout: a "
            "sliding window; lagt: Laguerre."
        ),
    ] = Measure.legs,
    state_size: Annotated[
        int, typer.Option("--state-size", "-N", help="Coefficients per column (N).")
    ] = 64,
    window: Annotated[
        float | None,
        typer.Option(
            help="Window length in samples (legt/lmu/fout; time scale for lagt and LTI legs).",
            show_default=False,
        ),
    ] = None,
    method: Annotated[
        Method | None,
        typer.Option(
            help="Discretization (default zoh; bilinear for scaled legs; zoh for scaled legs is "
            "slow: a matrix exponential per step).",
            show_default=False,
        ),
    ] = None,
    columns: ColumnsOpt = None,
    date_col: DateColOpt = None,
    fill: FillOpt = None,
    na_values: NaValuesOpt = None,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Compress each column online into N HiPPO coefficients and reconstruct it from them.

    Writes coefficients.npz (the coefficients after every step, [T, C, N]), reconstruction.csv
    (the last window, or the whole history for scaled LegS, beside the data), reconstruction.png
    and metrics.json (MSE per column, and relative to the column's variance over that span).

    Examples:
      tsdyn ssm project ETTh1.csv --measure legt --state-size 64 --window 96
      tsdyn ssm project lorenz63 --measure legs --state-size 128     # scaled LegS: whole history
    """
    import numpy as np

    from tsdyn.errors import InputError
    from tsdyn.ssm import HiPPO

    if state_size < 1:
        raise InputError(f"--state-size {state_size} must be at least 1", "pass e.g. -N 64")
    if window is not None and not (math.isfinite(window) and window > 0):
        raise InputError(f"--window {window} must be a positive number of samples", "e.g. 96")
    if measure != Measure.legs and window is None:
        raise InputError(
            f"--measure {measure.value} needs --window (in samples)", "pass e.g. --window 96"
        )
    settings = {
        "data": data,
        "measure": measure.value,
        "state_size": state_size,
        "window": window,
        "method": None if method is None else method.value,
        "columns": columns,
        "date_col": date_col,
        "fill": None if fill is None else fill.value,
        "na_values": na_values,
    }
    with start_run(
        "ssm-project",
        settings,
        out=out,
        overwrite=overwrite,
        device=device,
        seed=seed,
        threads=threads,
        quiet=quiet,
        json_out=json_out,
    ) as run:
        table = load_data(data, columns=columns, date_col=date_col, fill=fill, na_values=na_values)
        hippo = HiPPO(measure.value, state_size, window, None if method is None else method.value)
        run.write_config(method=hippo._settings()[1])
        values = table.values
        T = values.shape[0]
        coeffs = hippo.project(values, progress=run.progress)  # [T, C, N]
        if hippo.scaled:
            span, kind = T, "history"
        else:
            span, kind = min(T, max(1, round(window))), "window"
        lags = np.arange(span)
        recon = hippo.reconstruct(coeffs[-1], lags, length=T)[:, ::-1].T  # [span, C], in time order
        truth = values[T - span :]
        mse = ((recon - truth) ** 2).mean(0)
        var = truth.var(0)
        rel = np.where(var > 0, mse / np.where(var > 0, var, 1), np.nan)
        with run.folder.temp_path("coefficients.npz") as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                coefficients=coeffs.astype(np.float32),
                final=coeffs[-1],
                columns=np.array(table.columns),
                measure=measure.value,
                window=np.nan if window is None else window,
                method=hippo._settings()[1],
            )
        _write_reconstruction(run, table, truth, recon, T - span)
        run.folder.save_figure(
            "reconstruction.png", _reconstruction_figure(table, truth, recon, T - span, hippo, kind)
        )
        per_column = {
            c: {"mse": float(m), "relative_mse": float(r)}
            for c, m, r in zip(table.columns, mse, rel, strict=True)
        }
        metrics = {
            "data": table.label,
            "measure": measure.value,
            "scaled_legs": hippo.scaled,
            "state_size": state_size,
            "window": window,
            "method": hippo._settings()[1],
            "rows": T,
            "reconstructed": kind,
            "reconstructed_rows": span,
            "mse": float(mse.mean()),
            "relative_mse": float(np.nanmean(rel)) if np.isfinite(rel).any() else None,
            "per_column": per_column,
        }
        what = "whole history" if hippo.scaled else f"last {span} samples"
        lines = [
            f"{table.name}: {'scaled LegS' if hippo.scaled else measure.value}, N={state_size}, "
            f"{hippo._settings()[1]}, {T} rows; reconstruction of the {what} from the final state",
            f"{'column':<20} {'MSE':>11} {'MSE/var':>9}",
        ]
        lines += [
            f"{c[:20]:<20} {v['mse']:>11.4g} {v['relative_mse']:>9.4g}"
            for c, v in per_column.items()
        ]
        lines.append(f"run folder: {run.folder.path}")
        run.finish(metrics, "\n".join(lines))


def _write_reconstruction(run, table, truth, recon, start: int) -> None:
    import csv

    with run.folder.open("reconstruction.csv") as f:
        w = csv.writer(f)
        head = ["row"] + (["time"] if table.time is not None else [])
        for c in table.columns:
            head += [c, f"{c}_reconstruction"]
        w.writerow(head)
        for i in range(truth.shape[0]):
            row = [start + i] + ([str(table.time[start + i])] if table.time is not None else [])
            for j in range(truth.shape[1]):
                row += [f"{truth[i, j]:.8g}", f"{recon[i, j]:.8g}"]
            w.writerow(row)


def _reconstruction_figure(table, truth, recon, start, hippo, kind):
    import matplotlib.pyplot as plt
    import numpy as np

    show = min(truth.shape[1], 6)
    fig, axes = plt.subplots(show, 1, figsize=(9, 1.8 * show + 0.6), sharex=True, squeeze=False)
    x = np.arange(start, start + truth.shape[0])
    for j in range(show):
        ax = axes[j, 0]
        ax.plot(x, truth[:, j], color="0.3", lw=1, label="data")
        ax.plot(x, recon[:, j], color="tab:red", lw=1, label="reconstruction")
        ax.set_ylabel(table.columns[j][:14])
    axes[0, 0].legend(loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel("row")
    name = "scaled LegS" if hippo.scaled else hippo.measure
    fig.suptitle(
        f"{table.name}: {name}, N={hippo.N}, reconstruction of the {kind} from the last state"
    )
    return fig


@ssm_app.command("fit")
def fit(
    data: Annotated[str, typer.Argument(help="A CSV/Parquet file or a built-in name.")] = "demo",
    layer: Annotated[
        Layer,
        typer.Option(help="s4d: diagonal SSM; lssl: dense HiPPO SSM.", rich_help_panel=_MODEL),
    ] = Layer.s4d,
    seq_len: Annotated[int, typer.Option("--seq-len", "-L", help="Look-back L.")] = 336,
    pred_len: Annotated[int, typer.Option("--pred-len", "-H", help="Horizon H.")] = 96,
    features: Annotated[
        Features,
        typer.Option(help="M: all columns -> all; S: target -> target; MS: all -> target."),
    ] = Features.M,
    target: Annotated[
        str | None, typer.Option(help="Target column (S and MS).", show_default=False)
    ] = None,
    split: Annotated[
        SplitScheme,
        typer.Option(
            help="auto: ett-hour/ett-minute for ETTh*/ETTm* files, else ratio 0.7/0.1/0.2."
        ),
    ] = SplitScheme.auto,
    d_model: Annotated[
        int, typer.Option("--d-model", help="Channels of the SSM stack.", rich_help_panel=_MODEL)
    ] = 64,
    d_state: Annotated[
        int, typer.Option("--d-state", "-N", help="State size N.", rich_help_panel=_MODEL)
    ] = 64,
    n_layers: Annotated[
        int, typer.Option("--n-layers", help="SSM blocks.", rich_help_panel=_MODEL)
    ] = 2,
    init: Annotated[
        str,
        typer.Option(
            help="S4D init (legs | inv | lin) or LSSL measure (legs | legt | lagt | fout | foud).",
            rich_help_panel=_MODEL,
        ),
    ] = "legs",
    disc: Annotated[
        Disc, typer.Option(help="S4D discretization (LSSL: bilinear).", rich_help_panel=_MODEL)
    ] = Disc.zoh,
    dt_min: Annotated[
        float, typer.Option("--dt-min", help="Smallest initial step Δ.", rich_help_panel=_MODEL)
    ] = 1e-3,
    dt_max: Annotated[
        float, typer.Option("--dt-max", help="Largest initial step Δ.", rich_help_panel=_MODEL)
    ] = 1e-1,
    dropout: Annotated[float, typer.Option(help="Dropout.", rich_help_panel=_MODEL)] = 0.1,
    epochs: Annotated[int, typer.Option(help="Maximum epochs.", rich_help_panel=_TRAIN)] = 10,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Windows per step.", rich_help_panel=_TRAIN)
    ] = 32,
    lr: Annotated[
        float, typer.Option("--lr", help="Learning rate.", rich_help_panel=_TRAIN)
    ] = 0.005,
    ssm_lr: Annotated[
        float,
        typer.Option(
            "--ssm-lr",
            help="Learning rate of Δ, A, B (never above --lr; no weight decay).",
            rich_help_panel=_TRAIN,
        ),
    ] = 1e-3,
    patience: Annotated[
        int, typer.Option(help="Early-stopping patience (epochs).", rich_help_panel=_TRAIN)
    ] = 3,
    lr_schedule: Annotated[
        Schedule,
        typer.Option("--lr-schedule", help="type1 halves every epoch.", rich_help_panel=_TRAIN),
    ] = Schedule.type1,
    columns: ColumnsOpt = None,
    date_col: DateColOpt = None,
    fill: FillOpt = None,
    na_values: NaValuesOpt = None,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 2021,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Train a small deep S4D/LSSL forecaster and report its learned timescales.

    Trains through the same splits, scaler, windows and training loop as `tsdyn forecast --model
    s4d`. Writes metrics.json (test MSE/MAE with the Repeat baseline, Δ and eigenvalue timescales),
    timescales.csv (per layer, channel and mode: Δ before/after training, decay half-life and
    period in samples and in the data's time unit), kernels.npz and kernels.png (impulse responses
    and their spectra), dt_hist.png (Δ before vs after), forecast.csv (the H steps after the data),
    model.safetensors (loadable by `tsdyn forecast predict`) and config.json.

    Examples:
      tsdyn ssm fit ETTh1.csv --layer s4d --pred-len 96
      tsdyn ssm fit lorenz63 --seq-len 128 --pred-len 32 --epochs 3 --d-model 32
    """
    from tsdyn.cli.forecast import _write_forecast_csv
    from tsdyn.errors import InputError
    from tsdyn.forecast import Forecaster
    from tsdyn.ssm import DIAG_INITS, MEASURES

    if features != Features.M and not target:
        raise InputError(
            f"--features {features.value} needs a target column", "pass --target COLUMN"
        )
    choices = DIAG_INITS if layer == Layer.s4d else tuple(m for m in MEASURES if m != "lmu")
    if init not in choices:
        raise InputError(
            f"--init {init} is not a {layer.value} init", f"use one of {', '.join(choices)}"
        )
    for name, value in (("--d-model", d_model), ("--n-layers", n_layers), ("--d-state", d_state)):
        if value < 1:
            raise InputError(f"{name} {value} must be at least 1", "pass a positive size")
    if layer == Layer.s4d and d_state % 2:
        raise InputError(f"--d-state {d_state} must be even for s4d", "pass e.g. -N 64")
    if not 0 < dt_min <= dt_max:
        raise InputError(
            f"--dt-min {dt_min} / --dt-max {dt_max} must satisfy 0 < dt_min <= dt_max",
            "e.g. --dt-min 0.001 --dt-max 0.1",
        )
    if not 0 <= dropout < 1:
        raise InputError(f"--dropout {dropout} must be in [0, 1)", "e.g. --dropout 0.1")
    if not ssm_lr > 0:
        raise InputError(f"--ssm-lr {ssm_lr} must be positive", "e.g. --ssm-lr 0.001")
    model_kwargs = {
        "layer": layer.value,
        "d_model": d_model,
        "d_state": d_state,
        "n_layers": n_layers,
        "init": init,
        "disc": disc.value,
        "dt_min": dt_min,
        "dt_max": dt_max,
        "dropout": dropout,
        "ssm_lr": ssm_lr,
    }
    settings = {
        "data": data,
        "seq_len": seq_len,
        "pred_len": pred_len,
        "features": features.value,
        "target": target,
        "split": split.value,
        "model": model_kwargs,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "patience": patience,
        "lr_schedule": lr_schedule.value,
        "columns": columns,
        "date_col": date_col,
        "fill": None if fill is None else fill.value,
        "na_values": na_values,
    }
    with start_run(
        "ssm-fit",
        settings,
        out=out,
        overwrite=overwrite,
        device=device,
        seed=seed,
        threads=threads,
        quiet=quiet,
        json_out=json_out,
    ) as run:
        table = load_data(
            data, columns=columns, date_col=date_col, fill=fill, na_values=na_values, target=target
        )
        forecaster = Forecaster(
            "s4d",
            seq_len,
            pred_len,
            features=features.value,
            split=split.value,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            patience=patience,
            lr_schedule=lr_schedule.value,
            model_kwargs=model_kwargs,
            seed=seed,
            device=run.device,
        )
        forecaster._config()
        run.write_config()
        forecaster.fit(table, progress=run.progress)
        ev = forecaster.evaluate()
        forecaster.save(run.folder.file("model.safetensors"))
        _write_forecast_csv(run, "forecast.csv", forecaster.predict())
        net = forecaster.model_.inner
        unit = _time_unit(table.freq)
        report = _timescales(run, net, unit, seq_len + pred_len)
        report["modes"] = _mode_check(forecaster)
        tr = forecaster.train_result_
        metrics = {
            "data": table.label,
            "layer": layer.value,
            "model": model_kwargs,
            "seq_len": seq_len,
            "pred_len": pred_len,
            "features": features.value,
            "split": forecaster.split_.sizes(),
            "split_scheme": forecaster.split_.scheme,
            "test": ev,
            "best_epoch": tr.best_epoch,
            "epochs_run": len(tr.history),
            "history": tr.history,
            "train_seconds": round(tr.seconds, 3),
            "time_unit": None if unit is None else f"{unit[0]:g}{unit[1]}",
            "timescales": report,
            "parameters": sum(p.numel() for p in net.parameters()),
        }
        lines = [
            f"{table.name}: {layer.value} x{n_layers} (d_model {d_model}, N {d_state}, init {init}), "
            f"L={seq_len}, H={pred_len}, features {features.value}, split {forecaster.split_.scheme}",
            f"{'':<8} {'MSE':>8} {'MAE':>8}",
            f"{'model':<8} {ev['mse']:>8.4f} {ev['mae']:>8.4f}",
            f"{'repeat':<8} {ev['repeat']['mse']:>8.4f} {ev['repeat']['mae']:>8.4f}",
            f"epochs {len(tr.history)} (best {tr.best_epoch}), {tr.seconds:.1f} s",
        ]
        for k, r in enumerate(report["layers"]):
            lines.append(
                f"layer {k}: dt median {r['dt_median']:.3g} (init {r['dt_init_median']:.3g}), "
                f"timescale 1/dt median {r['timescale_median_samples']:.3g} samples"
                + (f" ({r['timescale_median_time']})" if r.get("timescale_median_time") else "")
                + f", mode half-life median {r['half_life_median_samples']:.3g} samples, "
                f"kernel 95% energy within {r['kernel_95_energy_median']:.0f} lags"
            )
        lines.append(
            f"conv vs recurrent (streaming) on {report['modes']['windows']} test windows: "
            f"max |diff| {report['modes']['max_abs_diff']:.2g}"
        )
        lines.append(f"run folder: {run.folder.path}")
        run.finish(metrics, "\n".join(lines))


def _mode_check(forecaster) -> dict[str, Any]:
    """Convolution vs recurrent (scan) output of the trained model on up to 8 test windows.

    The kernel spans the whole input (L + H), so nothing is truncated and both modes must agree
    (research note 1.7, issue #135 of state-spaces/s4).
    """
    import torch

    x, _, _ = forecaster.predict_windows("test")
    xb = torch.as_tensor(x[:8])
    net = forecaster.model_.inner
    mode = net.mode
    try:
        with torch.no_grad():
            net.mode = "conv"
            conv = net(xb)
            net.mode = "recurrent"
            rec = net(xb)
    finally:
        net.mode = mode
    return {
        "windows": int(xb.shape[0]),
        "max_abs_diff": float((conv - rec).abs().max()),
        "max_abs_output": float(conv.abs().max()),
    }


def _fmt_time(samples: float, unit) -> str | None:
    if unit is None or not math.isfinite(samples):
        return None
    return f"{samples * unit[0]:.4g} {unit[1]}"


def _timescales(run, net, unit, length: int) -> dict[str, Any]:
    """timescales.csv, kernels.npz, kernels.png and dt_hist.png; a summary per layer (note 4.3)."""
    import csv

    import numpy as np
    import torch

    layers, kernels, dts, dts_init = [], {}, [], []
    tu = unit[1] if unit else None
    with run.folder.open("timescales.csv") as f:
        w = csv.writer(f)
        head = [
            "layer",
            "channel",
            "mode",
            "dt",
            "dt_init",
            "decay_per_sample",
            "half_life_samples",
            "period_samples",
        ]
        if unit:
            head += [f"half_life_{tu}", f"period_{tu}"]
        w.writerow(head)
        for k, ssm in enumerate(net.ssms()):
            ts = {name: v.double().cpu().numpy() for name, v in ssm.timescales().items()}
            dt, decay, freq = ts["dt"], ts["decay"], np.abs(ts["freq"])
            dt_init = ssm.log_dt_init.exp().double().cpu().numpy()
            half = np.log(2) / np.maximum(decay, 1e-300)
            period = np.where(freq > 0, 1 / np.maximum(freq, 1e-300), np.inf)
            for h in range(dt.shape[0]):
                for n in range(decay.shape[1]):
                    row = [
                        k,
                        h,
                        n,
                        f"{dt[h]:.6g}",
                        f"{dt_init[h]:.6g}",
                        f"{decay[h, n]:.6g}",
                        f"{half[h, n]:.6g}",
                        f"{period[h, n]:.6g}",
                    ]
                    if unit:
                        row += [f"{half[h, n] * unit[0]:.6g}", f"{period[h, n] * unit[0]:.6g}"]
                    w.writerow(row)
            with torch.no_grad():
                K = ssm.kernel(length).double().cpu().numpy().reshape(dt.shape[0], -1, length)[:, 0]
            kernels[f"layer{k}"] = K
            energy = np.cumsum(K**2, axis=1)
            frac = energy / np.maximum(energy[:, -1:], 1e-300)
            eff95 = (frac < 0.95).sum(1) + 1
            eff99 = (frac < 0.99).sum(1) + 1
            dts.append(dt)
            dts_init.append(dt_init)
            med_scale = float(np.median(1 / dt))
            layers.append(
                {
                    "dt_min": float(dt.min()),
                    "dt_median": float(np.median(dt)),
                    "dt_max": float(dt.max()),
                    "dt_init_median": float(np.median(dt_init)),
                    "timescale_median_samples": med_scale,
                    "timescale_median_time": _fmt_time(med_scale, unit),
                    "half_life_median_samples": float(np.median(half)),
                    "half_life_max_samples": float(half.max()),
                    "half_life_median_time": _fmt_time(float(np.median(half)), unit),
                    "period_median_samples": float(np.median(period[np.isfinite(period)]))
                    if np.isfinite(period).any()
                    else None,
                    "kernel_95_energy_median": float(np.median(eff95)),
                    "kernel_99_energy_median": float(np.median(eff99)),
                }
            )
    with run.folder.temp_path("kernels.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **kernels)
    run.folder.save_figure("kernels.png", _kernel_figure(kernels))
    run.folder.save_figure("dt_hist.png", _dt_figure(np.concatenate(dts_init), np.concatenate(dts)))
    return {"layers": layers, "kernel_length": length}


def _kernel_figure(kernels: dict):
    import matplotlib.pyplot as plt
    import numpy as np

    n = len(kernels)
    fig, axes = plt.subplots(n, 2, figsize=(10, 2.6 * n), squeeze=False)
    for i, (name, K) in enumerate(kernels.items()):
        pick = np.unique(np.linspace(0, K.shape[0] - 1, min(6, K.shape[0])).astype(int))
        for h in pick:
            axes[i, 0].plot(K[h], lw=0.9, label=f"ch {h}")
            spec = np.abs(np.fft.rfft(K[h]))
            axes[i, 1].semilogy(np.fft.rfftfreq(K.shape[1]), spec + 1e-12, lw=0.9)
        axes[i, 0].set_title(f"{name}: impulse response", fontsize=9)
        axes[i, 1].set_title(f"{name}: |FFT|", fontsize=9)
        axes[i, 0].set_xlabel("lag (samples)")
        axes[i, 1].set_xlabel("cycles per sample")
    axes[0, 0].legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return fig


def _dt_figure(before, after):
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3.2))
    lo = np.log10(min(before.min(), after.min())) - 0.1
    hi = np.log10(max(before.max(), after.max())) + 0.1
    bins = np.logspace(lo, hi, 30)
    ax.hist(before, bins=bins, alpha=0.5, label="init")
    ax.hist(after, bins=bins, alpha=0.5, label="trained")
    ax.set_xscale("log")
    ax.set_xlabel("Δ (per channel)")
    ax.set_ylabel("channels")
    ax.legend()
    return fig
