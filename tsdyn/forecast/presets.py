"""`--preset paper`: the per-dataset hyper-parameters of the papers' scripts, chosen by file name.

LTSF-Linear (`scripts/EXP-LongForecasting/Linear/*.sh`; the same for Linear, NLinear, DLinear):
Adam, MSE, 10 epochs, patience 3, type1 lr halving, L 336 (ILI 104), and per dataset:

| dataset | batch | lr |
| ETTh1 | 32 | 0.005 |  ETTh2 | 32 | 0.05 |  ETTm1 | 8 | 1e-4 |  ETTm2 | 32 | 1e-3 (H<=192), 0.01 |
| exchange | 8 (H<=192), 32 | 5e-4 |  weather | 16 | 1e-4 |  electricity | 16 | 1e-3 |  traffic | 16 | 0.05 |
| illness | 32 | 0.01 (L 104, H 24/36/48/60) |

OLinear (`scripts/OLinear/*.sh`): L 96 (ILI 36), horizon-weighted L1 loss, 30 epochs, d_model = d_ff
512, embed 16, and per dataset: ETTh1 lr 5e-4 (1e-4 at H 720), 2 layers, dropout 0.2, patience 8,
type1; ETTh2 lr 2e-4, 3 layers; ETTm1 lr 1e-4, 2 layers, dropout 0.1 (0.2 at H 720); ETTm2 lr 1e-4,
1 layer; exchange lr 1e-4, patience 8; weather lr 1e-3, dropout 0, patience 5, type3; electricity 3
layers, patience 5, cosine; traffic patience 5, cosine; illness batch 4, patience 10.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESET_DATASETS", "dataset_key", "paper_preset"]

_ALIASES = {
    "etth1": "ETTh1", "etth2": "ETTh2", "ettm1": "ETTm1", "ettm2": "ETTm2",
    "exchange": "exchange", "exchange_rate": "exchange",
    "weather": "weather",
    "electricity": "electricity", "ecl": "electricity",
    "traffic": "traffic",
    "national_illness": "illness", "illness": "illness", "ili": "illness",
}  # fmt: skip
PRESET_DATASETS = (
    "ETTh1",
    "ETTh2",
    "ETTm1",
    "ETTm2",
    "exchange",
    "weather",
    "electricity",
    "traffic",
    "illness",
)

_LTSF = {  # dataset -> (batch, lr) ; callables take H
    "ETTh1": (32, 0.005),
    "ETTh2": (32, 0.05),
    "ETTm1": (8, 1e-4),
    "ETTm2": (32, lambda h: 1e-3 if h <= 192 else 0.01),
    "exchange": (lambda h: 8 if h <= 192 else 32, 5e-4),
    "weather": (16, 1e-4),
    "electricity": (16, 1e-3),
    "traffic": (16, 0.05),
    "illness": (32, 0.01),
}

_OLINEAR: dict[str, dict[str, Any]] = {
    "ETTh1": {"lr": lambda h: 1e-4 if h >= 720 else 5e-4, "e_layers": 2, "dropout": 0.2},
    "ETTh2": {"lr": 2e-4, "e_layers": 3},
    "ETTm1": {"lr": 1e-4, "e_layers": 2, "dropout": lambda h: 0.2 if h >= 720 else 0.1},
    "ETTm2": {"lr": 1e-4, "e_layers": 1},
    "exchange": {"lr": 1e-4},
    "weather": {"lr": 1e-3, "dropout": 0.0, "patience": 5, "lr_schedule": "type3"},
    "electricity": {"e_layers": 3, "patience": 5, "lr_schedule": "cosine"},
    "traffic": {"patience": 5, "lr_schedule": "cosine"},
    "illness": {"batch_size": 4, "patience": 10, "seq_len": 36},
}


def dataset_key(name: str) -> str | None:
    """'ETTh1' for ETTh1.csv, 'illness' for national_illness.csv, ... (None when unknown)."""
    return _ALIASES.get(name.lower())


def _value(v, h: int):
    return v(h) if callable(v) else v


def paper_preset(model: str, name: str, pred_len: int) -> dict[str, Any]:
    """Settings the paper used for `model` on the data set called `name` at horizon `pred_len`.

    Returns keys among seq_len, batch_size, lr, epochs, patience, lr_schedule, loss and the model's
    hyper-parameters (d_model, d_ff, e_layers, dropout, embed_size); an empty dict when unknown.
    """
    key = dataset_key(name)
    if key is None:
        return {}
    if model == "olinear":
        out: dict[str, Any] = {
            "seq_len": 96,
            "epochs": 30,
            "patience": 8,
            "batch_size": 32,
            "lr": 5e-4,
            "lr_schedule": "type1",
            "loss": "weighted_l1",
            "d_model": 512,
            "d_ff": 512,
            "embed_size": 16,
            "e_layers": 2,
            "dropout": 0.1,
        }
        out.update({k: _value(v, pred_len) for k, v in _OLINEAR[key].items()})
        return out
    batch, lr = _LTSF[key]
    return {
        "seq_len": 104 if key == "illness" else 336,
        "epochs": 10,
        "patience": 3,
        "batch_size": _value(batch, pred_len),
        "lr": _value(lr, pred_len),
        "lr_schedule": "type1",
        "loss": "mse",
    }
