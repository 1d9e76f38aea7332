"""`tsdyn forecast` end to end: outputs, predict, bad input."""

import csv
import json

import numpy as np
import pytest


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_builtin_table_end_to_end(cli, tmp_path):
    out = tmp_path / "run"
    r = cli(
        "forecast",
        "--seq-len",
        "48",
        "-H",
        "12",
        "-H",
        "24",
        "--epochs",
        "2",
        "--out",
        out,
        "--quiet",
    )
    assert r.exit_code == 0, r.stderr
    assert "Repeat MSE" in r.stdout and r.stderr == ""
    names = {p.name for p in out.iterdir()}
    assert names == {
        "config.json",
        "metrics.json",
        "model-H12.safetensors",
        "model-H24.safetensors",
        "forecast-H12.csv",
        "forecast-H24.csv",
        "forecast-H12.png",
        "forecast-H24.png",
    }
    metrics = json.loads((out / "metrics.json").read_text())
    for h in ("12", "24"):
        m = metrics["horizons"][h]
        assert m["mse"] < m["repeat"]["mse"] and m["windows"] > 0
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["seed"] == 2021 and config["settings"]["threads"] == 1
    assert config["horizons"]["12"]["seq_len"] == 48
    rows = _rows(out / "forecast-H24.csv")
    assert rows[0] == ["date", "load", "solar", "wind", "price", "temperature"]
    assert len(rows) == 25 and rows[1][0] == "2024-06-15 16:00:00"
    assert (out / "forecast-H12.png").stat().st_size > 10_000

    # predict with the saved models on the same table reproduces the run's forecasts
    pred_out = tmp_path / "pred"
    r = cli("forecast", "predict", out, "demo", "--out", pred_out, "--quiet", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc["horizons"]) == {"12", "24"}
    a = np.array(_rows(out / "forecast-H24.csv")[1:])[:, 1:].astype(float)
    b = np.array(_rows(pred_out / "forecast-H24.csv")[1:])[:, 1:].astype(float)
    np.testing.assert_array_equal(a, b)


def test_json_output_is_one_document(cli, tmp_path):
    r = cli(
        "forecast",
        "--seq-len",
        "24",
        "-H",
        "6",
        "--epochs",
        "1",
        "--out",
        tmp_path / "r",
        "--json",
        "--model",
        "nlinear",
    )
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["model"] == "nlinear" and "6" in doc["horizons"]


@pytest.mark.data
def test_etth1_end_to_end(cli, tmp_path, shared_file):
    path = shared_file("ETTh1.csv")
    out = tmp_path / "etth1"
    r = cli(
        "forecast",
        path,
        "--model",
        "linear",
        "-H",
        "24",
        "--epochs",
        "1",
        "--out",
        out,
        "--quiet",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    m = json.loads(r.stdout)["horizons"]["24"]
    assert m["split_scheme"] == "ett-hour"
    assert m["windows"] == 14400 - 11520 - 24 + 1
    assert m["mse"] < 0.5 < m["repeat"]["mse"]
    rows = _rows(out / "forecast.csv")
    assert rows[0] == ["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert rows[1][0] == "2018-06-26 20:00:00"


def _write(path, n, columns=("a", "b")):
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        f.write("date," + ",".join(columns) + "\n")
        for i in range(n):
            f.write(
                f"2020-01-01 {i // 60:02d}:{i % 60:02d}:00,"
                + ",".join(f"{v:.4f}" for v in rng.normal(size=len(columns)))
                + "\n"
            )
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["short.csv", "--seq-len", "96", "-H", "24"], "needs at least"),
        (["ok.csv", "--target", "nope"], "has no column 'nope'"),
        (["ok.csv", "--features", "S"], "needs a target column"),
        (["ok.csv", "--features", "MS"], "needs a target column"),
        (["ok.csv", "-H", "0"], "--pred-len 0 must be at least 1"),
        (["ok.csv", "-H", "x"], "is not an integer"),
        (["ok.csv", "--model", "transformer", "--seq-len", "24", "-H", "6"], "unknown model"),
        (["ok.csv", "--preset", "paper"], "no paper preset"),
        (["ok.csv", "--epochs", "0", "--seq-len", "24", "-H", "6"], "--epochs 0"),
        (
            ["ok.csv", "--individual", "--model", "olinear", "--seq-len", "24", "-H", "6"],
            "apply to",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_files(cli, tmp_path, args, message):
    _write(tmp_path / "short.csv", 100)
    _write(tmp_path / "ok.csv", 400)
    out = tmp_path / "out"
    r = cli("forecast", *args, "--out", out)
    assert r.exit_code == 2, r
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr
    assert not out.exists()


def test_short_file_says_how_many_rows(cli, tmp_path):
    _write(tmp_path / "short.csv", 100)
    r = cli(
        "forecast", tmp_path / "short.csv", "--seq-len", "96", "-H", "24", "--out", tmp_path / "o"
    )
    need = int(r.stderr.split("needs at least ")[1].split()[0])
    # the ratio split of `need` rows holds one window in each part, and `need - 1` rows do not
    from tsdyn.datasets import make_split

    make_split(need, 96, 24, "ratio")
    with pytest.raises(Exception, match="needs at least"):
        make_split(need - 1, 96, 24, "ratio")


def test_predict_rejects_different_columns(cli, tmp_path):
    _write(tmp_path / "ok.csv", 400)
    _write(tmp_path / "other.csv", 400, columns=("a", "c"))
    run = tmp_path / "run"
    assert (
        cli(
            "forecast",
            tmp_path / "ok.csv",
            "--seq-len",
            "24",
            "-H",
            "6",
            "--epochs",
            "1",
            "--out",
            run,
            "--quiet",
        ).exit_code
        == 0
    )
    out = tmp_path / "pred"
    r = cli("forecast", "predict", run, tmp_path / "other.csv", "--out", out)
    assert r.exit_code == 2 and "differ from the trained model" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()
    r = cli("forecast", "predict", tmp_path / "nowhere", tmp_path / "ok.csv", "--out", out)
    assert r.exit_code == 2 and "does not exist" in r.stderr


@pytest.mark.slow
@pytest.mark.data
def test_dlinear_reproduces_the_paper_on_etth1(shared_file):
    """Paper Table 2: DLinear ETTh1 L=336 H=96 MSE 0.375 (one seed, all test windows; within 2%)."""
    import torch

    from tsdyn.datasets import load_table
    from tsdyn.forecast import Forecaster

    torch.set_num_threads(1)
    f = Forecaster("dlinear", 336, 96, epochs=10, batch_size=32, lr=0.005, seed=2021)
    ev = f.fit(load_table(shared_file("ETTh1.csv"))).evaluate()
    assert abs(ev["mse"] - 0.375) / 0.375 < 0.02
    assert ev["repeat"]["mse"] == pytest.approx(1.294, abs=5e-4)
