"""`Table` and `load_table`: CSV/Parquet files -> a checked float array with its time axis.

Polars reads every file lazily; CSV cells are read as strings and cast explicitly, so each bad cell can
be named with its line. Column names are kept exactly as written (ILI's contain spaces, '%' and '.').
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tsdyn.errors import InputError

__all__ = ["FILL_METHODS", "Table", "load_table", "parse_columns"]

#: How missing cells are handled: None raises, "keep" leaves NaN (for `datasets info`).
FILL_METHODS = ("ffill", "interpolate", "drop", "keep")
TIME_NAMES = ("date", "time", "timestamp", "datetime")
_MISSING_TOKENS = ("", "nan", "na", "n/a", "null", "none", "-nan")
_DAY_US = 86_400_000_000
_UNITS_US = (
    ("d", _DAY_US),
    ("h", 3_600_000_000),
    ("m", 60_000_000),
    ("s", 1_000_000),
    ("ms", 1_000),
    ("us", 1),
)


@dataclasses.dataclass(frozen=True, eq=False)
class Table:
    """A multivariate series: values `[T, C]` with column names and an optional time axis.

    Attributes
    ----------
    values : ndarray, shape [T, C], float64
        One column per variable; the target (if any) is the last column.
    columns : tuple of str
        Column names exactly as in the file.
    time : ndarray, shape [T], datetime64[us] or float64, or None
        Timestamps (dates) or numeric times; None when the file has no time column.
    time_name : str or None
        Name of the time column in the file.
    freq : str or float or None
        Sampling step: a polars duration string ("1h", "7d", "1mo") for dates, a float for numeric times.
    name : str
        File stem or built-in name (used by `--split auto` and `--preset paper`).
    source : str or None
        The file path, or None for built-in data.
    target : str or None
        The target column (`--target`), placed last.
    notes : tuple of str
        What the loader changed or noticed (filled cells, irregular sampling).
    """

    values: np.ndarray
    columns: tuple[str, ...]
    time: np.ndarray | None = None
    time_name: str | None = None
    freq: str | float | None = None
    name: str = "table"
    source: str | None = None
    target: str | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        if self.values.ndim != 2 or self.values.shape[1] != len(self.columns):
            raise ValueError(f"values {self.values.shape} do not match {len(self.columns)} columns")

    @property
    def n_rows(self) -> int:
        return self.values.shape[0]

    @property
    def n_columns(self) -> int:
        return self.values.shape[1]

    @property
    def label(self) -> str:
        """How errors name this table: the file path or the built-in name."""
        return self.source or self.name

    def column_index(self, column: str) -> int:
        try:
            return self.columns.index(column)
        except ValueError:
            raise _unknown_column(column, self.columns, self.label) from None

    def select(self, columns: Sequence[str]) -> Table:
        """A table with only `columns` (in that order)."""
        index = [self.column_index(c) for c in columns]
        target = self.target if self.target in columns else None
        return dataclasses.replace(
            self, values=self.values[:, index], columns=tuple(columns), target=target
        )

    def future_time(self, n: int) -> np.ndarray | None:
        """The `n` timestamps after the last row, continuing the inferred frequency."""
        if self.time is None or self.freq is None or len(self.time) == 0:
            return None
        if isinstance(self.freq, float):
            return self.time[-1] + self.freq * np.arange(1, n + 1)
        return _offset_dates(self.time[-1], self.freq, n)

    def to_polars(self):
        """The table as a polars DataFrame (time column first when there is one)."""
        import polars as pl

        data = {}
        if self.time is not None:
            data[self.time_name or "date"] = self.time
        for j, column in enumerate(self.columns):
            data[column] = self.values[:, j]
        return pl.DataFrame(data)


def parse_columns(spec: str | Sequence[str] | None) -> list[str] | None:
    """`"a,b,c"` or `["a", "b,c"]` -> `["a", "b", "c"]`; None stays None.

    A backslash keeps a comma inside a name: `"rate\\,%,b"` -> `["rate,%", "b"]`."""
    if spec is None:
        return None
    items = [spec] if isinstance(spec, str) else list(spec)
    out = [
        part.replace("\\,", ",").strip() for item in items for part in re.split(r"(?<!\\),", item)
    ]
    return [c for c in out if c] or None


def load_table(
    path: str | Path,
    *,
    date_col: str | None = None,
    columns: Sequence[str] | None = None,
    target: str | None = None,
    fill: str | None = None,
    na_values: Sequence[float] = (),
    allow_constant: bool = False,
) -> Table:
    """Load a CSV or Parquet table and check it.

    Parameters
    ----------
    path : path-like
        A `.csv`/`.tsv`/`.txt` or `.parquet` file.
    date_col : str, optional
        The time column; by default a column named date/time/timestamp/datetime, or else the first
        column whose cells all parse as datetimes. `""` means: no time column.
    columns : sequence of str, optional
        Value columns to keep (default: all but the time column).
    target : str, optional
        The target column; kept (even if not in `columns`) and moved last.
    fill : {None, "ffill", "interpolate", "drop", "keep"}
        What to do with empty/NaN cells: None raises an error naming the rows.
    na_values : sequence of float
        Sentinel values that mean "missing" (e.g. -9999).
    allow_constant : bool
        Accept constant columns (otherwise an error: a constant column cannot be standardized).

    Returns
    -------
    Table
    """
    import polars as pl

    path = Path(path)
    label = str(path)
    if fill is not None and fill not in FILL_METHODS:
        raise InputError(f"unknown fill method '{fill}'", f"use one of {', '.join(FILL_METHODS)}")
    kind = _check_file(path)
    try:
        frame, line_offset = _read(path, kind)
    except InputError as exc:
        raise exc.with_source(label) from None
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"could not be read as {kind}: {first[:200]}",
            "check that it is a well-formed CSV (same number of fields on every line) or Parquet file",
            label,
        ) from None

    where = functools.partial(_where, kind=kind, offset=line_offset)

    if frame.width == 0:
        raise InputError("has no columns", "pass a CSV with a header line and data rows", label)
    if frame.height == 0:
        raise InputError("has a header but no data rows", "pass a file with data rows", label)

    time_name = _find_time_column(frame, date_col, label)
    time = None
    if time_name is not None:
        time = _parse_time(frame.get_column(time_name), time_name, label, where)

    value_names = [c for c in frame.columns if c != time_name]
    if columns is not None:
        for c in columns:
            if c not in frame.columns:
                raise _unknown_column(c, value_names, label)
            if c == time_name:
                raise InputError(
                    f"column '{c}' is the time column, not a value column",
                    "leave it out of --columns",
                    label,
                )
        value_names = list(dict.fromkeys(columns))
    if target is not None:
        if target not in frame.columns or target == time_name:
            raise _unknown_column(target, value_names, label, option="--target")
        value_names = [c for c in value_names if c != target] + [target]
    if not value_names:
        raise InputError(
            "has no value columns besides the time column", "add numeric columns to the file", label
        )

    values = np.empty((frame.height, len(value_names)), dtype=np.float64)
    for j, name in enumerate(value_names):
        values[:, j] = _to_float(frame.get_column(name), name, label, where)
    for sentinel in na_values:
        values[values == float(sentinel)] = np.nan

    notes: list[str] = []
    missing = np.isnan(values)
    if missing.any():
        if fill is None:
            j = int(np.flatnonzero(missing.any(axis=0))[0])
            rows = np.flatnonzero(missing[:, j])
            total = int(missing.sum())
            raise InputError(
                f"column '{value_names[j]}' has {len(rows)} empty or NaN cell{'s' * (len(rows) > 1)} "
                f"({where(rows)}; {total} in all columns)",
                "fix the file or pass --fill ffill, interpolate or drop",
                label,
            )
        if fill != "keep":
            if time is not None:  # before rows are dropped, so that errors name the right lines
                _check_order(time, time_name, label, where)
            values, time, note = _fill(values, missing, time, fill, value_names, label)
            notes.append(note)

    if time is not None:
        _check_order(time, time_name, label, where)

    if not allow_constant and values.shape[0] > 1:
        std = np.nanstd(values, axis=0)
        for j in np.flatnonzero(std == 0):
            raise InputError(
                f"column '{value_names[j]}' is constant (every value is {values[0, j]:g})",
                "drop it with --columns (a constant column cannot be standardized)",
                label,
            )

    freq = None
    if time is not None and len(time) > 1:
        freq, note = _infer_freq(time)
        if note:
            notes.append(note)
    return Table(
        values=values,
        columns=tuple(value_names),
        time=time,
        time_name=time_name,
        freq=freq,
        name=path.stem,
        source=label,
        target=target,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------
# reading


def _where(rows: np.ndarray, kind: str, offset: int) -> str:
    """How messages name data rows: file lines for CSV (header = line 1), 1-based rows otherwise."""
    shown = ", ".join(str(int(r) + offset) for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"{'line' if kind == 'CSV' else 'row'}{'s' if len(rows) > 1 else ''} {shown}{more}"


def _check_file(path: Path) -> str:
    label = str(path)
    if not path.exists():
        from tsdyn.datasets._builtins import BUILTINS

        raise InputError(
            "no such file",
            f"check the path, or use a built-in name ({', '.join(BUILTINS)})",
            label,
        )
    if path.is_dir():
        raise InputError("is a directory, not a file", "pass a CSV or Parquet file", label)
    if path.stat().st_size == 0:
        raise InputError(
            "is empty", "pass a CSV or Parquet file with a header and data rows", label
        )
    with path.open("rb") as f:
        head = f.read(8192)
    if head.startswith(b"PAR1") or path.suffix.lower() in (".parquet", ".pq"):
        return "Parquet"
    if b"\x00" in head:
        raise InputError("is a binary file, not CSV text", "pass a CSV or Parquet file", label)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the block's end
            raise InputError(
                "is not UTF-8 text", "save it as UTF-8 CSV or as Parquet", label
            ) from None
    return "CSV"


def _read(path: Path, kind: str):
    """The whole file as a DataFrame (CSV: every column as String) and the line of data row 0."""
    import csv

    import polars as pl

    if kind == "Parquet":
        return pl.scan_parquet(path).collect(), 1
    separator = "\t" if path.suffix.lower() == ".tsv" else ","
    trailing_blank = 0
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=separator)
        header = next(reader, [])
        seen = set()
        for name in header:
            if name in seen:
                raise InputError(f"has the column name '{name}' twice", "rename one of them")
            seen.add(name)
        if any(not name.strip() for name in header):
            raise InputError("has an empty column name in its header line", "name every column")
        # polars pads short lines with nulls silently: find ragged lines here, by line number
        try:
            for row in reader:
                if not row:  # a blank line: polars reads it as a row of nulls
                    trailing_blank += 1
                    continue
                trailing_blank = 0
                if len(row) != len(header):
                    raise InputError(
                        f"line {reader.line_num} has {len(row)} field{'s' * (len(row) != 1)} but "
                        f"the header has {len(header)}",
                        "give every line one cell per column (quote cells that contain the "
                        "separator)",
                    )
        except UnicodeDecodeError:  # past the block _check_file looked at
            data = path.read_bytes()
            try:
                data.decode("utf-8")
                line = "?"
            except UnicodeDecodeError as exc:
                line = data.count(b"\n", 0, exc.start) + 1
            raise InputError(
                f"is not UTF-8 text (line {line})", "save it as UTF-8 CSV or as Parquet"
            ) from None
    frame = pl.scan_csv(
        path,
        separator=separator,
        infer_schema=False,  # all columns as String; cast explicitly below
    ).collect()
    if trailing_blank and frame.height:  # blank lines at the end of the file are not rows
        tail = frame.tail(trailing_blank)
        if all(tail.get_column(c).null_count() == tail.height for c in tail.columns):
            frame = frame.head(frame.height - trailing_blank)
    return frame, 2


def _unknown_column(column: str, available: Sequence[str], label: str, option: str = "--columns"):
    listed = ", ".join(f"'{c}'" for c in list(available)[:12])
    more = f" (+{len(available) - 12} more)" if len(available) > 12 else ""
    return InputError(
        f"has no column '{column}'", f"{option} must name one of {listed}{more}", label
    )


def _find_time_column(frame, date_col: str | None, label: str) -> str | None:
    import polars as pl

    if date_col == "":
        return None
    if date_col is not None:
        if date_col not in frame.columns:
            raise _unknown_column(date_col, frame.columns, label, option="--date-col")
        return date_col
    for name in frame.columns:
        if name.strip().lower() in TIME_NAMES:
            return name
    for name in frame.columns:
        column = frame.get_column(name)
        if column.dtype in (pl.Date, pl.Datetime):
            return name
        if column.dtype == pl.String:
            text = column.drop_nulls().str.strip_chars()
            text = text.filter(text != "")
            if len(text) and text.str.contains(r"[-/:T ]").all():
                parsed = _parse_dates(text)
                if parsed is not None:
                    return name
    return None


def _parse_dates(text):
    """String series -> Datetime series, or None if any cell does not parse."""
    import polars as pl

    parsed = _inferred_dates(text)
    if parsed is None or parsed.null_count() > 0:
        for fmt in (
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d",
            "%m/%d/%Y %H:%M",
            "%m/%d/%Y",
            "%d.%m.%Y %H:%M",
            "%d.%m.%Y",
        ):
            try:
                parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
            except pl.exceptions.PolarsError:
                continue
            if parsed.null_count() == 0:
                return parsed
        return None
    return parsed


def _parse_time(column, name: str, label: str, where) -> np.ndarray:
    """The time column as datetime64[us] (dates) or float64 (numbers)."""
    import polars as pl

    if column.dtype in (pl.Date, pl.Datetime):
        if column.null_count():
            rows = np.flatnonzero(column.is_null().to_numpy())
            raise InputError(
                f"time column '{name}' is empty at {where(rows)}", "fill in the dates", label
            )
        return column.cast(pl.Datetime("us")).dt.replace_time_zone(None).to_numpy()
    if column.dtype.is_numeric():
        numbers = column.cast(pl.Float64)
    else:
        text = column.cast(pl.String).str.strip_chars()
        empty = (text.is_null() | (text == "")).to_numpy()
        if empty.any():
            rows = np.flatnonzero(empty)
            raise InputError(
                f"time column '{name}' is empty at {where(rows)}", "fill in the dates", label
            )
        numbers = text.cast(pl.Float64, strict=False)
        if numbers.null_count():  # not all numbers: dates ("nan"/"inf" are numbers, checked below)
            parsed = _parse_dates(text)
            if parsed is None:
                inferred = _inferred_dates(text)
                no_date = (
                    np.ones(len(text), bool) if inferred is None else inferred.is_null().to_numpy()
                )
                bad = np.flatnonzero(no_date & numbers.is_null().to_numpy())
                value = text[int(bad[0])] if len(bad) else text[0]
                raise InputError(
                    f"time column '{name}' has a value that is not a date or number ('{value}' at "
                    f"{where(bad[:1])})",
                    "fix the cell, name the right column with --date-col, or pass --date-col '' "
                    "for none",
                    label,
                )
            return parsed.to_numpy()
    values = numbers.to_numpy().astype(np.float64)
    if not np.isfinite(values).all():
        rows = np.flatnonzero(~np.isfinite(values))
        raise InputError(
            f"time column '{name}' is empty or not finite at {where(rows)}",
            "fill in the times",
            label,
        )
    return values


def _inferred_dates(text):
    """`text` parsed by polars' format inference (null where a cell does not fit), or None when no
    format could be inferred."""
    import polars as pl

    try:
        return text.str.to_datetime(strict=False, time_unit="us")
    except pl.exceptions.PolarsError:
        return None


def _to_float(column, name: str, label: str, where) -> np.ndarray:
    """A value column as float64, NaN for missing cells; non-numeric or infinite cells raise."""
    import polars as pl

    if column.dtype == pl.Boolean or column.dtype.is_numeric():
        values = column.cast(pl.Float64).to_numpy().astype(np.float64)
        values = np.where(column.is_null().to_numpy(), np.nan, values)
    elif column.dtype == pl.String or column.dtype == pl.Null:
        text = column.cast(pl.String).str.strip_chars()
        missing = (text.is_null() | text.str.to_lowercase().is_in(list(_MISSING_TOKENS))).to_numpy()
        numbers = text.cast(pl.Float64, strict=False)
        bad = numbers.is_null().to_numpy() & ~missing
        if bad.any():
            rows = np.flatnonzero(bad)
            raise InputError(
                f"column '{name}' has a non-numeric value '{text[int(rows[0])][:40]}' at {where(rows)}",
                "fix the cell, set it empty and pass --fill, or leave the column out with --columns",
                label,
            )
        values = numbers.to_numpy().astype(np.float64)
        values[missing] = np.nan
    else:
        raise InputError(
            f"column '{name}' has type {column.dtype}, not numbers",
            "leave it out with --columns",
            label,
        )
    infinite = np.isinf(values)
    if infinite.any():
        rows = np.flatnonzero(infinite)
        raise InputError(
            f"column '{name}' has an infinite value at {where(rows)}",
            "fix the cell, or set it empty and pass --fill",
            label,
        )
    return values


# ---------------------------------------------------------------------------------------------
# checks, filling, frequency


def _fill(values: np.ndarray, missing: np.ndarray, time, method: str, names, label: str):
    n_missing = int(missing.sum())
    if method == "drop":
        keep = ~missing.any(axis=1)
        if not keep.any():
            raise InputError(
                "has no complete row left after --fill drop",
                "use --fill ffill or interpolate",
                label,
            )
        return (
            values[keep],
            (None if time is None else time[keep]),
            (f"dropped {int((~keep).sum())} rows with empty cells"),
        )
    out = values.copy()
    rows = np.arange(len(values))
    for j in np.flatnonzero(missing.any(axis=0)):
        ok = ~missing[:, j]
        if not ok.any():
            raise InputError(
                f"column '{names[j]}' is entirely empty", "leave it out with --columns", label
            )
        if method == "ffill":
            last = np.maximum.accumulate(np.where(ok, rows, -1))
            first = int(np.flatnonzero(ok)[0])
            out[:, j] = out[np.where(last < 0, first, last), j]  # leading gaps take the first value
        else:  # interpolate: linear in row index, constant beyond the ends
            out[:, j] = np.interp(rows, rows[ok], values[ok, j])
    return out, time, f"filled {n_missing} empty cells by {method}"


def _check_order(time: np.ndarray, name: str, label: str, where) -> None:
    steps = np.diff(time)
    zero = steps == steps.dtype.type(0)
    if zero.any():
        rows = np.flatnonzero(zero) + 1
        raise InputError(
            f"time column '{name}' has duplicate timestamps ({where(rows)}, e.g. '{time[rows[0]]}')",
            "remove or aggregate the duplicate rows",
            label,
        )
    back = steps < steps.dtype.type(0)
    if back.any():
        rows = np.flatnonzero(back) + 1
        raise InputError(
            f"time column '{name}' is not sorted: it goes back in time at {where(rows)}",
            "sort the file by its time column",
            label,
        )


def _infer_freq(time: np.ndarray) -> tuple[str | float | None, str | None]:
    """The sampling step and a note when sampling is irregular."""
    if time.dtype.kind == "f":
        steps = np.diff(time)
        step = float(np.median(steps))
        irregular = int((~np.isclose(steps, step, rtol=1e-6, atol=0)).sum())
        return step, (
            f"irregular sampling: {irregular} of {len(steps)} steps differ from {step:g}"
            if irregular
            else None
        )
    us = time.astype("datetime64[us]").astype(np.int64)
    steps = np.diff(us)
    if (steps == steps[0]).all():
        return _duration(int(steps[0])), None
    months = _month_step(time)
    if months is not None:
        return months, None
    values, counts = np.unique(steps, return_counts=True)
    mode = int(values[np.argmax(counts)])
    irregular = int((steps != mode).sum())
    return _duration(
        mode
    ), f"irregular sampling: {irregular} of {len(steps)} steps differ from {_duration(mode)}"


def _duration(us: int) -> str:
    for unit, size in _UNITS_US:
        if us % size == 0:
            return f"{us // size}{unit}"
    return f"{us}us"  # pragma: no cover


def _month_step(time: np.ndarray) -> str | None:
    """'1mo', '3mo', '1y' ... for calendar-regular dates on the same day (or at each month's end)."""
    months = time.astype("datetime64[M]").astype(np.int64)
    steps = np.diff(months)
    if steps[0] <= 0 or not (steps == steps[0]).all():
        return None
    day = (time.astype("datetime64[D]") - time.astype("datetime64[M]")).astype(np.int64)
    clock = (time - time.astype("datetime64[D]")).astype(np.int64)
    month_end = (time.astype("datetime64[D]") + 1).astype("datetime64[M]") != time.astype(
        "datetime64[M]"
    )
    if not (clock == clock[0]).all() or not ((day == day[0]).all() or month_end.all()):
        return None
    k = int(steps[0])
    unit = f"{k // 12}y" if k % 12 == 0 else f"{k}mo"
    return unit + ("-end" if month_end.all() and not (day == day[0]).all() else "")


def _offset_dates(last: np.datetime64, freq: str, n: int) -> np.ndarray:
    import polars as pl

    month_end = freq.endswith("-end")
    freq = freq.removesuffix("-end")
    match = re.fullmatch(r"(\d+)([a-z]+)", freq)
    if match is None:  # pragma: no cover - freq strings are made by _infer_freq
        raise ValueError(f"bad frequency {freq!r}")
    k, unit = int(match.group(1)), match.group(2)
    start = pl.Series(np.full(n, last, dtype="datetime64[us]"))
    offsets = pl.Series([f"{k * (i + 1)}{unit}" for i in range(n)])
    out = start.dt.offset_by(offsets)
    if month_end:
        out = out.dt.month_end()
    return out.to_numpy()
