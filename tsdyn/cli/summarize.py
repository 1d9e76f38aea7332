"""`tsdyn summarize`: TiVy visual summaries of many series (filled in by issue 7)."""

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
    app.command("summarize")(summarize)


def summarize(
    data: Annotated[
        str | None,
        typer.Argument(
            help="A wide or long CSV/Parquet table of many series "
            "(default: built-in planted motifs).",
            show_default=False,
        ),
    ] = None,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Summarize many time series visually (TiVy): DTW symbols, frequent patterns, small multiples.

    Example: tsdyn summarize series.csv --window 24 --out runs/summary
    """
    with start_run(
        "summarize",
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
        not_yet("summarize", 7)
