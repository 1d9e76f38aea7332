"""S4D forecaster for `tsdyn forecast --model s4d`: the deep SSM of `tsdyn.ssm` (the same model
`tsdyn ssm fit` trains)."""

from __future__ import annotations

from tsdyn.ssm.models import SSMForecastNet

__all__ = ["S4DForecaster"]


class S4DForecaster(SSMForecastNet):
    """x [B, L, C] -> [B, H, C]: look-back plus H mask tokens through residual S4D blocks
    (S4 App. D.3.5), channel-independent, each series standardized by its own look-back.

    Hyper-parameters (keyword): layer ("s4d" | "lssl"), d_model 64, d_state 64, n_layers 2,
    init "legs", disc "zoh", dt_min 1e-3, dt_max 1e-1, dropout 0.1, ssm_lr 1e-3, mode "conv".
    `param_groups(lr)` gives the optimizer groups (SSM parameters at <= 1e-3, no weight decay).
    """
