"""A small deep SSM forecaster built from the `S4D` / `LSSL` layers.

The S4 paper's forecasting recipe (arXiv 2111.00396, App. D.3.5): the look-back followed by
``pred_len`` mask tokens runs through a plain deep SSM and the last ``pred_len`` outputs are the
forecast. Each channel is one series (channel-independent, weights shared), standardized by its own
look-back mean and SD and mapped back afterwards.
"""

from __future__ import annotations

import torch
from torch import nn

from tsdyn.errors import InputError
from tsdyn.ssm.layers import LSSL, S4D

__all__ = ["LAYERS", "SSMForecastNet"]

LAYERS = ("s4d", "lssl")


class SSMForecastNet(nn.Module):
    """x [B, L, C] -> [B, H, C] through ``n_layers`` residual pre-norm SSM blocks.

    Parameters
    ----------
    seq_len, pred_len, n_channels : int
        L, H and C (the registry's constructor contract).
    layer : {"s4d", "lssl"}
    d_model : int
        Width of the SSM stack (channels of each layer).
    d_state : int
        N, the state size of every SSM.
    n_layers : int
    init : str
        S4D init (legs | inv | lin) or LSSL measure (legs | legt | ...).
    disc : {"zoh", "bilinear"}
        S4D discretization (LSSL is always bilinear).
    dt_min, dt_max : float
        Log-uniform Δ init range (timescales 1/Δ from 10 to 1000 samples by default).
    dropout : float
    ssm_lr : float
        Learning rate of the SSM parameters (Δ, Λ, B), never above the main lr (note 1.10).
    mode : {"conv", "recurrent"}
        How the layers run in `forward` (the result is the same).
    """

    def __init__(
        self,
        seq_len: int,
        pred_len: int,
        n_channels: int,
        *,
        layer: str = "s4d",
        d_model: int = 64,
        d_state: int = 64,
        n_layers: int = 2,
        init: str = "legs",
        disc: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dropout: float = 0.1,
        ssm_lr: float = 1e-3,
        mode: str = "conv",
    ):
        super().__init__()
        if layer not in LAYERS:
            raise InputError(f"unknown layer '{layer}'", f"use one of {', '.join(LAYERS)}")
        if n_layers < 1 or d_model < 1:
            raise InputError(
                f"n_layers {n_layers} and d_model {d_model} must be positive", "pass positive sizes"
            )
        self.seq_len, self.pred_len, self.n_channels = seq_len, pred_len, n_channels
        self.hparams = dict(
            layer=layer,
            d_model=d_model,
            d_state=d_state,
            n_layers=n_layers,
            init=init,
            disc=disc,
            dt_min=dt_min,
            dt_max=dt_max,
            dropout=dropout,
            ssm_lr=ssm_lr,
            mode=mode,
        )
        self.ssm_lr = ssm_lr
        self.mode = mode
        self.encoder = nn.Linear(1, d_model)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        if layer == "s4d":
            make = lambda: S4D(d_model, d_state, init, disc, dt_min, dt_max, dropout)  # noqa: E731
        else:
            make = lambda: LSSL(  # noqa: E731
                d_model, d_state, 1, init, 1.0, dt_min, dt_max, dropout=dropout
            )
        self.layers = nn.ModuleList(make() for _ in range(n_layers))
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(d_model, 1)

    def ssms(self) -> list[nn.Module]:
        """The `DiagonalSSM` / `DenseSSM` of every layer."""
        return [layer.ssm for layer in self.layers]

    def param_groups(self, lr: float) -> list[dict]:
        """Adam groups: SSM parameters at min(lr, ssm_lr) without weight decay, the rest at lr."""
        ssm = {id(p) for s in self.ssms() for p in s.ssm_parameters()}
        slow = [p for p in self.parameters() if id(p) in ssm]
        rest = [p for p in self.parameters() if id(p) not in ssm and p.requires_grad]
        return [
            {"params": slow, "lr": min(lr, self.ssm_lr), "weight_decay": 0.0},
            {"params": rest, "lr": lr},
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, C = x.shape
        z = x.permute(0, 2, 1).reshape(B * C, L)  # [B*C, L]
        mean = z.mean(1, keepdim=True)
        std = z.std(1, keepdim=True, unbiased=False) + 1e-5
        z = (z - mean) / std
        z = torch.cat([z, z.new_zeros(B * C, self.pred_len)], 1)  # mask tokens [B*C, L+H]
        h = self.encoder(z.unsqueeze(-1))  # [B*C, L+H, D]
        for norm, layer in zip(self.norms, self.layers, strict=True):
            h = h + self.dropout(layer(norm(h), mode=self.mode))
        y = self.decoder(h[:, -self.pred_len :]).squeeze(-1)  # [B*C, H]
        y = y * std + mean
        return y.reshape(B, C, self.pred_len).permute(0, 2, 1)  # [B, H, C]
