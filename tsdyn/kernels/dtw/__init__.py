"""Dynamic time warping: `dtw`, `cdist_dtw`, lower bounds (`lb_kim`, `lb_keogh`) and early abandoning.

NumPy input runs through numba (`cpu.py`), torch tensors on CUDA through the GPU kernel (`gpu.py`),
and `naive.py` is the reference both are tested against. README.md has the recurrence and speeds.
"""

from __future__ import annotations

import math
import sys
import types

import numpy as np

from tsdyn.kernels.dtw.naive import band_limits

__all__ = ["band_limits", "cdist_dtw", "dtw", "envelope", "lb_keogh", "lb_kim"]


def _is_tensor(a) -> bool:
    return type(a).__module__.startswith("torch")


def _series(a, name: str, ndim: int) -> np.ndarray:
    arr = (a.detach().cpu().numpy() if _is_tensor(a) else np.asarray(a)).astype(np.float64)
    if arr.ndim != ndim:
        shape = "[n]" if ndim == 1 else "[N, n]"
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if arr.shape[-1] == 0 or (ndim == 2 and arr.shape[0] == 0):
        raise ValueError(f"{name} is empty: {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or inf; fill or drop missing values first")
    return np.ascontiguousarray(arr)


def _window(window) -> int | None:
    if window is None:
        return None
    if isinstance(window, bool) or int(window) != window or window < 0:
        raise ValueError(f"window must be a non-negative integer radius or None, got {window!r}")
    return int(window)


def dtw(x, y, window: int | None = None, *, max_dist: float | None = None) -> float:
    """DTW distance between two 1-D series.

    Parameters
    ----------
    x : array or tensor, shape [n]
    y : array or tensor, shape [m]
    window : int, optional
        Sakoe-Chiba radius r: |i - j| <= r (widened by |n - m| for unequal lengths); None: no band.
    max_dist : float, optional
        Early abandoning: return inf as soon as the distance is proven to exceed `max_dist`.

    Returns
    -------
    float
        sqrt(min over warping paths of sum (x_i - y_j)^2), as `tslearn.metrics.dtw`.
    """
    from tsdyn.kernels.dtw.cpu import dtw_cpu

    xa, ya = _series(x, "x", 1), _series(y, "y", 1)
    rl, rh = band_limits(len(xa), len(ya), _window(window))
    return dtw_cpu(xa, ya, rl, rh, max_dist)


def cdist_dtw(X, Y=None, window: int | None = None, *, backend: str = "auto"):
    """All-pairs DTW distances.

    Parameters
    ----------
    X : array or tensor, shape [N, n]
    Y : array or tensor, shape [M, m], optional
        Default: X itself (only the upper triangle is computed; the diagonal is 0).
    window : int, optional
        Sakoe-Chiba radius (see `dtw`).
    backend : {"auto", "cpu", "triton", "torch"}
        auto: the GPU kernel for CUDA tensors, numba otherwise.

    Returns
    -------
    ndarray [N, M] float64 for NumPy input; a tensor on X's device for tensor input
    (float32 from the Triton kernel, float64 from numba).
    """
    window = _window(window)
    if backend not in ("auto", "cpu", "triton", "torch"):
        raise ValueError(f"unknown backend '{backend}'; use auto, cpu, triton or torch")
    tensor = _is_tensor(X)
    if tensor and (backend in ("triton", "torch") or (backend == "auto" and X.is_cuda)):
        from tsdyn.kernels.dtw.gpu import cdist_dtw_gpu

        for name, a in (("X", X), ("Y", Y)):
            if a is not None and (a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0):
                raise ValueError(f"{name} must have shape [N, n], got {tuple(a.shape)}")
        m = X.shape[1] if Y is None else Y.shape[1]
        rl, rh = band_limits(X.shape[1], m, window)
        return cdist_dtw_gpu(X, Y, rl, rh, "auto" if backend == "auto" else backend)
    from tsdyn.kernels.dtw.cpu import cdist_dtw_cpu

    Xa = _series(X, "X", 2)
    Ya = None if Y is None else _series(Y, "Y", 2)
    rl, rh = band_limits(Xa.shape[1], Xa.shape[1] if Ya is None else Ya.shape[1], window)
    out = cdist_dtw_cpu(Xa, Ya, rl, rh)
    if tensor:
        import torch

        return torch.from_numpy(out).to(X.device)
    return out


def lb_kim(x, y) -> float:
    """LB_Kim (first and last points) <= DTW(x, y) for any band."""
    from tsdyn.kernels.dtw.cpu import lb_kim_sq

    return math.sqrt(lb_kim_sq(_series(x, "x", 1), _series(y, "y", 1)))


def envelope(y, window: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Keogh's envelope (lower [n], upper [n]) of y within radius `window` (None: whole series)."""
    from tsdyn.kernels.dtw.cpu import envelope as _envelope

    ya = _series(y, "y", 1)
    r = _window(window)
    return _envelope(ya, len(ya) - 1 if r is None else r)


def lb_keogh(x, y, window: int | None) -> float:
    """LB_Keogh(x, y) <= DTW(x, y) with the same radius; x and y of equal length."""
    from tsdyn.kernels.dtw.cpu import lb_keogh_sq

    xa, ya = _series(x, "x", 1), _series(y, "y", 1)
    if len(xa) != len(ya):
        raise ValueError(f"LB_Keogh needs equal lengths, got {len(xa)} and {len(ya)}")
    lower, upper = envelope(ya, window)
    return math.sqrt(lb_keogh_sq(xa, lower, upper, math.inf))


class _CallableModule(types.ModuleType):
    """`tsdyn.kernels.dtw` is both this package and the function: once the package is imported,
    Python binds the attribute `tsdyn.kernels.dtw` to the module, which shadows the lazy re-export
    of the function in `tsdyn.kernels`. Calling the module calls `dtw`, so both spellings work."""

    def __call__(self, x, y, window: int | None = None, *, max_dist: float | None = None) -> float:
        return dtw(x, y, window, max_dist=max_dist)


sys.modules[__name__].__class__ = _CallableModule
