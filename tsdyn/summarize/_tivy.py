"""TiVy-R: a reconstruction of TiVy (Chan, Nonato, Palpanas, Silva, Freire; IEEE VIS 2025,
arXiv 2507.18972), a visual summary of many time series.

Only the paper's abstract is public: series become symbolic sequences by DTW visual similarity of
subsequences, frequent sequential patterns give a disjoint grouping of similar, time-aligned
subsequences of varying lengths, and the groups are drawn as few small multiples of uncluttered
superpositions. Every step below is the reconstruction of `../shared/research/tivy.md` section 2
("TiVy-R"); the paper's own parameters are not public. The choices, step by step:

0. Normalise (default `series-z`): each whole series to mean 0, SD 1, so that "visually similar"
   means similar in the units of the shared y-axis (sec. 2.2 step 0). `series-minmax` maps to
   [0, 1]; `window-z` z-normalises each window (shape only); `none` keeps the values. Constant
   series/windows become 0. Missing values are interpolated before (see `load_series`).
1. Segment into fixed, non-overlapping windows of `w` samples aligned across series (default
   `max(8, round(T / 64))`); a trailing partial window is dropped. Cell (i, k) = series i on
   [k w, (k + 1) w). Alignment makes every group aligned in time; varying lengths come from
   patterns spanning several windows.
2. Symbolise by leader clustering under banded DTW, radius `ceil(band * w)` (band 0.1). Cells are
   visited window by window, series by series (`order="random"` shuffles with `seed`). A cell joins
   the *nearest* representative within eps (ties: the oldest), found exactly by the UCR cascade
   LB_Kim -> LB_Keogh(EQ) -> LB_Keogh(EC) -> LB_Improved (Lemire 2009) -> early-abandoning DTW
   whose threshold shrinks to the best distance so far; the candidates are visited by increasing
   LB_Keogh (likely matches first), and the DTW skips every cell whose cost plus the LB_Keogh
   terms of the rows or columns still to come exceeds the threshold (PrunedDTW); see
   `_symbolize.py`. The representatives are kept in an index, position by position, so that a
   cell's bounds against all of them (LB_Kim plus the larger of LB_Keogh EQ/EC over the interior
   rows) are one vectorised loop; only those within the best distance so far are visited, smallest
   bound first, each screened once more by a "split" bound (the LB_Keogh terms of the first rows
   plus those of the last columns, r apart, so no cell counts twice) before its DTW. The result is
   the exhaustive search's (tested). Otherwise the cell founds a new symbol.
   eps = delta * sqrt(w) (delta = 0.5, an RMS tolerance per point in normalised units), or the
   `eps_quantile` quantile of DTW over 2,000 random cell pairs. One alphabet is shared by all
   windows (`alphabet="global"`, as the note says); `alphabet="window"` keeps one per window
   position, which is all that strict alignment needs and is cheaper, but in our tests it merged
   more background cells by chance (a coarser partition at each window), so it is not the default.
   Refinement (`refine` passes, default 1 as in the note): each representative is replaced by a
   medoid *proxy*, the member with the smallest DTW to its symbol's pointwise mean (O(n) DTWs
   instead of the medoid's O(n^2); a choice of ours), then every cell is re-assigned to its
   nearest refined representative within eps, all cells in parallel, so the result no longer
   depends on the visiting order (its old symbol's representative is tried first, to tighten the
   pruning); the cells no refined representative covers are symbolised among themselves by the
   leader pass. DTW(cell, representative) <= eps holds after every pass. The pass tightens the
   symbols: on planted motifs (benchmarks/tivy.py, 10^4 cells) it cuts chance groups of
   background cells from 91 to 9 panels, for about twice the time and 2.2 times the DTW cells;
   `refine=0` is the fast setting.
3. Symbolic sequences: S[i, k] = symbol of cell (i, k).
4. Frequent aligned contiguous patterns P = (k, p): support = series with S[i, k:k+len(p)] = p;
   frequent when >= `min_support` (default max(2, ceil(0.02 M))); `max_pattern_len` windows at
   most (default unlimited). Mined by pattern growth over same-position extensions (`_patterns`).
   Only `alignment="strict"` is implemented (the note's optional `free` alignment is not).
5. Disjoint grouping by greedy weighted set cover with lazy re-evaluation: gain(P) = |sup'(P)| *
   len(P) - panel_cost, sup' = members whose cells are all still uncovered; panel_cost (lambda,
   default = min_support) is the price of one more small multiple in cells. The note's fallback of
   length-1 groups for leftover cells is the same greedy restricted to length 1, so it is not a
   separate step here: every group, short or long, must beat the panel cost (otherwise a random
   pair of matching cells would become a panel). Uncovered cells are the residual.
6. Groups: representative = the member nearest (Euclidean) to the members' pointwise mean (a
   medoid proxy, O(n)); dispersion = per-point RMS DTW of each member to it, radius
   ceil(band * span); a member is "over eps" when that DTW exceeds delta * sqrt(span).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np

from tsdyn.errors import InputError, NotFittedError
from tsdyn.runtime import Progress, null_progress

__all__ = [
    "NORMALIZATIONS",
    "Group",
    "TiVy",
    "adjusted_rand_index",
    "normalize_series",
    "planted_ari",
]

NORMALIZATIONS = ("none", "series-z", "series-minmax", "window-z")


@dataclasses.dataclass
class Group:
    """One small multiple: `members` (series indices) share `symbols` on windows
    [start_window, start_window + n_windows)."""

    id: int
    start_window: int
    n_windows: int
    symbols: tuple[int, ...]
    members: np.ndarray
    representative: np.ndarray  # [n_windows * w] normalised values of `rep_member`
    rep_member: int
    dispersion_rms: float  # mean per-point RMS DTW of members to the representative
    max_dtw: float
    frac_over_eps: float
    spread: float  # mean per-timestamp SD of the superposed members


def normalize_series(V: np.ndarray, how: str) -> np.ndarray:
    """Step 0 on V [T, M] (columns are series)."""
    if how not in NORMALIZATIONS:
        raise InputError(
            f"unknown normalisation '{how}'", f"use one of {', '.join(NORMALIZATIONS)}"
        )
    V = np.asarray(V, dtype=np.float64)
    if how == "series-z":
        sd = V.std(axis=0)
        return np.where(sd > 0, (V - V.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    if how == "series-minmax":
        lo, span = V.min(axis=0), np.ptp(V, axis=0)
        return np.where(span > 0, (V - lo) / np.where(span > 0, span, 1.0), 0.0)
    return V.copy()  # none; window-z is applied per cell


def adjusted_rand_index(a, b) -> float:
    """Adjusted Rand index of two labellings of the same items (Hubert & Arabie 1985)."""
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"labellings differ in size: {a.shape} and {b.shape}")
    _, ai, rows = np.unique(a, return_inverse=True, return_counts=True)
    _, bi, cols = np.unique(b, return_inverse=True, return_counts=True)
    _, joint = np.unique(ai.astype(np.int64) * len(cols) + bi, return_counts=True)  # sparse table

    def pairs(x):
        x = np.asarray(x, dtype=np.float64)
        return float((x * (x - 1) / 2).sum())

    total = pairs([len(a)])
    index, rows, cols = pairs(joint), pairs(rows), pairs(cols)
    expected = rows * cols / total if total else 0.0
    top = (rows + cols) / 2
    if top == expected:
        return 1.0
    return (index - expected) / (top - expected)


def planted_ari(planted, recovered, background: str = "singletons") -> float:
    """ARI of a recovered cell labelling against planted motifs; both use 0 for "no group".

    background="singletons" (default): every cell labelled 0 (planted background, recovered
    residual) is its own cluster, so grouping two background cells together is an error and
    leaving one ungrouped is not (the usual treatment of noise points). background="class": all
    0-cells form one cluster (stricter: every background cell must end in the residual).
    """
    planted, recovered = np.asarray(planted).ravel(), np.asarray(recovered).ravel()
    if background not in ("singletons", "class"):
        raise ValueError(f"background must be 'singletons' or 'class', got {background!r}")
    if background == "singletons":
        fresh = -1 - np.arange(planted.size)
        planted = np.where(planted == 0, fresh, planted)
        recovered = np.where(recovered == 0, fresh, recovered)
    return adjusted_rand_index(planted, recovered)


class TiVy:
    """TiVy-R visual summary of many series on one time grid (see the module docstring).

    Parameters
    ----------
    window : int, optional
        Window length w in samples (default max(8, round(T / 64))).
    normalize : {"series-z", "series-minmax", "window-z", "none"}
    band : float
        Sakoe-Chiba radius as a fraction of w (radius = ceil(band * w)).
    eps : float
        delta, the DTW tolerance as an RMS per point: eps = delta * sqrt(w).
    eps_quantile : float, optional
        Instead of `eps`: the quantile of DTW over 2,000 random cell pairs.
    refine : int
        Medoid-proxy refinement passes of the symbolisation (0 is about twice as fast).
    min_support : int, optional
        Minimum series per pattern (default max(2, ceil(0.02 M))).
    max_pattern_len : int, optional
        Longest pattern in windows (default unlimited).
    panel_cost : float, optional
        lambda, the cost of a small multiple in cells (default `min_support`).
    order : {"time", "random"}
        Visiting order of the leader clustering (random: shuffled with `seed`).
    alphabet : {"window", "global"}
        One alphabet shared by all windows (default, as the note) or one per window position.
    seed : int
    index : bool
        Search the representatives through the batched-bound index (default) or one by one (the
        previous search, kept for tests and timings); the results are identical.

    Attributes (after `fit`)
    ------------------------
    groups_ : list of Group, ordered by start, then size (largest first)
    symbols_ : ndarray [M, n_windows] int, the symbolic sequences
    assignment_ : ndarray [M, n_windows] int, group id per cell (-1 = residual)
    alphabet_size_, window_, radius_, eps_, n_windows_, normalized_ [n_windows * w, M],
    counters_ (work done), timings_ (seconds per step), metrics_ (coverage, clarity, clutter)

    Examples
    --------
    >>> from tsdyn.datasets.motifs import planted_motifs
    >>> data = planted_motifs(seed=0)
    >>> tv = TiVy(window=data.window).fit(data.table.values)
    >>> len(tv.groups_) >= 1
    True
    """

    def __init__(
        self,
        window: int | None = None,
        normalize: str = "series-z",
        band: float = 0.1,
        eps: float = 0.5,
        eps_quantile: float | None = None,
        refine: int = 1,
        min_support: int | None = None,
        max_pattern_len: int | None = None,
        panel_cost: float | None = None,
        order: str = "time",
        alphabet: str = "global",
        seed: int = 0,
        index: bool = True,
    ):
        self.window = window
        self.normalize = normalize
        self.band = band
        self.eps = eps
        self.eps_quantile = eps_quantile
        self.refine = refine
        self.min_support = min_support
        self.max_pattern_len = max_pattern_len
        self.panel_cost = panel_cost
        self.order = order
        self.alphabet = alphabet
        self.seed = seed
        self.index = index

    # -- checks --------------------------------------------------------------------------------
    def _check(self, T: int, M: int) -> tuple[int, int, int]:
        if M < 2:
            raise InputError(f"needs at least 2 series, got {M}", "pass a table with more series")
        w = self.window if self.window is not None else max(8, round(T / 64))
        if int(w) != w or w < 2:
            raise InputError(
                f"--window {w} must be an integer of at least 2 samples", "pick a larger window"
            )
        w = int(w)
        if T // w < 1:
            raise InputError(
                f"--window {w} is longer than the series ({T} samples)", "pick a smaller window"
            )
        if not 0 <= self.band <= 1:
            raise InputError(f"--band {self.band} must be in [0, 1]", "e.g. --band 0.1")
        if self.eps_quantile is None and not self.eps > 0:
            raise InputError(f"--eps {self.eps} must be positive", "e.g. --eps 0.5")
        if self.eps_quantile is not None and not 0 < self.eps_quantile < 1:
            raise InputError(f"--eps-quantile {self.eps_quantile} must be in (0, 1)", "e.g. 0.05")
        if self.refine < 0:
            raise InputError(f"--refine {self.refine} must be >= 0", "e.g. --refine 1")
        if self.alphabet not in ("window", "global"):
            raise InputError(f"unknown alphabet '{self.alphabet}'", "use window or global")
        if self.order not in ("time", "random"):
            raise InputError(f"unknown order '{self.order}'", "use time or random")
        min_support = (
            self.min_support if self.min_support is not None else max(2, math.ceil(0.02 * M))
        )
        if min_support < 2:
            raise InputError(
                f"--min-support {min_support} must be at least 2", "a group needs 2 series"
            )
        if self.max_pattern_len is not None and self.max_pattern_len < 1:
            raise InputError(
                f"--max-pattern-len {self.max_pattern_len} must be >= 1", "or leave it out"
            )
        if self.panel_cost is not None and self.panel_cost < 0:
            raise InputError(f"--panel-cost {self.panel_cost} must be >= 0", "e.g. --panel-cost 2")
        normalize_series(np.zeros((1, 1)), self.normalize)  # validates the name
        return w, math.ceil(self.band * w), min_support

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, values, progress: Progress = null_progress) -> TiVy:
        """Summarise `values` [T, M] (one column per series, no NaN) or a `Table`."""
        from tsdyn.summarize._patterns import mine_patterns, select_groups
        from tsdyn.summarize._symbolize import COUNTERS, leader_symbols, pair_sample, refine_symbols

        V = np.asarray(getattr(values, "values", values), dtype=np.float64)
        if V.ndim != 2:
            raise InputError(f"values must be [T, M], got shape {V.shape}", "one column per series")
        if not np.isfinite(V).all():
            raise InputError(
                "values hold NaN or inf", "fill missing values first (load_series does)"
            )
        T, M = V.shape
        w, r, min_support = self._check(T, M)
        panel_cost = float(min_support if self.panel_cost is None else self.panel_cost)
        n_windows = T // w
        timings: dict[str, float] = {}
        t0 = time.perf_counter()

        Z = normalize_series(V[: n_windows * w], self.normalize)  # [n_windows * w, M]
        C = np.ascontiguousarray(Z.T.reshape(M * n_windows, w))  # cell s = i * n_windows + k
        if self.normalize == "window-z":
            sd = C.std(axis=1, keepdims=True)
            C = np.where(
                sd > 0, (C - C.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0), 0.0
            )
            Z = np.ascontiguousarray(C.reshape(M, n_windows * w).T)  # panels show what was matched
        timings["normalize_segment"] = time.perf_counter() - t0
        progress("summarize", 1, 5, {"step": "segment"})

        rng = np.random.default_rng(self.seed)
        stats = np.zeros(len(COUNTERS), np.int64)
        t1 = time.perf_counter()
        if self.eps_quantile is not None:
            N = M * n_windows
            a, b = rng.integers(0, N, 2000), rng.integers(0, N, 2000)
            keep = a != b
            sample = pair_sample(C, a[keep], b[keep], r, stats)
            eps = float(np.quantile(sample, self.eps_quantile)) if len(sample) else 0.0
            eps = max(eps, 1e-12)
        else:
            eps = float(self.eps) * math.sqrt(w)
        delta = eps / math.sqrt(w)
        windows, series = np.meshgrid(np.arange(n_windows), np.arange(M), indexing="ij")
        order = (series * n_windows + windows).ravel()  # window by window, series by series
        if self.order == "random":
            order = rng.permutation(order)
        if self.alphabet == "global":
            blocks = [order]
        else:  # one alphabet per window: `order` lists cells window by window
            blocks = [order[order % n_windows == k] for k in range(n_windows)]
            if self.order == "random":
                blocks = [rng.permutation(b) for b in blocks]
        symbols = np.empty(M * n_windows, np.int64)
        dist = np.empty(M * n_windows)
        reps_all = []
        for block in blocks:
            sub = C[np.sort(block)] if len(blocks) > 1 else C
            local = np.searchsorted(np.sort(block), block) if len(blocks) > 1 else block
            sym, d, reps, lstats = leader_symbols(sub, local, r, eps, self.index)
            stats += lstats
            if self.refine:
                sym, d, reps = refine_symbols(
                    sub, local, sym, r, eps, self.refine, stats, self.index
                )
            cells = np.sort(block) if len(blocks) > 1 else np.arange(len(C))
            symbols[cells] = sym + len(reps_all)
            dist[cells] = d
            reps_all.extend(cells[reps].tolist())
        reps = np.array(reps_all, dtype=np.int64)
        timings["symbolize"] = time.perf_counter() - t1
        progress("summarize", 2, 5, {"symbols": len(reps)})

        t2 = time.perf_counter()
        S = symbols.reshape(M, n_windows)
        patterns = mine_patterns(S, min_support, self.max_pattern_len)
        timings["mine"] = time.perf_counter() - t2
        progress("summarize", 3, 5, {"patterns": len(patterns)})

        t3 = time.perf_counter()
        chosen = select_groups(patterns, M, n_windows, min_support, panel_cost)
        chosen.sort(key=lambda p: (p.start, -len(p.members), -p.length, p.symbols))
        timings["select"] = time.perf_counter() - t3
        progress("summarize", 4, 5, {"groups": len(chosen)})

        t4 = time.perf_counter()
        groups, assignment = self._describe(Z, chosen, w, delta, stats)
        timings["describe"] = time.perf_counter() - t4
        timings["total"] = time.perf_counter() - t0
        progress("summarize", 5, 5, {"groups": len(groups)})

        self.window_, self.radius_, self.eps_, self.delta_ = w, r, eps, delta
        self.min_support_, self.panel_cost_ = min_support, panel_cost
        self.n_series_, self.n_windows_, self.n_samples_ = M, n_windows, T
        self.normalized_ = Z
        self.symbols_ = S
        self.cell_distance_ = dist.reshape(M, n_windows)
        self.representatives_ = reps
        self.alphabet_size_ = len(reps)
        self.n_patterns_ = len(patterns)
        self.groups_ = groups
        self.assignment_ = assignment
        self.counters_ = {name: int(v) for name, v in zip(COUNTERS, stats, strict=True)}
        self.timings_ = timings
        self.metrics_ = self._metrics()
        return self

    def _describe(self, Z, chosen, w, delta, stats):
        from tsdyn.summarize._symbolize import dtw_to_one

        M, n_windows = Z.shape[1], Z.shape[0] // w
        assignment = np.full((M, n_windows), -1, dtype=np.int64)
        groups = []
        for gid, p in enumerate(chosen):
            a, b = p.start * w, (p.start + p.length) * w
            X = np.ascontiguousarray(Z[a:b, p.members].T)  # [n, span]
            mean = X.mean(axis=0)
            j = int(np.argmin(((X - mean) ** 2).sum(axis=1)))
            span = b - a
            d = dtw_to_one(X, X[j], math.ceil(self.band * span), stats)
            groups.append(
                Group(
                    id=gid,
                    start_window=p.start,
                    n_windows=p.length,
                    symbols=p.symbols,
                    members=p.members,
                    representative=X[j].copy(),
                    rep_member=int(p.members[j]),
                    dispersion_rms=float(np.mean(d / math.sqrt(span))),
                    max_dtw=float(d.max()),
                    frac_over_eps=float(np.mean(d > delta * math.sqrt(span))),
                    spread=float(X.std(axis=0).mean()),
                )
            )
            assignment[p.members, p.start : p.start + p.length] = gid
        return groups, assignment

    def _metrics(self) -> dict[str, Any]:
        cells = self.n_series_ * self.n_windows_
        covered = int((self.assignment_ >= 0).sum())
        sizes = np.array([len(g.members) * g.n_windows for g in self.groups_], dtype=float)
        weights = sizes / sizes.sum() if len(sizes) else sizes

        def weighted(attr):
            return float(
                sum(wt * getattr(g, attr) for wt, g in zip(weights, self.groups_, strict=True))
            )

        return {
            "cells": cells,
            "alphabet_size": self.alphabet_size_,
            "patterns": self.n_patterns_,
            "groups": len(self.groups_),
            "coverage": covered / cells,
            "compression": covered / max(1, len(self.groups_)),
            "lines_per_panel": float(np.mean([len(g.members) for g in self.groups_]))
            if self.groups_
            else 0.0,
            "dispersion_rms": weighted("dispersion_rms"),
            "frac_over_eps": weighted("frac_over_eps"),
            "spread": weighted("spread"),
            "dtw_cells": self.counters_["dtw_cells"],
        }

    def _fitted(self) -> None:
        if not hasattr(self, "groups_"):
            raise NotFittedError("TiVy is not fitted yet; call fit(values) first")

    def cell_labels(self) -> np.ndarray:
        """[M, n_windows]: group id + 1 per cell, 0 for the residual."""
        self._fitted()
        return self.assignment_ + 1

    def params(self) -> dict[str, Any]:
        """The arguments, with the resolved values after `fit`."""
        out = {
            k: getattr(self, k)
            for k in (
                "window",
                "normalize",
                "band",
                "eps",
                "eps_quantile",
                "refine",
                "min_support",
                "max_pattern_len",
                "panel_cost",
                "order",
                "alphabet",
                "seed",
            )
        }
        if hasattr(self, "groups_"):
            out |= {
                "window": self.window_,
                "radius": self.radius_,
                "eps_abs": self.eps_,
                "delta": self.delta_,
                "min_support": self.min_support_,
                "panel_cost": self.panel_cost_,
            }
        return out
