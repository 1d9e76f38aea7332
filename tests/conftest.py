"""Shared test set-up: markers, the shared data folder, the CLI runner, matplotlib clean-up."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

REPO = Path(__file__).resolve().parents[1]
#: CI clones the repository into some folder with `shared/` beside it; so do the work trees here.
SHARED_DATA = REPO.parent / "shared" / "data"


def _shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(
            f"{path} is absent: the benchmark CSVs live in ../shared/data beside the repository"
        )
    return path


@pytest.fixture
def shared_file():
    """`shared_file("ETTh1.csv")`: a file of ../shared/data, or a skip saying why it is missing."""
    return _shared_file


def pytest_configure(config):
    # under pytest-xdist, share the cores between the workers instead of oversubscribing them
    # (the float64 autograd references of the GPU tests are CPU-bound)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config, items):
    import torch

    no_data = pytest.mark.skip(
        reason=f"{SHARED_DATA} is absent (benchmark CSVs are not in the repository)"
    )
    no_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "data" in item.keywords and not SHARED_DATA.is_dir():
            item.add_marker(no_data)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(no_gpu)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if "matplotlib.pyplot" in __import__("sys").modules:
        import matplotlib.pyplot as plt

        plt.close("all")


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str):
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    def __repr__(self):
        return (
            f"CliResult(exit_code={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"
        )


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """Run `tsdyn ARGS...` in-process (cwd = a fresh tmp folder); returns exit code, stdout, stderr."""
    from typer.testing import CliRunner

    from tsdyn.cli import app

    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> CliResult:
        result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run
