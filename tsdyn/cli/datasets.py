"""`tsdyn datasets`: list built-in data, generate trajectories, describe a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tsdyn.cli._common import (
    ColumnsOpt,
    DateColOpt,
    JsonOpt,
    NaValuesOpt,
    OverwriteOpt,
    SeedOpt,
    SplitScheme,
    emit,
    load_data,
)

datasets_app = typer.Typer(help="Built-in data sets and file checks.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(
        datasets_app,
        name="datasets",
        help="List built-in data, generate system trajectories, describe a table file.",
    )


@datasets_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """List the built-in data names (usable wherever a file path is).

    Example: tsdyn datasets list
    """
    from tsdyn.datasets import BUILTINS

    rows = {name: description for name, (description, _) in BUILTINS.items()}
    width = max(map(len, rows))
    emit(rows if json_out else None, "\n".join(f"{k:<{width}}  {v}" for k, v in rows.items()))


@datasets_app.command("generate")
def generate(
    name: Annotated[
        str, typer.Argument(help="Built-in name: lorenz63, rossler, lorenz96 or demo.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output .csv or .parquet (default <name>.csv).", show_default=False
        ),
    ] = None,
    steps: Annotated[int, typer.Option(help="Number of samples.")] = 10_000,
    dt: Annotated[
        float | None,
        typer.Option(help="Sampling step (default: the system's).", show_default=False),
    ] = None,
    transient: Annotated[int, typer.Option(help="Samples integrated and dropped first.")] = 1000,
    noise: Annotated[
        float, typer.Option(help="Observation noise SD, as a fraction of each column's SD.")
    ] = 0.0,
    dim: Annotated[
        int | None, typer.Option(help="Dimension (lorenz96 only, default 20).", show_default=False)
    ] = None,
    seed: SeedOpt = 0,
    overwrite: OverwriteOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Write a trajectory of a built-in system (or the demo table) to CSV or Parquet.

    Example: tsdyn datasets generate lorenz63 --steps 20000 --dt 0.01 --out lorenz.csv
    """
    from tsdyn.datasets import BUILTINS
    from tsdyn.errors import InputError
    from tsdyn.outputs import atomic_path

    if name not in BUILTINS:
        raise InputError(f"unknown built-in '{name}'", f"use one of {', '.join(BUILTINS)}")
    out = Path(out) if out is not None else Path(f"{name}.csv")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(
            f"--out {out} must end in .csv or .parquet", "choose a .csv or .parquet name"
        )
    if out.is_dir():
        raise InputError(f"--out {out} is a folder", "pass a file name ending in .csv or .parquet")
    if out.exists() and not overwrite:
        raise InputError(f"{out} exists", "pass --overwrite or choose another --out")
    if not out.parent.is_dir():
        raise InputError(
            f"folder {out.parent} does not exist", "create it first or choose another --out"
        )
    if name == "demo":
        if dt is not None or dim is not None or noise:
            raise InputError(
                "--dt, --dim and --noise apply to systems, not to the demo table", "leave them out"
            )
        table = BUILTINS[name][1](n_rows=steps, seed=seed)
    else:
        table = BUILTINS[name][1](
            steps=steps, dt=dt, transient=transient, noise=noise, seed=seed, dim=dim
        )
    frame = table.to_polars()
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".parquet":
            frame.write_parquet(tmp)
        else:
            frame.write_csv(tmp)
    result = {
        "name": name,
        "out": str(out),
        "rows": table.n_rows,
        "columns": list(table.columns),
        "step": table.freq,
    }
    emit(
        result if json_out else None,
        f"wrote {out}: {table.n_rows} rows x {table.n_columns} columns ({', '.join(table.columns)})",
    )


@datasets_app.command("info")
def info(
    data: Annotated[str, typer.Argument(help="A CSV/Parquet file or a built-in name.")],
    seq_len: Annotated[
        int, typer.Option("--seq-len", help="Look-back L for the split sizes.")
    ] = 336,
    pred_len: Annotated[
        int, typer.Option("--pred-len", help="Horizon H for the split sizes.")
    ] = 96,
    split: Annotated[
        SplitScheme,
        typer.Option(
            help="Split scheme (auto: ett-* for ETTh*/ETTm* files, else ratio 0.7/0.1/0.2)."
        ),
    ] = SplitScheme.auto,
    date_col: DateColOpt = None,
    columns: ColumnsOpt = None,
    na_values: NaValuesOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Describe a table: rows, columns, frequency, date range, missing cells and split sizes.

    Example: tsdyn datasets info ../shared/data/ETTh1.csv --seq-len 336 --pred-len 96
    """
    import numpy as np

    from tsdyn.datasets import make_split
    from tsdyn.errors import InputError

    table = load_data(
        data,
        columns=columns,
        date_col=date_col,
        fill="keep",
        na_values=na_values,
        allow_constant=True,
    )
    missing = {
        c: int(n) for c, n in zip(table.columns, np.isnan(table.values).sum(axis=0), strict=True)
    }
    result = {
        "name": table.name,
        "source": table.source,
        "rows": table.n_rows,
        "columns": list(table.columns),
        "time_column": table.time_name,
        "frequency": table.freq,
        "start": None if table.time is None else str(table.time[0]),
        "end": None if table.time is None else str(table.time[-1]),
        "missing": missing,
        "notes": list(table.notes),
    }
    try:
        sp = make_split(table.n_rows, seq_len, pred_len, split.value, table.name)
        result["split"] = {
            "scheme": sp.scheme,
            "seq_len": seq_len,
            "pred_len": pred_len,
            **sp.sizes(),
        }
    except InputError as exc:
        result["split"] = {"error": exc.one_line()}
    lines = [
        f"{result['name']}: {table.n_rows} rows x {table.n_columns} columns",
        f"columns   {', '.join(table.columns)}",
        f"time      {table.time_name or '(none)'}, step {table.freq}, {result['start']} .. {result['end']}",
        f"missing   {sum(missing.values())} cells"
        + (
            ": " + ", ".join(f"{c} {n}" for c, n in missing.items() if n)
            if any(missing.values())
            else ""
        ),
    ]
    if "error" in result["split"]:
        lines.append(f"split     {result['split']['error']}")
    else:
        s = result["split"]
        lines.append(
            f"split     {s['scheme']} (L={seq_len}, H={pred_len}): "
            + ", ".join(
                f"{p} {s[p]['rows']} rows / {s[p]['windows']} windows"
                for p in ("train", "val", "test")
            )
        )
    lines += [f"note      {n}" for n in table.notes]
    emit(result if json_out else None, "\n".join(lines))
