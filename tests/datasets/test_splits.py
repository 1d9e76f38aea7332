"""Splits exactly as LTSF-Linear's loaders cut them, and the Repeat baseline of SOURCES.md."""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
import pytest

from tsdyn.datasets import StandardScaler, WindowDataset, load_table, make_split, resolve_scheme
from tsdyn.errors import InputError


@functools.cache
def _load(path):
    return load_table(path)


def test_ett_hour_borders():
    for L in (96, 336, 720):
        sp = make_split(17420, L, 96, "ett-hour")
        assert (sp.train, sp.val, sp.test) == ((0, 8640), (8640 - L, 11520), (11520 - L, 14400))
    sizes = make_split(17420, 336, 96, "ett-hour").sizes()
    assert sizes["train"] == {"rows": 8640, "rows_read": 8640, "windows": 8640 - 336 - 96 + 1}
    assert sizes["val"] == {"rows": 2880, "rows_read": 2880 + 336, "windows": 2785}
    assert sizes["test"] == {"rows": 2880, "rows_read": 2880 + 336, "windows": 2785}


def test_ett_minute_borders_are_four_times_ett_hour(tmp_path):
    n = 69680  # ETTm1's length
    start = np.datetime64("2016-07-01T00:00")
    dates = [str(start + np.timedelta64(15 * k, "m")) for k in range(n)]
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"date": dates, "a": rng.normal(size=n), "OT": rng.normal(size=n)})
    path = tmp_path / "ETTm1.csv"
    frame.write_csv(path)
    table = load_table(path)
    assert table.freq == "15m"
    assert resolve_scheme("auto", table.name) == "ett-minute"
    sp = make_split(table.n_rows, 96, 96, "auto", table.name)
    assert sp.scheme == "ett-minute"
    assert (sp.train, sp.val, sp.test) == ((0, 34560), (34560 - 96, 46080), (46080 - 96, 57600))


@pytest.mark.data
def test_etth1_split_through_auto(shared_file):
    table = _load(shared_file("ETTh1.csv"))
    sp = make_split(table.n_rows, 336, 96, "auto", table.name)
    assert sp.scheme == "ett-hour"
    assert (sp.train, sp.val, sp.test) == ((0, 8640), (8304, 11520), (11184, 14400))


@pytest.mark.data
def test_ili_ratio_split(shared_file):
    table = _load(shared_file("national_illness.csv"))
    assert table.n_rows == 966
    sp = make_split(table.n_rows, 104, 24, "auto", table.name)
    assert sp.scheme == "ratio"
    # int(0.7 * 966) = 676, int(0.2 * 966) = 193, val 97; val/test start L rows before the border
    assert sp.train == (0, 676)
    assert sp.val == (676 - 104, 676 + 97)
    assert sp.test == (966 - 193 - 104, 966)
    sizes = sp.sizes()
    assert sizes["train"]["rows"] == 676
    assert sizes["val"]["rows"] == 97
    assert sizes["test"]["rows"] == 193
    assert sizes["test"]["windows"] == 170


def test_ratio_split_uses_int_rounding():
    for n in (100, 101, 999, 1003):
        sp = make_split(n, 10, 5, "ratio")
        n_train, n_test = int(0.7 * n), int(0.2 * n)
        assert sp.train == (0, n_train)
        assert sp.val == (n_train - 10, n - n_test)
        assert sp.test == (n - n_test - 10, n)


@pytest.mark.parametrize(
    ("name", "scheme"),
    [
        ("ETTh1", "ett-hour"),
        ("etth2", "ett-hour"),
        ("ETTm2", "ett-minute"),
        ("ETT", "ratio"),
        ("weather", "ratio"),
        ("national_illness", "ratio"),
        (None, "ratio"),
    ],
)
def test_auto_scheme_from_name(name, scheme):
    assert resolve_scheme("auto", name) == scheme
    assert resolve_scheme("ratio", "ETTh1") == "ratio"


def test_too_short_says_how_many_rows_are_needed():
    with pytest.raises(InputError) as info:
        make_split(100, 96, 24, "ratio", "short")
    message = str(info.value)
    need = int(message.split("needs at least ")[1].split()[0])
    make_split(need, 96, 24, "ratio")  # exactly enough
    with pytest.raises(InputError):
        make_split(need - 1, 96, 24, "ratio")
    assert "short: has 100 rows, too few for seq_len 96 + pred_len 24" in message
    with pytest.raises(InputError, match="has 10000 rows but the ett-hour split needs 14400"):
        make_split(10000, 96, 24, "ett-hour", "ETTh1")
    with pytest.raises(InputError, match="--seq-len -5 must be at least 1"):
        make_split(1000, -5, 24)
    with pytest.raises(InputError, match="--pred-len 0 must be at least 1"):
        make_split(1000, 5, 0)
    with pytest.raises(InputError, match="unknown split 'weekly'"):
        make_split(1000, 5, 5, "weekly")


# ---------------------------------------------------------------------------------------------
# the Repeat baseline: predict the last input value (SOURCES.md, all-windows column)


def _repeat_scores(table, L: int, H: int) -> tuple[int, float, float]:
    sp = make_split(table.n_rows, L, H, "auto", table.name)
    scaler = StandardScaler().fit(table.values[sp.train[0] : sp.train[1]])
    z = scaler.transform(table.values)
    x, y = WindowDataset(z, *sp.test, L, H).tensors()
    x, y = x.double().numpy(), y.double().numpy()
    error = x[:, -1:, :] - y  # [B, H, C]: the last input value repeated over the horizon
    return len(x), float((error**2).mean()), float(np.abs(error).mean())


@pytest.mark.data
@pytest.mark.parametrize(
    ("H", "windows", "mse", "mae"),
    [
        (96, 2785, 1.294, 0.713),
        (192, 2689, 1.325, 0.733),
        (336, 2545, 1.330, 0.746),
        (720, 2161, 1.335, 0.755),
    ],
)
def test_repeat_baseline_etth1(shared_file, H, windows, mse, mae):
    n, got_mse, got_mae = _repeat_scores(_load(shared_file("ETTh1.csv")), 336, H)
    assert n == windows
    assert round(got_mse, 3) == mse
    assert round(got_mae, 3) == mae


@pytest.mark.data
@pytest.mark.parametrize(
    ("H", "windows", "mse", "mae"),
    [
        (24, 170, 6.213, 1.622),
        (36, 158, 7.714, 1.906),
        (48, 146, 7.851, 1.952),
        (60, 134, 6.885, 1.788),
    ],
)
def test_repeat_baseline_ili(shared_file, H, windows, mse, mae):
    n, got_mse, got_mae = _repeat_scores(_load(shared_file("national_illness.csv")), 104, H)
    assert n == windows
    assert round(got_mse, 3) == mse
    assert round(got_mae, 3) == mae
