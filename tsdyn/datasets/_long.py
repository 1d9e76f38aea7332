"""Long tables (one row per series, time and value) pivoted to one column per series."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tsdyn.datasets._table import Table, _check_file, _infer_freq, _parse_time, _where
from tsdyn.errors import InputError

__all__ = ["load_long_table"]


def load_long_table(path: str | Path, id_col: str, time_col: str, value_col: str) -> Table:
    """Read a long CSV/Parquet table and pivot it to a wide `Table`.

    Parameters
    ----------
    path : path-like
    id_col, time_col, value_col : str
        The series id, time (dates or numbers) and value columns.

    Returns
    -------
    Table
        values [T, M] on the union of all timestamps (NaN where a series has no value), one column
        per series id in order of first appearance, sorted time, inferred frequency.
    """
    import polars as pl

    path = Path(path)
    label = str(path)
    kind = _check_file(path)
    try:
        frame = (
            pl.read_parquet(path) if kind == "Parquet" else pl.read_csv(path, infer_schema=False)
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(
            f"could not be read: {str(exc).splitlines()[0][:200]}", "check the file", label
        ) from None
    for c in (id_col, time_col, value_col):
        if c not in frame.columns:
            raise InputError(
                f"has no column '{c}' (columns: {', '.join(frame.columns[:10])})",
                "fix --long",
                label,
            )
    if frame.height == 0:
        raise InputError("has no data rows", "pass a file with data rows", label)
    ids = frame.get_column(id_col).cast(pl.String)
    if ids.is_null().any():
        row = int(ids.is_null().arg_true()[0]) + 2
        raise InputError(
            f"column '{id_col}' is empty at line {row}", "give every row a series id", label
        )
    text = frame.get_column(value_col).cast(pl.String).str.strip_chars()
    values = text.cast(pl.Float64, strict=False)
    bad = values.is_null() & text.is_not_null() & (text != "")
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InputError(
            f"column '{value_col}' has a non-numeric value '{text[row]}' at line {row + 2}",
            "fix the cell",
            label,
        )
    where = functools.partial(_where, kind=kind, offset=1 if kind == "Parquet" else 2)
    time = pl.Series(_parse_time(frame.get_column(time_col), time_col, label, where))
    tidy = pl.DataFrame({"id": ids, "t": time, "v": values})
    dup = tidy.select(["id", "t"]).is_duplicated()
    if dup.any():
        row = int(dup.arg_true()[0])
        raise InputError(
            f"series '{ids[row]}' has two values at time {tidy['t'][row]} (line {row + 2})",
            "aggregate duplicates first",
            label,
        )
    order = list(dict.fromkeys(tidy.get_column("id").to_list()))
    wide = tidy.pivot(on="id", index="t", values="v").sort("t")
    grid = wide.get_column("t").to_numpy()
    matrix = np.column_stack(
        [wide.get_column(name).to_numpy().astype(np.float64) for name in order]
    )
    freq, notes = None, [f"pivoted a long table: {len(order)} series x {len(grid)} times"]
    if len(grid) > 1:
        freq, note = _infer_freq(grid)
        if note:
            notes.append(note)
    return Table(
        values=matrix,
        columns=tuple(order),
        time=grid,
        time_name=time_col,
        freq=freq,
        name=path.stem,
        source=label,
        notes=tuple(notes),
    )
