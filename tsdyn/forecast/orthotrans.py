"""OrthoTrans (OLinear, Yue et al. 2025, Sec. 3.2): the temporal Pearson-correlation eigenbasis Q.

For each channel of the raw training rows A [n, C] and a window length T, the lagged matrix has T rows,
row i = A[i : n - T + 1 + i]; its covariance divided column-wise by its diagonal is the temporal
correlation matrix. Channels with a variance below 1e-4 are skipped; the rest are averaged into Sigma;
Q holds Sigma's eigenvectors as ROWS in descending eigenvalue order, so `Q @ x` projects a window x
onto the leading decorrelated directions and `Q.T @ z` inverts it (Q is orthogonal).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tsdyn.errors import InputError

__all__ = ["OrthoTransWrapper", "correlation_matrix", "orthotrans_basis"]


def correlation_matrix(values: np.ndarray, length: int) -> np.ndarray:
    """Channel-averaged temporal correlation matrix Sigma [T, T] of training rows `values` [n, C]."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    if n - length + 1 < 2:
        raise InputError(
            f"the training rows ({n}) are too few for an OrthoTrans basis of length {length}",
            "use a shorter --seq-len/--pred-len or more data",
        )
    mats = []
    for j in range(values.shape[1]):
        lagged = np.lib.stride_tricks.sliding_window_view(values[:, j], n - length + 1)  # (T n-T+1)
        cov = np.cov(lagged)  # (T T)
        var = np.diag(cov)
        if (var < 1e-4).any():
            continue
        mats.append(cov / var[None, :])
    if not mats:
        raise InputError(
            "every channel is (nearly) constant in the training rows",
            "OrthoTrans needs varying channels; drop constant ones with --columns",
        )
    sigma = np.mean(mats, axis=0)
    # The column-wise normalisation leaves Sigma symmetric only up to the (nearly equal) variances of
    # the lagged windows; the reference's eigh reads one triangle. We symmetrise explicitly so that Q
    # exactly diagonalises the matrix returned here.
    return (sigma + sigma.T) / 2


def orthotrans_basis(values: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Q [T, T] (rows = eigenvectors, descending eigenvalues) and the eigenvalues, from `values` [n, C]."""
    sigma = correlation_matrix(values, length)
    eigvals, eigvecs = np.linalg.eigh(sigma)
    return np.ascontiguousarray(eigvecs.T[::-1]), eigvals[::-1].copy()


class OrthoTransWrapper(nn.Module):
    """Run any forecaster in the OrthoTrans domain: y = Q_out^T f(Q_in x) along time."""

    def __init__(self, inner: nn.Module, q_in: torch.Tensor, q_out: torch.Tensor):
        super().__init__()
        self.inner = inner
        self.register_buffer("q_in", torch.as_tensor(q_in, dtype=torch.float32))  # (L L)
        self.register_buffer("q_out", torch.as_tensor(q_out, dtype=torch.float32))  # (H H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.einsum("vt,btc->bvc", self.q_in, x)  # (B L C) coefficients
        out = self.inner(z)  # (B H C) coefficients
        return torch.einsum("vt,bvc->btc", self.q_out, out)  # (B H C)
