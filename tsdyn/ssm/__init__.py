"""HiPPO operators, discretization, online projection, and the LSSL/S4D state-space layers.

- `transition`, `rank_correction`, `nplr`, `diag_init`, `basis`: HiPPO matrices (hippo.py).
- `discretize`, `discretize_diag`: Euler, backward Euler, bilinear, ZOH (discretize.py).
- `HiPPO(measure, N, window).project(signal)` / `.reconstruct(coeffs, lags)` (projection.py).
- `krylov`, `vandermonde`, `dplr_kernel`/`dplr_step`, `fft_conv`: SSM kernels (kernel.py).
- `S4D`, `LSSL` layers and their linear cores `DiagonalSSM`, `DenseSSM` (layers.py).
- `SSMForecastNet`: the deep SSM forecaster behind `tsdyn ssm fit` and `forecast --model s4d`.
"""

from tsdyn.ssm.discretize import METHODS, discretize, discretize_diag, log_discrete_diag
from tsdyn.ssm.hippo import (
    DIAG_INITS,
    MEASURES,
    NPLR,
    basis,
    diag_init,
    nplr,
    rank_correction,
    transition,
)
from tsdyn.ssm.kernel import dplr_kernel, dplr_step, fft_conv, krylov, vandermonde
from tsdyn.ssm.layers import LSSL, S4D, DenseSSM, DiagonalSSM, log_uniform_dt
from tsdyn.ssm.models import LAYERS, SSMForecastNet
from tsdyn.ssm.projection import HiPPO, white_signal

__all__ = [
    "DIAG_INITS",
    "LAYERS",
    "LSSL",
    "MEASURES",
    "METHODS",
    "NPLR",
    "S4D",
    "DenseSSM",
    "DiagonalSSM",
    "HiPPO",
    "SSMForecastNet",
    "basis",
    "diag_init",
    "discretize",
    "discretize_diag",
    "dplr_kernel",
    "dplr_step",
    "fft_conv",
    "krylov",
    "log_discrete_diag",
    "log_uniform_dt",
    "nplr",
    "rank_correction",
    "transition",
    "vandermonde",
    "white_signal",
]
