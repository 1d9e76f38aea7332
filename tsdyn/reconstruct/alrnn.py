"""The almost-linear RNN (Brenner et al., NeurIPS 2024), with R independent runs batched as one model.

    z_t = diag(a) z_{t-1} + W Phi*(z_{t-1}) + h,    Phi*(z) = [z_1..z_{M-P}, relu(z_{M-P+1..M})]
    x_hat_t = z_{t, 1:N}                               (identity read-out of the first N units)
    z_1 = [x_1; L x_1]                                 (learned map from x_1 to the hidden units)

Research note `alrnn.md` section 1 (equations 1.1, read-out 1.2, initialisation 1.3).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tsdyn.errors import InputError

__all__ = ["ALRNN", "init_parameters"]


def init_parameters(M: int, N: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The paper's initialisation for one run (note section 1.3), float64.

    a = diag(K) / max|eig(K)| with K = R^T R / M + I, R_ij ~ N(0, 1); W_ij ~ N(0, 0.01^2) (full);
    h = 0; L_ij ~ U(-sqrt(6/M), sqrt(6/M)) (the Julia `Identity` read-out's Glorot-uniform).
    """
    R = rng.standard_normal((M, M))
    K = R.T @ R / M + np.eye(M)
    K /= np.max(np.abs(np.linalg.eigvalsh(K)))
    W = rng.normal(0.0, 0.01, (M, M))
    bound = np.sqrt(6.0 / M)
    L = rng.uniform(-bound, bound, (M - N, N))
    return {"a": np.diag(K).copy(), "W": W, "h": np.zeros(M), "L": L}


class ALRNN(nn.Module):
    """R independent AL-RNNs (one per run/seed) held as one batched module.

    Parameters
    ----------
    M : int  latent units;  N : int  observed units (the first N);  P : int  ReLU units (the last P)
    runs : int  number of independent models R
    seeds : sequence of int, optional  one initialisation seed per run (default 0..R-1)

    Attributes (all with a leading run axis R): a [R, M], W [R, M, M], h [R, M], L [R, M - N, N].
    """

    def __init__(self, M: int, N: int, P: int, runs: int = 1, seeds=None, dtype=torch.float32):
        super().__init__()
        if N < 1:
            raise InputError(f"the data need at least one column, got N = {N}")
        if P < 0 or M - P < N:
            raise InputError(
                f"need 0 <= P <= M - N (read-out units must be linear), got M={M}, P={P}, N={N}",
                f"use --P {max(0, min(P, M - N))} or a larger --M",
            )
        if runs < 1:
            raise InputError(f"--runs {runs} must be at least 1", "pass --runs 1 or more")
        self.M, self.N, self.P, self.runs = int(M), int(N), int(P), int(runs)
        seeds = list(range(runs)) if seeds is None else list(seeds)
        inits = [init_parameters(M, N, np.random.default_rng(s)) for s in seeds]
        for name in ("a", "W", "h", "L"):
            value = np.stack([p[name] for p in inits])
            self.register_parameter(name, nn.Parameter(torch.tensor(value, dtype=dtype)))

    # ---- the map -------------------------------------------------------------------------
    def phi(self, z: torch.Tensor) -> torch.Tensor:
        """Phi*: identity on the first M - P units, ReLU on the last P."""
        if self.P == 0:  # explicit: a linear model (z[..., -0:] would be all units)
            return z
        return torch.cat((z[..., : self.M - self.P], torch.relu(z[..., self.M - self.P :])), -1)

    def step(self, z: torch.Tensor) -> torch.Tensor:
        """One step for every run: z [R, B, M] -> [R, B, M]."""
        return (
            self.a[:, None, :] * z
            + torch.einsum("rij,rbj->rbi", self.W, self.phi(z))
            + self.h[:, None, :]
        )

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """z_1 = [x_1; L x_1]: x [R, B, N] (or [B, N], shared by all runs) -> [R, B, M]."""
        if x.dim() == 2:
            x = x.expand(self.runs, *x.shape)
        return torch.cat((x, torch.einsum("rkn,rbn->rbk", self.L, x)), dim=-1)

    @torch.no_grad()
    def generate(self, x0: torch.Tensor, steps: int) -> torch.Tensor:
        """Free run of `steps` states starting from z_1 = [x0; L x0]: x0 [B, N] -> [R, B, steps, M]."""
        z = self.initial_state(x0)
        out = [z]
        for _ in range(steps - 1):
            z = self.step(z)
            out.append(z)
        return torch.stack(out, dim=2)

    # ---- linear-region form --------------------------------------------------------------
    def numpy_params(self, dtype=np.float64) -> dict[str, np.ndarray]:
        """a, W, h, L as numpy arrays (copies) of `dtype`, with the run axis first."""
        return {k: getattr(self, k).detach().cpu().numpy().astype(dtype) for k in "aWhL"}

    def extra_repr(self) -> str:
        return f"M={self.M}, N={self.N}, P={self.P}, runs={self.runs}"
