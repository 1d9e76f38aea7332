"""Long-term forecasting: LTSF-Linear (Linear, NLinear, DLinear) and OLinear, behind `Forecaster`."""

from tsdyn.forecast._forecaster import ForecastConfig, Forecaster, weighted_l1_loss
from tsdyn.forecast.models import MODELS
from tsdyn.forecast.orthotrans import OrthoTransWrapper, correlation_matrix, orthotrans_basis
from tsdyn.forecast.presets import PRESET_DATASETS, paper_preset

__all__ = [
    "MODELS",
    "PRESET_DATASETS",
    "ForecastConfig",
    "Forecaster",
    "OrthoTransWrapper",
    "correlation_matrix",
    "orthotrans_basis",
    "paper_preset",
    "weighted_l1_loss",
]
