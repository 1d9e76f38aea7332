"""Per-column standardization fitted on training rows only."""

from __future__ import annotations

from typing import Any

import numpy as np

from tsdyn.errors import NotFittedError

__all__ = ["StandardScaler"]


class StandardScaler:
    """z = (x - mean) / std per column, std with ddof 0 (as scikit-learn); a zero std counts as 1.

    Works on numpy arrays and torch tensors whose last axis is the columns.
    """

    def __init__(self):
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, values: np.ndarray) -> StandardScaler:
        values = np.asarray(values, dtype=np.float64)
        self.mean_ = values.mean(axis=0)
        std = values.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def _params(self, like: Any, columns: Any = None):
        if self.mean_ is None:
            raise NotFittedError("StandardScaler is not fitted; call fit(train_values) first")
        mean, scale = self.mean_, self.scale_
        if columns is not None:
            mean, scale = mean[columns], scale[columns]
        if isinstance(like, np.ndarray):
            return mean, scale
        import torch

        return (
            torch.as_tensor(mean, dtype=like.dtype, device=like.device),
            torch.as_tensor(scale, dtype=like.dtype, device=like.device),
        )

    def transform(self, values, columns=None):
        """Standardize; `columns` selects the scaler's columns matching the last axis."""
        mean, scale = self._params(values, columns)
        return (values - mean) / scale

    def inverse_transform(self, values, columns=None):
        """Back to original units."""
        mean, scale = self._params(values, columns)
        return values * scale + mean

    def state_dict(self) -> dict[str, list[float]]:
        self._params(np.zeros(0))
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, list[float]]) -> StandardScaler:
        scaler = cls()
        scaler.mean_ = np.asarray(state["mean"], dtype=np.float64)
        scaler.scale_ = np.asarray(state["scale"], dtype=np.float64)
        return scaler
