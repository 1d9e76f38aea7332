"""Bad input through the CLI: exit code 2, one line on stderr naming the problem, nothing left behind.

Each case writes its input files into the runner's working folder (a fresh tmp folder), runs one
command, and then checks that the folder holds exactly the files it held before: no output file, no
run folder (`--out run` or the default `runs/...`), no temporary file.
"""

from __future__ import annotations

import os

import pytest

_DAYS = [f"2020-01-{d:02d}" for d in range(1, 32)]


def _rows(n: int) -> str:
    return "".join(f"{_DAYS[k]},{k % 5},{(k * k) % 7}\n" for k in range(n))


GOOD = "date,a,b\n" + _rows(3)
SHORT = "date,a,b\n" + _rows(28)  # 28 rows: too short for seq_len 24 + pred_len 12

# id -> (files to create, command line, distinctive part of the one-line message)
CASES: dict[str, tuple[dict[str, str | bytes], list[str], str]] = {
    # the loader, through `tsdyn datasets info FILE`
    "empty-file": ({"x.csv": b""}, ["datasets", "info", "x.csv"], "x.csv: is empty"),
    "header-only": (
        {"x.csv": "date,a,b\n"},
        ["datasets", "info", "x.csv"],
        "has a header but no data rows",
    ),
    "non-numeric-cell": (
        {"x.csv": "date,a,b\n2020-01-01,1,2\n2020-01-02,x1,3\n2020-01-03,2,4\n"},
        ["datasets", "info", "x.csv"],
        "column 'a' has a non-numeric value 'x1' at line 3",
    ),
    "infinite-value": (
        {"x.csv": "date,a,b\n2020-01-01,1,2\n2020-01-02,3,-inf\n2020-01-03,2,4\n"},
        ["datasets", "info", "x.csv"],
        "column 'b' has an infinite value at line 3",
    ),
    "unknown-column": (
        {"x.csv": GOOD},
        ["datasets", "info", "x.csv", "--columns", "a,zz"],
        "has no column 'zz'; --columns must name one of 'a', 'b'",
    ),
    "duplicate-dates": (
        {"x.csv": "date,a,b\n2020-01-01,1,2\n2020-01-02,3,3\n2020-01-02,2,4\n"},
        ["datasets", "info", "x.csv"],
        "time column 'date' has duplicate timestamps (line 4",
    ),
    "unsorted-dates": (
        {"x.csv": "date,a,b\n2020-01-02,1,2\n2020-01-01,3,3\n2020-01-03,2,4\n"},
        ["datasets", "info", "x.csv"],
        "is not sorted: it goes back in time at line 3",
    ),
    "missing-file": ({}, ["datasets", "info", "nope.csv"], "nope.csv: no such file"),
    "directory": ({"d/f.txt": "x"}, ["datasets", "info", "d"], "is a directory, not a file"),
    "binary-garbage": (
        {"x.csv": bytes(range(256)) * 8},
        ["datasets", "info", "x.csv"],
        "is a binary file, not CSV text",
    ),
    "non-utf8": (
        {"x.csv": "date,température\n2020-01-01,1\n2020-01-02,2\n".encode("latin-1")},
        ["datasets", "info", "x.csv"],
        "is not UTF-8 text",
    ),
    "duplicate-header": (
        {"x.csv": "date,a,a\n2020-01-01,1,2\n2020-01-02,3,4\n"},
        ["datasets", "info", "x.csv"],
        "has the column name 'a' twice",
    ),
    "empty-header-name": (
        {"x.csv": "date,,b\n2020-01-01,1,2\n2020-01-02,3,4\n"},
        ["datasets", "info", "x.csv"],
        "has an empty column name",
    ),
    "ragged-short-line": (
        {"x.csv": "date,a,b\n2020-01-01,1,2\n2020-01-02,3\n2020-01-03,2,4\n"},
        ["datasets", "info", "x.csv"],
        "line 3 has 2 fields but the header has 3",
    ),
    "ragged-long-line": (
        {"x.csv": "date,a,b\n2020-01-01,1,2\n2020-01-02,3,4,5\n"},
        ["datasets", "info", "x.csv"],
        "line 3 has 4 fields but the header has 3",
    ),
    "bad-date-col": (
        {"x.csv": GOOD},
        ["datasets", "info", "x.csv", "--date-col", "when"],
        "has no column 'when'; --date-col must name one of",
    ),
    "bad-date-cell": (
        {"x.csv": "date,a\n2020-01-01,1\nsoon,2\n2020-01-03,3\n"},
        ["datasets", "info", "x.csv"],
        "not a date or number ('soon' at line 3)",
    ),
    "empty-date-cell": (
        {"x.csv": "date,a\n2020-01-01,1\n,2\n2020-01-03,3\n"},
        ["datasets", "info", "x.csv"],
        "time column 'date' is empty at line 3",
    ),
    "nan-in-numeric-time": (
        {"x.csv": "time,a\n0,1\nnan,2\n2,3\n"},
        ["datasets", "info", "x.csv"],
        "time column 'time' is empty or not finite at line 3",
    ),
    "only-a-time-column": (
        {"x.csv": "date\n2020-01-01\n2020-01-02\n"},
        ["datasets", "info", "x.csv"],
        "has no value columns besides the time column",
    ),
    "corrupt-parquet": (
        {"x.parquet": "date,a\n2020-01-01,1\n"},
        ["datasets", "info", "x.parquet"],
        "could not be read as Parquet",
    ),
    "unknown-split-info": (
        {"x.csv": GOOD},
        ["datasets", "info", "x.csv", "--split", "weekly"],
        "Invalid value for '--split'",
    ),
    "bad-na-values": (
        {"x.csv": GOOD},
        ["datasets", "info", "x.csv", "--na-values", "-9999,abc"],
        "--na-values 'abc' is not a number",
    ),
    "unknown-option": ({"x.csv": GOOD}, ["datasets", "info", "x.csv", "--bogus"], "--bogus"),
    # `tsdyn datasets generate`: its own checks
    "generate-unknown-name": (
        {},
        ["datasets", "generate", "lorenz99", "--out", "g.csv"],
        "unknown built-in 'lorenz99'",
    ),
    "generate-bad-suffix": (
        {},
        ["datasets", "generate", "lorenz63", "--out", "g.txt"],
        "--out g.txt must end in .csv or .parquet",
    ),
    "generate-existing-file": (
        {"g.csv": "keep me\n"},
        ["datasets", "generate", "lorenz63", "--steps", "5", "--out", "g.csv"],
        "g.csv exists; pass --overwrite",
    ),
    "generate-missing-folder": (
        {},
        ["datasets", "generate", "lorenz63", "--steps", "5", "--out", "sub/g.csv"],
        "folder sub does not exist",
    ),
    "generate-zero-steps": (
        {},
        ["datasets", "generate", "rossler", "--steps", "0", "--out", "g.csv"],
        "--steps 0 must be at least 1",
    ),
    "generate-demo-zero-rows": (
        {},
        ["datasets", "generate", "demo", "--steps", "0", "--out", "g.csv"],
        "--steps 0 must be at least 1",
    ),
    "generate-negative-seed": (
        {},
        ["datasets", "generate", "lorenz63", "--steps", "5", "--seed", "-3", "--out", "g.csv"],
        "seed -3 is out of range",
    ),
    "generate-bad-dim": (
        {},
        ["datasets", "generate", "lorenz96", "--steps", "5", "--dim", "3", "--out", "g.csv"],
        "Lorenz-96 needs dimension >= 4",
    ),
    "generate-negative-dt": (
        {},
        ["datasets", "generate", "lorenz63", "--steps", "5", "--dt", "-0.1", "--out", "g.csv"],
        "must be positive",
    ),
    "generate-nan-noise": (
        {},
        ["datasets", "generate", "lorenz63", "--steps", "5", "--noise", "nan", "--out", "g.csv"],
        "--noise nan must be finite and non-negative",
    ),
    "generate-out-is-a-folder": (
        {"g.csv/keep.txt": "x"},
        ["datasets", "generate", "lorenz63", "--steps", "5", "--out", "g.csv", "--overwrite"],
        "--out g.csv is a folder",
    ),
    # `tsdyn forecast FILE --out DIR`: errors inside the run must remove the run folder
    "forecast-nan-cell": (
        {"x.csv": "date,a,b\n2020-01-01,1,2\n2020-01-02,NaN,3\n2020-01-03,2,4\n"},
        ["forecast", "x.csv", "--out", "run"],
        "column 'a' has 1 empty or NaN cell (line 3",
    ),
    "forecast-empty-cell": (
        {"x.csv": "date,a,b\n2020-01-01,1,2\n2020-01-02,3,\n2020-01-03,2,4\n"},
        ["forecast", "x.csv", "--out", "run"],
        "column 'b' has 1 empty or NaN cell (line 3",
    ),
    "forecast-sentinel": (
        {"x.csv": "date,a,b\n2020-01-01,1,2\n2020-01-02,-9999,3\n2020-01-03,2,4\n"},
        ["forecast", "x.csv", "--na-values", "-9999", "--out", "run"],
        "column 'a' has 1 empty or NaN cell (line 3",
    ),
    "forecast-constant-column": (
        {"x.csv": "date,a,b\n2020-01-01,1,2\n2020-01-02,1,3\n2020-01-03,1,4\n"},
        ["forecast", "x.csv", "--out", "run"],
        "column 'a' is constant",
    ),
    "forecast-too-short": (
        {"x.csv": SHORT},
        ["forecast", "x.csv", "--seq-len", "24", "--pred-len", "12", "--out", "run"],
        "has 28 rows, too few for seq_len 24 + pred_len 12: the ratio split (70/10/20) needs at least 104 rows",
    ),
    "forecast-too-short-default-out": (
        {"x.csv": SHORT},
        ["forecast", "x.csv", "--seq-len", "24", "--pred-len", "12"],
        "needs at least 104 rows",
    ),
    "forecast-unknown-target": (
        {"x.csv": GOOD},
        ["forecast", "x.csv", "--features", "MS", "--target", "zz", "--out", "run"],
        "has no column 'zz'; --target must name one of",
    ),
    "forecast-unknown-columns": (
        {"x.csv": GOOD},
        ["forecast", "x.csv", "--columns", "a,zz", "--out", "run"],
        "has no column 'zz'; --columns must name one of",
    ),
    "forecast-bad-device": (
        {"x.csv": SHORT},
        ["forecast", "x.csv", "--device", "tpu", "--out", "run"],
        "unknown device 'tpu'",
    ),
    "forecast-threads-0": (
        {"x.csv": SHORT},
        ["forecast", "x.csv", "--threads", "0", "--out", "run"],
        "--threads 0 must be at least 1",
    ),
    "forecast-negative-seq-len": (
        {"x.csv": SHORT},
        ["forecast", "x.csv", "--seq-len", "-5", "--out", "run"],
        "seq_len -5",
    ),
    "forecast-zero-pred-len": (
        {"x.csv": SHORT},
        ["forecast", "x.csv", "--pred-len", "0", "--out", "run"],
        "--pred-len 0 must be at least 1",
    ),
    "forecast-unknown-split": (
        {"x.csv": SHORT},
        ["forecast", "x.csv", "--split", "weekly", "--out", "run"],
        "Invalid value for '--split'",
    ),
    "forecast-negative-seed": (
        {"x.csv": SHORT},
        ["forecast", "x.csv", "--seed", "-1", "--out", "run"],
        "seed -1 is out of range",
    ),
    "forecast-out-is-a-file": (
        {"x.csv": SHORT, "run": "a file\n"},
        ["forecast", "x.csv", "--out", "run"],
        "--out run is a file, not a folder",
    ),
    "forecast-out-not-empty": (
        {"x.csv": SHORT, "run/old.txt": "keep me\n"},
        ["forecast", "x.csv", "--out", "run"],
        "run folder run exists and is not empty; pass --overwrite",
    ),
    "forecast-missing-file": (
        {},
        ["forecast", "nope.csv", "--out", "run"],
        "nope.csv: no such file",
    ),
}


def _snapshot(folder) -> dict[str, bytes]:
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            out[os.path.relpath(os.path.join(root, name), folder) + "/"] = b""
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(cli, tmp_path, case):
    files, args, needle = CASES[case]
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    before = _snapshot(tmp_path)
    result = cli(*args)
    assert result.exit_code == 2, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result
    assert lines[0].startswith("error: ")
    assert needle in lines[0], result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert _snapshot(tmp_path) == before  # nothing written, nothing left, nothing removed
