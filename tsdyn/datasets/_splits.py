"""Train/validation/test row ranges exactly as LTSF-Linear's data loaders cut them.

- `ett-hour`: train [0, 8640), val [8640 - L, 11520), test [11520 - L, 14400)
  (12/4/4 months of 30 days x 24 h; `Dataset_ETT_hour`).
- `ett-minute`: the same borders x 4 (15-minute data; `Dataset_ETT_minute`).
- `ratio`: n_train = int(0.7 n), n_test = int(0.2 n), n_val = n - n_train - n_test; train [0, n_train),
  val [n_train - L, n_train + n_val), test [n - n_test - L, n) (`Dataset_Custom`).

Validation and test ranges start L rows before their border so that their first target is the
border row. A range of R rows holds R - L - H + 1 windows.
"""

from __future__ import annotations

import dataclasses

from tsdyn.errors import InputError

__all__ = ["SPLIT_SCHEMES", "Split", "make_split", "resolve_scheme"]

SPLIT_SCHEMES = ("auto", "ett-hour", "ett-minute", "ratio")
_ETT_HOUR = (12 * 30 * 24, 16 * 30 * 24, 20 * 30 * 24)


@dataclasses.dataclass(frozen=True)
class Split:
    """Row ranges `[start, end)` of the three parts, including each part's look-back rows."""

    scheme: str
    seq_len: int
    pred_len: int
    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def part(self, name: str) -> tuple[int, int]:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def n_windows(self, name: str) -> int:
        start, end = self.part(name)
        return max(0, end - start - self.seq_len - self.pred_len + 1)

    def sizes(self) -> dict[str, dict[str, int]]:
        """Per part: its own rows, rows read including the look-back before val/test, windows."""
        out = {}
        for name in ("train", "val", "test"):
            start, end = self.part(name)
            own_start = start if name == "train" else start + self.seq_len
            out[name] = {
                "rows": end - own_start,
                "rows_read": end - start,
                "windows": self.n_windows(name),
            }
        return out


def resolve_scheme(scheme: str, name: str | None) -> str:
    """`auto` -> `ett-hour` for files named ETTh*, `ett-minute` for ETTm*, else `ratio`."""
    if scheme not in SPLIT_SCHEMES:
        raise InputError(f"unknown split '{scheme}'", f"use --split {' | '.join(SPLIT_SCHEMES)}")
    if scheme != "auto":
        return scheme
    stem = (name or "").lower()
    if stem.startswith("etth"):
        return "ett-hour"
    if stem.startswith("ettm"):
        return "ett-minute"
    return "ratio"


def _borders(n_rows: int, seq_len: int, scheme: str):
    if scheme in ("ett-hour", "ett-minute"):
        k = 4 if scheme == "ett-minute" else 1
        b1, b2, b3 = (k * b for b in _ETT_HOUR)
        return (0, b1), (b1 - seq_len, b2), (b2 - seq_len, b3)
    n_train = int(n_rows * 0.7)
    n_test = int(n_rows * 0.2)
    n_val = n_rows - n_train - n_test
    return (0, n_train), (n_train - seq_len, n_train + n_val), (n_rows - n_test - seq_len, n_rows)


def _fits(n_rows: int, seq_len: int, pred_len: int, scheme: str) -> bool:
    if scheme.startswith("ett") and n_rows < _borders(0, 0, scheme)[2][1]:
        return False
    parts = _borders(n_rows, seq_len, scheme)
    return all(start >= 0 and end - start - seq_len - pred_len + 1 >= 1 for start, end in parts)


def make_split(
    n_rows: int, seq_len: int, pred_len: int, scheme: str = "auto", name: str | None = None
) -> Split:
    """Row ranges for a table of `n_rows` rows with look-back `seq_len` and horizon `pred_len`.

    Raises `InputError` (saying how many rows are needed) when a part would hold no window.
    """
    if seq_len < 1:
        raise InputError(
            f"--seq-len {seq_len} must be at least 1", "pass a positive look-back length"
        )
    if pred_len < 1:
        raise InputError(f"--pred-len {pred_len} must be at least 1", "pass a positive horizon")
    scheme = resolve_scheme(scheme, name)
    if not _fits(n_rows, seq_len, pred_len, scheme):
        where = f"{name}: " if name else ""
        if scheme.startswith("ett"):
            need = _borders(0, 0, scheme)[2][1]
            if n_rows >= need:  # enough rows, but L or H too long for a part
                raise InputError(
                    f"{where}the {scheme} split cannot hold a window of seq_len {seq_len} + "
                    f"pred_len {pred_len} in every part",
                    "use a shorter --seq-len or --pred-len",
                )
            raise InputError(
                f"{where}has {n_rows} rows but the {scheme} split needs {need}",
                "use --split ratio",
            )
        need = n_rows + 1
        while not _fits(need, seq_len, pred_len, scheme):
            need += 1
        raise InputError(
            f"{where}has {n_rows} rows, too few for seq_len {seq_len} + pred_len {pred_len}: the "
            f"ratio split (70/10/20) needs at least {need} rows",
            "use a shorter --seq-len or --pred-len, or a longer file",
        )
    train, val, test = _borders(n_rows, seq_len, scheme)
    return Split(scheme, seq_len, pred_len, train, val, test)
