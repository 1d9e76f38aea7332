"""Input for `tsdyn summarize`: wide tables (through `tsdyn.datasets`) or long tables pivoted here.

Missing values are linearly interpolated per series (constant beyond the ends); a series with no
value at all is dropped with a note (research note sec. 2.1).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tsdyn.errors import InputError

__all__ = ["Series", "load_series", "parse_duration_samples"]

_UNITS = {
    "us": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "min": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 7 * 86_400_000_000,
}


@dataclasses.dataclass(frozen=True)
class Series:
    """M series on one time grid: values [T, M] (no NaN), names [M], time [T] or None."""

    values: np.ndarray
    names: tuple[str, ...]
    time: np.ndarray | None
    freq: str | float | None
    label: str
    notes: tuple[str, ...] = ()


def _fill(values: np.ndarray, names, label: str):
    notes = []
    keep = ~np.isnan(values).all(axis=0)
    if not keep.all():
        dropped = [n for n, k in zip(names, keep, strict=True) if not k]
        notes.append(
            f"dropped {len(dropped)} empty series: {', '.join(dropped[:5])}{' ...' if len(dropped) > 5 else ''}"
        )
        values, names = values[:, keep], tuple(n for n, k in zip(names, keep, strict=True) if k)
    missing = np.isnan(values)
    if missing.any():
        rows = np.arange(len(values))
        values = values.copy()
        for j in np.flatnonzero(missing.any(axis=0)):
            ok = ~missing[:, j]
            values[:, j] = np.interp(rows, rows[ok], values[ok, j])
        notes.append(f"interpolated {int(missing.sum())} missing values")
    if values.shape[1] == 0:
        raise InputError("has no series with values", "check the file", label)
    return values, names, notes


def _duration_us(text: str) -> int | None:
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", text.lower())
    if not match or match.group(2) not in _UNITS:
        return None
    return round(float(match.group(1)) * _UNITS[match.group(2)])


def parse_duration_samples(spec: str | int | None, freq) -> int | None:
    """`--window`: samples ("24") or a duration ("7d", "12h") divided by the table's step."""
    if spec is None or isinstance(spec, int):
        return spec
    text = str(spec).strip()
    if text.isdigit():
        return int(text)
    us = _duration_us(text)
    if us is None:
        raise InputError(
            f"--window '{spec}' is neither a number of samples nor a duration",
            "e.g. --window 24 or --window 7d",
        )
    step = _duration_us(freq) if isinstance(freq, str) else None
    if not step:
        raise InputError(
            f"--window '{spec}' is a duration but the table has no regular time step",
            "give the window in samples, e.g. --window 24",
        )
    if us % step:
        raise InputError(
            f"--window '{spec}' is not a whole number of time steps ({freq})",
            "pick a multiple of the step",
        )
    return us // step


def load_series(
    source: str | Path | None,
    *,
    long: str | None = None,
    date_col: str | None = None,
    columns=None,
    builtin_kwargs: dict | None = None,
) -> Series:
    """A wide table (a file or built-in name; columns are series) or, with `long="id,time,value"`,
    a long table pivoted to one column per series id."""
    if long is not None:
        return _load_long(Path(source), long)
    from tsdyn.datasets import load

    table = load(
        source,
        builtin_kwargs=builtin_kwargs,
        date_col=date_col,
        columns=columns,
        fill="keep",
        allow_constant=True,
    )
    values, names, notes = _fill(table.values, table.columns, table.label)
    return Series(
        values, tuple(names), table.time, table.freq, table.label, tuple(table.notes) + tuple(notes)
    )


def _load_long(path: Path, spec: str) -> Series:
    import polars as pl

    from tsdyn.datasets._table import _check_file, _infer_freq

    label = str(path)
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 3 or not all(parts):
        raise InputError(
            f"--long '{spec}' must name three columns", "e.g. --long series_id,time,value"
        )
    sid, tcol, vcol = parts
    kind = _check_file(path)
    try:
        frame = (
            pl.read_parquet(path) if kind == "Parquet" else pl.read_csv(path, infer_schema=False)
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(
            f"could not be read: {str(exc).splitlines()[0][:200]}", "check the file", label
        ) from None
    for c in parts:
        if c not in frame.columns:
            raise InputError(
                f"has no column '{c}' (columns: {', '.join(frame.columns[:10])})",
                "fix --long",
                label,
            )
    if frame.height == 0:
        raise InputError("has no data rows", "pass a file with data rows", label)
    ids = frame.get_column(sid).cast(pl.String)
    if ids.is_null().any():
        row = int(ids.is_null().arg_true()[0]) + 2
        raise InputError(
            f"column '{sid}' is empty at line {row}", "give every row a series id", label
        )
    text = frame.get_column(vcol).cast(pl.String).str.strip_chars()
    values = text.cast(pl.Float64, strict=False)
    bad = values.is_null() & text.is_not_null() & (text != "")
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InputError(
            f"column '{vcol}' has a non-numeric value '{text[row]}' at line {row + 2}",
            "fix the cell",
            label,
        )
    raw_time = frame.get_column(tcol)
    time = raw_time if raw_time.dtype.is_temporal() else None
    if time is None:
        ttext = raw_time.cast(pl.String).str.strip_chars()
        numbers = ttext.cast(pl.Float64, strict=False)
        if numbers.is_not_null().all():
            time = numbers
        else:
            try:
                parsed = ttext.str.to_datetime(strict=False, time_unit="us")
            except pl.exceptions.PolarsError:
                parsed = pl.Series([None] * len(ttext), dtype=pl.Datetime("us"))
            if parsed.is_null().any():
                row = int(parsed.is_null().arg_true()[0])
                raise InputError(
                    f"column '{tcol}' has a value that is neither a date nor a number ('{ttext[row]}' at line {row + 2})",
                    "fix the cell",
                    label,
                )
            time = parsed
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
    V = np.column_stack([wide.get_column(name).to_numpy().astype(np.float64) for name in order])
    V, names, notes = _fill(V, tuple(order), label)
    freq = None
    if len(grid) > 1:
        freq, note = _infer_freq(grid)
        if note:
            notes.append(note)
    notes.insert(0, f"pivoted a long table: {len(order)} series x {len(grid)} times")
    return Series(V, tuple(names), grid, freq, label, tuple(notes))
