"""Fixtures of the summarize tests: a small planted-motif CSV (wide and long) and one CLI run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def motif_data():
    from tsdyn.datasets.motifs import planted_motifs

    return planted_motifs(n_series=24, n_windows=16, window=16, n_motifs=3, seed=0)


@pytest.fixture(scope="session")
def motif_csv(motif_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "motifs.csv"
    motif_data.table.to_polars().write_csv(path)
    return path


@pytest.fixture(scope="session")
def summary_run(motif_csv, tmp_path_factory):
    """One `tsdyn summarize` run on the small CSV; returns (run folder, CliRunner result)."""
    from typer.testing import CliRunner

    from tsdyn.cli import app

    out = tmp_path_factory.mktemp("runs") / "summary"
    result = CliRunner().invoke(
        app,
        ["summarize", str(motif_csv), "--window", "16", "--out", str(out), "-q"],
        catch_exceptions=False,
    )
    return out, result
