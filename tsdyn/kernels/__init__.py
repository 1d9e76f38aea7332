"""Shared compute kernels: tensors in, tensors out. Imports nothing else of tsdyn.

- `linear_scan(a, b, h0=None, *, reverse=False, return_last=False)`: h_t = a_t * h_{t-1} + b_t
  (`tsdyn.kernels.scan`), and the fused diagonal SSM scan (`tsdyn.kernels.ssm_scan`).
- `dtw(x, y, window=None)`, `cdist_dtw(X, Y=None, window=None)` (`tsdyn.kernels.dtw`).

Names are resolved lazily so that importing one kernel does not import the others' backends.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "linear_scan": "tsdyn.kernels.scan",
    "ssm_scan": "tsdyn.kernels.ssm_scan",
    "dtw": "tsdyn.kernels.dtw",
    "cdist_dtw": "tsdyn.kernels.dtw",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tsdyn.kernels' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
