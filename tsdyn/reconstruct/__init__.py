"""AL-RNN dynamical-systems reconstruction: model, teacher-forced training, DSR metrics, symbolic
dynamics (Brenner, Hemmer, Monfared, Durstewitz, NeurIPS 2024)."""

from tsdyn.reconstruct.alrnn import ALRNN, init_parameters
from tsdyn.reconstruct.estimator import ALRNNReconstructor, mean_sem
from tsdyn.reconstruct.metrics import (
    PROTOCOL,
    dstsp,
    dstsp_bins,
    dstsp_gmm,
    hellinger_spectrum,
    lyapunov_from_data,
)
from tsdyn.reconstruct.symbolic import (
    cycles,
    fixed_points,
    region_jacobian,
    region_stats,
    symbols,
    transition_matrix,
)
from tsdyn.reconstruct.training import PRESETS, ReconstructConfig, TrainResult, train_alrnn

__all__ = [
    "ALRNN",
    "PRESETS",
    "PROTOCOL",
    "ALRNNReconstructor",
    "ReconstructConfig",
    "TrainResult",
    "cycles",
    "dstsp",
    "dstsp_bins",
    "dstsp_gmm",
    "fixed_points",
    "hellinger_spectrum",
    "init_parameters",
    "lyapunov_from_data",
    "mean_sem",
    "region_jacobian",
    "region_stats",
    "symbols",
    "train_alrnn",
    "transition_matrix",
]
