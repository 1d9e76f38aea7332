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
    from tsdyn.datasets import load_long_table

    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 3 or not all(parts):
        raise InputError(
            f"--long '{spec}' must name three columns", "e.g. --long series_id,time,value"
        )
    table = load_long_table(path, *parts)
    V, names, notes = _fill(table.values, table.columns, table.label)
    return Series(
        V, tuple(names), table.time, table.freq, table.label, tuple(table.notes) + tuple(notes)
    )
