"""Synthetic many-series tables with planted motifs, for `tsdyn summarize` tests and benchmarks.

Each series is a background of smoothed white noise; G motifs are then planted:
motif g has a shape (cylinder, bell, funnel from Saito's CBF; a sine burst; an up or down ramp), a
span of whole windows [k_g w, (k_g + l_g) w) (the spans of different motifs do not overlap in time
when they fit) and a random subset of the series; in each member the
span is *replaced* by the shape times a random amplitude (+-10%), mildly time-warped (a random
power of the time axis) plus white noise. The planted labelling of the cells (series, window) is
returned beside the table: 0 for background, g for motif g. Finally each series' background is
rescaled so the whole series has mean 0 and SD 1 (series-z normalisation leaves it unchanged).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tsdyn.datasets._table import Table
from tsdyn.errors import InputError

__all__ = ["MOTIF_KINDS", "PlantedMotifs", "motif_shape", "motif_table", "planted_motifs"]

MOTIF_KINDS = ("cylinder", "bell", "funnel", "sine", "ramp-up", "ramp-down")


@dataclasses.dataclass(frozen=True)
class PlantedMotifs:
    """A table with planted motifs and the truth about them."""

    table: Table
    window: int  # the window the spans are aligned to
    labels: np.ndarray  # [M, n_windows] int: 0 background, g >= 1 motif g
    motifs: tuple[dict, ...]  # {id, kind, start_window, n_windows, members}


def motif_shape(kind: str, t: np.ndarray) -> np.ndarray:
    """Shape on t in [0, 1] with amplitude about 2 (normalised units)."""
    ramp = np.clip((t - 0.1) / 0.8, 0.0, 1.0)
    inside = (t >= 0.1) & (t <= 0.9)
    if kind == "cylinder":
        return 2.0 * inside - 0.5
    if kind == "bell":
        return 2.5 * ramp * inside - 0.5
    if kind == "funnel":
        return 2.5 * (1 - ramp) * inside - 0.5
    if kind == "sine":
        return 2.0 * np.sin(2 * np.pi * 2 * t)
    if kind == "ramp-up":
        return 4.0 * t - 2.0
    if kind == "ramp-down":
        return 2.0 - 4.0 * t
    raise ValueError(f"unknown motif kind '{kind}'; use one of {', '.join(MOTIF_KINDS)}")


def _background(rng, T: int, M: int, width: float) -> np.ndarray:
    """White noise smoothed by a Gaussian of SD `width` samples, z-normalised per series."""
    if width <= 0:
        noise = rng.standard_normal((T, M))
        return (noise - noise.mean(0)) / noise.std(0)
    kernel = np.exp(
        -0.5 * (np.arange(-math.ceil(3 * width), math.ceil(3 * width) + 1) / width) ** 2
    )
    noise = rng.standard_normal((T + len(kernel) - 1, M))
    smooth = np.stack([np.convolve(noise[:, i], kernel, mode="valid") for i in range(M)], axis=1)
    return (smooth - smooth.mean(0)) / smooth.std(0)


def _disjoint_starts(rng, lengths: list[int], n_windows: int) -> list[int]:
    """Start windows so that the motifs' spans do not overlap in time when they fit (random gaps),
    otherwise independent random starts."""
    free = n_windows - sum(lengths)
    if free < 0:
        return [int(rng.integers(0, n_windows - n + 1)) for n in lengths]
    gaps = np.bincount(rng.integers(0, len(lengths) + 1, free), minlength=len(lengths) + 1)
    order = rng.permutation(len(lengths))
    starts, k = [0] * len(lengths), 0
    for slot, g in enumerate(order):
        k += int(gaps[slot])
        starts[g] = k
        k += lengths[g]
    return starts


def _restandardize_background(values: np.ndarray, labels: np.ndarray, window: int) -> None:
    """Rescale each series' background (in place) so the whole series has mean 0 and SD 1.

    The planted shapes are then unchanged by series-z normalisation, so one motif looks the same
    in every member however many motifs its series carries.
    """
    T = values.shape[0]
    planted = np.repeat(labels > 0, window, axis=1).T  # [T, M]
    for i in range(values.shape[1]):
        m, b = values[planted[:, i], i], values[~planted[:, i], i]
        if len(b) < 2:
            continue
        mean_b = -m.sum() / len(b)
        spread = ((b - b.mean()) ** 2).sum()
        room = T - (m**2).sum() - len(b) * mean_b**2
        scale = math.sqrt(room / spread) if room > 0 and spread > 0 else 0.1
        values[~planted[:, i], i] = scale * (b - b.mean()) + mean_b


def planted_motifs(
    n_series: int = 60,
    n_windows: int = 64,
    window: int = 32,
    n_motifs: int = 6,
    motif_windows: tuple[int, int] = (2, 4),
    support: tuple[float, float] = (0.15, 0.35),
    noise: float = 0.1,
    warp: float = 0.05,
    smooth: float = 1.0,
    seed: int = 0,
    start: str = "2024-01-01T00:00",
) -> PlantedMotifs:
    """Random backgrounds with `n_motifs` motifs planted at window-aligned spans.

    Parameters
    ----------
    n_series, n_windows, window : int
        M series of T = n_windows * window hourly samples.
    n_motifs : int
        Motifs to plant (kinds cycle through `MOTIF_KINDS`).
    motif_windows : (int, int)
        Range of a motif's length in windows (inclusive).
    support : (float, float)
        Range of the fraction of series that carry a motif.
    noise : float
        SD of the white noise added to each occurrence.
    smooth : float
        SD in samples of the Gaussian that smooths the white-noise background (0: white noise).
    warp : float
        Time warp: the shape is sampled at t ** g, log g uniform in [-warp, warp].
    seed : int

    Returns
    -------
    PlantedMotifs
    """
    if n_series < 2 or n_windows < 1 or window < 2 or n_motifs < 0:
        raise ValueError("need n_series >= 2, n_windows >= 1, window >= 2, n_motifs >= 0")
    rng = np.random.default_rng(seed)
    T, M = n_windows * window, n_series
    values = _background(rng, T, M, smooth)
    labels = np.zeros((M, n_windows), dtype=np.int64)
    motifs = []
    lengths = [
        min(n_windows, int(rng.integers(motif_windows[0], motif_windows[1] + 1)))
        for _ in range(n_motifs)
    ]
    starts = _disjoint_starts(rng, lengths, n_windows)
    for g in range(1, n_motifs + 1):
        kind = MOTIF_KINDS[(g - 1) % len(MOTIF_KINDS)]
        length, k = lengths[g - 1], starts[g - 1]
        free = np.flatnonzero((labels[:, k : k + length] == 0).all(axis=1))
        size = min(len(free), max(2, round(rng.uniform(*support) * M)))
        if size < 2:
            continue
        members = np.sort(rng.choice(free, size=size, replace=False))
        span = length * window
        t = (np.arange(span) + 0.5) / span
        for i in members:
            gamma = np.exp(rng.uniform(-warp, warp))
            shape = motif_shape(kind, t**gamma) * rng.uniform(0.9, 1.1)
            values[k * window : k * window + span, i] = shape + noise * rng.standard_normal(span)
        labels[members, k : k + length] = g
        motifs.append(
            {
                "id": g,
                "kind": kind,
                "start_window": k,
                "n_windows": length,
                "members": members.tolist(),
            }
        )
    _restandardize_background(values, labels, window)
    time = np.datetime64(start, "us") + np.arange(T) * np.timedelta64(1, "h")
    table = Table(
        values=values,
        columns=tuple(f"s{i:03d}" for i in range(M)),
        time=time.astype("datetime64[us]"),
        time_name="date",
        freq="1h",
        name="motifs",
        notes=(f"planted motifs: {len(motifs)} motifs, window {window}, seed {seed}",),
    )
    return PlantedMotifs(table=table, window=window, labels=labels, motifs=tuple(motifs))


def motif_table(
    steps: int | None = None,
    seed: int = 0,
    noise: float | None = None,
    dt: float | None = None,
    dim: int | None = None,
    transient: int | None = None,
    **kwargs,
) -> Table:
    """The table of `planted_motifs(**kwargs)` (the built-in data name `motifs`).

    Also takes the arguments `tsdyn datasets generate` passes to every built-in: `steps` sets the
    length (whole windows), `noise` adds observation noise (SD as a fraction of each series' SD, 1);
    `transient` is ignored; `dt` and `dim` do not apply.
    """
    if dt is not None or dim is not None:
        raise InputError("--dt and --dim do not apply to the motifs table", "leave them out")
    if steps is not None:
        window = kwargs.get("window", 32)
        kwargs["n_windows"] = max(1, steps // window)
    table = planted_motifs(seed=seed, **kwargs).table
    if noise:
        rng = np.random.default_rng(seed + 1)
        values = table.values + noise * rng.standard_normal(table.values.shape)
        table = dataclasses.replace(table, values=values)
    return table
