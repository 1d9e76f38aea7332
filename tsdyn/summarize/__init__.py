"""TiVy-R visual summaries of many time series (`tsdyn summarize`); see `_tivy` for the method.

- `TiVy(window=..., ...).fit(values)` -> `.groups_`, `.assignment_`, `.metrics_`
- `plot_summary(tv, time, names)` -> matplotlib Figure; `write_summary(folder, tv, series)` writes
  summary.png/.svg/.html, groups.json and assignments.csv
- `load_series(path_or_name, long="id,time,value")` reads wide or long tables
- `adjusted_rand_index(a, b)` scores a cell labelling against planted motifs
"""

from tsdyn.summarize._io import Series, load_series, parse_duration_samples
from tsdyn.summarize._render import plot_summary, render_html
from tsdyn.summarize._report import ASSIGNMENT_COLUMNS, groups_document, one_line, write_summary
from tsdyn.summarize._tivy import (
    NORMALIZATIONS,
    Group,
    TiVy,
    adjusted_rand_index,
    normalize_series,
    planted_ari,
)

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "NORMALIZATIONS",
    "Group",
    "Series",
    "TiVy",
    "adjusted_rand_index",
    "groups_document",
    "load_series",
    "normalize_series",
    "one_line",
    "parse_duration_samples",
    "planted_ari",
    "plot_summary",
    "render_html",
    "write_summary",
]
