"""Planted-motif generator, long/wide loading, window durations."""

from __future__ import annotations

import numpy as np
import pytest

from tsdyn.datasets import BUILTINS, load
from tsdyn.datasets.motifs import MOTIF_KINDS, motif_shape, planted_motifs
from tsdyn.errors import InputError
from tsdyn.summarize import load_series, parse_duration_samples


def test_generator_truth_matches_the_values():
    data = planted_motifs(
        n_series=30, n_windows=20, window=16, n_motifs=4, noise=0.0, warp=0.0, seed=5
    )
    V, w = data.table.values, data.window
    np.testing.assert_allclose(V.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(V.std(0), 1, atol=1e-9)
    spans = set()
    for m in data.motifs:
        k, n = m["start_window"], m["n_windows"]
        assert not spans & set(range(k, k + n))  # disjoint in time when they fit
        spans |= set(range(k, k + n))
        members = np.array(m["members"])
        assert (data.labels[members, k : k + n] == m["id"]).all()
        t = (np.arange(n * w) + 0.5) / (n * w)
        shape = motif_shape(m["kind"], t)
        for i in members:  # amplitude jitter only: a positive multiple of the shape
            seg = V[k * w : (k + n) * w, i]
            ratio = np.dot(seg, shape) / np.dot(shape, shape)
            assert 0.89 < ratio < 1.11
            np.testing.assert_allclose(seg, ratio * shape, atol=1e-9)
    assert (data.labels > 0).sum() == sum(len(m["members"]) * m["n_windows"] for m in data.motifs)


def test_motif_kinds_and_builtin():
    for kind in MOTIF_KINDS:
        assert np.ptp(motif_shape(kind, np.linspace(0, 1, 50))) >= 2
    with pytest.raises(ValueError, match="unknown motif kind"):
        motif_shape("zigzag", np.linspace(0, 1, 5))
    assert "motifs" in BUILTINS
    table = load("motifs", builtin_kwargs={"seed": 1})
    assert table.values.shape == (2048, 60)
    again = load("motifs", builtin_kwargs={"seed": 1})
    assert np.array_equal(table.values, again.values)


def _write_long(path, data, drop=()):
    t = data.table
    with open(path, "w") as f:
        f.write("series_id,time,value\n")
        for i, name in enumerate(t.columns):
            for r in range(t.n_rows):
                if (name, r) in drop:
                    continue
                f.write(f"{name},{np.datetime_as_string(t.time[r])},{float(t.values[r, i])!r}\n")


def test_long_table_pivots_to_the_wide_one(tmp_path):
    data = planted_motifs(n_series=5, n_windows=4, window=8, n_motifs=1, seed=2)
    path = tmp_path / "long.csv"
    _write_long(path, data, drop={("s001", 3), ("s003", 10)})
    series = load_series(path, long="series_id,time,value")
    assert series.names == data.table.columns
    assert series.values.shape == data.table.values.shape
    expected = data.table.values.copy()
    expected[3, 1] = (expected[2, 1] + expected[4, 1]) / 2  # linear interpolation
    expected[10, 3] = (expected[9, 3] + expected[11, 3]) / 2
    np.testing.assert_allclose(series.values, expected, rtol=1e-12)
    assert series.freq == "1h"
    assert any("interpolated 2" in n for n in series.notes)


def test_wide_table_drops_empty_series(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("date,a,b,c\n2024-01-01,1,,3\n2024-01-02,2,,\n2024-01-03,4,,5\n")
    series = load_series(path)
    assert series.names == ("a", "c")
    np.testing.assert_allclose(series.values[:, 1], [3, 4, 5])


@pytest.mark.parametrize(
    "text,spec,match",
    [("series_id,time,value\na,1,2\n", "series_id,time", "three columns"),
     ("series_id,time,value\na,1,2\n", "id,time,value", "no column 'id'"),
     ("series_id,time,value\na,1,x\n", "series_id,time,value", "non-numeric"),
     ("series_id,time,value\na,1,2\na,1,3\n", "series_id,time,value", "two values"),
     ("series_id,time,value\na,noon,2\n", "series_id,time,value", "not a date or number")],
)  # fmt: skip
def test_long_table_errors(tmp_path, text, spec, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        load_series(path, long=spec)


def test_window_durations():
    assert parse_duration_samples("24", "1h") == 24
    assert parse_duration_samples("2d", "1h") == 48
    assert parse_duration_samples("90m", "30m") == 3
    assert parse_duration_samples(None, "1h") is None
    with pytest.raises(InputError, match="whole number"):
        parse_duration_samples("90m", "1h")
    with pytest.raises(InputError, match="no regular time step"):
        parse_duration_samples("2d", None)
    with pytest.raises(InputError, match="neither"):
        parse_duration_samples("soon", "1h")


def test_motifs_builtin_through_datasets_generate(cli, tmp_path):
    r = cli("datasets", "generate", "motifs", "--steps", "256", "--noise", "0.1", "--out", "m.csv")
    assert r.exit_code == 0, r.stderr
    assert "256 rows x 60 columns" in r.stdout
    r = cli("datasets", "generate", "motifs", "--dt", "0.1", "--out", "n.csv")
    assert r.exit_code == 2 and "do not apply" in r.stderr
