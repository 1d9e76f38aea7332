"""The one training loop shared by `forecast` and `ssm`: Adam, lr schedules, early stopping.

It follows LTSF-Linear's `exp_main.train` (and OLinear's, which inherits it):

- every epoch shuffles the training windows (`drop_last=True`, as the reference loaders);
- after each epoch the validation loss (mean of per-batch losses) is compared with the best so far;
  `patience` epochs without a strict improvement stop training (their `EarlyStopping`);
- after each epoch the learning rate is set for the next one (their `adjust_learning_rate(epoch + 1)`):
  `type1`: lr * 0.5 ** (e - 1) after epoch e (so epochs 1 and 2 run at lr, epoch 3 at lr/2, ...);
  `type3`: lr for epochs 1-3, then lr * 0.9 ** (e - 3); `cosine`: lr / 2 * (1 + cos(pi e / E));
  `constant`: lr;
- the best state (lowest validation loss) is restored at the end.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch

from tsdyn.errors import InputError
from tsdyn.runtime import Progress, null_progress

__all__ = ["LR_SCHEDULES", "TrainConfig", "TrainResult", "lr_at_epoch", "train"]

LR_SCHEDULES = ("type1", "type3", "cosine", "constant")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of the training loop (defaults: LTSF-Linear's ETTh1 script)."""

    epochs: int = 10  # maximum epochs (train_epochs)
    batch_size: int = 32  # windows per step
    lr: float = 0.005  # initial Adam learning rate
    patience: int = 3  # epochs without validation improvement before stopping
    lr_schedule: str = "type1"  # type1 | type3 | cosine | constant
    weight_decay: float = 0.0  # Adam weight decay (the papers use none)
    max_grad_norm: float | None = None  # optional gradient clipping

    def check(self) -> None:
        if self.epochs < 1:
            raise InputError(f"--epochs {self.epochs} must be at least 1", "pass a positive number")
        if self.batch_size < 1:
            raise InputError(
                f"--batch-size {self.batch_size} must be at least 1", "pass a positive number"
            )
        if not self.lr > 0:
            raise InputError(f"--lr {self.lr} must be positive", "pass a positive learning rate")
        if self.patience < 1:
            raise InputError(
                f"--patience {self.patience} must be at least 1", "pass a positive number"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise InputError(
                f"unknown lr schedule '{self.lr_schedule}'", f"use one of {', '.join(LR_SCHEDULES)}"
            )


@dataclasses.dataclass
class TrainResult:
    """What `train` did: per-epoch history, best epoch (1-based) and its validation loss."""

    history: list[dict[str, float]]
    best_epoch: int
    best_val_loss: float
    stopped_early: bool
    seconds: float


def lr_at_epoch(schedule: str, lr: float, epoch: int, epochs: int) -> float:
    """Learning rate for 1-based `epoch` (the value their `adjust_learning_rate` set before it)."""
    done = epoch - 1  # adjust_learning_rate(done) ran after epoch `done`
    if done < 1 or schedule == "constant":
        return lr
    if schedule == "type1":
        return lr * 0.5 ** (done - 1)
    if schedule == "type3":
        return lr if done < 3 else lr * 0.9 ** (done - 3)
    if schedule == "cosine":
        return lr / 2 * (1 + math.cos(done / epochs * math.pi))
    raise ValueError(schedule)


def _batches(n: int, batch_size: int, generator: torch.Generator | None, drop_last: bool):
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def evaluate_loss(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable,
    batch_size: int,
    device: torch.device,
) -> float:
    """Mean of per-batch losses over all windows (in order, the last batch may be short)."""
    model.eval()
    losses = []
    with torch.no_grad():
        for idx in _batches(x.shape[0], batch_size, None, drop_last=False):
            xb, yb = x[idx].to(device), y[idx].to(device)
            losses.append(float(loss_fn(model(xb), yb)))
    return sum(losses) / max(1, len(losses))


def train(
    model: torch.nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    config: TrainConfig,
    *,
    device: torch.device | str = "cpu",
    seed: int = 0,
    param_groups: Iterable[dict[str, Any]] | None = None,
    progress: Progress = null_progress,
    task: str = "train",
) -> TrainResult:
    """Train `model` on windows `train_data = (x [B, L, C_in], y [B, H, C_out])`; restore the best state.

    Parameters
    ----------
    model : nn.Module
        Maps x [b, L, C_in] to predictions shaped like y [b, H, C_out].
    train_data, val_data : (Tensor, Tensor)
        All windows (views are fine; batches are gathered from them).
    loss_fn : callable
        loss(prediction, target) -> scalar tensor.
    config : TrainConfig
    device : torch.device
    seed : int
        Seeds the shuffling of windows (the model's init is seeded by the caller).
    param_groups : iterable of dict, optional
        Adam parameter groups (e.g. SSM parameters with their own lr and no weight decay); each
        group's "lr" is scaled by the schedule relative to `config.lr`.
    progress : Progress
        Called after every epoch with (task, epoch, epochs, {"train": ..., "val": ..., "lr": ...}).
    """
    config.check()
    device = torch.device(device)
    model.to(device)
    x_train, y_train = train_data
    x_val, y_val = val_data
    groups = (
        list(param_groups) if param_groups is not None else [{"params": list(model.parameters())}]
    )
    for group in groups:
        group.setdefault("lr", config.lr)
        group.setdefault("weight_decay", config.weight_decay)
        group["base_lr"] = group["lr"]
    optimizer = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    best_val, best_epoch, best_state = math.inf, 0, copy.deepcopy(model.state_dict())
    bad_epochs, stopped_early = 0, False
    started = time.perf_counter()
    drop_last = x_train.shape[0] >= config.batch_size
    for epoch in range(1, config.epochs + 1):
        factor = lr_at_epoch(config.lr_schedule, 1.0, epoch, config.epochs)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        model.train()
        tick = time.perf_counter()
        total, steps = 0.0, 0
        for idx in _batches(x_train.shape[0], config.batch_size, generator, drop_last):
            xb, yb = x_train[idx].to(device), y_train[idx].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            total += float(loss.detach())
            steps += 1
        if not math.isfinite(total):
            raise FloatingPointError(
                f"training loss became non-finite in epoch {epoch}; lower --lr"
            )
        val = evaluate_loss(model, x_val, y_val, loss_fn, config.batch_size, device)
        record = {
            "epoch": epoch,
            "train_loss": total / max(1, steps),
            "val_loss": val,
            "lr": config.lr * factor,
            "seconds": time.perf_counter() - tick,
        }
        history.append(record)
        if val < best_val:
            best_val, best_epoch, bad_epochs = val, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
        progress(task, epoch, config.epochs, {"train": record["train_loss"], "val": val})
        if bad_epochs >= config.patience:
            stopped_early = True
            break
    model.load_state_dict(best_state)
    model.eval()
    if stopped_early:
        progress(task, config.epochs, config.epochs, {"val": best_val, "stopped": f"epoch {epoch}"})
    return TrainResult(history, best_epoch, best_val, stopped_early, time.perf_counter() - started)
