"""Reference AL-RNN rollouts in plain PyTorch (autograd does the backward): the ground truth.

Shapes: R runs (independent models batched together), S sequences per run, T steps, M latent
units, N observed units, P ReLU units (the last P of M).
"""

from __future__ import annotations

import torch

__all__ = ["naive_alrnn_forced_loss", "naive_alrnn_free_run", "phi"]


def phi(z: torch.Tensor, P: int) -> torch.Tensor:
    """Phi*(z): identity on the first M - P units, ReLU on the last P (P = 0: the identity)."""
    if P == 0:
        return z  # guard: z[..., -0:] would be the whole tensor
    M = z.shape[-1]
    return torch.cat((z[..., : M - P], torch.relu(z[..., M - P :])), dim=-1)


def _step(z, a, W, h, P):
    # z [R, S, M]; a, h [R, M]; W [R, M, M]:  a * z + W Phi*(z) + h
    return a[:, None, :] * z + torch.einsum("rij,rsj->rsi", W, phi(z, P)) + h[:, None, :]


def naive_alrnn_forced_loss(
    a: torch.Tensor,
    W: torch.Tensor,
    h: torch.Tensor,
    L: torch.Tensor,
    x: torch.Tensor,
    alpha: torch.Tensor,
    P: int,
    return_states: bool = False,
    weights: torch.Tensor | None = None,
):
    """Teacher-forced rollout and the per-run MSE of the pre-forcing predictions.

    z_0 = [x_0; L x_0];  zhat_t = a * z_{t-1} + W Phi*(z_{t-1}) + h;
    z_t = zhat_t with the first N units replaced by (1 - alpha_t) zhat_t + alpha_t x_t.
    Sparse identity TF: alpha_t = 1 every tau steps, else 0; generalised TF: alpha_t = alpha.

    Parameters
    ----------
    a, h : [R, M];  W : [R, M, M];  L : [R, M - N, N]
    x : [R, S, T + 1, N]  windows (already noisy): x_0 starts the state, x_1..x_T are targets
    alpha : [R, T + 1]  forcing weight per step (entry 0 unused)
    P : int  number of ReLU units (the last P)
    weights : [R, T + 1, N], optional  loss weight per step and observed unit (entry 0 unused)

    Returns
    -------
    loss : [R]  mean over (S, T, N) of w_{t,n} (zhat_t - x_t)^2 (w = 1 without `weights`)
    zhat : [R, S, T, M] when `return_states` (predictions, before forcing)
    """
    N = x.shape[-1]
    T = x.shape[2] - 1
    z = torch.cat((x[:, :, 0], torch.einsum("rkn,rsn->rsk", L, x[:, :, 0])), dim=-1)
    preds = []
    for t in range(1, T + 1):
        zhat = _step(z, a, W, h, P)
        preds.append(zhat)
        al = alpha[:, t, None, None]
        z = torch.cat((zhat[..., :N] * (1 - al) + al * x[:, :, t], zhat[..., N:]), dim=-1)
    zhat = torch.stack(preds, dim=2)  # [R, S, T, M]
    sq = (zhat[..., :N] - x[:, :, 1:]) ** 2
    if weights is not None:
        sq = sq * weights[:, None, 1:, :]
    loss = sq.mean(dim=(1, 2, 3))
    return (loss, zhat) if return_states else loss


@torch.no_grad()
def naive_alrnn_free_run(a, W, h, z0, steps: int, P: int) -> torch.Tensor:
    """Free run: z0 [R, B, M] -> states [R, B, steps, M] (z_1 .. z_steps)."""
    out = []
    z = z0
    for _ in range(steps):
        z = _step(z, a, W, h, P)
        out.append(z)
    return torch.stack(out, dim=2)
