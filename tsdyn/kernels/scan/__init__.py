"""`linear_scan`: h_t = a_t * h_{t-1} + b_t over [B, T, D] (README.md beside this file)."""

from ._linear_scan import default_backend, linear_scan

__all__ = ["default_backend", "linear_scan"]
