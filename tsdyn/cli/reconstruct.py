"""`tsdyn reconstruct`: AL-RNN dynamical-systems reconstruction (filled in by issue 6)."""

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
    app.command("reconstruct")(reconstruct)


def reconstruct(
    data: Annotated[
        str,
        typer.Argument(
            help="A built-in system (lorenz63, rossler, lorenz96) or a CSV/Parquet trajectory."
        ),
    ] = "lorenz63",
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Reconstruct a chaotic system with an Almost-Linear RNN and its symbolic code.

    Example: tsdyn reconstruct lorenz63 --out runs/lorenz
    """
    with start_run(
        "reconstruct",
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
        not_yet("reconstruct", 6)
