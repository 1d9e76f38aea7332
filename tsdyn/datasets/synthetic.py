"""A built-in synthetic multivariate table for demos and tests.

Hourly rows; each column is a daily and a weekly cycle (own amplitude and phase), a slow trend and
AR(1) noise whose innovations are correlated across columns through a random mixing matrix.
"""

from __future__ import annotations

import numpy as np

from tsdyn.datasets._table import Table
from tsdyn.errors import InputError

__all__ = ["DEMO_COLUMNS", "demo_table"]

DEMO_COLUMNS = ("load", "solar", "wind", "price", "temperature")


def demo_table(n_rows: int = 4000, seed: int = 0, start: str = "2024-01-01T00:00") -> Table:
    """Seasonal + trend + cross-correlated noise, dated hourly from `start`; target `temperature`.

    Returns
    -------
    Table
        values [n_rows, 5], columns `DEMO_COLUMNS`, hourly datetimes.
    """
    if n_rows < 1:
        raise InputError(f"--steps {n_rows} must be at least 1", "pass a positive number of rows")
    if not 0 <= seed < 2**32:
        raise InputError(f"seed {seed} is out of range", "use a seed in [0, 2**32)")
    rng = np.random.default_rng(seed)
    n_cols = len(DEMO_COLUMNS)
    t = np.arange(n_rows, dtype=np.float64)
    daily = rng.uniform(0.5, 2.0, n_cols) * np.sin(
        2 * np.pi * t[:, None] / 24 + rng.uniform(0, 2 * np.pi, n_cols)
    )
    weekly = rng.uniform(0.2, 1.0, n_cols) * np.sin(
        2 * np.pi * t[:, None] / 168 + rng.uniform(0, 2 * np.pi, n_cols)
    )
    trend = rng.uniform(-1.0, 1.0, n_cols) * t[:, None] / n_rows
    mixing = rng.normal(0.0, 1.0, (n_cols, n_cols)) / np.sqrt(n_cols)  # cross-correlation
    shocks = rng.standard_normal((n_rows, n_cols)) @ mixing.T * 0.3
    noise = np.zeros_like(shocks)
    for k in range(1, n_rows):  # AR(1), phi 0.8
        noise[k] = 0.8 * noise[k - 1] + shocks[k]
    level = rng.uniform(5.0, 20.0, n_cols)
    values = level + daily + weekly + trend + noise
    time = np.datetime64(start, "us") + np.arange(n_rows) * np.timedelta64(1, "h")
    return Table(
        values=values,
        columns=DEMO_COLUMNS,
        time=time.astype("datetime64[us]"),
        time_name="date",
        freq="1h",
        name="demo",
        target=DEMO_COLUMNS[-1],
        notes=(f"synthetic demo table, seed {seed}",),
    )
