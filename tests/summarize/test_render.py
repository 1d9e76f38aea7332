"""What the summary figure draws: one panel per shown group, lines or density bands, the strip."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection, PolyCollection

from tsdyn.summarize import TiVy, plot_summary
from tsdyn.summarize._render import shown_groups


def test_panels_lines_and_density_bands(motif_data):
    tv = TiVy(window=motif_data.window).fit(motif_data.table.values)
    sizes = sorted(len(g.members) for g in tv.groups_)
    limit = sizes[len(sizes) // 2]  # some panels above, some at or below the line limit
    fig = plot_summary(tv, time=motif_data.table.time, max_panels=4, max_lines=limit)
    panels = {ax.get_gid(): ax for ax in fig.axes if (ax.get_gid() or "").startswith("panel-")}
    shown = shown_groups(tv.groups_, 4)
    assert sorted(panels) == sorted(f"panel-{g.id}" for g in shown)
    assert len(shown) == min(4, len(tv.groups_))
    biggest = sorted(tv.groups_, key=lambda g: -len(g.members) * g.n_windows)[: len(shown)]
    assert {g.id for g in shown} == {g.id for g in biggest}
    for g in shown:
        ax = panels[f"panel-{g.id}"]
        lines = [c for c in ax.collections if isinstance(c, LineCollection)]
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        if len(g.members) > limit:
            assert bands and not lines
        else:
            assert len(lines) == 1 and len(lines[0].get_segments()) == len(g.members)
        bold = max(ax.lines, key=lambda line: line.get_linewidth())
        np.testing.assert_allclose(bold.get_ydata(), g.representative)
    strip = next(ax for ax in fig.axes if ax.get_gid() == "overview")
    image = strip.images[0].get_array()
    assert image.shape[:2] == (tv.n_series_, tv.n_windows_)
    assert ((np.asarray(image) != 1).any(axis=2) == (tv.assignment_ >= 0)).all()


def test_long_parquet(motif_data, tmp_path):
    import polars as pl

    from tsdyn.summarize import load_series

    long = motif_data.table.to_polars().unpivot(index="date", variable_name="id", value_name="v")
    path = tmp_path / "long.parquet"
    long.write_parquet(path)
    series = load_series(path, long="id,date,v")
    np.testing.assert_allclose(series.values, motif_data.table.values)
    assert series.names == motif_data.table.columns
    assert isinstance(pl.read_parquet(path), pl.DataFrame)
