"""tsdyn: time series and dynamical systems toolkit."""

__version__ = "0.1.0"
