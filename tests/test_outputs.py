"""Atomic writes and run folders: a failure leaves no half-written file and no folder behind."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tsdyn.errors import InputError
from tsdyn.outputs import (
    RunFolder,
    atomic_path,
    atomic_write,
    default_run_dir,
    to_jsonable,
    write_json,
)


class Boom(Exception):
    pass


def test_atomic_write_leaves_no_temp_file_and_keeps_the_old_content_on_error(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(Boom), atomic_write(target) as f:
        f.write("half of the new")
        raise Boom
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.csv"]
    with atomic_write(target) as f:
        f.write("new\n")
        assert target.read_text() == "old\n"  # not visible until the block ends
    assert target.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_atomic_write_binary_and_new_file(tmp_path):
    target = tmp_path / "blob.bin"
    with pytest.raises(KeyboardInterrupt), atomic_write(target, "wb") as f:
        f.write(b"\x00\x01")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    with atomic_write(target, "wb") as f:
        f.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def test_atomic_path_renames_only_on_success(tmp_path):
    target = tmp_path / "chart.png"
    with pytest.raises(Boom), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png"
        tmp.write_bytes(b"partial")
        raise Boom
    assert os.listdir(tmp_path) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"png")
    assert target.read_bytes() == b"png" and os.listdir(tmp_path) == ["chart.png"]


def test_to_jsonable_and_write_json(tmp_path):
    obj = {
        "a": np.float32(1.5),
        "b": np.arange(3),
        "c": torch.tensor([1.0, 2.0]),
        "nan": float("nan"),
        "inf": np.inf,
        "path": Path("x/y"),
        "date": dt.date(2020, 1, 2),
        1: (True, None),
    }
    out = to_jsonable(obj)
    assert out == {
        "a": 1.5,
        "b": [0, 1, 2],
        "c": [1.0, 2.0],
        "nan": None,
        "inf": None,
        "path": str(Path("x/y")),
        "date": "2020-01-02",
        "1": [True, None],
    }
    path = write_json(tmp_path / "m.json", {"mse": np.float64(math.nan), "n": np.int64(3)})
    assert json.loads(path.read_text()) == {"mse": None, "n": 3}


def test_default_run_dir_adds_a_counter(tmp_path):
    first = default_run_dir("forecast", tmp_path)
    assert first.parent == tmp_path and first.name.startswith("forecast-")
    first.mkdir()
    second = default_run_dir("forecast", tmp_path)
    assert second != first and not second.exists()


def test_run_folder_refuses_files_and_non_empty_folders(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        RunFolder(tmp_path / "f")
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.txt").write_text("keep")
    with pytest.raises(InputError, match="exists and is not empty; pass --overwrite"):
        RunFolder(full)
    empty = tmp_path / "empty"
    empty.mkdir()
    RunFolder(empty)  # an empty folder is fine
    RunFolder(full, overwrite=True)


def test_run_folder_is_created_on_first_write_and_discarded_with_its_parents(tmp_path):
    folder = RunFolder(tmp_path / "runs" / "deep" / "forecast-1")
    assert not (tmp_path / "runs").exists()  # nothing happens before the first write
    folder.write_json("config.json", {"seed": 1})
    with folder.open("sub/table.csv") as f:
        f.write("a\n")
    assert json.loads((folder.path / "config.json").read_text()) == {"seed": 1}
    folder.discard()
    assert os.listdir(tmp_path) == []


def test_discard_in_an_existing_folder_removes_only_this_runs_files(tmp_path):
    (tmp_path / "old.txt").write_text("keep")
    folder = RunFolder(tmp_path, overwrite=True)
    folder.write_text("new.txt", "x")
    with pytest.raises(Boom), folder.open("half.csv") as f:
        f.write("partial")
        raise Boom
    folder.discard()
    assert os.listdir(tmp_path) == ["old.txt"]
    assert (tmp_path / "old.txt").read_text() == "keep"


def test_discard_keeps_a_parent_that_holds_other_runs(tmp_path):
    runs = tmp_path / "runs"
    a = RunFolder(runs / "a")
    a.write_text("x.txt", "1")
    b = RunFolder(runs / "b")
    b.write_text("y.txt", "2")
    b.discard()
    assert sorted(os.listdir(runs)) == ["a"]


def test_save_figure(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    folder = RunFolder(tmp_path / "run")
    path = folder.save_figure("chart.png", fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    assert sorted(os.listdir(folder.path)) == ["chart.png"]


def test_overwrite_then_failure_puts_back_the_replaced_files(tmp_path):
    (tmp_path / "metrics.json").write_text("old metrics")
    (tmp_path / "keep.txt").write_text("untouched")
    folder = RunFolder(tmp_path, overwrite=True)
    folder.write_text("metrics.json", "new metrics")
    folder.write_text("metrics.json", "newer metrics")  # a second write of the same file
    folder.write_text("fresh.txt", "x")
    assert (tmp_path / "metrics.json").read_text() == "newer metrics"
    folder.discard()
    assert sorted(os.listdir(tmp_path)) == ["keep.txt", "metrics.json"]
    assert (tmp_path / "metrics.json").read_text() == "old metrics"


def test_overwrite_then_success_drops_the_kept_copies(tmp_path):
    (tmp_path / "metrics.json").write_text("old metrics")
    folder = RunFolder(tmp_path, overwrite=True)
    folder.write_text("metrics.json", "new metrics")
    assert (tmp_path / ".tsdyn-replaced").is_dir()  # the old file is kept until the run ends
    folder.commit()
    assert os.listdir(tmp_path) == ["metrics.json"]
    assert (tmp_path / "metrics.json").read_text() == "new metrics"
