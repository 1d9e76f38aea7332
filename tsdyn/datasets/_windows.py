"""Sliding windows: a row range of a `[T, C]` array -> look-backs `[B, L, C]` and targets `[B, H, C]`."""

from __future__ import annotations

import numpy as np
import torch

from tsdyn.errors import InputError

__all__ = ["FEATURES", "WindowDataset", "feature_columns", "sliding_windows"]

#: M: all columns in, all out. S: the target in, the target out. MS: all in, the target out.
FEATURES = ("M", "S", "MS")


def feature_columns(n_columns: int, features: str, target: int = -1) -> tuple[list[int], list[int]]:
    """Input and output column indices for a feature mode (the target defaults to the last column)."""
    if features not in FEATURES:
        raise InputError(f"unknown --features '{features}'", "use M, S or MS")
    target = target % n_columns
    every = list(range(n_columns))
    if features == "M":
        return every, every
    if features == "S":
        return [target], [target]
    return every, [target]


def sliding_windows(
    values: torch.Tensor, seq_len: int, pred_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """All windows of `values` [T, C] as strided views: x [B, L, C], y [B, H, C], B = T - L - H + 1."""
    n = values.shape[0] - seq_len - pred_len + 1
    if n < 1:
        raise InputError(
            f"{values.shape[0]} rows are too few for seq_len {seq_len} + pred_len {pred_len}",
            f"give at least {seq_len + pred_len} rows",
        )
    full = values.unfold(0, seq_len + pred_len, 1).transpose(1, 2)  # [B, L+H, C] view
    return full[:n, :seq_len], full[:n, seq_len:]


class WindowDataset(torch.utils.data.Dataset):
    """Windows of rows `[start, end)` of a (scaled) `[T, C]` array, as LTSF-Linear's datasets give them.

    Item i is `(x [L, C_in], y [H, C_out])` with x = rows start+i .. start+i+L-1 and y the next H rows.

    Parameters
    ----------
    values : ndarray or Tensor, shape [T, C]
        The whole (already standardized) table.
    start, end : int
        The row range (a `Split` part).
    seq_len, pred_len : int
        L and H.
    features : {"M", "S", "MS"}
        Which columns go in and come out (`feature_columns`).
    target : int
        Index of the target column for S/MS (default: last).
    """

    def __init__(
        self,
        values,
        start: int,
        end: int,
        seq_len: int,
        pred_len: int,
        features: str = "M",
        target: int = -1,
    ):
        data = torch.as_tensor(np.asarray(values)[start:end], dtype=torch.float32)
        self.in_cols, self.out_cols = feature_columns(data.shape[1], features, target)
        self.seq_len, self.pred_len = seq_len, pred_len
        self.x = sliding_windows(data[:, self.in_cols], seq_len, pred_len)[0]  # [B, L, C_in] view
        self.y = sliding_windows(data[:, self.out_cols], seq_len, pred_len)[1]  # [B, H, C_out] view

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every window at once: x [B, L, C_in], y [B, H, C_out] (contiguous copies)."""
        return self.x.contiguous(), self.y.contiguous()
