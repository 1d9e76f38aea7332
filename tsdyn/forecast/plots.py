"""Charts of a forecast: the last context and the forecast per output column, beside one test window's
prediction against the truth."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["forecast_figure"]

MAX_COLUMNS = 8  # rows of the chart; wider tables show their first 8 output columns


def forecast_figure(
    prediction: dict[str, Any],
    test_window: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    title: str = "",
):
    """A matplotlib figure with one row per output column.

    Parameters
    ----------
    prediction : dict
        `Forecaster.predict()`'s result (context, values, time, context_time, columns).
    test_window : (x [L], prediction [H, C], truth [H, C]) or None
        One test window in original units: the target columns' look-back, forecast and truth.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    columns = prediction["columns"][:MAX_COLUMNS]
    ncols = 2 if test_window is not None else 1
    fig, axes = plt.subplots(
        len(columns), ncols, figsize=(6.5 * ncols, 2.2 * len(columns) + 0.6), squeeze=False
    )
    context, values = prediction["context"], prediction["values"]
    L, H = context.shape[0], values.shape[0]
    if prediction["time"] is not None and prediction["context_time"] is not None:
        t_ctx, t_fut = prediction["context_time"], prediction["time"]
    else:
        t_ctx, t_fut = np.arange(-L + 1, 1), np.arange(1, H + 1)
    for k, name in enumerate(columns):
        ax = axes[k, 0]
        ax.plot(t_ctx, context[:, k], color="0.35", lw=1, label="observed")
        ax.plot(t_fut, values[:, k], color="tab:blue", lw=1.5, label="forecast")
        ax.set_ylabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.set_title("last context and forecast", fontsize=9)
            ax.legend(fontsize=7, loc="upper left")
        if test_window is not None:
            x, pred, true = test_window
            ax = axes[k, 1]
            ax.plot(np.arange(-x.shape[0] + 1, 1), x[:, k], color="0.35", lw=1, label="input")
            ax.plot(np.arange(1, true.shape[0] + 1), true[:, k], color="k", lw=1, label="truth")
            ax.plot(
                np.arange(1, pred.shape[0] + 1),
                pred[:, k],
                color="tab:orange",
                lw=1.5,
                label="prediction",
            )
            ax.tick_params(labelsize=7)
            if k == 0:
                ax.set_title("last test window: prediction vs truth", fontsize=9)
                ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
