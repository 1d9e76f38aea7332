"""`tsdyn ssm project` and `tsdyn ssm fit` end to end: exit codes, stdout, files written."""

import json
from pathlib import Path

import numpy as np
import pytest

from tsdyn.ssm import HiPPO


@pytest.fixture
def small_csv(tmp_path):
    t = np.arange(240)
    rng = np.random.default_rng(0)
    a = np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=t.size)
    b = np.cos(2 * np.pi * t / 12) + 0.05 * t / 240
    path = tmp_path / "small.csv"
    lines = ["date,a,b"]
    for i in range(t.size):
        lines.append(f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00:00,{a[i]:.6f},{b[i]:.6f}")
    path.write_text("\n".join(lines) + "\n")
    return path, np.stack([a, b], 1)


def test_project_legt_writes_reconstruction_of_last_window(cli, small_csv):
    path, values = small_csv
    r = cli(
        "ssm",
        "project",
        path,
        "--measure",
        "legt",
        "-N",
        "16",
        "--window",
        "48",
        "--json",
        "-q",
        "--out",
        "p",
    )
    assert r.exit_code == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["reconstructed_rows"] == 48 and m["measure"] == "legt"
    h = HiPPO("legt", 16, window=48)
    ref = h.reconstruct(h.project(values[:, 0], return_all=False), np.arange(48))[::-1]
    assert np.isclose(m["per_column"]["a"]["mse"], np.mean((ref - values[-48:, 0]) ** 2), rtol=1e-6)
    with np.load("p/coefficients.npz") as npz:
        assert npz["coefficients"].shape == (240, 2, 16)
        final = npz["final"][0]
    np.testing.assert_allclose(final, h.project(values[:, 0], return_all=False), atol=1e-5)
    text = Path("p/reconstruction.csv").read_text()
    csv = text.splitlines()
    assert csv[0] == "row,time,a,a_reconstruction,b,b_reconstruction" and len(csv) == 49
    assert "2020-01-10" in text
    assert Path("p/reconstruction.png").stat().st_size > 5000


def test_project_scaled_legs_reconstructs_whole_history(cli, small_csv):
    path, _ = small_csv
    r = cli("ssm", "project", path, "-N", "32", "-q", "--out", "q")
    assert r.exit_code == 0, r.stderr
    assert "scaled LegS" in r.stdout and "whole history" in r.stdout
    m = json.loads(Path("q/metrics.json").read_text())
    assert m["reconstructed_rows"] == 240 and m["scaled_legs"] and m["method"] == "bilinear"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--measure", "legt"], "--window"),
        (["--window", "-3"], "--window"),
        (["-N", "0"], "--state-size"),
        (["--measure", "legq"], "legq"),
    ],
)
def test_project_bad_input_exits_2_and_leaves_nothing(cli, small_csv, args, words):
    path, _ = small_csv
    r = cli("ssm", "project", path, *args, "--out", "bad")
    assert r.exit_code == 2
    assert words in r.stderr and len(r.stderr.strip().splitlines()) <= 3
    assert not Path("bad").exists()


def test_fit_trains_s4d_and_reports_timescales(cli, small_csv):
    path, _ = small_csv
    r = cli(
        "ssm",
        "fit",
        path,
        "-L",
        "24",
        "-H",
        "8",
        "--epochs",
        "1",
        "--d-model",
        "4",
        "-N",
        "4",
        "--n-layers",
        "1",
        "--threads",
        "1",
        "-q",
        "--out",
        "f",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    m = json.loads(r.stdout)
    assert {"mse", "mae", "repeat"} <= set(m["test"])
    layer = m["timescales"]["layers"][0]
    assert 1e-3 <= layer["dt_init_median"] <= 1e-1
    assert m["time_unit"] == "1h" and layer["timescale_median_time"].endswith(" h")
    assert m["timescales"]["modes"]["max_abs_diff"] < 1e-4
    rows = Path("f/timescales.csv").read_text().splitlines()
    assert rows[0].startswith("layer,channel,mode,dt,dt_init") and len(rows) == 1 + 4 * 2
    for name in ("model.safetensors", "kernels.npz", "kernels.png", "dt_hist.png", "config.json"):
        assert Path("f", name).stat().st_size > 0
    with np.load("f/kernels.npz") as npz:
        assert npz["layer0"].shape == (4, 32)
    assert len(Path("f/forecast.csv").read_text().splitlines()) == 1 + 8
    from tsdyn.datasets import load
    from tsdyn.forecast import Forecaster

    f = Forecaster.load("f")
    again = f.evaluate(table=load(path))
    assert np.isclose(again["mse"], m["test"]["mse"], rtol=1e-5)


@pytest.mark.data
def test_project_etth1_legt_window(cli, shared_file):
    r = cli(
        "ssm",
        "project",
        shared_file("ETTh1.csv"),
        "--measure",
        "legt",
        "-N",
        "64",
        "--window",
        "96",
        "--columns",
        "OT,HUFL",
        "--json",
        "-q",
        "--out",
        "e",
    )
    assert r.exit_code == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["rows"] == 17420 and m["reconstructed_rows"] == 96
    assert m["per_column"]["OT"]["relative_mse"] < 0.05


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--init", "fout"], "--init"),
        (["--layer", "lssl", "--init", "inv"], "--init"),
        (["--dt-min", "0.5", "--dt-max", "0.1"], "dt_min"),
        (["-N", "5"], "even"),
        (["--features", "S"], "--target"),
    ],
)
def test_fit_bad_input_exits_2(cli, small_csv, args, words):
    path, _ = small_csv
    r = cli("ssm", "fit", path, *args, "--out", "bad")
    assert r.exit_code == 2
    assert words in r.stderr
    assert not Path("bad").exists()


def test_forecast_model_s4d_is_the_same_model_as_ssm_fit(cli, small_csv):
    """`tsdyn forecast --model s4d` and `tsdyn ssm fit` train the same model through the same loop."""
    path, _ = small_csv
    common = ["-L", "24", "-H", "8", "--epochs", "1", "--threads", "1", "-q", "--json"]
    a = cli("ssm", "fit", path, *common, "--out", "a")
    b = cli("forecast", path, "--model", "s4d", *common, "--out", "b")
    assert a.exit_code == 0 and b.exit_code == 0, a.stderr + b.stderr
    fit_mse = json.loads(a.stdout)["test"]["mse"]
    forecast_mse = json.loads(b.stdout)["horizons"]["8"]["mse"]
    assert fit_mse == pytest.approx(forecast_mse, rel=1e-6)
