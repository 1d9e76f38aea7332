"""OLinear (Yue et al., "OLinear: A Linear Model for Time Series Forecasting in Orthogonally
Transformed Domain", 2025): RevIN, dimension extension, OrthoTrans, NormLin blocks over variates,
inverse transform and an intra-series MLP.

Forward for x [B, L, N] (paper Fig. 2 / Sec. 3):
1. RevIN: per window and channel, z-score over time (population std, eps 1e-5), learnable affine.
2. Dimension extension: x[..., None] * phi with phi [D] -> [B, N, D, L].
3. OrthoTrans: z = x Q_in^T + delta_in (delta_in [N, 1, L], zero init).
4. Flatten [B, N, D L] -> Linear(D L -> d_model).
5. e_layers NormLin blocks along the variate axis: A = rownorm_L1(softplus(W)), W [N, N] init
   I + randn; x = LN(x + Drop(W_o (Drop(A) W_v x))); x = LN(x + FFN(x)), FFN = d_model -> d_ff -> d_model
   with GELU.
6. LN, Linear(d_model -> D H) -> [B, N, D, H]; inverse OrthoTrans z Q_out + delta_out.
7. Intra-series MLP: [B, N, H D] -> Linear(H D -> d_ff) -> GELU -> Linear(d_ff -> H); dropout;
   RevIN denormalisation -> [B, H, N].
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["NormLin", "OLinear", "RevIN"]


class RevIN(nn.Module):
    """Reversible instance normalisation over time, per channel (Kim et al. 2022)."""

    def __init__(self, n_channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels))
        self.bias = nn.Parameter(torch.zeros(n_channels))

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        mean = x.mean(dim=1, keepdim=True).detach()  # (B 1 N)
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps).detach()  # (B 1 N)
        return (x - mean) / std * self.weight + self.bias, (mean, std)

    def denormalize(
        self, y: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        mean, std = stats
        return (y - self.bias) / (self.weight + self.eps * self.eps) * std + mean


class NormLin(nn.Module):
    """y = A x with A = L1-row-normalised softplus(W): a learned convex mixing of N tokens."""

    def __init__(self, n_tokens: int):
        super().__init__()
        self.weight = nn.Parameter(torch.eye(n_tokens) + torch.randn(n_tokens, n_tokens))  # (N N)

    def matrix(self) -> torch.Tensor:
        """The normalised mixing matrix A [N, N]; every row sums to 1."""
        return F.normalize(F.softplus(self.weight), p=1, dim=-1)

    def forward(self, x: torch.Tensor, dropout: nn.Module | None = None) -> torch.Tensor:
        a = self.matrix()
        if dropout is not None:
            a = dropout(a)
        return torch.einsum("nm,bmd->bnd", a, x)  # (B N d_model)


class _NormLinBlock(nn.Module):
    def __init__(self, n_tokens: int, d_model: int, d_ff: int, dropout: float):
        super().__init__()
        self.v_proj = nn.Linear(d_model, d_model)
        self.mix = NormLin(n_tokens)
        self.out_proj = nn.Linear(d_model, d_model)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
        )
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B N d_model)
        x = self.norm1(x + self.dropout(self.out_proj(self.mix(self.v_proj(x), self.dropout))))
        return self.norm2(x + self.dropout(self.ffn(x)))


class OLinear(nn.Module):
    """OLinear forecaster; `q_in` [L, L] and `q_out` [H, H] are OrthoTrans bases (rows = eigenvectors)."""

    def __init__(
        self,
        seq_len: int,
        pred_len: int,
        n_channels: int,
        q_in: torch.Tensor | None = None,
        q_out: torch.Tensor | None = None,
        d_model: int = 512,
        d_ff: int = 512,
        embed_size: int = 16,
        e_layers: int = 2,
        dropout: float = 0.2,
    ):
        super().__init__()
        q_in = torch.eye(seq_len) if q_in is None else torch.as_tensor(q_in, dtype=torch.float32)
        q_out = (
            torch.eye(pred_len) if q_out is None else torch.as_tensor(q_out, dtype=torch.float32)
        )
        self.register_buffer("q_in", q_in)  # (L L)
        self.register_buffer("q_out", q_out)  # (H H)
        self.pred_len, self.embed_size = pred_len, embed_size
        self.revin = RevIN(n_channels)
        self.phi = nn.Parameter(torch.randn(embed_size))  # (D)
        self.delta_in = nn.Parameter(torch.zeros(n_channels, 1, seq_len))  # (N 1 L)
        self.delta_out = nn.Parameter(torch.zeros(n_channels, 1, pred_len))  # (N 1 H)
        self.embed = nn.Linear(seq_len * embed_size, d_model)
        self.blocks = nn.ModuleList(
            _NormLinBlock(n_channels, d_model, d_ff, dropout) for _ in range(e_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, pred_len * embed_size)
        self.mlp = nn.Sequential(
            nn.Linear(pred_len * embed_size, d_ff), nn.GELU(), nn.Linear(d_ff, pred_len)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, n = x.shape
        x, stats = self.revin.normalize(x)  # (B L N)
        x = x.transpose(1, 2)[:, :, None, :] * self.phi[:, None]  # (B N D L)
        z = torch.einsum("bndt,vt->bndv", x, self.q_in) + self.delta_in  # (B N D L)
        h = self.embed(z.reshape(b, n, -1))  # (B N d_model)
        for block in self.blocks:
            h = block(h)
        z = self.head(self.norm(h)).reshape(b, n, self.embed_size, self.pred_len)  # (B N D H)
        y = torch.einsum("bndv,vt->bndt", z, self.q_out) + self.delta_out  # (B N D H)
        y = self.mlp(y.transpose(2, 3).reshape(b, n, -1))  # (B N H)
        y = self.dropout(y).transpose(1, 2)  # (B H N)
        return self.revin.denormalize(y, stats)
