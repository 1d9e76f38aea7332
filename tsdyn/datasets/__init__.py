"""Files and generators -> arrays: table loading, splits, scaling, windows, built-in systems.

Polars stays inside this package; everything it returns is numpy or torch.
"""

from tsdyn.datasets import systems
from tsdyn.datasets._builtins import BUILTINS, load
from tsdyn.datasets._long import load_long_table
from tsdyn.datasets._scaling import StandardScaler
from tsdyn.datasets._splits import SPLIT_SCHEMES, Split, make_split, resolve_scheme
from tsdyn.datasets._table import FILL_METHODS, Table, load_table, parse_columns
from tsdyn.datasets._windows import FEATURES, WindowDataset, feature_columns, sliding_windows
from tsdyn.datasets.synthetic import demo_table

__all__ = [
    "BUILTINS",
    "FEATURES",
    "FILL_METHODS",
    "SPLIT_SCHEMES",
    "Split",
    "StandardScaler",
    "Table",
    "WindowDataset",
    "demo_table",
    "feature_columns",
    "load",
    "load_long_table",
    "load_table",
    "make_split",
    "parse_columns",
    "resolve_scheme",
    "sliding_windows",
    "systems",
]
