"""Registry of built-in data names accepted wherever a file path is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tsdyn.datasets._table import Table, load_table

__all__ = ["BUILTINS", "load"]


def _system(name: str) -> Callable[..., Table]:
    def make(**kwargs) -> Table:
        from tsdyn.datasets.systems import simulate

        return simulate(name, **kwargs)

    return make


def _motifs(**kwargs) -> Table:
    from tsdyn.datasets.motifs import motif_table

    return motif_table(**kwargs)


def _demo(**kwargs) -> Table:
    from tsdyn.datasets.synthetic import demo_table

    return demo_table(**kwargs)


#: name -> (one-line description, factory(**kwargs) -> Table)
BUILTINS: dict[str, tuple[str, Callable[..., Table]]] = {
    "demo": (
        "synthetic hourly table: 5 columns of daily/weekly cycles, trend, correlated noise",
        _demo,
    ),
    "lorenz63": ("Lorenz-63 attractor (sigma 10, rho 28, beta 8/3), dt 0.01", _system("lorenz63")),
    "rossler": ("Rossler attractor (a 0.2, b 0.2, c 5.7), dt 0.08", _system("rossler")),
    "lorenz96": ("Lorenz-96 (F 8), 20 dimensions, dt 0.05", _system("lorenz96")),
    "motifs": ("60 hourly series of 2048 samples with 6 planted motifs (for summarize)", _motifs),
}


def load(source: str | Path, *, builtin_kwargs: dict | None = None, **load_kwargs) -> Table:
    """A file path (CSV/Parquet, through `load_table`) or a built-in name (see `BUILTINS`).

    A path that exists always wins over a built-in of the same name.
    """
    text = str(source)
    if text in BUILTINS and not Path(text).exists():
        table = BUILTINS[text][1](**(builtin_kwargs or {}))
        columns = load_kwargs.get("columns")
        target = load_kwargs.get("target")
        if target and target not in table.columns:
            from tsdyn.datasets._table import _unknown_column

            raise _unknown_column(target, table.columns, table.label, option="--target")
        if columns or target:
            keep = [c for c in (columns or table.columns) if c != target] + (
                [target] if target else []
            )
            table = table.select(keep)
            if target:
                import dataclasses

                table = dataclasses.replace(table, target=target)
        return table
    return load_table(source, **load_kwargs)
