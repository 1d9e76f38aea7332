"""`Forecaster`: the estimator that `tsdyn forecast` drives (fit / evaluate / predict / save / load)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tsdyn.datasets import StandardScaler, Table, WindowDataset, make_split
from tsdyn.datasets import feature_columns as _feature_columns
from tsdyn.errors import InputError, NotFittedError
from tsdyn.forecast.models import MODELS
from tsdyn.forecast.orthotrans import OrthoTransWrapper, orthotrans_basis
from tsdyn.outputs import atomic_path
from tsdyn.runtime import Progress, null_progress
from tsdyn.training import TrainConfig, TrainResult, train

__all__ = ["LOSSES", "ForecastConfig", "Forecaster", "weighted_l1_loss"]

LOSSES = ("mse", "weighted_l1")
_LTSF_MODELS = ("linear", "nlinear", "dlinear")


@dataclasses.dataclass(frozen=True)
class ForecastConfig:
    """Everything that defines a forecaster; `config.json` holds its JSON form."""

    model: str = (
        "dlinear"  # linear | nlinear | dlinear | olinear (see tsdyn.forecast.models.MODELS)
    )
    seq_len: int = 336  # look-back L
    pred_len: int = 96  # horizon H
    features: str = "M"  # M: all -> all, S: target -> target, MS: all -> target
    split: str = "auto"  # auto | ett-hour | ett-minute | ratio (LTSF-Linear's borders)
    individual: bool = False  # one linear map per channel (Linear, NLinear, DLinear)
    orthotrans: bool = False  # run Linear/NLinear/DLinear in the OrthoTrans domain
    loss: str = "mse"  # mse | weighted_l1 (OLinear's horizon-weighted L1, w_i = (i+1)^-0.5)
    train: TrainConfig = dataclasses.field(
        default_factory=TrainConfig
    )  # epochs, batch, lr, patience, schedule
    model_kwargs: dict = dataclasses.field(
        default_factory=dict
    )  # e.g. d_model, e_layers for olinear
    seed: int = 2021  # model init and window shuffling (LTSF-Linear's seed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForecastConfig:
        data = dict(data)
        data["train"] = TrainConfig(**data.get("train", {}))
        return cls(**data)


def weighted_l1_loss(pred: torch.Tensor, target: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """OLinear's loss: mean of w_i |pred - target| with w_i = (i + 1)^-alpha over horizon step i."""
    steps = torch.arange(1, pred.shape[1] + 1, device=pred.device, dtype=pred.dtype)
    return ((pred - target).abs() * steps.pow(-alpha)[None, :, None]).mean()


class _Columns(nn.Module):
    """Keeps the output columns the loss compares (MS: all channels in, the target out)."""

    def __init__(self, inner: nn.Module, out_index: list[int] | None):
        super().__init__()
        self.inner = inner
        self.out_index = out_index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.inner(x)
        return y if self.out_index is None else y[..., self.out_index]


def _metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    err = pred - true
    return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err)))}


class Forecaster:
    """Long-term forecaster on a table: LTSF-Linear (Linear, NLinear, DLinear) or OLinear.

    Scikit-learn conventions: `__init__` stores the settings, `fit(table)` splits the table as
    LTSF-Linear does, standardizes with the training rows, trains with early stopping and returns
    `self`; learned state ends in `_`.

    Parameters
    ----------
    model : str
        A name of `tsdyn.forecast.models.MODELS`.
    seq_len, pred_len : int
        Look-back L and horizon H.
    features : {"M", "S", "MS"}
    split : {"auto", "ett-hour", "ett-minute", "ratio"}
    individual, orthotrans : bool
    loss : {"mse", "weighted_l1"}, optional
        Default: weighted_l1 for olinear, mse otherwise.
    epochs, batch_size, lr, patience, lr_schedule
        Training loop settings (`tsdyn.training.TrainConfig`).
    model_kwargs : dict, optional
        Extra model hyper-parameters (OLinear: d_model, d_ff, embed_size, e_layers, dropout).
    seed : int
    device : str or torch.device
    cache_dir : path-like, optional
        Folder where OrthoTrans bases are cached (keyed by the training rows and the length), so
        that several horizons on the same data compute Q_in once.

    Examples
    --------
    >>> from tsdyn.datasets import demo_table
    >>> f = Forecaster("dlinear", seq_len=96, pred_len=24, epochs=2).fit(demo_table())
    >>> f.evaluate()["mse"] < f.evaluate()["repeat"]["mse"]
    True
    """

    def __init__(
        self,
        model: str = "dlinear",
        seq_len: int = 336,
        pred_len: int = 96,
        *,
        features: str = "M",
        split: str = "auto",
        individual: bool = False,
        orthotrans: bool = False,
        loss: str | None = None,
        epochs: int = 10,
        batch_size: int = 32,
        lr: float = 0.005,
        patience: int = 3,
        lr_schedule: str = "type1",
        model_kwargs: dict | None = None,
        seed: int = 2021,
        device: str | torch.device = "cpu",
        cache_dir: str | Path | None = None,
    ):
        self.model = model
        self.seq_len = seq_len
        self.pred_len = pred_len
        self.features = features
        self.split = split
        self.individual = individual
        self.orthotrans = orthotrans
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.model_kwargs = model_kwargs
        self.seed = seed
        self.device = device
        self.cache_dir = cache_dir

    # -------------------------------------------------------------------------------------------
    def _config(self) -> ForecastConfig:
        if self.model not in MODELS:
            raise InputError(f"unknown model '{self.model}'", f"use --model {' | '.join(MODELS)}")
        loss = self.loss or ("weighted_l1" if self.model == "olinear" else "mse")
        if loss not in LOSSES:
            raise InputError(f"unknown loss '{loss}'", f"use one of {', '.join(LOSSES)}")
        if self.seq_len < 1 or self.pred_len < 1:
            raise InputError(
                f"seq_len {self.seq_len} and pred_len {self.pred_len} must be at least 1",
                "pass positive --seq-len and --pred-len",
            )
        if (self.individual or self.orthotrans) and self.model not in _LTSF_MODELS:
            raise InputError(
                f"--individual/--orthotrans apply to {', '.join(_LTSF_MODELS)}, not {self.model}",
                "leave them out",
            )
        config = ForecastConfig(
            model=self.model,
            seq_len=int(self.seq_len),
            pred_len=int(self.pred_len),
            features=self.features,
            split=self.split,
            individual=self.individual,
            orthotrans=self.orthotrans,
            loss=loss,
            train=TrainConfig(
                epochs=self.epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                patience=self.patience,
                lr_schedule=self.lr_schedule,
            ),
            model_kwargs=dict(self.model_kwargs or {}),
            seed=self.seed,
        )
        config.train.check()
        return config

    def _build(self, n_in: int, q_in=None, q_out=None) -> nn.Module:
        cfg = self.config_
        cls = MODELS[cfg.model]
        kwargs = dict(cfg.model_kwargs)
        if cfg.model in _LTSF_MODELS:
            kwargs["individual"] = cfg.individual
        if cfg.model == "olinear":
            kwargs.update(q_in=q_in, q_out=q_out)
        try:
            inner = cls(cfg.seq_len, cfg.pred_len, n_in, **kwargs)
        except TypeError as exc:
            raise InputError(
                f"bad hyper-parameter for {cfg.model}: {exc}", "check the model options"
            ) from None
        if cfg.orthotrans:
            inner = OrthoTransWrapper(inner, q_in, q_out)
        out_index = [n_in - 1] if cfg.features == "MS" else None  # the target is the last column
        return _Columns(inner, out_index)

    def _check_columns(self, table: Table) -> None:
        if self.config_.features in ("S", "MS") and table.target is None:
            raise InputError(
                f"--features {self.config_.features} needs a target column",
                "pass --target COLUMN",
                table.label,
            )

    def _scaled(self, table: Table) -> np.ndarray:
        return self.scaler_.transform(table.values)

    def fit(self, table: Table, progress: Progress = null_progress) -> Forecaster:
        """Split `table`, fit the scaler on the training rows, train and keep the best model."""
        self.config_ = cfg = self._config()
        self._check_columns(table)
        self.split_ = make_split(table.n_rows, cfg.seq_len, cfg.pred_len, cfg.split, table.name)
        self.columns_ = tuple(table.columns)
        self.target_ = table.target
        self.in_cols_, self.out_cols_ = _feature_columns(table.n_columns, cfg.features)
        train_rows = slice(*self.split_.train)
        self.scaler_ = StandardScaler().fit(table.values[train_rows])
        self.freq_, self.time_name_, self.name_ = table.freq, table.time_name, table.name
        z = self._scaled(table)
        parts = {
            p: WindowDataset(z, *self.split_.part(p), cfg.seq_len, cfg.pred_len, cfg.features)
            for p in ("train", "val")
        }
        q_in = q_out = None
        if cfg.model == "olinear" or cfg.orthotrans:
            raw = table.values[train_rows]
            q_in = self._basis(raw[:, self.in_cols_], cfg.seq_len)
            q_out = self._basis(raw[:, self.out_cols_], cfg.pred_len)
        torch.manual_seed(cfg.seed)
        self.model_ = self._build(len(self.in_cols_), q_in, q_out)
        loss_fn = weighted_l1_loss if cfg.loss == "weighted_l1" else nn.functional.mse_loss
        device = torch.device(self.device)
        inner = (
            self.model_.inner
        )  # models may ask for their own optimizer groups (SSM: slow lr, no decay)
        groups = inner.param_groups(cfg.train.lr) if hasattr(inner, "param_groups") else None
        self.train_result_: TrainResult = train(
            self.model_,
            (parts["train"].x, parts["train"].y),
            (parts["val"].x, parts["val"].y),
            loss_fn,
            cfg.train,
            device=device,
            seed=cfg.seed,
            param_groups=groups,
            progress=progress,
            task=f"{cfg.model} H={cfg.pred_len}",
        )
        self.model_.cpu().eval()
        self.table_ = table
        return self

    def _basis(self, raw: np.ndarray, length: int) -> torch.Tensor:
        """OrthoTrans Q for `length` from raw training rows, read from / written to `cache_dir`."""
        cached = None
        if self.cache_dir is not None:
            key = hashlib.sha1(np.ascontiguousarray(raw).tobytes()).hexdigest()[:16]
            cached = Path(self.cache_dir) / f"orthotrans-T{length}-{key}.npy"
            if cached.is_file():
                return torch.as_tensor(np.load(cached), dtype=torch.float32)
        q = orthotrans_basis(raw, length)[0]
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cached) as tmp:
                np.save(tmp, q)
        return torch.as_tensor(q, dtype=torch.float32)

    def _fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "this Forecaster is not fitted; call fit(table) or Forecaster.load(path)"
            )

    def _predict_windows(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([self.model_(x[i : i + batch]) for i in range(0, x.shape[0], batch)])

    def predict_windows(
        self, part: str = "test", table: Table | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Inputs, predictions and truths of every window of a split part, standardized.

        Returns x [B, L, C_in], prediction [B, H, C_out], truth [B, H, C_out].
        """
        self._fitted()
        table = self.table_ if table is None else table
        cfg = self.config_
        data = WindowDataset(
            self._scaled(table), *self.split_.part(part), cfg.seq_len, cfg.pred_len, cfg.features
        )
        pred = self._predict_windows(data.x)
        return data.x.numpy(), pred.numpy(), data.y.numpy()

    def evaluate(
        self, part: str = "test", table: Table | None = None, truncate_to: int | None = None
    ) -> dict[str, Any]:
        """MSE/MAE of all windows of `part` on the standardized scale (as the papers report) and in
        original units, with the Repeat baseline (last input value) beside them.

        `truncate_to=32` keeps a multiple of 32 windows, as the LTSF-Linear paper's test loader did.
        """
        x, pred, true = self.predict_windows(part, table)
        if truncate_to:
            keep = x.shape[0] - x.shape[0] % truncate_to
            x, pred, true = x[:keep], pred[:keep], true[:keep]
        out_in_x = [self.in_cols_.index(c) for c in self.out_cols_]
        repeat = np.repeat(x[:, -1:, out_in_x], pred.shape[1], axis=1)
        inv = lambda a: self.scaler_.inverse_transform(a, self.out_cols_)  # noqa: E731
        scaled, orig, rep, rep_orig = (
            _metrics(pred, true),
            _metrics(inv(pred), inv(true)),
            _metrics(repeat, true),
            _metrics(inv(repeat), inv(true)),
        )
        per_column = {
            self.columns_[c]: _metrics(pred[..., k], true[..., k])
            for k, c in enumerate(self.out_cols_)
        }
        return {
            **scaled,
            "mse_original": orig["mse"],
            "mae_original": orig["mae"],
            "windows": int(x.shape[0]),
            "repeat": {**rep, "mse_original": rep_orig["mse"], "mae_original": rep_orig["mae"]},
            "per_column": per_column,
        }

    def _check_table(self, table: Table) -> None:
        if tuple(table.columns) != self.columns_:
            raise InputError(
                f"columns {list(table.columns)} differ from the trained model's {list(self.columns_)}",
                "pass a table with the same columns (and --target) as the training data",
                table.label,
            )
        if table.n_rows < self.config_.seq_len:
            raise InputError(
                f"has {table.n_rows} rows but the model needs the last {self.config_.seq_len}",
                "pass a longer table",
                table.label,
            )

    def predict(self, table: Table | None = None) -> dict[str, Any]:
        """Forecast the `pred_len` steps after the end of `table` (default: the training table).

        Uses the training scaler (never refit). Returns a dict with `time` [H] (continued timestamps
        or None), `values` [H, C_out] in original units, `columns` (the output columns' names),
        `context` [L, C_out] (the last observed rows, original units) and `context_time`.
        """
        self._fitted()
        table = self.table_ if table is None else table
        self._check_table(table)
        cfg = self.config_
        last = table.values[-cfg.seq_len :]
        x = torch.as_tensor(self.scaler_.transform(last)[:, self.in_cols_], dtype=torch.float32)[
            None
        ]
        with torch.no_grad():
            z = self.model_(x)[0].numpy().astype(np.float64)  # (H C_out)
        return {
            "time": table.future_time(cfg.pred_len),
            "values": self.scaler_.inverse_transform(z, self.out_cols_),
            "columns": [self.columns_[c] for c in self.out_cols_],
            "context": last[:, self.out_cols_],
            "context_time": None if table.time is None else table.time[-cfg.seq_len :],
            "time_name": table.time_name or "date",
        }

    # -------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON-able description of the fitted forecaster (stored in the safetensors metadata)."""
        self._fitted()
        return {
            "config": self.config_.to_dict(),
            "columns": list(self.columns_),
            "target": self.target_,
            "in_cols": self.in_cols_,
            "out_cols": self.out_cols_,
            "scaler": self.scaler_.state_dict(),
            "split": dataclasses.asdict(self.split_),
            "freq": self.freq_,
            "time_name": self.time_name_,
            "name": self.name_,
            "best_epoch": self.train_result_.best_epoch if hasattr(self, "train_result_") else None,
        }

    def save(self, path: str | Path) -> Path:
        """Write weights and state to one `.safetensors` file (atomically); a folder gets model.safetensors."""
        from safetensors.torch import save_file

        path = Path(path)
        if path.is_dir():
            path = path / "model.safetensors"
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model_.state_dict().items()}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"tsdyn.forecaster": json.dumps(self.state())})
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> Forecaster:
        """Rebuild a forecaster saved by `save` (a .safetensors file or a folder holding model.safetensors)."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if path.is_dir():
            path = path / "model.safetensors"
        if not path.is_file():
            raise InputError(
                f"no saved model at {path}", "pass the --out folder of a `tsdyn forecast` run"
            )
        try:
            with safe_open(str(path), "pt") as f:
                meta = (f.metadata() or {}).get("tsdyn.forecaster")
            tensors = load_file(str(path))
        except Exception as exc:  # a damaged or foreign file
            raise InputError(
                f"cannot read {path}: {exc}", "pass a model.safetensors written by tsdyn"
            ) from None
        if meta is None:
            raise InputError(
                f"{path} is not a tsdyn forecaster",
                "pass a model.safetensors written by tsdyn forecast",
            )
        state = json.loads(meta)
        cfg = ForecastConfig.from_dict(state["config"])
        self = cls(
            cfg.model,
            cfg.seq_len,
            cfg.pred_len,
            features=cfg.features,
            split=cfg.split,
            individual=cfg.individual,
            orthotrans=cfg.orthotrans,
            loss=cfg.loss,
            epochs=cfg.train.epochs,
            batch_size=cfg.train.batch_size,
            lr=cfg.train.lr,
            patience=cfg.train.patience,
            lr_schedule=cfg.train.lr_schedule,
            model_kwargs=cfg.model_kwargs,
            seed=cfg.seed,
            device=device,
        )
        self.config_ = cfg
        self.columns_ = tuple(state["columns"])
        self.target_ = state["target"]
        self.in_cols_, self.out_cols_ = state["in_cols"], state["out_cols"]
        self.scaler_ = StandardScaler.from_state_dict(state["scaler"])
        from tsdyn.datasets import Split

        self.split_ = Split(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in state["split"].items()}
        )
        self.freq_, self.time_name_, self.name_ = state["freq"], state["time_name"], state["name"]
        q_in, q_out = _q_from(tensors)
        self.model_ = self._build(len(self.in_cols_), q_in, q_out)
        self.model_.load_state_dict(tensors)
        self.model_.eval()
        return self


def _q_from(tensors: dict[str, torch.Tensor]):
    q_in = next((v for k, v in tensors.items() if k.endswith("q_in")), None)
    q_out = next((v for k, v in tensors.items() if k.endswith("q_out")), None)
    return q_in, q_out
