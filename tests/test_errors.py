"""`InputError`: one line, the file first, the fix after the problem."""

from __future__ import annotations

import pytest

from tsdyn.errors import InputError, NotFittedError, TsdynError


def test_one_line_with_source_and_hint():
    exc = InputError("column 'a' has a bad value", "fix the cell.", source="x.csv")
    assert str(exc) == "x.csv: column 'a' has a bad value; fix the cell."
    assert exc.one_line() == str(exc)
    assert InputError("bad thing.", "do this").one_line() == "bad thing; do this"
    assert InputError("no hint").one_line() == "no hint"


def test_newlines_and_runs_of_spaces_collapse():
    exc = InputError("polars said:\n  found more fields\r\nthan expected", "check\tthe file")
    assert "\n" not in str(exc) and "\r" not in str(exc) and "\t" not in str(exc)
    assert str(exc) == "polars said: found more fields than expected; check the file"


def test_with_source_keeps_an_existing_source():
    plain = InputError("is empty", "add rows")
    named = plain.with_source("a.csv")
    assert str(named) == "a.csv: is empty; add rows"
    assert named.message == "is empty" and named.hint == "add rows"
    assert str(named.with_source("b.csv")) == "a.csv: is empty; add rows"


def test_hierarchy():
    assert issubclass(InputError, ValueError) and issubclass(InputError, TsdynError)
    assert issubclass(NotFittedError, RuntimeError) and issubclass(NotFittedError, TsdynError)
    with pytest.raises(ValueError, match=r"x\.csv: broken"):
        raise InputError("broken", source="x.csv")
