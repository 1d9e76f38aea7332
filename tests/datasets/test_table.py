"""`load_table`: the benchmark CSVs, date detection, frequency, column selection, filling, Parquet."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tsdyn.datasets import load, load_table
from tsdyn.errors import InputError

ETT_COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
ILI_COLUMNS = (
    "% WEIGHTED ILI",
    "%UNWEIGHTED ILI",
    "AGE 0-4",
    "AGE 5-24",
    "ILITOTAL",
    "NUM. OF PROVIDERS",
    "OT",
)


def _write(folder, name: str, text: str):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# the benchmark files (../shared/data)


@pytest.mark.data
def test_etth1_shape_columns_and_hourly_dates(shared_file):
    table = load_table(shared_file("ETTh1.csv"))
    assert table.values.shape == (17420, 7)
    assert table.values.dtype == np.float64
    assert table.columns == ETT_COLUMNS
    assert table.time_name == "date"
    assert table.freq == "1h"
    assert table.name == "ETTh1"
    assert table.notes == ()
    assert table.time[0] == np.datetime64("2016-07-01T00:00:00")
    assert table.time[-1] == np.datetime64("2018-06-26T19:00:00")
    future = table.future_time(3)
    expected = np.datetime64("2018-06-26T20:00:00") + np.arange(3) * np.timedelta64(1, "h")
    np.testing.assert_array_equal(future, expected.astype(future.dtype))
    # first data line of the file: 2016-07-01 00:00:00,5.827,2.009,1.599,0.462,4.203,1.34,30.531
    np.testing.assert_allclose(table.values[0], [5.827, 2.009, 1.599, 0.462, 4.203, 1.34, 30.531])


@pytest.mark.data
def test_ili_keeps_column_names_and_is_weekly(shared_file):
    table = load_table(shared_file("national_illness.csv"))
    assert table.columns == ILI_COLUMNS
    assert table.values.shape == (966, 7)
    assert table.freq == "7d"
    assert table.time[0] == np.datetime64("2002-01-01")
    assert table.time[-1] == np.datetime64("2020-06-30")
    assert table.future_time(1)[0] == np.datetime64("2020-07-07")
    picked = load_table(
        shared_file("national_illness.csv"), columns=["NUM. OF PROVIDERS", "% WEIGHTED ILI"]
    )
    assert picked.columns == ("NUM. OF PROVIDERS", "% WEIGHTED ILI")
    np.testing.assert_array_equal(picked.values[:, 1], table.values[:, 0])


@pytest.mark.data
def test_csv_and_parquet_load_identically(shared_file, tmp_path):
    frame = pl.read_csv(shared_file("national_illness.csv"))
    csv_path, parquet_path = tmp_path / "ili.csv", tmp_path / "ili.parquet"
    frame.write_csv(csv_path)
    frame.with_columns(pl.col("date").str.to_datetime()).write_parquet(parquet_path)
    a, b = load_table(csv_path), load_table(parquet_path)
    assert a.columns == b.columns == ILI_COLUMNS
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.time, b.time)
    assert a.freq == b.freq == "7d"
    assert a.time_name == b.time_name == "date"


def test_csv_and_parquet_with_string_dates_and_numeric_time(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(50, 3))
    dates = [
        str(np.datetime64("2021-03-01T00:00") + np.timedelta64(15 * k, "m")) for k in range(50)
    ]
    frame = pl.DataFrame(
        {"timestamp": dates, "x": values[:, 0], "y y": values[:, 1], "z.": values[:, 2]}
    )
    frame.write_csv(tmp_path / "a.csv")
    frame.write_parquet(tmp_path / "a.parquet")  # dates stay strings in this Parquet
    a, b = load_table(tmp_path / "a.csv"), load_table(tmp_path / "a.parquet")
    np.testing.assert_array_equal(a.values, values)  # polars writes floats round-trippably
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.time, b.time)
    assert a.freq == b.freq == "15m"
    numeric = pl.DataFrame({"t": np.arange(50) * 0.25, "x": values[:, 0]})
    numeric.write_csv(tmp_path / "n.csv")
    numeric.write_parquet(tmp_path / "n.parquet")
    c, d = (
        load_table(tmp_path / "n.csv", date_col="t"),
        load_table(tmp_path / "n.parquet", date_col="t"),
    )
    np.testing.assert_array_equal(c.time, d.time)
    assert c.freq == d.freq == 0.25


def test_builtin_names_load_like_files():
    demo = load("demo")
    assert demo.columns[-1] == demo.target == "temperature"
    assert demo.freq == "1h"
    picked = load("demo", columns=["temperature", "load"], target="solar")
    assert picked.columns == ("temperature", "load", "solar")
    np.testing.assert_array_equal(picked.values[:, 2], demo.values[:, 1])


# ---------------------------------------------------------------------------------------------
# time column detection and frequency


def test_named_time_column_is_found_anywhere(tmp_path):
    path = _write(
        tmp_path,
        "a.csv",
        "x,Timestamp,y\n1,2020-01-01 00:00,5\n2,2020-01-01 01:00,7\n4,2020-01-01 02:00,6\n",
    )
    table = load_table(path)
    assert table.time_name == "Timestamp"
    assert table.columns == ("x", "y")
    assert table.freq == "1h"


def test_first_datetime_column_is_the_time_without_a_time_name(tmp_path):
    text = "idx,when,a\n1,2020-01-01,1\n2,2020-01-02,3\n3,2020-01-03,2\n"
    table = load_table(_write(tmp_path, "a.csv", text))
    assert table.time_name == "when"
    assert table.columns == ("idx", "a")
    assert table.freq == "1d"
    np.testing.assert_array_equal(table.values[:, 0], [1, 2, 3])


def test_date_col_option_and_no_time_column(tmp_path):
    path = _write(tmp_path, "a.csv", "k,date,a\n0.5,1,1\n1.0,2,3\n1.5,3,2\n")
    assert load_table(path).time_name == "date"
    chosen = load_table(path, date_col="k")
    assert chosen.time_name == "k"
    assert chosen.columns == ("date", "a")
    assert chosen.freq == 0.5
    np.testing.assert_array_equal(chosen.time, [0.5, 1.0, 1.5])
    none = load_table(path, date_col="")
    assert none.time is None and none.freq is None and none.future_time(2) is None
    assert none.columns == ("k", "date", "a")
    plain = load_table(_write(tmp_path, "b.csv", "a,b\n1,2\n3,4\n5,7\n"))
    assert plain.time is None and plain.columns == ("a", "b")
    with pytest.raises(InputError, match="has no column 'nope'; --date-col must name one of"):
        load_table(path, date_col="nope")


def test_numeric_time_column_and_its_future(tmp_path):
    table = load_table(_write(tmp_path, "a.csv", "time,a\n0.0,1\n0.1,2\n0.2,4\n0.3,3\n"))
    assert table.time.dtype == np.float64
    assert table.freq == pytest.approx(0.1)
    np.testing.assert_allclose(table.future_time(2), [0.4, 0.5])


@pytest.mark.parametrize(
    ("dates", "freq", "future"),
    [
        (
            ["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"],
            "1mo",
            ["2020-05-01", "2020-06-01"],
        ),
        (
            ["2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30"],
            "1mo-end",
            ["2020-05-31", "2020-06-30"],
        ),
        (
            ["2019-01-01", "2019-04-01", "2019-07-01", "2019-10-01"],
            "3mo",
            ["2020-01-01", "2020-04-01"],
        ),
        (
            ["2001-06-15", "2002-06-15", "2003-06-15", "2004-06-15"],
            "1y",
            ["2005-06-15", "2006-06-15"],
        ),
        (
            ["2020-01-01", "2020-01-08", "2020-01-15", "2020-01-22"],
            "7d",
            ["2020-01-29", "2020-02-05"],
        ),
    ],
)
def test_calendar_frequencies(tmp_path, dates, freq, future):
    text = "date,a\n" + "".join(f"{d},{k}\n" for k, d in enumerate(dates))
    table = load_table(_write(tmp_path, "a.csv", text))
    assert table.freq == freq
    assert table.notes == ()
    got = table.future_time(2).astype("datetime64[D]")
    np.testing.assert_array_equal(got, np.array(future, dtype="datetime64[D]"))


def test_irregular_sampling_is_noted(tmp_path):
    hours = [0, 1, 2, 5, 6, 7]
    text = "date,a\n" + "".join(f"2020-01-01 {h:02d}:00,{h % 4}\n" for h in hours)
    table = load_table(_write(tmp_path, "a.csv", text))
    assert table.freq == "1h"  # the most common step
    assert table.notes == ("irregular sampling: 1 of 5 steps differ from 1h",)
    numeric = load_table(_write(tmp_path, "b.csv", "t,a\n0,1\n1,2\n2,4\n5,3\n"), date_col="t")
    assert numeric.freq == 1.0
    assert any("irregular sampling" in n for n in numeric.notes)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["2020-01-31", "2020-02-01", "2020-02-02"], "2020-01-31"),
        (["31.01.2020", "01.02.2020", "02.02.2020"], "2020-01-31"),
        (["01/31/2020", "02/01/2020", "02/02/2020"], "2020-01-31"),
        (["2020-01-31T00:00:00Z", "2020-02-01T00:00:00Z", "2020-02-02T00:00:00Z"], "2020-01-31"),
    ],
)
def test_date_formats(tmp_path, cells, expected):
    text = "date,a\n" + "".join(f"{c},{k}\n" for k, c in enumerate(cells))
    table = load_table(_write(tmp_path, "a.csv", text))
    assert table.time[0] == np.datetime64(expected)
    assert table.freq == "1d"


# ---------------------------------------------------------------------------------------------
# columns, target, missing cells


def test_columns_and_target_moved_last(tmp_path):
    path = _write(
        tmp_path, "a.csv", "date,a,b,c\n2020-01-01,1,2,3\n2020-01-02,4,5,7\n2020-01-03,8,9,10\n"
    )
    assert load_table(path, target="a").columns == ("b", "c", "a")
    table = load_table(path, columns=["c", "b"], target="a")
    assert table.columns == ("c", "b", "a") and table.target == "a"
    np.testing.assert_array_equal(table.values[:, 2], [1, 4, 8])
    assert load_table(path, columns=["c", "a"], target="a").columns == ("c", "a")
    with pytest.raises(InputError, match="has no column 'zz'; --columns must name one of"):
        load_table(path, columns=["zz"])
    with pytest.raises(InputError, match="has no column 'zz'; --target must name one of"):
        load_table(path, target="zz")
    with pytest.raises(InputError, match="'date' is the time column"):
        load_table(path, columns=["date", "a"])


_GAPS = "date,a,b\n2020-01-01,,2\n2020-01-02,1,\n2020-01-03,,4\n2020-01-04,3,5\n2020-01-05,,6\n"


def test_missing_cells_raise_naming_lines(tmp_path):
    path = _write(tmp_path, "a.csv", _GAPS)
    with pytest.raises(InputError) as info:
        load_table(path)
    assert "column 'a' has 3 empty or NaN cells (lines 2, 4, 6; 4 in all columns)" in str(
        info.value
    )
    assert "--fill" in str(info.value)


def test_fill_ffill_interpolate_drop(tmp_path):
    path = _write(tmp_path, "a.csv", _GAPS)
    ffill = load_table(path, fill="ffill")
    np.testing.assert_array_equal(ffill.values, [[1, 2], [1, 2], [1, 4], [3, 5], [3, 6]])
    assert ffill.notes == ("filled 4 empty cells by ffill",)
    interp = load_table(path, fill="interpolate")
    np.testing.assert_array_equal(interp.values, [[1, 2], [1, 3], [2, 4], [3, 5], [3, 6]])
    drop = load_table(path, fill="drop")
    np.testing.assert_array_equal(drop.values, [[3, 5]])
    assert drop.time[0] == np.datetime64("2020-01-04")
    assert drop.notes[0] == "dropped 4 rows with empty cells"


def test_fill_drop_names_the_right_line_of_a_duplicate_date(tmp_path):
    text = "date,a\n2020-01-01,1\n2020-01-02,\n2020-01-03,4\n2020-01-03,5\n"
    with pytest.raises(InputError, match="duplicate timestamps \\(line 5"):
        load_table(_write(tmp_path, "a.csv", text), fill="drop")


def test_entirely_empty_column_is_named(tmp_path):
    path = _write(tmp_path, "a.csv", "date,a,b\n2020-01-01,1,\n2020-01-02,2,\n2020-01-03,4,\n")
    with pytest.raises(InputError, match="column 'b' is entirely empty"):
        load_table(path, fill="ffill")


def test_na_values_sentinel(tmp_path):
    path = _write(
        tmp_path, "a.csv", "date,a,b\n2020-01-01,1,2\n2020-01-02,-9999,3\n2020-01-03,3,4\n"
    )
    assert load_table(path).values[1, 0] == -9999  # not a sentinel unless asked
    with pytest.raises(InputError, match="column 'a' has 1 empty or NaN cell \\(line 3"):
        load_table(path, na_values=[-9999])
    filled = load_table(path, na_values=[-9999.0], fill="interpolate")
    np.testing.assert_array_equal(filled.values[:, 0], [1, 2, 3])


def test_missing_tokens_and_whitespace(tmp_path):
    text = "date,a\n2020-01-01, 1 \n2020-01-02,NA\n2020-01-03,null\n2020-01-04,4\n"
    table = load_table(_write(tmp_path, "a.csv", text), fill="keep")
    np.testing.assert_array_equal(np.isnan(table.values[:, 0]), [False, True, True, False])
    assert table.values[0, 0] == 1.0


def test_blank_lines_at_the_end_are_not_rows(tmp_path):
    table = load_table(_write(tmp_path, "a.csv", "date,a\n2020-01-01,1\n2020-01-02,3\n\n\n"))
    assert table.n_rows == 2


def test_ragged_line_is_named(tmp_path):
    short = _write(tmp_path, "a.csv", "date,a,b\n2020-01-01,1,2\n2020-01-02,3\n2020-01-03,4,5\n")
    with pytest.raises(InputError, match="line 3 has 2 fields but the header has 3"):
        load_table(short, fill="ffill")  # polars alone would pad the short line with NaN
    long = _write(tmp_path, "b.csv", "date,a,b\n2020-01-01,1,2\n2020-01-02,3,4\n2020-01-03,4,5,6\n")
    with pytest.raises(InputError, match="line 4 has 4 fields but the header has 3"):
        load_table(long)


def test_constant_column(tmp_path):
    path = _write(tmp_path, "a.csv", "date,a,b\n2020-01-01,1,2\n2020-01-02,1,3\n2020-01-03,1,4\n")
    with pytest.raises(InputError, match="column 'a' is constant \\(every value is 1\\)"):
        load_table(path)
    assert load_table(path, allow_constant=True).n_rows == 3


def test_non_utf8_byte_past_the_first_block_is_named(tmp_path):
    body = "".join(f"2020-01-01 {k // 60:02d}:{k % 60:02d},{k}\n" for k in range(1200))
    path = tmp_path / "a.csv"
    path.write_bytes(b"date,a\n" + body.encode() + "2020-01-02 00:00,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="is not UTF-8 text \\(line 1202\\)"):
        load_table(path)


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf"])
def test_numeric_time_column_must_be_finite(tmp_path, cell):
    path = _write(tmp_path, "a.csv", f"time,a\n0,1\n{cell},2\n2,3\n")
    with pytest.raises(InputError, match="time column 'time' is empty or not finite at line 3"):
        load_table(path)


def test_bad_cell_in_a_numeric_time_column_is_named(tmp_path):
    path = _write(tmp_path, "a.csv", "time,a\n0,1\n1,2\nx,3\n3,4\n")
    with pytest.raises(InputError, match="not a date or number \\('x' at line 4\\)"):
        load_table(path)
