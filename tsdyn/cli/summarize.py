"""`tsdyn summarize`: TiVy-R visual summaries of many series (issue 7)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from tsdyn.cli._common import (
    ColumnsOpt,
    DateColOpt,
    DeviceOpt,
    JsonOpt,
    OutOpt,
    OverwriteOpt,
    QuietOpt,
    SeedOpt,
    ThreadsOpt,
    start_run,
)

_ALGO = "TiVy-R"
_VIEW = "Output"


class Normalize(StrEnum):
    series_z = "series-z"
    series_minmax = "series-minmax"
    window_z = "window-z"
    none = "none"


class Order(StrEnum):
    time = "time"
    random = "random"


class Alphabet(StrEnum):
    global_ = "global"
    window = "window"


def register(app: typer.Typer) -> None:
    app.command("summarize")(summarize)


def summarize(
    data: Annotated[
        str | None,
        typer.Argument(
            help="A wide CSV/Parquet table (time column + one column per series), a long table "
            "with --long, or a built-in name (default: 'motifs', planted motifs).",
            show_default=False,
        ),
    ] = None,
    long: Annotated[
        str | None,
        typer.Option(
            "--long",
            help="Long table: the series-id, time and value columns, e.g. series_id,time,value.",
            rich_help_panel="Data",
            show_default=False,
        ),
    ] = None,
    date_col: DateColOpt = None,
    columns: ColumnsOpt = None,
    window: Annotated[
        str | None,
        typer.Option(
            help="Window length: samples (24) or a duration (7d, 12h); default max(8, T/64).",
            rich_help_panel=_ALGO,
            show_default=False,
        ),
    ] = None,
    normalize: Annotated[
        Normalize, typer.Option(help="Normalisation before windowing.", rich_help_panel=_ALGO)
    ] = Normalize.series_z,
    band: Annotated[
        float,
        typer.Option(help="Sakoe-Chiba radius as a fraction of the window.", rich_help_panel=_ALGO),
    ] = 0.1,
    eps: Annotated[
        float,
        typer.Option(
            help="DTW tolerance as an RMS per point (eps = delta * sqrt(w)).", rich_help_panel=_ALGO
        ),
    ] = 0.5,
    eps_quantile: Annotated[
        float | None,
        typer.Option(
            "--eps-quantile",
            help="Instead of --eps: this quantile of DTW over 2,000 random window pairs.",
            rich_help_panel=_ALGO,
            show_default=False,
        ),
    ] = None,
    refine: Annotated[
        int,
        typer.Option(
            help="Medoid refinement passes (0: about twice as fast, more chance groups).",
            rich_help_panel=_ALGO,
        ),
    ] = 1,
    min_support: Annotated[
        int | None,
        typer.Option(
            "--min-support",
            help="Minimum series per group (default max(2, 2% of the series)).",
            rich_help_panel=_ALGO,
            show_default=False,
        ),
    ] = None,
    max_pattern_len: Annotated[
        int | None,
        typer.Option(
            "--max-pattern-len",
            help="Longest group in windows (default unlimited).",
            rich_help_panel=_ALGO,
            show_default=False,
        ),
    ] = None,
    panel_cost: Annotated[
        float | None,
        typer.Option(
            "--panel-cost",
            help="Cost of one more panel, in cells (default = min support); raise for fewer panels.",
            rich_help_panel=_ALGO,
            show_default=False,
        ),
    ] = None,
    alphabet: Annotated[
        Alphabet,
        typer.Option(
            help="One symbol alphabet for all windows, or one per window.", rich_help_panel=_ALGO
        ),
    ] = Alphabet.global_,
    order: Annotated[
        Order,
        typer.Option(
            help="Visiting order of the symbolisation (random uses --seed).", rich_help_panel=_ALGO
        ),
    ] = Order.time,
    max_panels: Annotated[
        int,
        typer.Option(
            "--max-panels", help="Panels drawn (the largest groups).", rich_help_panel=_VIEW
        ),
    ] = 24,
    max_lines: Annotated[
        int,
        typer.Option(
            "--max-lines",
            help="Above this many members a panel is a density band.",
            rich_help_panel=_VIEW,
        ),
    ] = 200,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Summarize many time series visually (TiVy-R): DTW symbols, frequent patterns, small multiples.

    TiVy-R is a reconstruction of TiVy (Chan et al., IEEE VIS 2025); the paper's exact parameters are not public. Writes summary.png/.svg/.html, groups.json and assignments.csv. The symbolisation runs on the CPU (pruned range queries); --device is recorded only.

    Example: tsdyn summarize series.csv --window 24 --out runs/summary
    """
    from tsdyn.errors import InputError

    settings = {
        "data": data or "motifs",
        "long": long,
        "date_col": date_col,
        "columns": columns,
        "window": window,
        "normalize": normalize.value,
        "band": band,
        "eps": eps,
        "eps_quantile": eps_quantile,
        "refine": refine,
        "min_support": min_support,
        "max_pattern_len": max_pattern_len,
        "panel_cost": panel_cost,
        "alphabet": alphabet.value,
        "order": order.value,
        "max_panels": max_panels,
        "max_lines": max_lines,
    }
    if max_panels < 1 or max_lines < 1:
        raise InputError("--max-panels and --max-lines must be at least 1", "e.g. --max-panels 24")
    with start_run(
        "summarize",
        settings,
        out=out,
        overwrite=overwrite,
        device=device,
        seed=seed,
        threads=threads,
        quiet=quiet,
        json_out=json_out,
    ) as run:
        from tsdyn.datasets import parse_columns
        from tsdyn.summarize import (
            TiVy,
            load_series,
            one_line,
            parse_duration_samples,
            write_summary,
        )

        if long is not None and data is None:
            raise InputError("--long needs a DATA file", "pass the long table's path")
        if long is not None and (columns or date_col):
            raise InputError(
                "--columns and --date-col apply to wide tables", "leave them out with --long"
            )
        series = load_series(
            data or "motifs",
            long=long,
            date_col=date_col,
            columns=parse_columns(columns),
            builtin_kwargs={"seed": seed},
        )
        for note in series.notes:
            run.log(f"note: {note}")
        tv = TiVy(
            window=parse_duration_samples(window, series.freq),
            normalize=normalize.value,
            band=band,
            eps=eps,
            eps_quantile=eps_quantile,
            refine=refine,
            min_support=min_support,
            max_pattern_len=max_pattern_len,
            panel_cost=panel_cost,
            order=order.value,
            alphabet=alphabet.value,
            seed=seed,
        )
        tv.fit(series.values, progress=run.progress)
        run.write_config(resolved=tv.params())
        doc = write_summary(run.folder, tv, series, max_panels=max_panels, max_lines=max_lines)
        metrics = {
            "n_series": tv.n_series_,
            "n_samples": tv.n_samples_,
            "window": tv.window_,
            "alphabet_size": tv.alphabet_size_,
            **tv.metrics_,
            "panels": sum(g["shown"] for g in doc["groups"]),
            "timings": tv.timings_,
        }
        run.finish(metrics, one_line(tv, tv.timings_["total"]) + f"  -> {run.folder.path}")
