"""`tsdyn forecast`: long-term forecasting of tables with LTSF-Linear and OLinear.

`tsdyn forecast [run] DATA ...` trains one model per horizon and evaluates it as the papers do;
`tsdyn forecast predict RUN_DIR DATA` forecasts after the end of new data with a saved model.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

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

MODEL_NAMES = "linear | nlinear | dlinear | olinear | s4d"
PRESET_HELP = (
    "'paper' applies the papers' per-dataset settings, chosen by file name: ETTh1, ETTh2, ETTm1, "
    "ETTm2, exchange, weather, electricity, traffic, illness (L, batch, lr, epochs, patience, schedule; "
    "OLinear: L 96, d_model 512, layers, dropout, weighted L1 loss). Options you pass win."
)


class Preset(StrEnum):
    paper = "paper"


class _DefaultRun(TyperGroup):
    """`tsdyn forecast DATA` means `tsdyn forecast run DATA`; `predict` is the other command."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


forecast_app = typer.Typer(
    cls=_DefaultRun,
    help="Long-term forecasting with LTSF-Linear (Linear, NLinear, DLinear) and OLinear.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(
        forecast_app,
        name="forecast",
        help="Forecast a table with LTSF-Linear (Linear, NLinear, DLinear) or OLinear.",
    )


def _horizons(values: list[str] | None) -> list[int] | None:
    from tsdyn.errors import InputError

    if not values:
        return None
    out = []
    for item in values:
        for part in item.split(","):
            try:
                h = int(part)
            except ValueError:
                raise InputError(
                    f"--pred-len '{part}' is not an integer", "pass e.g. --pred-len 96,192"
                ) from None
            if h < 1:
                raise InputError(f"--pred-len {h} must be at least 1", "pass a positive horizon")
            out.append(h)
    return list(dict.fromkeys(out))


def _settings(
    model: str, name: str, horizon: int, preset: Preset | None, given: dict[str, Any]
) -> dict[str, Any]:
    """Defaults <- paper preset <- options given on the command line."""
    from tsdyn.errors import InputError
    from tsdyn.forecast import PRESET_DATASETS, paper_preset

    if model == "olinear":
        base = {
            "seq_len": 96,
            "epochs": 30,
            "patience": 8,
            "batch_size": 32,
            "lr": 5e-4,
            "lr_schedule": "type1",
        }
    else:
        base = {
            "seq_len": 336,
            "epochs": 10,
            "patience": 3,
            "batch_size": 32,
            "lr": 0.005,
            "lr_schedule": "type1",
        }
    if preset is not None:
        found = paper_preset(model, name, horizon)
        if not found:
            raise InputError(
                f"no paper preset for a data set named '{name}'",
                f"name the file after one of {', '.join(PRESET_DATASETS)} or leave out --preset",
            )
        base.update(found)
    base.update({k: v for k, v in given.items() if v is not None})
    return base


_MODEL_KEYS = ("d_model", "d_ff", "e_layers", "dropout", "embed_size")


def _write_forecast_csv(run, name: str, pred: dict[str, Any]) -> None:
    import csv

    import numpy as np

    with run.folder.open(name) as f:
        writer = csv.writer(f)
        has_time = pred["time"] is not None
        writer.writerow(([pred["time_name"]] if has_time else ["step"]) + pred["columns"])
        for k in range(pred["values"].shape[0]):
            if has_time:
                t = pred["time"][k]
                stamp = (
                    np.datetime_as_string(t, unit="s").replace("T", " ")
                    if np.issubdtype(np.asarray(t).dtype, np.datetime64)
                    else repr(float(t))
                )
            else:
                stamp = str(k + 1)
            writer.writerow([stamp, *(repr(float(v)) for v in pred["values"][k])])


def _test_window(forecaster) -> tuple:
    """The last test window, target columns, in original units."""
    x, pred, true = forecaster.predict_windows("test")
    out_in_x = [forecaster.in_cols_.index(c) for c in forecaster.out_cols_]
    inv = lambda a: forecaster.scaler_.inverse_transform(a, forecaster.out_cols_)  # noqa: E731
    return inv(x[-1][:, out_in_x]), inv(pred[-1]), inv(true[-1])


@forecast_app.command(
    "run",
    epilog="Other command: tsdyn forecast predict RUN_DIR DATA (forecast new data with a saved model).",
)
def run_forecast(
    data: Annotated[
        str, typer.Argument(help="A CSV/Parquet file or a built-in name (default: the demo table).")
    ] = "demo",
    model: Annotated[str, typer.Option("--model", "-m", help=f"Model: {MODEL_NAMES}.")] = "dlinear",
    seq_len: Annotated[
        int | None,
        typer.Option(
            "--seq-len", "-L", help="Look-back L (default 336; OLinear 96).", show_default=False
        ),
    ] = None,
    pred_len: Annotated[
        list[str] | None,
        typer.Option(
            "--pred-len",
            "-H",
            help="Horizon H; repeat or comma-separate for several (default 96).",
            show_default=False,
        ),
    ] = None,
    features: Annotated[
        Features,
        typer.Option(help="M: all columns -> all; S: target -> target; MS: all -> target."),
    ] = Features.M,
    target: Annotated[
        str | None,
        typer.Option(help="Target column (needed for S and MS; moved last).", show_default=False),
    ] = None,
    split: Annotated[
        SplitScheme,
        typer.Option(
            help="auto: ett-hour/ett-minute for ETTh*/ETTm* files, else ratio 0.7/0.1/0.2."
        ),
    ] = SplitScheme.auto,
    epochs: Annotated[
        int | None,
        typer.Option(help="Maximum epochs (default 10; OLinear 30).", show_default=False),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", help="Windows per step (default 32).", show_default=False),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            "--lr", help="Learning rate (default 0.005; OLinear 5e-4).", show_default=False
        ),
    ] = None,
    patience: Annotated[
        int | None,
        typer.Option(
            help="Early-stopping patience in epochs (default 3; OLinear 8).", show_default=False
        ),
    ] = None,
    lr_schedule: Annotated[
        Schedule | None,
        typer.Option(
            "--lr-schedule", help="type1 halves every epoch (default).", show_default=False
        ),
    ] = None,
    individual: Annotated[
        bool, typer.Option("--individual", help="One linear map per channel.")
    ] = False,
    orthotrans: Annotated[
        bool,
        typer.Option(
            "--orthotrans", help="Run Linear/NLinear/DLinear in OLinear's orthogonal domain."
        ),
    ] = False,
    preset: Annotated[Preset | None, typer.Option(help=PRESET_HELP, show_default=False)] = None,
    d_model: Annotated[
        int | None,
        typer.Option(
            "--d-model",
            help="OLinear width (default 512).",
            show_default=False,
            rich_help_panel="OLinear",
        ),
    ] = None,
    e_layers: Annotated[
        int | None,
        typer.Option(
            "--e-layers",
            help="OLinear NormLin blocks (default 2).",
            show_default=False,
            rich_help_panel="OLinear",
        ),
    ] = None,
    dropout: Annotated[
        float | None,
        typer.Option(
            help="OLinear dropout (default 0.1; ETTh1 preset 0.2).",
            show_default=False,
            rich_help_panel="OLinear",
        ),
    ] = None,
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
    """Train and evaluate a forecaster per horizon; forecast past the end of the data.

    Writes metrics.json (MSE/MAE standardized as the papers report and in original units, with the
    Repeat baseline), forecast.csv, forecast.png, model.safetensors and config.json to --out
    (files get a -H<h> suffix when several horizons are given).

    Examples:
      tsdyn forecast                                   # the built-in demo table
      tsdyn forecast ETTh1.csv --model dlinear --pred-len 96,192,336,720 --preset paper
      tsdyn forecast national_illness.csv --features MS --target OT --seq-len 104 --pred-len 24
      tsdyn forecast ETTh1.csv --model olinear --preset paper --pred-len 96
    """
    from tsdyn.errors import InputError
    from tsdyn.forecast import Forecaster
    from tsdyn.forecast.plots import forecast_figure

    if features != Features.M and not target:
        raise InputError(
            f"--features {features.value} needs a target column", "pass --target COLUMN"
        )
    horizons = _horizons(pred_len)
    given = {
        "seq_len": seq_len,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "patience": patience,
        "lr_schedule": None if lr_schedule is None else lr_schedule.value,
        "d_model": d_model,
        "e_layers": e_layers,
        "dropout": dropout,
    }
    settings = {
        "data": data,
        "model": model,
        "pred_len": horizons,
        "features": features.value,
        "target": target,
        "split": split.value,
        "individual": individual,
        "orthotrans": orthotrans,
        "preset": None if preset is None else preset.value,
        "columns": columns,
        "date_col": date_col,
        "fill": None if fill is None else fill.value,
        "na_values": na_values,
        **given,
    }
    if threads is None and model in ("linear", "nlinear", "dlinear"):
        # these models are too small to gain from more threads, and lose a lot under load
        threads = 1
    with start_run(
        "forecast",
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
        if horizons is None:  # the paper horizons of the preset's data set, else 96
            horizons = (
                [24, 36, 48, 60]
                if (preset and table.name.lower() in ("national_illness", "illness"))
                else [96]
            )
        per_horizon = {h: _settings(model, table.name, h, preset, given) for h in horizons}
        forecasters = []
        for h, s in per_horizon.items():
            forecasters.append(
                Forecaster(
                    model,
                    s["seq_len"],
                    h,
                    features=features.value,
                    split=split.value,
                    individual=individual,
                    orthotrans=orthotrans,
                    loss=s.get("loss"),
                    epochs=s["epochs"],
                    batch_size=s["batch_size"],
                    lr=s["lr"],
                    patience=s["patience"],
                    lr_schedule=s["lr_schedule"],
                    model_kwargs={k: s[k] for k in _MODEL_KEYS if s.get(k) is not None}
                    if model == "olinear"
                    else None,
                    seed=seed,
                    device=run.device,
                    cache_dir=run.folder.ensure() / "cache",
                )
            )
            forecasters[-1]._config()  # validate every horizon's settings before training any
        run.write_config(horizons={str(h): s for h, s in per_horizon.items()})
        results: dict[str, Any] = {}
        rows = []
        for f in forecasters:
            h = f.pred_len
            suffix = "" if len(forecasters) == 1 else f"-H{h}"
            f.fit(table, progress=run.progress)
            ev = f.evaluate()
            pred = f.predict()
            f.save(run.folder.file(f"model{suffix}.safetensors"))
            _write_forecast_csv(run, f"forecast{suffix}.csv", pred)
            run.folder.save_figure(
                f"forecast{suffix}.png",
                forecast_figure(
                    pred, _test_window(f), title=f"{table.name}: {model}, L={f.seq_len}, H={h}"
                ),
            )
            tr = f.train_result_
            results[str(h)] = {
                **ev,
                "seq_len": f.seq_len,
                "best_epoch": tr.best_epoch,
                "epochs_run": len(tr.history),
                "best_val_loss": tr.best_val_loss,
                "train_seconds": round(tr.seconds, 3),
                "seconds_per_epoch": round(tr.seconds / max(1, len(tr.history)), 3),
                "split": f.split_.sizes(),
                "split_scheme": f.split_.scheme,
            }
            rows.append((h, ev, tr))
        metrics = {
            "data": table.label,
            "model": model,
            "features": features.value,
            "metric_scale": "mse/mae on the train-fitted standardized scale (as the papers); *_original in data units",
            "horizons": results,
        }
        lines = [
            f"{table.name}: {model}, L={forecasters[0].seq_len}, features {features.value}, "
            f"split {forecasters[0].split_.scheme}, {forecasters[0].split_.n_windows('test')} test windows (H={horizons[0]})",
            f"{'H':>5} {'MSE':>8} {'MAE':>8} {'Repeat MSE':>11} {'Repeat MAE':>11} {'epochs':>7} {'seconds':>8}",
        ]
        lines += [
            f"{h:>5} {ev['mse']:>8.4f} {ev['mae']:>8.4f} {ev['repeat']['mse']:>11.4f} {ev['repeat']['mae']:>11.4f} "
            f"{len(tr.history):>7} {tr.seconds:>8.1f}"
            for h, ev, tr in rows
        ]
        lines.append(f"run folder: {run.folder.path}")
        run.finish(metrics, "\n".join(lines))


@forecast_app.command("predict")
def predict(
    run_dir: Annotated[Path, typer.Argument(help="The --out folder of a `tsdyn forecast` run.")],
    data: Annotated[
        str, typer.Argument(help="A CSV/Parquet file (or built-in name) with the trained columns.")
    ],
    pred_len: Annotated[
        int | None,
        typer.Option(
            "--pred-len",
            "-H",
            help="Which trained horizon to use (default: every one).",
            show_default=False,
        ),
    ] = None,
    date_col: DateColOpt = None,
    fill: FillOpt = None,
    na_values: NaValuesOpt = None,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Forecast after the end of DATA with a saved model, using its training scaler (never refit).

    Example: tsdyn forecast predict runs/etth1 ETTh1-latest.csv --out runs/etth1-next
    """
    from tsdyn.errors import InputError
    from tsdyn.forecast import Forecaster
    from tsdyn.forecast.plots import forecast_figure

    if not run_dir.is_dir():
        raise InputError(
            f"run folder {run_dir} does not exist",
            "pass the --out folder of a `tsdyn forecast` run",
        )
    files = sorted(run_dir.glob("model*.safetensors"))
    if not files:
        raise InputError(
            f"{run_dir} holds no model*.safetensors",
            "pass the --out folder of a `tsdyn forecast` run",
        )
    settings = {
        "run_dir": str(run_dir),
        "data": data,
        "pred_len": pred_len,
        "date_col": date_col,
        "fill": None if fill is None else fill.value,
        "na_values": na_values,
    }
    with start_run(
        "forecast-predict",
        settings,
        out=out,
        overwrite=overwrite,
        device=device,
        seed=seed,
        threads=threads,
        quiet=quiet,
        json_out=json_out,
    ) as run:
        models = [Forecaster.load(p) for p in files]
        if pred_len is not None:
            models = [m for m in models if m.pred_len == pred_len]
            if not models:
                raise InputError(
                    f"{run_dir} has no model for --pred-len {pred_len}",
                    "leave out --pred-len or pass a trained horizon",
                )
        first = models[0]
        value_cols = [c for c in first.columns_ if c != first.target_]
        try:
            table = load_data(
                data,
                columns=value_cols,
                date_col=date_col,
                fill=fill,
                na_values=na_values,
                target=first.target_,
            )
        except InputError as exc:
            if "has no column" in exc.message:
                raise InputError(
                    f"{exc.message}: its columns differ from the trained model's {list(first.columns_)}",
                    "pass a table with the trained columns",
                    exc.source,
                ) from None
            raise
        run.write_config(models=[str(p) for p in files])
        out_files = {}
        for m in models:
            suffix = "" if len(models) == 1 else f"-H{m.pred_len}"
            pred = m.predict(table)
            _write_forecast_csv(run, f"forecast{suffix}.csv", pred)
            run.folder.save_figure(
                f"forecast{suffix}.png",
                forecast_figure(pred, None, title=f"{table.name}: H={m.pred_len}"),
            )
            out_files[str(m.pred_len)] = {
                "csv": f"forecast{suffix}.csv",
                "first": pred["values"][0].tolist(),
                "start": None if pred["time"] is None else str(pred["time"][0]),
            }
        run.finish(
            {"data": table.label, "horizons": out_files},
            "\n".join(f"H={h}: wrote {v['csv']} (from {v['start']})" for h, v in out_files.items())
            + f"\nrun folder: {run.folder.path}",
        )
