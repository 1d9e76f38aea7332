"""Forecasting models: name -> nn.Module class taking (seq_len, pred_len, n_channels, **hparams) and
mapping x [B, L, C] to [B, H, C]. Add a model by importing it here and adding a `MODELS` entry."""

from tsdyn.forecast.models.linear import DLinear, Linear, NLinear
from tsdyn.forecast.models.olinear import OLinear
from tsdyn.forecast.models.s4d import S4DForecaster

MODELS = {
    "linear": Linear,
    "nlinear": NLinear,
    "dlinear": DLinear,
    "olinear": OLinear,
    "s4d": S4DForecaster,
}

__all__ = ["MODELS", "DLinear", "Linear", "NLinear", "OLinear", "S4DForecaster"]
