"""What every subcommand shares: the common options, the run context, output and error mapping.

Only light imports at module level (typer, stdlib): `tsdyn --help` must not import torch.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = [
    "DeviceOpt",
    "JsonOpt",
    "OutOpt",
    "OverwriteOpt",
    "QuietOpt",
    "Run",
    "SeedOpt",
    "ThreadsOpt",
    "emit",
    "start_run",
]

# the arguments of the current `tsdyn` invocation (set by the root group; in-process runs included)
INVOCATION: list[str] = []

_COMMON = "Common options"

OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Run folder (default runs/<command>-<timestamp>).",
        rich_help_panel=_COMMON,
        show_default=False,
    ),
]
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite", help="Allow writing into an existing --out folder.", rich_help_panel=_COMMON
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option(
        "--device",
        help="auto | cpu | cuda | cuda:N (auto = CUDA when available).",
        rich_help_panel=_COMMON,
    ),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Random seed (python, numpy, torch).", rich_help_panel=_COMMON)
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="CPU threads for torch (default: all cores; 1 for the small LTSF-Linear models).",
        rich_help_panel=_COMMON,
        show_default=False,
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bars or logs.", rich_help_panel=_COMMON)
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print the result as one JSON document.", rich_help_panel=_COMMON),
]


class Features(StrEnum):
    M = "M"
    S = "S"
    MS = "MS"


class SplitScheme(StrEnum):
    auto = "auto"
    ett_hour = "ett-hour"
    ett_minute = "ett-minute"
    ratio = "ratio"


class Schedule(StrEnum):
    type1 = "type1"
    type3 = "type3"
    cosine = "cosine"
    constant = "constant"


class FillMethod(StrEnum):
    ffill = "ffill"
    interpolate = "interpolate"
    drop = "drop"


# Data options shared by every command that reads a table.
DateColOpt = Annotated[
    str | None,
    typer.Option(
        "--date-col",
        help="Time column (default: date/time/timestamp, or the "
        "first column of dates; '' for none).",
        rich_help_panel="Data",
        show_default=False,
    ),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Comma-separated value columns to use (default: all); write \\, for a comma inside a name.",
        rich_help_panel="Data",
        show_default=False,
    ),
]
FillOpt = Annotated[
    FillMethod | None,
    typer.Option(
        "--fill",
        help="Fill empty/NaN cells instead of failing.",
        rich_help_panel="Data",
        show_default=False,
    ),
]
NaValuesOpt = Annotated[
    str | None,
    typer.Option(
        "--na-values",
        help="Comma-separated sentinel values meaning missing, e.g. -9999.",
        rich_help_panel="Data",
        show_default=False,
    ),
]


def parse_na_values(text: str | None) -> list[float]:
    """`"-9999,-999"` -> `[-9999.0, -999.0]`, with a usage error for anything else."""
    from tsdyn.errors import InputError

    if not text:
        return []
    out = []
    for part in text.split(","):
        try:
            out.append(float(part))
        except ValueError:
            raise InputError(
                f"--na-values '{part}' is not a number",
                "pass numbers separated by commas, e.g. --na-values -9999",
            ) from None
    return out


def load_data(
    data: str,
    *,
    columns=None,
    date_col: str | None = None,
    fill: FillMethod | str | None = None,
    na_values: str | None = None,
    target: str | None = None,
    **kwargs: Any,
):
    """`tsdyn.datasets.load` fed from the shared data options (--columns, --date-col, --fill,
    --na-values, --target) as the CLI parsed them; extra keywords go to the loader.

    `columns` is the --columns text (comma-separated) or a list of exact column names."""
    from tsdyn.datasets import load, parse_columns

    return load(
        data,
        date_col=date_col,
        columns=parse_columns(columns)
        if columns is None or isinstance(columns, str)
        else list(columns),
        target=target,
        fill=fill.value if isinstance(fill, FillMethod) else fill,
        na_values=parse_na_values(na_values),
        **kwargs,
    )


class _BarProgress:
    """A rich progress display on stderr, one bar per task name, fed by the library's callback."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.started = False

    def __call__(self, task: str, completed: int, total: int | None, info: dict[str, Any]) -> None:
        if not self.started:  # started on the first report: a run that fails early prints nothing
            self.progress.start()
            self.started = True
        text = "  ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()
        )
        if task not in self.tasks:
            self.tasks[task] = self.progress.add_task(task, total=total, info=text)
        self.progress.update(self.tasks[task], completed=completed, total=total, info=text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.started:
            self.progress.stop()


class Run:
    """One command's run: settings, device, run folder, progress callback and the final output."""

    def __init__(
        self, command: str, settings: dict[str, Any], folder, device, quiet: bool, json_out: bool
    ):
        self.command = command
        self.settings = settings
        self.folder = folder
        self.device = device
        self.quiet = quiet
        self.json = json_out
        self.started = time.time()
        self.progress = None  # set by start_run

    def log(self, message: str) -> None:
        """A line on stderr (silenced by --quiet)."""
        if not self.quiet:
            typer.echo(message, err=True)

    def write_config(self, **extra: Any) -> None:
        """config.json: every setting, the seed, versions and the device."""
        from tsdyn.runtime import environment

        self.folder.write_json(
            "config.json",
            {
                "command": self.command,
                "argv": list(INVOCATION) or sys.argv[1:],
                "settings": self.settings,
                **extra,
                "environment": environment(self.device),
            },
        )

    def finish(self, metrics: dict[str, Any], text: str) -> None:
        """Write metrics.json, then print `text` (or the metrics as JSON with --json)."""
        metrics = {
            **metrics,
            "run_dir": str(self.folder.path),
            "seconds": round(time.time() - self.started, 3),
        }
        self.folder.write_json("metrics.json", metrics)
        emit(metrics if self.json else None, text)


def emit(document: Any, text: str) -> None:
    """Print the result: one JSON document when `document` is given, else `text`."""
    if document is not None:
        from tsdyn.outputs import to_jsonable

        typer.echo(json.dumps(to_jsonable(document), indent=2))
    else:
        typer.echo(text.rstrip("\n"))


@contextlib.contextmanager
def start_run(
    command: str,
    settings: dict[str, Any],
    *,
    out: Path | None,
    overwrite: bool,
    device: str,
    seed: int,
    threads: int | None,
    quiet: bool,
    json_out: bool,
) -> Iterator[Run]:
    """Set threads, seed and device, prepare the run folder, show progress; discard outputs on failure.

    The folder is created on the first write; if the block raises (bad input, an interrupt, a bug),
    every file this run wrote is removed again, and the folder too if this run created it.
    """
    from tsdyn.outputs import RunFolder, default_run_dir
    from tsdyn.runtime import null_progress, resolve_device, seed_everything, set_threads

    set_threads(threads)
    seed_everything(seed)
    dev = resolve_device(device)
    folder = RunFolder(out if out is not None else default_run_dir(command), overwrite=overwrite)
    settings = {**settings, "seed": seed, "device": str(dev), "threads": threads}
    run = Run(command, settings, folder, dev, quiet, json_out)
    try:
        if quiet:
            run.progress = null_progress
            yield run
        else:
            with _BarProgress() as bar:
                run.progress = bar
                yield run
    except BaseException:
        folder.discard()
        raise
    folder.commit()


def not_yet(command: str, issue: int) -> None:
    """Stop a subcommand that a later issue fills in (exit code 2)."""
    from tsdyn.errors import InputError

    raise InputError(
        f"'tsdyn {command}' is not implemented yet (issue {issue})",
        "see `tsdyn --help` for the commands that work",
    )
