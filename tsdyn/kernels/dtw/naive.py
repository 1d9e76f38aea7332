"""Reference dynamic time warping: the plain O(n m) dynamic programme in float64 Python.

Slow on purpose; every fast path (`cpu.py`, `gpu.py`) is tested against these functions.

Conventions shared by every path (see README.md):
- local cost (x_i - y_j)^2, DTW = sqrt of the smallest cumulative cost of a warping path;
- Sakoe-Chiba radius r: cell (i, j) is allowed when -r - max(0, n - m) <= j - i <= r + max(0, m - n),
  i.e. |i - j| <= r for equal lengths, widened by the length difference otherwise (as tslearn does);
  `window=None` allows every cell.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["band_limits", "naive_dtw", "naive_envelope", "naive_lb_keogh", "naive_lb_kim"]


def band_limits(n: int, m: int, window: int | None) -> tuple[int, int]:
    """(rl, rh): cell (i, j) is inside the band when -rl <= j - i <= rh."""
    if window is None:
        return n - 1, m - 1
    rl = min(window + max(0, n - m), n - 1)
    rh = min(window + max(0, m - n), m - 1)
    return rl, rh


def naive_dtw(x, y, window: int | None = None) -> float:
    """DTW distance between 1-D sequences x [n] and y [m] by the full cost matrix.

    D[i, j] = (x_i - y_j)^2 + min(D[i-1, j-1], D[i-1, j], D[i, j-1]), D[-1, -1] = 0;
    returns sqrt(D[n-1, m-1]).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, m = len(x), len(y)
    rl, rh = band_limits(n, m, window)
    D = np.full((n + 1, m + 1), math.inf)
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if not -rl <= j - i <= rh:
                continue
            cost = (x[i - 1] - y[j - 1]) ** 2
            D[i, j] = cost + min(D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])
    return math.sqrt(D[n, m])


def naive_lb_kim(x, y) -> float:
    """LB_Kim (first and last points): every warping path holds (0, 0) and (n-1, m-1)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    first = (x[0] - y[0]) ** 2
    if len(x) == 1 and len(y) == 1:
        return math.sqrt(first)
    return math.sqrt(first + (x[-1] - y[-1]) ** 2)


def naive_envelope(y, window: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Keogh's envelope: L_i = min(y[i-r .. i+r]), U_i = max(y[i-r .. i+r]) (r = len - 1 if None)."""
    y = np.asarray(y, dtype=np.float64)
    r = len(y) - 1 if window is None else window
    lower = np.array([y[max(0, i - r) : i + r + 1].min() for i in range(len(y))])
    upper = np.array([y[max(0, i - r) : i + r + 1].max() for i in range(len(y))])
    return lower, upper


def naive_lb_keogh(x, y, window: int | None) -> float:
    """LB_Keogh(x, y): distance from x to the envelope of y (equal lengths, radius `window`)."""
    x = np.asarray(x, dtype=np.float64)
    lower, upper = naive_envelope(y, window)
    above = np.where(x > upper, x - upper, 0.0)
    below = np.where(x < lower, lower - x, 0.0)
    return math.sqrt(float(np.sum(above**2 + below**2)))
