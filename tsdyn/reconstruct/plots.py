"""Figures of a reconstruction: attractor, time series, symbolic transition graph (matplotlib)."""

from __future__ import annotations

import numpy as np

__all__ = ["attractor_figure", "symbolic_graph_figure", "timeseries_figure"]

_MAX_POINTS = 20_000


def _region_colors(codes: np.ndarray, order: list[int]):
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    n = max(len(order) - 1, 1)
    table = np.array([cmap(k / n) for k in range(len(order))])
    sorted_codes = np.sort(np.asarray(order))
    rank_of_sorted = np.argsort(order)  # position in `order` of each sorted code
    pos = np.clip(np.searchsorted(sorted_codes, codes), 0, len(order) - 1)
    return table[rank_of_sorted[pos]], {c: table[k] for k, c in enumerate(order)}


def attractor_figure(data, model, codes, order, names, columns, fixed_points=()):
    """Data beside the model's free run (coloured by subregion), real fixed points marked.

    data [T, N], model [T', N] (same units), codes [T'] region codes, order: codes by frequency,
    names: code -> symbol string, fixed_points: [(x [N], real: bool)].
    """
    import matplotlib.pyplot as plt

    N = data.shape[1]
    three = N >= 3
    fig = plt.figure(figsize=(11, 5))
    kw = {"projection": "3d"} if three else {}
    ax1 = fig.add_subplot(1, 2, 1, **kw)
    ax2 = fig.add_subplot(1, 2, 2, **kw)
    d = data[:: max(1, len(data) // _MAX_POINTS)]
    step = max(1, len(model) // _MAX_POINTS)
    m, c = model[::step], codes[::step]
    colors, legend = _region_colors(c, order)
    dims = (0, 1, 2) if three else (0, min(1, N - 1))
    ax1.plot(*(d[:, k] for k in dims), lw=0.3, color="0.3")
    ax1.set_title("data")
    ax2.scatter(*(m[:, k] for k in dims), c=colors, s=0.5, lw=0)
    ax2.set_title("AL-RNN free run, coloured by subregion")
    for x, real in fixed_points:
        ax2.scatter(
            *(x[k] for k in dims),
            marker="X" if real else "o",
            s=60,
            color="black" if real else "0.6",
            edgecolor="white",
        )
    finite = m[np.all(np.isfinite(m), axis=1)]
    both = np.concatenate([d, finite]) if len(finite) else d
    lims = [(both[:, k].min(), both[:, k].max()) for k in dims]
    for ax in (ax1, ax2):
        ax.set_xlim(*lims[0])
        ax.set_ylim(*lims[1])
        if three:
            ax.set_zlim(*lims[2])
        ax.set_xlabel(columns[dims[0]])
        ax.set_ylabel(columns[dims[1]])
        if three:
            ax.set_zlabel(columns[dims[2]])
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=legend[k], label=names[k]) for k in order
    ]
    handles += [plt.Line2D([], [], marker="X", ls="", color="black", label="real fixed point")]
    ax2.legend(handles=handles, loc="upper left", fontsize=8, title="subregion")
    return fig


def timeseries_figure(data, model, codes, order, names, columns, dt, steps=2000):
    """The first `steps` points of data and model per dimension, the model coloured by region."""
    import matplotlib.pyplot as plt

    N = data.shape[1]
    n = min(steps, len(data), len(model))
    t = np.arange(n) * dt
    show = min(N, 6)
    fig, axes = plt.subplots(show, 1, figsize=(10, 1.8 * show + 0.6), sharex=True, squeeze=False)
    colors, _ = _region_colors(codes[:n], order)
    for k in range(show):
        ax = axes[k, 0]
        ax.plot(t, data[:n, k], color="0.5", lw=0.8, label="data")
        ax.scatter(t, model[:n, k], c=colors, s=1.5, lw=0, label="model")
        ax.set_ylabel(columns[k])
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time")
    fig.suptitle("data (grey) and AL-RNN free run coloured by subregion")
    return fig


def symbolic_graph_figure(symbols, probabilities, shares):
    """Transition graph (nodes = used subregions, area ~ time share; arrow width ~ how often the
    edge is taken, label = transition probability) beside the row-stochastic transition matrix."""
    import matplotlib.pyplot as plt

    Pm = np.asarray(probabilities)
    K = len(symbols)
    flow = np.asarray(shares)[:, None] * Pm  # fraction of all steps taking each edge
    off = flow[~np.eye(K, dtype=bool)]
    top = off.max() if off.size and off.max() > 0 else 1.0
    fig, (ax, axm) = plt.subplots(1, 2, figsize=(11, 5))
    angle = np.pi / 2 - 2 * np.pi * np.arange(K) / max(K, 1)
    pos = np.stack([np.cos(angle), np.sin(angle)], axis=1) if K > 1 else np.zeros((1, 2))
    for i in range(K):
        for j in range(K):
            if i == j or Pm[i, j] <= 0:
                continue
            ax.annotate(
                "",
                xy=pos[j] * 0.82 + pos[i] * 0.18,
                xytext=pos[i] * 0.82 + pos[j] * 0.18,
                arrowprops={
                    "arrowstyle": "-|>",
                    "lw": 0.5 + 5 * flow[i, j] / top,
                    "color": "tab:blue",
                    "connectionstyle": "arc3,rad=0.15",
                },
            )
            mid = (pos[i] + pos[j]) / 2 + 0.08 * np.array(
                [-(pos[j] - pos[i])[1], (pos[j] - pos[i])[0]]
            )
            ax.text(*mid, f"{Pm[i, j]:.3f}", fontsize=8, ha="center")
    for k in range(K):
        ax.scatter(*pos[k], s=400 + 3000 * shares[k], color="tab:orange", zorder=3)
        ax.text(
            *pos[k],
            f"{symbols[k]}\n{shares[k]:.0%}\nstay {Pm[k, k]:.3f}",
            ha="center",
            va="center",
            fontsize=9,
            zorder=4,
        )
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("symbolic graph (subregions and transitions)")
    im = axm.imshow(Pm, cmap="Blues", vmin=0, vmax=1)
    axm.set_xticks(range(K), symbols)
    axm.set_yticks(range(K), symbols)
    axm.set_xlabel("to")
    axm.set_ylabel("from")
    for i in range(K):
        for j in range(K):
            axm.text(
                j,
                i,
                f"{Pm[i, j]:.3f}",
                ha="center",
                va="center",
                color="white" if Pm[i, j] > 0.5 else "black",
                fontsize=8,
            )
    fig.colorbar(im, ax=axm, label="transition probability")
    return fig
