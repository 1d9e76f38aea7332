"""What `tsdyn summarize` writes: groups.json, assignments.csv, summary.png/.svg/.html."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from tsdyn.summarize._render import plot_summary, render_html, shown_groups

__all__ = ["ASSIGNMENT_COLUMNS", "groups_document", "one_line", "write_summary"]

METHOD = (
    "TiVy-R, a reconstruction of TiVy (Chan et al., IEEE VIS 2025); "
    "the paper's exact parameters are not public"
)
ASSIGNMENT_COLUMNS = (
    "series_id",
    "window_index",
    "window_start",
    "window_end",
    "symbol",
    "group_id",
)


def _stamp(time, index: int):
    """The time label of sample `index` (the sample index itself without a time axis)."""
    if time is None:
        return index
    if index >= len(time):  # the end of the last window: one step past the data
        step = time[-1] - time[-2] if len(time) > 1 else 0
        return (
            str(time[-1] + step)
            if np.issubdtype(np.asarray(time).dtype, np.datetime64)
            else float(time[-1] + step)
        )
    value = time[index]
    return str(value) if np.issubdtype(np.asarray(time).dtype, np.datetime64) else float(value)


def groups_document(
    tv, names, time, max_panels: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """groups.json (research note sec. 2.6): params, sizes, timings, metrics, groups, residual."""
    import tsdyn

    w = tv.window_
    shown = {g.id for g in shown_groups(tv.groups_, max_panels)}
    groups = []
    for g in tv.groups_:
        a, b = g.start_window * w, (g.start_window + g.n_windows) * w
        groups.append(
            {
                "id": g.id,
                "start": _stamp(time, a),
                "end": _stamp(time, b),
                "start_window": g.start_window,
                "n_windows": g.n_windows,
                "symbols": list(g.symbols),
                "n_members": len(g.members),
                "members": [names[i] for i in g.members],
                "representative_member": names[g.rep_member],
                "representative": np.round(g.representative, 6).tolist(),
                "dispersion_rms": g.dispersion_rms,
                "max_dtw": g.max_dtw,
                "frac_over_eps": g.frac_over_eps,
                "spread": g.spread,
                "shown": g.id in shown,
            }
        )
    residual = [
        {"series": names[i], "windows": np.flatnonzero(tv.assignment_[i] < 0).tolist()}
        for i in range(tv.n_series_)
        if (tv.assignment_[i] < 0).any()
    ]
    return {
        "version": tsdyn.__version__,
        "method": METHOD,
        "params": tv.params(),
        "n_series": tv.n_series_,
        "n_samples": tv.n_samples_,
        "n_windows": tv.n_windows_,
        "window": w,
        "alphabet_size": tv.alphabet_size_,
        "timings": tv.timings_,
        "counters": tv.counters_,
        "metrics": tv.metrics_,
        **(extra or {}),
        "groups": groups,
        "residual": residual,
    }


def assignments_csv(tv, names, time) -> str:
    """Long format: one row per cell (series, window), group_id empty for the residual."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ASSIGNMENT_COLUMNS)
    w = tv.window_
    for i in range(tv.n_series_):
        for k in range(tv.n_windows_):
            gid = int(tv.assignment_[i, k])
            writer.writerow(
                [
                    names[i],
                    k,
                    _stamp(time, k * w),
                    _stamp(time, (k + 1) * w),
                    int(tv.symbols_[i, k]),
                    "" if gid < 0 else gid,
                ]
            )
    return out.getvalue()


def one_line(tv, seconds: float | None = None) -> str:
    m = tv.metrics_
    text = (
        f"{tv.n_series_} series x {tv.n_samples_} samples, window {tv.window_}: "
        f"{tv.alphabet_size_} symbols, {m['groups']} groups, coverage {m['coverage']:.1%}"
    )
    return text + (f", {seconds:.2f} s" if seconds is not None else "")


def write_summary(
    folder, tv, series, max_panels: int = 24, max_lines: int = 200, extra: dict | None = None
) -> dict[str, Any]:
    """Write every output of a fitted `TiVy` into a RunFolder; return groups.json's document."""
    names, time = series.names, series.time
    doc = groups_document(tv, names, time, max_panels, extra)
    folder.write_json("groups.json", doc)
    folder.write_text("assignments.csv", assignments_csv(tv, names, time))
    fig = plot_summary(tv, time=time, names=names, max_panels=max_panels, max_lines=max_lines)
    fig.savefig(buf := io.StringIO(), format="svg")
    svg = buf.getvalue()
    folder.save_figure("summary.png", fig, dpi=110)  # closes the figure
    folder.write_text("summary.svg", svg)
    n_shown = sum(g["shown"] for g in doc["groups"])
    page = render_html(
        svg,
        title=f"TiVy-R summary of {series.label}",
        summary=one_line(tv),
        groups=doc["groups"],
        n_shown=n_shown,
        params=tv.params(),
        provenance=f"tsdyn {doc['version']}; {doc['method']}; notes: {'; '.join(series.notes) or 'none'}",
    )
    folder.write_text("summary.html", page)
    return doc
