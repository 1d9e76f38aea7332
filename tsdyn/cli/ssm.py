"""`tsdyn ssm`: HiPPO projections and LSSL/S4D state-space layers (filled in by issue 5)."""

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

ssm_app = typer.Typer(
    help="HiPPO online projection and S4D/LSSL state-space models.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(ssm_app, name="ssm", help="HiPPO projections and LSSL/S4D state-space layers.")


@ssm_app.command("project")
def project(
    data: Annotated[str, typer.Argument(help="A CSV/Parquet file or a built-in name.")],
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Compress each column online into N HiPPO coefficients and reconstruct it.

    Example: tsdyn ssm project ETTh1.csv --measure legt --state-size 64 --window 96
    """
    with start_run(
        "ssm-project",
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
        not_yet("ssm project", 5)


@ssm_app.command("fit")
def fit(
    data: Annotated[str, typer.Argument(help="A CSV/Parquet file or a built-in name.")] = "demo",
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Train a small deep S4D/LSSL forecaster and report its learned timescales.

    Example: tsdyn ssm fit ETTh1.csv --layer s4d --pred-len 96
    """
    with start_run(
        "ssm-fit",
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
        not_yet("ssm fit", 5)
