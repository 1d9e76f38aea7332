"""`tsdyn summarize` end to end: every file written and parseable, errors are one line."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

from tsdyn.summarize import ASSIGNMENT_COLUMNS, planted_ari

GROUP_KEYS = {"id", "start", "end", "start_window", "n_windows", "symbols", "members", "representative",
              "dispersion_rms", "max_dtw", "frac_over_eps", "spread", "n_members", "shown"}  # fmt: skip
TOP_KEYS = {"version", "params", "n_series", "n_windows", "alphabet_size", "timings", "metrics", "groups", "residual"}  # fmt: skip


def test_every_file_is_written_and_parses(summary_run, motif_data):
    out, result = summary_run
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    assert "24 series x 256 samples, window 16" in result.stdout
    for name in ("summary.png", "summary.svg", "summary.html", "groups.json", "assignments.csv", "config.json", "metrics.json"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    doc = json.loads((out / "groups.json").read_text())
    assert TOP_KEYS <= set(doc)
    assert doc["n_series"] == 24 and doc["n_windows"] == 16 and doc["window"] == 16
    assert doc["groups"], "no group found on planted motifs"
    names = set(motif_data.table.columns)
    for g in doc["groups"]:
        assert GROUP_KEYS <= set(g)
        assert set(g["members"]) <= names and len(g["members"]) == g["n_members"]
        assert (
            len(g["representative"]) == 16 * g["n_windows"] and len(g["symbols"]) == g["n_windows"]
        )

    with open(out / "assignments.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == ASSIGNMENT_COLUMNS
    assert len(rows) == 24 * 16
    labels = np.zeros((24, 16), dtype=int)
    index = {n: i for i, n in enumerate(motif_data.table.columns)}
    for row in rows:
        if row["group_id"]:
            labels[index[row["series_id"]], int(row["window_index"])] = int(row["group_id"]) + 1
    covered = sum(g["n_members"] * g["n_windows"] for g in doc["groups"])
    assert (labels > 0).sum() == covered  # the CSV agrees with groups.json, cells disjoint
    assert planted_ari(motif_data.labels, labels) >= 0.9

    svg = ET.parse(out / "summary.svg").getroot()
    ids = [el.get("id") for el in svg.iter() if (el.get("id") or "").startswith("panel-")]
    shown = [g for g in doc["groups"] if g["shown"]]
    assert sorted(ids) == sorted(f"panel-{g['id']}" for g in shown)

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

    parser = Collect()
    parser.feed((out / "summary.html").read_text())
    tags = [t for t, _ in parser.tags]
    assert "svg" in tags and "table" in tags and "script" in tags
    assert not any(a.get("src", "").startswith("http") or a.get("href", "").startswith("http") for _, a in parser.tags)  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["groups"] == len(doc["groups"]) and metrics["panels"] == len(shown)


def test_long_format_gives_the_same_groups(cli, motif_csv, summary_run, tmp_path):
    import polars as pl

    wide = pl.read_csv(motif_csv)
    long = wide.unpivot(index="date", variable_name="series_id", value_name="value").rename({"date": "time"})  # fmt: skip
    path = tmp_path / "long.csv"
    long.write_csv(path)
    r = cli("summarize", path, "--long", "series_id,time,value", "--window", "16", "--out", "long", "-q", "--json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    metrics = json.loads(r.stdout)
    reference = json.loads((summary_run[0] / "groups.json").read_text())
    got = json.loads((tmp_path / "long" / "groups.json").read_text())
    assert metrics["groups"] == len(reference["groups"])
    assert [g["members"] for g in got["groups"]] == [g["members"] for g in reference["groups"]]


def test_builtin_default_runs(cli):
    r = cli("summarize", "motifs", "--out", "run", "-q", "--max-panels", "4", "--refine", "0")
    assert r.exit_code == 0, r.stderr
    assert "60 series x 2048 samples, window 32" in r.stdout


@pytest.mark.parametrize(
    "args,message",
    [(["--window", "soon"], "neither a number"), (["--eps", "0"], "eps"),
     (["--long", "a,b"], "three columns"), (["--max-panels", "0"], "max-panels"),
     (["--min-support", "1"], "min-support")],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(cli, motif_csv, tmp_path, args, message):
    r = cli("summarize", motif_csv, "--out", "bad", *args)
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr
    assert not (tmp_path / "bad").exists()
