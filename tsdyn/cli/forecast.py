"""`tsdyn forecast`: long-term forecasting of tables (filled in by issue 4)."""

from __future__ import annotations

from typing import Annotated

import typer

from tsdyn.cli._common import (
    DeviceOpt,
    JsonOpt,
    OutOpt,
    OverwriteOpt,
    QuietOpt,
    SeedOpt,
    ThreadsOpt,
    not_yet,
    start_run,
)


def register(app: typer.Typer) -> None:
    app.command("forecast")(forecast)


def forecast(
    data: Annotated[str, typer.Argument(help="A CSV/Parquet file or a built-in name.")] = "demo",
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Forecast a table with LTSF-Linear (Linear, NLinear, DLinear) or OLinear.

    Example: tsdyn forecast ETTh1.csv --model dlinear --pred-len 96
    """
    with start_run(
        "forecast",
        {"data": data},
        out=out,
        overwrite=overwrite,
        device=device,
        seed=seed,
        threads=threads,
        quiet=quiet,
        json_out=json_out,
    ) as run:
        run.write_config()
        not_yet("forecast", 4)
