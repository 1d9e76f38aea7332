"""LTSF-Linear models (Zeng et al., "Are Transformers Effective for Time Series Forecasting?", AAAI 2023).

All three map a look-back x [B, L, C] to a forecast [B, H, C] with linear layers along time:

- Linear (Sec. 4, "Vanilla Linear"): y = W x + b, one W [H, L] shared by all channels (or one per
  channel with `individual`).
- NLinear: y = Linear(x - x_L) + x_L with x_L the last value of each channel.
- DLinear: x = trend + seasonal, trend = moving average of kernel 25 (stride 1) with the first and
  last rows repeated (k - 1) // 2 times at each end; y = Linear_s(seasonal) + Linear_t(trend).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["DLinear", "Linear", "NLinear", "TimeLinear", "moving_average"]


class TimeLinear(nn.Module):
    """x [B, L, C] -> [B, H, C] by a linear map along time, shared or per channel (`individual`).

    Initialised as `nn.Linear(L, H)` (uniform in +-1/sqrt(L)) in both cases.
    """

    def __init__(self, seq_len: int, pred_len: int, n_channels: int, individual: bool = False):
        super().__init__()
        shape = (n_channels, pred_len, seq_len) if individual else (pred_len, seq_len)
        bound = 1.0 / math.sqrt(seq_len)
        self.individual = individual
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))  # ([C] H L)
        self.bias = nn.Parameter(torch.empty(shape[:-1]).uniform_(-bound, bound))  # ([C] H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.individual:
            return torch.einsum("blc,chl->bhc", x, self.weight) + self.bias.T  # (B H C)
        return torch.einsum("blc,hl->bhc", x, self.weight) + self.bias[:, None]  # (B H C)


def moving_average(x: torch.Tensor, kernel: int = 25) -> torch.Tensor:
    """Moving average along time of x [B, L, C] with edge-replicated padding (DLinear's `moving_avg`)."""
    pad = (kernel - 1) // 2
    front = x[:, :1].expand(-1, pad, -1)
    back = x[:, -1:].expand(-1, pad, -1)
    padded = torch.cat([front, x, back], dim=1)  # (B L+2pad C)
    return padded.unfold(1, kernel, 1).mean(dim=-1)  # (B L+2pad-k+1 C); = L for odd k


class Linear(nn.Module):
    """Vanilla linear forecaster."""

    def __init__(self, seq_len: int, pred_len: int, n_channels: int, individual: bool = False):
        super().__init__()
        self.linear = TimeLinear(seq_len, pred_len, n_channels, individual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class NLinear(Linear):
    """Linear on the input minus its last value, which is added back to the output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:].detach()  # (B 1 C)
        return self.linear(x - last) + last


class DLinear(nn.Module):
    """Seasonal-trend decomposition, one linear layer for each part."""

    def __init__(
        self,
        seq_len: int,
        pred_len: int,
        n_channels: int,
        individual: bool = False,
        kernel: int = 25,
    ):
        super().__init__()
        self.kernel = kernel
        self.seasonal = TimeLinear(seq_len, pred_len, n_channels, individual)
        self.trend = TimeLinear(seq_len, pred_len, n_channels, individual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trend = moving_average(x, self.kernel)  # (B L C)
        return self.seasonal(x - trend) + self.trend(trend)
