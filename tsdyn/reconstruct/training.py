"""Training AL-RNNs by BPTT with teacher forcing (research note `alrnn.md` section 2).

One step (note 2.3): S windows of T~ + 1 points drawn uniformly with replacement, Gaussian noise
added to the whole window (forcing signal and target), a teacher-forced rollout, MSE of the
pre-forcing predictions on the observed units, RAdam; the learning rate decays geometrically from
`lr_start` to `lr_end` over the epochs, stepped once per epoch (note 2.3 item 6). Every
`eval_every` epochs each run free-runs from the first training point for `eval_steps` steps and the
checkpoint with the lowest D_stsp against the training series is kept (note 2.4).

Several runs (seeds) train at once as one batched model: run r uses seed `seed + r` for its
initialisation, its windows and its noise, so `runs=10, seed=0` gives run 3 exactly as
`runs=1, seed=3` would.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from tsdyn.errors import InputError
from tsdyn.reconstruct.alrnn import ALRNN
from tsdyn.reconstruct.metrics import BinnedDstsp, SpectrumHellinger, dstsp_gmm
from tsdyn.runtime import Progress, null_progress

__all__ = ["PRESETS", "ReconstructConfig", "TrainResult", "adaptive_alpha", "train_alrnn"]


@dataclasses.dataclass(frozen=True)
class ReconstructConfig:
    """Settings of one reconstruction (defaults: the authors' Lorenz-63 recipe, note section 2.2)."""

    M: int = 20  # latent units
    P: int = 2  # ReLU units (the last P of M); 0 = a linear model
    window: int = 200  # T~: steps per training window
    tau: int = 16  # sparse teacher forcing: force the observed units every tau steps
    forcing: str = "stf"  # "stf" (sparse identity TF) or "gtf" (generalised TF, every step)
    alpha: float | None = None  # GTF weight; None = adaptive alpha = max(0, 1 - 1/||J||)
    batch_size: int = 16  # S windows per batch
    batches_per_epoch: int = 50
    epochs: int = 2000
    lr_start: float = 1e-3  # RAdam, geometric decay to lr_end over all epochs
    lr_end: float = 1e-5
    noise: float = 0.05  # SD of Gaussian noise added to each window (z-scored units)
    eval_every: int = 25  # epochs between model-selection free runs
    eval_steps: int | None = None  # free-run length for selection (None: the training length)
    n_bins: int = 30  # D_stsp bins per dimension (N < 11)
    gmm_sigma2: float = 1.0  # D_stsp Gaussian-mixture variance (N >= 11)
    dh_sigma: float = 20.0  # D_H smoothing, frequency bins
    runs: int = 1  # independent seeds trained together
    seed: int = 0

    def check(self) -> None:
        if self.forcing not in ("stf", "gtf"):
            raise InputError(f"unknown forcing '{self.forcing}'", "use stf or gtf")
        if self.tau < 1 or self.window < 2 or self.batch_size < 1 or self.batches_per_epoch < 1:
            raise InputError(
                "tau, window, batch size and batches per epoch must be positive (window >= 2)"
            )
        if self.epochs < 1:
            raise InputError(
                f"--epochs {self.epochs} must be at least 1", "pass --epochs 1 or more"
            )
        if not (self.lr_start > 0 and self.lr_end > 0):
            raise InputError("learning rates must be positive", "pass --lr-start/--lr-end > 0")
        if self.alpha is not None and not 0.0 <= self.alpha <= 1.0:
            raise InputError(f"--alpha {self.alpha} must be in [0, 1]", "pass a weight in [0, 1]")
        if self.noise < 0:
            raise InputError(f"--noise {self.noise} must be >= 0", "pass a non-negative SD")
        if self.eval_every < 1:
            raise InputError(f"--eval-every {self.eval_every} must be >= 1")


#: The authors' per-system recipes (note section 2.2).
PRESETS: dict[str, dict[str, Any]] = {
    "lorenz63": dict(M=20, P=2, window=200, tau=16, lr_start=1e-3, lr_end=1e-5, epochs=2000),
    "rossler": dict(M=20, P=1, window=300, tau=8, lr_start=5e-3, lr_end=1e-5, epochs=3000),
    "lorenz96": dict(M=100, P=50, window=50, tau=20, lr_start=1e-3, lr_end=1e-5, epochs=3000),
}


@dataclasses.dataclass
class TrainResult:
    """What training returns: the selected model and the history of every run."""

    model: ALRNN  # best checkpoint of every run (by selection D_stsp)
    best_epoch: np.ndarray  # [R], -1 when a run never reached a finite checkpoint
    best_dstsp: np.ndarray  # [R]
    best_dh: np.ndarray  # [R]
    diverged_at: list[int | None]  # epoch at which a run's parameters became non-finite
    history: list[dict]  # per checkpoint: epoch, loss [R], dstsp [R], dh [R], alpha [R]
    final_loss: np.ndarray  # [R]
    seconds: float


def _forcing_weights(cfg: ReconstructConfig, alpha_runs: np.ndarray) -> np.ndarray:
    """alpha [R, T~ + 1]: STF forces at steps tau, 2 tau, ... after the window start."""
    R, T1 = len(alpha_runs), cfg.window + 1
    if cfg.forcing == "stf":
        w = np.zeros((R, T1), dtype=np.float32)
        w[:, cfg.tau :: cfg.tau] = 1.0
        return w
    w = np.repeat(alpha_runs[:, None], T1, axis=1).astype(np.float32)
    w[:, 0] = 0.0
    return w


def adaptive_alpha(a: np.ndarray, W: np.ndarray, P: int, codes: np.ndarray) -> float:
    """GTF's alpha* = max(0, 1 - 1/Nrm), Nrm = max over sequences of the geometric mean of
    ||J_t||_2 along the forced states (note section 2.5, "product_upper_bound"). An AL-RNN has
    only 2^P Jacobians, so their norms are computed once and averaged through the region codes.

    codes : [S, T] region code of every forced state.
    """
    from tsdyn.reconstruct.symbolic import region_jacobian

    norms = np.array(
        [np.linalg.norm(region_jacobian(a, W, c, P), 2) for c in range(2**P)], dtype=np.float64
    )
    geo = np.exp(np.log(np.maximum(norms[codes], 1e-300)).mean(axis=1))
    return float(max(0.0, 1.0 - 1.0 / geo.max()))


def _free_run_observed(model_np, x0: np.ndarray, steps: int, P: int, N: int) -> np.ndarray:
    """[R, steps, N] observed units of a free run from z_1 = [x0; L x0] (float32 kernel)."""
    from tsdyn.kernels.rollout.cpu import alrnn_free_run

    a, W, h, L = model_np
    z0 = np.concatenate([np.broadcast_to(x0, (len(a), N)), L @ x0], axis=1)[:, None, :]
    states = alrnn_free_run(a, W, h, z0, steps - 1, P)[:, 0]
    return np.concatenate([z0[:, :, :N], states[:, :, :N]], axis=1)


def train_alrnn(
    x: np.ndarray,
    config: ReconstructConfig = ReconstructConfig(),
    progress: Progress = null_progress,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Train `config.runs` AL-RNNs on a (z-scored) trajectory x [T, N].

    On the CPU the fused numba kernel computes each run's loss and gradients in one pass; on CUDA
    the PyTorch reference rollout runs with autograd. Raises `InputError` when every run's
    parameters became non-finite (a run that diverges alone is frozen at its last finite state and
    reported in `diverged_at`).
    """
    threads = torch.get_num_threads()
    if torch.device(device).type == "cpu":
        torch.set_num_threads(1)  # tiny tensors: torch's thread pool would fight numba's
    try:
        return _train(x, config, progress, device)
    finally:
        torch.set_num_threads(threads)


def _train(x, config, progress, device) -> TrainResult:
    import time

    config.check()
    cfg = config
    device = torch.device(device)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"the trajectory must be [T, N], got shape {x.shape}")
    T, N = x.shape
    if T < cfg.window + 2:
        raise InputError(
            f"the training series has {T} points, fewer than a window of {cfg.window + 1}",
            "use more data or a smaller --window",
        )
    R = cfg.runs
    seeds = [cfg.seed + r for r in range(R)]
    model = ALRNN(cfg.M, N, cfg.P, runs=R, seeds=[[s, 0] for s in seeds])
    model.to(device)
    rngs = [np.random.default_rng([s, 1]) for s in seeds]
    opt = torch.optim.RAdam(model.parameters(), lr=cfg.lr_start)
    gamma = math.exp(math.log(cfg.lr_end / cfg.lr_start) / cfg.epochs)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
    data32 = np.ascontiguousarray(x, dtype=np.float32)
    eval_steps = T if cfg.eval_steps is None else min(int(cfg.eval_steps), T)
    x_eval = x[:eval_steps]
    if N < 11:
        score = BinnedDstsp(x_eval, cfg.n_bins)
    else:

        def score(g):
            return dstsp_gmm(x_eval, g, cfg.gmm_sigma2)

    spectrum_distance = SpectrumHellinger(x_eval, cfg.dh_sigma)

    alpha_runs = np.full(R, 1.0 if cfg.alpha is None else cfg.alpha, dtype=np.float64)
    alpha_set = np.zeros(R, dtype=bool) if cfg.alpha is None else np.ones(R, dtype=bool)
    forcing = _forcing_weights(cfg, alpha_runs)
    active = np.ones(R, dtype=bool)
    diverged_at: list[int | None] = [None] * R
    best = {k: v.detach().cpu().clone() for k, v in model.named_parameters()}
    best_epoch = np.full(R, -1)
    best_dstsp = np.full(R, np.inf)
    best_dh = np.full(R, np.nan)
    history: list[dict] = []
    last_loss = np.full(R, np.nan)
    params = [model.a, model.W, model.h, model.L]
    started = time.perf_counter()
    batch = 0

    from tsdyn.kernels.rollout.cpu import alrnn_forced_loss_grad, noisy_windows

    for epoch in range(cfg.epochs):
        epoch_loss = np.zeros(R)
        for _ in range(cfg.batches_per_epoch):
            starts = np.stack([rng.integers(0, T - cfg.window, cfg.batch_size) for rng in rngs])
            keys = np.array([rng.integers(0, 2**63) for rng in rngs], dtype=np.uint64)
            if device.type == "cpu":
                arrays = [p.detach().numpy() for p in params]
                loss, grads, Z = alrnn_forced_loss_grad(
                    *arrays, data32, starts, forcing, cfg.P, cfg.noise, keys
                )
                for p, g in zip(params, grads, strict=True):
                    p.grad = torch.from_numpy(g)
            else:
                from tsdyn.kernels.rollout.naive import naive_alrnn_forced_loss

                windows = noisy_windows(data32, starts, cfg.window, cfg.noise, keys)
                opt.zero_grad(set_to_none=True)
                loss_t = naive_alrnn_forced_loss(
                    *params,
                    torch.as_tensor(windows, device=device),
                    torch.as_tensor(forcing, device=device),
                    cfg.P,
                )
                loss_t.sum().backward()
                loss = loss_t.detach().cpu().numpy().astype(np.float64)
                Z = None
            snapshot = [p.detach().clone() for p in params]
            opt.step()
            batch += 1
            with torch.no_grad():
                finite = np.ones(R, dtype=bool)
                for p in params:
                    finite &= torch.isfinite(p.reshape(R, -1)).all(dim=1).cpu().numpy()
                newly = active & ~(finite & np.isfinite(loss))
                frozen = ~active | newly
                if frozen.any():
                    idx = torch.as_tensor(np.flatnonzero(frozen), device=device)
                    for p, old in zip(params, snapshot, strict=True):
                        p[idx] = old[idx]
                for r in np.flatnonzero(newly):
                    diverged_at[r] = epoch
                active &= ~newly
            if not active.any():
                raise InputError(
                    f"training diverged: the parameters of every run became non-finite at "
                    f"epoch {epoch}",
                    "lower --lr-start, raise --tau's forcing (smaller --tau) or use --forcing gtf",
                )
            epoch_loss += np.where(active, loss, 0.0)
            if cfg.forcing == "gtf" and cfg.alpha is None and batch % 5 == 1:
                _update_alpha(model, cfg, Z, data32, starts, alpha_runs, alpha_set)
                forcing = _forcing_weights(cfg, alpha_runs)
        sched.step()
        last_loss = np.where(active, epoch_loss / cfg.batches_per_epoch, np.nan)
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            model_np = [p.detach().cpu().numpy().astype(np.float32) for p in params]
            gen = _free_run_observed(model_np, x[0].astype(np.float32), eval_steps, cfg.P, N)
            ds = np.array([score(g) for g in gen])
            dh = np.array([spectrum_distance(g) for g in gen])
            ds = np.where(active & np.isfinite(ds), ds, np.inf)
            improved = ds < best_dstsp
            if improved.any():
                idx = torch.as_tensor(np.flatnonzero(improved))
                for name, p in model.named_parameters():
                    best[name][idx] = p.detach().cpu()[idx]
                best_dstsp[improved] = ds[improved]
                best_dh[improved] = dh[improved]
                best_epoch[improved] = epoch + 1
            history.append(
                {
                    "epoch": epoch + 1,
                    "loss": last_loss.copy(),
                    "dstsp": np.where(np.isfinite(ds), ds, np.nan),
                    "dh": dh,
                    "alpha": alpha_runs.copy() if cfg.forcing == "gtf" else None,
                    "lr": opt.param_groups[0]["lr"],
                }
            )
        finite_best = best_dstsp[np.isfinite(best_dstsp)]
        info = {"loss": float(np.nanmean(last_loss))}
        if len(finite_best):
            info["D_stsp"] = float(finite_best.mean())
        progress("train", epoch + 1, cfg.epochs, info)

    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(best[name].to(device))
    model.cpu()
    return TrainResult(
        model=model,
        best_epoch=best_epoch,
        best_dstsp=np.where(np.isfinite(best_dstsp), best_dstsp, np.nan),
        best_dh=best_dh,
        diverged_at=diverged_at,
        history=history,
        final_loss=last_loss,
        seconds=time.perf_counter() - started,
    )


def _update_alpha(model, cfg, Z, data32, starts, alpha_runs, alpha_set) -> None:
    """Anneal each run's GTF alpha towards alpha* every 5 batches (note section 2.5)."""
    from tsdyn.reconstruct.symbolic import symbols

    a = model.a.detach().cpu().numpy().astype(np.float64)
    W = model.W.detach().cpu().numpy().astype(np.float64)
    for r in range(len(alpha_runs)):
        if Z is not None:
            states = np.transpose(Z[r], (2, 0, 1))  # [S, T + 1, M]
        else:  # CUDA path: the regions of the data-driven states are unknown; use the free map
            states = np.zeros((1, 1, cfg.M))
        codes = symbols(states, cfg.P)
        target = adaptive_alpha(a[r], W[r], cfg.P, codes)
        if not alpha_set[r] or target > alpha_runs[r]:
            alpha_runs[r] = target
            alpha_set[r] = True
        else:
            alpha_runs[r] = 0.999 * alpha_runs[r] + 0.001 * target
