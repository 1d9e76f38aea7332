"""Steps 4-5 of TiVy-R: frequent time-aligned contiguous patterns, then a disjoint greedy cover."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

__all__ = ["Pattern", "mine_patterns", "select_groups"]


@dataclass(frozen=True)
class Pattern:
    """Symbols `symbols` at windows [start, start + len(symbols)) shared by the series `members`."""

    start: int
    symbols: tuple[int, ...]
    members: np.ndarray  # sorted series indices

    @property
    def length(self) -> int:
        return len(self.symbols)


def _split(series: np.ndarray, column: np.ndarray, min_support: int):
    """Partition `series` by their symbol in `column`; keep the parts with >= min_support series."""
    order = np.argsort(column[series], kind="stable")
    ids = series[order]
    syms = column[ids]
    cuts = np.flatnonzero(np.diff(syms)) + 1
    for part in np.split(ids, cuts):
        if len(part) >= min_support:
            yield int(column[part[0]]), np.sort(part)


def mine_patterns(S: np.ndarray, min_support: int, max_len: int | None = None) -> list[Pattern]:
    """All frequent aligned contiguous patterns of the symbol matrix S [M, n_windows].

    Pattern growth (a PrefixSpan restricted to same-position contiguous extensions): for each start
    window the series are partitioned by their symbol there (the projected databases), and every
    partition is extended one window at a time, splitting by the next symbol and pruning parts with
    fewer than `min_support` series. Support is anti-monotone, so nothing frequent is missed.
    """
    M, n_windows = S.shape
    max_len = n_windows if max_len is None else max_len
    out: list[Pattern] = []
    everyone = np.arange(M)
    for k in range(n_windows):
        stack = [((sym,), part) for sym, part in _split(everyone, S[:, k], min_support)]
        while stack:
            symbols, members = stack.pop()
            out.append(Pattern(k, symbols, members))
            nxt = k + len(symbols)
            if nxt < n_windows and len(symbols) < max_len:
                stack.extend(
                    ((*symbols, sym), part) for sym, part in _split(members, S[:, nxt], min_support)
                )
    return out


def select_groups(
    patterns: list[Pattern], n_series: int, n_windows: int, min_support: int, panel_cost: float
) -> list[Pattern]:
    """Greedy weighted set cover with lazy re-evaluation; the chosen groups are disjoint in cells.

    gain(P) = |sup'(P)| * len(P) - panel_cost, where sup' keeps the members whose cells
    [start, start + len) are all still uncovered. Gains only shrink as cells get covered, so a
    max-heap of stale gains is re-evaluated lazily (the popped entry is exact when it still wins).
    Ties go to the longer pattern, then the earlier start, then the smaller symbols.
    """
    covered = np.zeros((n_series, n_windows), dtype=bool)
    heap = [
        (-(len(p.members) * p.length - panel_cost), -p.length, p.start, p.symbols, i)
        for i, p in enumerate(patterns)
    ]
    heapq.heapify(heap)
    chosen: list[Pattern] = []
    while heap:
        neg_gain, neg_len, start, symbols, i = heapq.heappop(heap)
        if -neg_gain <= 0:
            break
        p = patterns[i]
        free = p.members[~covered[p.members, p.start : p.start + p.length].any(axis=1)]
        gain = len(free) * p.length - panel_cost
        if len(free) < min_support or gain <= 0:
            continue
        if gain < -neg_gain:  # stale: push back with the exact gain
            heapq.heappush(heap, (-gain, neg_len, start, symbols, i))
            continue
        covered[free, p.start : p.start + p.length] = True
        chosen.append(Pattern(p.start, p.symbols, free))
    return chosen
