"""`tsdyn datasets list | generate | info` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tsdyn.datasets import load_table


def test_list_names_every_builtin(cli):
    result = cli("datasets", "list")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.strip().splitlines()]
    assert names[:4] == ["demo", "lorenz63", "rossler", "lorenz96"]  # later issues may add more
    assert len(set(names)) == len(names)
    doc = json.loads(cli("datasets", "list", "--json").stdout)
    assert list(doc) == names and "Lorenz-63" in doc["lorenz63"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_generate_writes_a_loadable_file(cli, tmp_path, suffix):
    result = cli(
        "datasets",
        "generate",
        "lorenz63",
        "--steps",
        "120",
        "--transient",
        "50",
        "--seed",
        "4",
        "--out",
        f"l{suffix}",
    )
    assert result.exit_code == 0, result
    assert result.stdout.strip() == f"wrote l{suffix}: 120 rows x 3 columns (x, y, z)"
    assert result.stderr == ""
    table = load_table(tmp_path / f"l{suffix}")
    assert table.columns == ("x", "y", "z") and table.time_name == "time"
    assert table.freq == pytest.approx(0.01)
    from tsdyn.datasets import systems

    direct = systems.lorenz63(steps=120, transient=50, seed=4)
    np.testing.assert_allclose(table.values, direct.values, rtol=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"l{suffix}"]  # no temp file left


def test_generate_options_and_overwrite(cli, tmp_path):
    result = cli(
        "datasets",
        "generate",
        "lorenz96",
        "--steps",
        "30",
        "--dim",
        "6",
        "--dt",
        "0.1",
        "--transient",
        "10",
        "--noise",
        "0.05",
        "--out",
        "l96.csv",
        "--json",
    )
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert doc == {
        "name": "lorenz96",
        "out": "l96.csv",
        "rows": 30,
        "columns": [f"x{i}" for i in range(1, 7)],
        "step": 0.1,
    }
    table = load_table(tmp_path / "l96.csv")
    assert table.values.shape == (30, 6) and table.freq == pytest.approx(0.1)
    first = (tmp_path / "l96.csv").read_bytes()
    again = cli(
        "datasets",
        "generate",
        "lorenz96",
        "--steps",
        "30",
        "--dim",
        "6",
        "--out",
        "l96.csv",
        "--overwrite",
        "--transient",
        "10",
    )
    assert again.exit_code == 0 and (tmp_path / "l96.csv").read_bytes() != first
    demo = cli("datasets", "generate", "demo", "--steps", "48")
    assert demo.exit_code == 0
    table = load_table(tmp_path / "demo.csv")  # default name <name>.csv
    assert table.n_rows == 48 and table.freq == "1h" and table.columns[-1] == "temperature"


@pytest.mark.data
def test_info_etth1(cli, shared_file):
    result = cli("datasets", "info", shared_file("ETTh1.csv"), "--json")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert doc["rows"] == 17420
    assert doc["columns"] == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert doc["frequency"] == "1h" and doc["time_column"] == "date"
    assert doc["start"].startswith("2016-07-01T00:00") and doc["end"].startswith("2018-06-26T19:00")
    assert set(doc["missing"].values()) == {0}
    split = doc["split"]
    assert split["scheme"] == "ett-hour" and split["seq_len"] == 336
    assert split["train"]["rows"] == 8640
    assert split["val"]["rows"] == split["test"]["rows"] == 2880
    assert split["test"]["windows"] == 2785
    text = cli("datasets", "info", shared_file("ETTh1.csv")).stdout
    assert text.splitlines()[0] == "ETTh1: 17420 rows x 7 columns"
    assert "test 2880 rows / 2785 windows" in text


@pytest.mark.data
def test_info_ili_ratio_split(cli, shared_file):
    doc = json.loads(
        cli(
            "datasets",
            "info",
            shared_file("national_illness.csv"),
            "--seq-len",
            "104",
            "--pred-len",
            "24",
            "--json",
        ).stdout
    )
    assert doc["columns"][0] == "% WEIGHTED ILI" and doc["frequency"] == "7d"
    assert doc["split"]["scheme"] == "ratio"
    assert (
        doc["split"]["train"]["rows"],
        doc["split"]["val"]["rows"],
        doc["split"]["test"]["rows"],
    ) == (676, 97, 193)
    assert doc["split"]["test"]["windows"] == 170


def test_info_reports_missing_cells_and_a_split_that_does_not_fit(cli, tmp_path):
    (tmp_path / "x.csv").write_text(
        "date,a,b\n2020-01-01,1,2\n2020-01-02,,3\n2020-01-03,2,-9999\n2020-01-04,5,1\n"
    )
    result = cli(
        "datasets", "info", "x.csv", "--na-values", "-9999", "--seq-len", "2", "--pred-len", "1"
    )
    assert result.exit_code == 0, result
    assert "missing   2 cells: a 1, b 1" in result.stdout
    assert "split     x: has 4 rows, too few for seq_len 2 + pred_len 1" in result.stdout
    doc = json.loads(cli("datasets", "info", "x.csv", "--json").stdout)
    assert doc["missing"] == {"a": 1, "b": 0}
    assert "needs at least" in doc["split"]["error"]


def test_info_on_builtin_names(cli):
    doc = json.loads(cli("datasets", "info", "lorenz63", "--json").stdout)
    assert doc["rows"] == 10000 and doc["columns"] == ["x", "y", "z"] and doc["frequency"] == 0.01
    doc = json.loads(cli("datasets", "info", "demo", "--columns", "load,price", "--json").stdout)
    assert doc["columns"] == ["load", "price"] and doc["frequency"] == "1h"
