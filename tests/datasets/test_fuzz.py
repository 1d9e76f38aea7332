"""Random malformed CSVs through `load_table`: a valid Table or a one-line InputError, nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsdyn.datasets import load_table
from tsdyn.errors import InputError

_JUNK = st.sampled_from(
    ["", "nan", "NaN", "inf", "-inf", "x", "1e400", " ", "NA", "1,5", '"', "\t", "é", "--", "1.2.3"]
)
_NUMBER = st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.6g}")
_NAME = st.one_of(
    st.sampled_from(["date", "time", "a", "b", "% W ILI", "NUM. X", "", "a"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
)


@st.composite
def _csv_text(draw) -> str:
    """A small CSV: each column numbers, dates or a numeric clock, with junk cells and bad lines."""
    n_cols = draw(st.integers(1, 4))
    if draw(st.floats(0, 1)) < 0.8:  # well-formed names, often a time column first
        first = draw(st.sampled_from(["date", "time", "Timestamp", "x0"]))
        pool = ["% W ILI", "NUM. OF X", "a b", "OT", "x1", "x2", "x3"]
        header = [first, *draw(st.permutations(pool))[: n_cols - 1]]
    else:  # anything: empty, repeated or odd names
        header = [draw(_NAME) for _ in range(n_cols)]
    kinds = [draw(st.sampled_from(["date", "clock", "number"]))]
    kinds += [
        draw(st.sampled_from(["number", "number", "date", "clock"])) for _ in range(n_cols - 1)
    ]
    junk_rate = draw(st.sampled_from([0.0, 0.05, 0.1, 0.3]))
    n_rows = draw(st.integers(0, 10))
    lines = [",".join(header)]
    for k in range(n_rows):
        cells = []
        for kind in kinds:
            if draw(st.floats(0, 1)) < junk_rate:
                cells.append(draw(_JUNK))
            elif kind == "date":
                cells.append(str(np.datetime64("2020-01-01") + np.timedelta64(k, "D")))
            elif kind == "clock":
                cells.append(f"{0.5 * k:g}")
            else:
                cells.append(draw(_NUMBER))
        if draw(st.floats(0, 1)) < junk_rate / 10:  # a ragged line
            cells = cells[:-1] if draw(st.booleans()) else [*cells, "1"]
        lines.append(",".join(cells))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_csv_text(), fill=st.sampled_from([None, "ffill", "interpolate", "drop"]))
def test_random_csv_gives_table_or_one_line_input_error(text, fill):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_text(text, encoding="utf-8")
        try:
            table = load_table(path, fill=fill)
        except InputError as exc:
            message = str(exc)
            assert message and "\n" not in message and "\r" not in message
            assert message.startswith(str(path))  # names the file
            return
    assert table.values.dtype == np.float64
    assert table.values.ndim == 2 and table.values.shape[0] >= 1
    assert table.values.shape[1] == len(table.columns) >= 1
    assert np.isfinite(table.values).all()
    if table.time is not None:
        assert len(table.time) == table.n_rows
        if table.time.dtype.kind == "f":
            assert np.isfinite(table.time).all()
        assert (
            np.diff(table.time) > np.diff(table.time).dtype.type(0)
        ).all()  # strictly increasing
