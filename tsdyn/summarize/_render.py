"""Step 6 of TiVy-R: the small multiples (matplotlib) and a self-contained HTML page.

Layout: an overview strip (series x windows, each cell coloured by its group, white = residual),
then one panel per group: members thin and translucent (alpha ~ 1/sqrt(n)), the representative
bold, y shared across panels (normalised units), title = span and member count, a note with the
symbol string and the spread. Panels with more than `max_lines` members are drawn as density
bands (5-95% and 25-75% quantiles per timestamp) instead of lines. Member layers are rasterised
so that SVG files stay small. Only the `max_panels` largest groups (in cells) are drawn; the
rest are listed in groups.json.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np

__all__ = ["PALETTE", "group_color", "plot_summary", "render_html", "shown_groups"]

#: Okabe-Ito (colour-blind safe), then Paul Tol's muted scheme for more groups
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
)


def group_color(gid: int) -> str:
    return PALETTE[gid % len(PALETTE)]


def shown_groups(groups, max_panels: int):
    """The `max_panels` groups with the most cells, in display order (start, then size)."""
    ranked = sorted(groups, key=lambda g: (-len(g.members) * g.n_windows, g.id))[:max_panels]
    return sorted(ranked, key=lambda g: (g.start_window, -len(g.members), g.id))


def symbol_string(symbols, limit: int = 6) -> str:
    text = "-".join(f"s{s}" for s in symbols[:limit])
    return text + ("-..." if len(symbols) > limit else "")


def _time_axis(time, n: int):
    """Numeric x values for matplotlib (date numbers for datetimes) and whether they are dates."""
    if time is None:
        return np.arange(n, dtype=float), False
    time = np.asarray(time)[:n]
    if np.issubdtype(time.dtype, np.datetime64):
        import matplotlib.dates as mdates

        return mdates.date2num(time.astype("datetime64[us]")), True
    return time.astype(float), False


def _ticks(ax, dates: bool, n: int) -> None:
    import matplotlib.dates as mdates
    from matplotlib.ticker import MaxNLocator

    if dates:
        locator = mdates.AutoDateLocator(minticks=2, maxticks=n + 3)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(n))


def plot_summary(
    tv, time=None, names=None, max_panels: int = 24, max_lines: int = 200, title: str | None = None
):
    """The summary figure of a fitted `TiVy`; returns a matplotlib Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgb

    tv._fitted()
    w, M, K = tv.window_, tv.n_series_, tv.n_windows_
    x, dates = _time_axis(time, K * w)
    shown = shown_groups(tv.groups_, max_panels)
    n = len(shown)
    ncols = max(1, min(4, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = plt.figure(figsize=(3.4 * ncols + 0.6, 2.2 + 2.3 * nrows), layout="constrained")
    grid = fig.add_gridspec(nrows + 1, ncols, height_ratios=[1.2] + [1.0] * nrows)

    strip = fig.add_subplot(grid[0, :])
    strip.set_gid("overview")
    image = np.ones((M, K, 3))
    for g in tv.groups_:
        image[np.ix_(g.members, range(g.start_window, g.start_window + g.n_windows))] = to_rgb(
            group_color(g.id)
        )
    step = (x[-1] - x[0]) / max(1, K * w - 1) if K * w > 1 else 1.0
    strip.imshow(
        image, aspect="auto", interpolation="nearest", extent=(x[0], x[-1] + step, M - 0.5, -0.5)
    )
    strip.set_ylabel("series")
    strip.set_title(
        title
        or f"TiVy-R summary: {M} series, {K} windows of {w}, {tv.alphabet_size_} symbols, "
        f"{len(tv.groups_)} groups, coverage {tv.metrics_['coverage']:.0%}",
        fontsize=10,
    )
    _ticks(strip, dates, 8)
    ylim = float(np.abs(tv.normalized_).max()) if tv.normalized_.size else 1.0

    first = None
    for idx, g in enumerate(shown):
        ax = fig.add_subplot(grid[1 + idx // ncols, idx % ncols], sharey=first)
        first = first or ax
        ax.set_gid(f"panel-{g.id}")
        a, b = g.start_window * w, (g.start_window + g.n_windows) * w
        xs = x[a:b]
        Y = tv.normalized_[a:b, g.members].T  # [n, span]
        color = group_color(g.id)
        if len(g.members) > max_lines:
            q = np.quantile(Y, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
            ax.fill_between(xs, q[0], q[4], color=color, alpha=0.2, lw=0, rasterized=True)
            ax.fill_between(xs, q[1], q[3], color=color, alpha=0.4, lw=0, rasterized=True)
        else:
            alpha = float(np.clip(1.0 / math.sqrt(len(g.members)), 0.05, 0.6))
            segs = np.stack([np.broadcast_to(xs, Y.shape), Y], axis=-1)
            ax.add_collection(
                LineCollection(segs, colors=color, linewidths=0.7, alpha=alpha, rasterized=True)
            )
        ax.plot(xs, g.representative, color=color, lw=2.2)
        ax.plot(xs, g.representative, color="black", lw=0.6, alpha=0.6)
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(-ylim * 1.05, ylim * 1.05)
        _ticks(ax, dates, 3)
        ax.tick_params(labelsize=7)
        ax.set_title(
            f"G{g.id}: windows {g.start_window}-{g.start_window + g.n_windows - 1}, n={len(g.members)}",
            fontsize=9,
            color=color,
        )
        ax.text(
            0.02,
            0.03,
            f"{symbol_string(g.symbols)}  spread {g.spread:.2f}",
            transform=ax.transAxes,
            fontsize=7,
            color="0.25",
        )
    if len(tv.groups_) > len(shown):
        fig.text(
            0.99,
            0.005,
            f"+{len(tv.groups_) - len(shown)} more groups in groups.json",
            ha="right",
            fontsize=8,
            color="0.3",
        )
    if not shown:
        strip.text(
            0.5,
            0.5,
            "no group reached the support and panel cost",
            transform=strip.transAxes,
            ha="center",
        )
    return fig


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
svg {{ max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ cursor: pointer; background: #f2f2f2; }}
td.l, th.l {{ text-align: left; }}
.swatch {{ display: inline-block; width: 0.9em; height: 0.9em; vertical-align: middle; }}
</style></head>
<body data-groups="{n_groups}" data-panels-expected="{n_shown}">
<h1>{title}</h1>
<p>{summary}</p>
<div id="figure">{svg}</div>
<h2>Groups</h2>
<table id="groups"><thead><tr>{head}</tr></thead><tbody>
{rows}
</tbody></table>
<h2>Parameters</h2>
<table id="params"><tbody>
{params}
</tbody></table>
<p id="provenance">{provenance}</p>
<p id="status">rendering</p>
<script>
(function () {{
  var errors = 0;
  window.addEventListener("error", function () {{ errors += 1; document.body.dataset.errors = errors; }});
  var panels = document.querySelectorAll('#figure g[id^="panel-"]').length;
  document.body.dataset.panels = panels;
  document.body.dataset.errors = errors;
  document.getElementById("status").textContent = "rendered " + panels + " panels";
  var table = document.getElementById("groups");
  table.querySelectorAll("th").forEach(function (th, col) {{
    th.addEventListener("click", function () {{
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var up = th.dataset.up !== "1"; th.dataset.up = up ? "1" : "0";
      rows.sort(function (a, b) {{
        var x = a.cells[col].dataset.v || a.cells[col].textContent;
        var y = b.cells[col].dataset.v || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return up ? c : -c;
      }});
      rows.forEach(function (r) {{ body.appendChild(r); }});
    }});
  }});
}})();
</script>
</body></html>
"""


def render_html(
    svg: str,
    title: str,
    summary: str,
    groups: list[dict[str, Any]],
    n_shown: int,
    params: dict[str, Any],
    provenance: str,
) -> str:
    """A self-contained page: the inline SVG, a sortable groups table, parameters; no network."""
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    cols = [
        ("id", "group"),
        ("start", "start"),
        ("end", "end"),
        ("n_windows", "windows"),
        ("n_members", "members"),
        ("symbols", "symbols"),
        ("dispersion_rms", "dispersion"),
        ("spread", "spread"),
        ("shown", "panel"),
    ]
    head = "".join(
        f'<th class="{"l" if k in ("start", "end", "symbols") else ""}">{html.escape(label)}</th>'
        for k, label in cols
    )
    rows = []
    for g in groups:
        cells = []
        for key, _ in cols:
            value = g[key]
            if key == "id":
                text = (
                    f'<span class="swatch" style="background:{group_color(value)}"></span> G{value}'
                )
                cells.append(f'<td data-v="{value}">{text}</td>')
            elif key == "symbols":
                cells.append(f'<td class="l">{html.escape(symbol_string(value, 8))}</td>')
            elif isinstance(value, float):
                cells.append(f"<td>{value:.3f}</td>")
            else:
                cls = ' class="l"' if key in ("start", "end") else ""
                cells.append(f"<td{cls}>{html.escape(str(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    param_rows = "\n".join(
        f'<tr><th class="l">{html.escape(str(k))}</th><td class="l">{html.escape(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>'
        for k, v in params.items()
    )
    return _PAGE.format(
        title=html.escape(title),
        summary=html.escape(summary),
        svg=svg,
        head=head,
        rows="\n".join(rows),
        params=param_rows,
        provenance=html.escape(provenance),
        n_groups=len(groups),
        n_shown=n_shown,
    )
