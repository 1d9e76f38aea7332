"""`tsdyn reconstruct` end to end: outputs, JSON, files as input, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FAST = [
    "--M",
    "8",
    "--epochs",
    "2",
    "--batches-per-epoch",
    "3",
    "--window",
    "30",
    "--tau",
    "5",
    "--eval-every",
    "1",
    "--transient",
    "50",
    "--device",
    "cpu",
]


def test_help_shows_an_example(cli):
    r = cli("reconstruct", "--help")
    assert r.exit_code == 0
    assert "tsdyn reconstruct lorenz63" in r.stdout and "--runs" in r.stdout


def test_system_run_writes_every_output(cli):
    r = cli(
        "reconstruct",
        "lorenz63",
        *FAST,
        "--runs",
        "2",
        "--train-steps",
        "3000",
        "--test-steps",
        "2000",
        "--out",
        "run",
        "--json",
        "-q",
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    folder = Path("run")
    for name in (
        "metrics.json",
        "config.json",
        "symbols.json",
        "free_run.csv",
        "attractor.png",
        "timeseries.png",
        "symbolic_graph.png",
        "model.safetensors",
    ):
        assert (folder / name).is_file(), name
    assert len(doc["per_run"]["dstsp"]) == 2 and "mean" in doc["mean_sem"]["dh"]
    assert set(doc["protocol"]) >= {"dstsp", "dh", "pe", "test", "selection"}
    assert doc["floor"]["dh"] < 0.5
    rows = (folder / "free_run.csv").read_text().splitlines()
    assert rows[0] == "step,x,y,z,symbol" and len(rows) == 2001
    symbols = json.loads((folder / "symbols.json").read_text())
    assert symbols["used_regions"] == len(symbols["regions"]) and symbols["possible_regions"] == 4
    assert (folder / "attractor.png").stat().st_size > 10_000


def test_file_input_uses_its_last_rows_for_testing(cli, tmp_path):
    from tsdyn.datasets.systems import simulate

    table = simulate("rossler", 3000, seed=2)
    path = tmp_path / "traj.csv"
    np.savetxt(path, table.values, delimiter=",", header="a,b,c", comments="")
    r = cli(
        "reconstruct",
        str(path),
        *FAST,
        "--P",
        "1",
        "--test-steps",
        "1500",
        "--out",
        "f",
        "--json",
        "-q",
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["protocol"]["test"].startswith("1500 points") and doc["runs"] == 1
    assert json.loads(Path("f/config.json").read_text())["model"]["P"] == 1


def test_selection_on_a_validation_trajectory(cli, tmp_path, monkeypatch):
    """--select-on validation: systems select on a third initial condition (seed + 2), files on
    the training rows' last part (as long as the test part), which is then not trained on."""
    from tsdyn.datasets.systems import simulate
    from tsdyn.reconstruct import ALRNNReconstructor

    seen = {}
    fit = ALRNNReconstructor.fit

    def spy(self, values, *args, validation=None, **kwargs):
        seen["train"], seen["val"] = np.asarray(values), validation
        return fit(self, values, *args, validation=validation, **kwargs)

    monkeypatch.setattr(ALRNNReconstructor, "fit", spy)
    common = [*FAST, "--train-steps", "1200", "--test-steps", "600", "--json", "-q"]
    r = cli("reconstruct", "lorenz63", *common, "--select-on", "validation", "--out", "v")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert "validation trajectory (1200 steps, seed 2)" in doc["protocol"]["selection"]
    np.testing.assert_allclose(seen["val"], simulate("lorenz63", 1200, seed=2).values)
    assert json.loads(Path("v/config.json").read_text())["settings"]["select_on"] == "validation"

    table = simulate("rossler", 3000, seed=2).values
    path = tmp_path / "traj.csv"
    np.savetxt(path, table, delimiter=",", header="a,b,c", comments="")
    r = cli("reconstruct", str(path), *FAST, "--P", "1", "--test-steps", "1000", "--json", "-q",
            "--select-on", "validation", "--out", "f")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (
        doc["protocol"]["train"] == "1000 points"
        and "last 1000 training rows" in (doc["protocol"]["selection"])
    )
    np.testing.assert_allclose(seen["train"], table[:1000], rtol=1e-6)
    np.testing.assert_allclose(seen["val"], table[1000:2000], rtol=1e-6)
    r = cli("reconstruct", str(path), "--test-steps", "1500", "--select-on", "validation",
            "--out", "g", "-q")  # fmt: skip
    assert r.exit_code == 2 and "3000 training rows" in r.stderr and not Path("g").exists()


def test_bad_input_exits_2_and_leaves_nothing(cli):
    r = cli(
        "reconstruct",
        "lorenz63",
        "--M",
        "4",
        "--P",
        "3",
        "--train-steps",
        "500",
        "--test-steps",
        "500",
        "--out",
        "bad",
        "-q",
    )
    assert r.exit_code == 2
    assert "P" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not Path("bad").exists()
    r = cli("reconstruct", "no_such_file.csv", "--out", "bad2", "-q")
    assert r.exit_code == 2 and not Path("bad2").exists()
    # the recipe options reach the config check (the paper preset parses; EMA decay 1 is refused)
    r = cli(
        "reconstruct",
        "lorenz63",
        "--preset",
        "lorenz63-paper",
        "--ema",
        "1.0",
        "--train-steps",
        "500",
        "--test-steps",
        "500",
        "--out",
        "bad3",
        "-q",
    )
    assert r.exit_code == 2 and "--ema" in r.stderr and not Path("bad3").exists()
    for flag, value, name in (
        ("--horizon-decay", "0", "--horizon-decay"),
        ("--tail", "-2", "--tail"),
    ):
        r = cli(
            "reconstruct",
            "lorenz63",
            flag,
            value,
            "--train-steps",
            "500",
            "--test-steps",
            "500",
            "--out",
            "bad4",
            "-q",
        )
        assert r.exit_code == 2 and name in r.stderr and not Path("bad4").exists()


def test_region_colours_follow_the_legend():
    from tsdyn.reconstruct.plots import _region_colors

    order = [1, 3, 2, 0]  # by frequency
    codes = np.array([0, 1, 2, 3, 3, 1])
    colors, legend = _region_colors(codes, order)
    for c, col in zip(codes, colors, strict=True):
        assert np.allclose(col, legend[int(c)])
    assert not np.allclose(legend[1], legend[0])
