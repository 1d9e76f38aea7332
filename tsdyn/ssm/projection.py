"""Online HiPPO projection: compress a series into N coefficients at every step, and reconstruct.

Time-invariant measures (LegT, LMU, FouT, LagT, FouD, and LegS with a fixed time scale) run the
discrete recurrence ``x_k = Ā x_{k-1} + B̄ u_k`` with Δ = 1 sample and ``window`` in samples
(`transition(measure, N, window)`). Scaled LegS (measure ``"legs"`` without a window) uses the
time-varying system ``x' = (A x + B u)/t`` and summarizes the whole history (HiPPO 2020; research
note 1.2 and 1.5, time-varying LegS).

Reconstruction evaluates the measure's orthonormal basis at the lags (research note C11):
``u(t - s) ≈ Σ_n x_n g_n(s)`` with ``g_n(s) = √(2n+1) P_n(1 - 2s/θ)`` (LegT),
``[1, 0, √2 cos 2πks/θ, √2 sin 2πks/θ, …]`` (FouT), ``√(2n+1) P_n(2e^{-s/θ} - 1)`` (LegS, fixed
scale), ``e^{-s/2θ} L_n(s/θ)`` (LagT), and ``√(2n+1) P_n(2τ - 1)`` at the history fraction τ
(scaled LegS). A lag of j samples is evaluated at ``s = j + ½`` for ZOH, the centre of the sample
interval the held input covers (the half-sample offset of note C11), and at ``s = j`` otherwise.
"""

from __future__ import annotations

import numpy as np

from tsdyn.errors import InputError
from tsdyn.runtime import Progress, null_progress
from tsdyn.ssm.discretize import _method, discretize
from tsdyn.ssm.hippo import MEASURES, transition

__all__ = ["HiPPO", "white_signal"]

_FINITE_WINDOW = ("legt", "lmu", "fout")


class HiPPO:
    """Online projection of a series onto a HiPPO basis.

    Parameters
    ----------
    measure : {"legs", "legt", "lmu", "fout", "lagt", "foud"}
        ``"legs"`` without ``window`` is scaled LegS over the whole history.
    N : int
        Number of coefficients (state size).
    window : float, optional
        Window length in samples for LegT/LMU/FouT (required), time scale in samples for
        LagT/FouD/fixed-scale LegS.
    method : {"zoh", "bilinear", "forward_euler", "backward_euler"}, optional
        Discretization; default ZOH for time-invariant measures, bilinear for scaled LegS.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.sin(np.linspace(0, 20, 2000))
    >>> h = HiPPO("legt", N=32, window=200)
    >>> x = h.project(u)                       # [2000, 32], one coefficient vector per step
    >>> last = h.reconstruct(x[-1], np.arange(200))   # u[-1], u[-2], ..., u[-200]
    """

    def __init__(
        self,
        measure: str = "legs",
        N: int = 64,
        window: float | None = None,
        method: str | None = None,
    ):
        self.measure = measure
        self.N = N
        self.window = window
        self.method = method

    # -- settings -------------------------------------------------------------------------
    @property
    def scaled(self) -> bool:
        """True for scaled (time-varying) LegS over the whole history."""
        return self.measure.lower() == "legs" and self.window is None

    def _settings(self) -> tuple[str, str]:
        measure = self.measure.lower()
        if measure not in MEASURES:
            raise InputError(f"unknown measure '{measure}'", f"use one of {', '.join(MEASURES)}")
        if not self.scaled:
            if self.window is None:
                raise InputError(
                    f"measure '{measure}' needs a window (in samples)", "pass e.g. window=100"
                )
            if not self.window > 0:
                raise InputError(f"window {self.window} must be positive", "pass e.g. window=100")
        method = self.method or ("bilinear" if self.scaled else "zoh")
        return measure, _method(method)

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """The discrete (Ā, B̄) of a time-invariant measure, Δ = 1 sample: [N, N], [N]."""
        measure, method = self._settings()
        if self.scaled:
            raise InputError(
                "scaled LegS is time-varying (Ā depends on the step)", "pass a window for LTI LegS"
            )
        A, B = transition(measure, self.N, float(self.window))
        return discretize(A, B, 1.0, method)

    # -- projection -----------------------------------------------------------------------
    def project(
        self, signal, *, return_all: bool = True, progress: Progress = null_progress
    ) -> np.ndarray:
        """Run the recurrence over a series.

        Parameters
        ----------
        signal : array-like, shape [T] or [T, C]
        return_all : bool
            Coefficients at every step (default) or only after the last one.
        progress : callable
            ``progress(task, completed, total, info)``.

        Returns
        -------
        ndarray, float64: [T, N] / [T, C, N] (``return_all``) or [N] / [C, N].
        """
        _, method = self._settings()
        u = np.asarray(signal, dtype=np.float64)
        squeeze = u.ndim == 1
        if squeeze:
            u = u[:, None]
        if u.ndim != 2 or u.shape[0] < 1:
            raise InputError(
                f"signal must be [T] or [T, C] with T >= 1, got shape {u.shape}",
                "pass a 1-D series or a 2-D array",
            )
        if not np.isfinite(u).all():
            raise InputError("signal has NaN or infinite values", "fill or drop them first")
        T, C = u.shape
        x = np.zeros((C, self.N))
        out = np.empty((T, C, self.N)) if return_all else None
        every = max(1, T // 100)
        if self.scaled:
            step = _scaled_legs_stepper(self.N, method)
        else:
            dA, dB = self.matrices()
            dAt = dA.T.copy()
        for t in range(T):
            if self.scaled:
                x = step(x, u[t], t + 1)
            else:
                x = x @ dAt + u[t][:, None] * dB
            if return_all:
                out[t] = x
            if (t + 1) % every == 0 or t + 1 == T:
                progress("project", t + 1, T, {})
        res = out if return_all else x
        if squeeze:
            res = res[:, 0] if return_all else res[0]
        return res

    def basis_at(self, lags, length: int | None = None) -> np.ndarray:
        """Reconstruction functions at lags (samples back from the last one): [K, N]."""
        from scipy.special import eval_laguerre, eval_legendre

        measure, method = self._settings()
        lags = np.asarray(lags, dtype=np.float64)
        off = 0.5 if method == "zoh" else 0.0
        n = np.arange(self.N)[None]
        sq = np.sqrt(2 * n + 1.0)
        if self.scaled:
            if length is None or length < 1:
                raise InputError(
                    "scaled LegS reconstruction needs the history length",
                    "pass length=<samples seen>",
                )
            tau = 1 - (lags[:, None] + off) / length
            return sq * eval_legendre(n, 2 * tau - 1) * ((tau >= 0) & (tau <= 1))
        s = (lags[:, None] + off) / float(self.window)
        if measure == "legt":
            return sq * eval_legendre(n, 1 - 2 * s) * ((s >= 0) & (s <= 1))
        if measure == "lmu":  # x_LMU = diag((-1)^n √(2n+1)) x_LegT
            return eval_legendre(n, 2 * s - 1) * ((s >= 0) & (s <= 1))
        if measure == "fout":
            k = n // 2
            wave = np.where(n % 2 == 0, np.cos(2 * np.pi * k * s), np.sin(2 * np.pi * k * s))
            g = np.where(n == 0, 1.0, np.sqrt(2.0) * wave) * np.where(n == 1, 0.0, 1.0)
            return g * ((s >= 0) & (s < 1))
        if measure == "legs":
            return sq * eval_legendre(n, 2 * np.exp(-s) - 1)
        if measure == "lagt":
            return np.exp(-s / 2) * eval_laguerre(n, s)
        raise InputError(
            "foud coefficients have no reconstruction (its basis is not orthogonal on a window)",
            "use measure='fout' to reconstruct a window",
        )

    def reconstruct(self, coeffs, lags, length: int | None = None) -> np.ndarray:
        """Values ``u(t - lag)`` from the coefficients at time t.

        Parameters
        ----------
        coeffs : array-like [..., N]
        lags : array-like [K]
            Samples back from the last one seen (0 = the last sample).
        length : int, optional
            Samples seen so far; required for scaled LegS.

        Returns
        -------
        ndarray [..., K]
        """
        coeffs = np.asarray(coeffs, dtype=np.float64)
        if coeffs.shape[-1] != self.N:
            raise InputError(
                f"coefficients have {coeffs.shape[-1]} entries, expected N={self.N}",
                "pass the output of project() of the same HiPPO",
            )
        return coeffs @ self.basis_at(lags, length).T


def _scaled_legs_stepper(N: int, method: str):
    """One step of scaled LegS, ``A_t = A/t``, ``B_t = B/t`` (A lower-triangular: cheap solves)."""
    from scipy.linalg import expm, solve_triangular

    A, B = transition("legs", N)
    eye = np.eye(N)

    def step(x, u, t):  # x [C, N], u [C]
        rhs_u = np.outer(u, B) / t  # [C, N]
        if method == "forward_euler":
            return x + (x @ A.T) / t + rhs_u
        if method == "backward_euler":
            return solve_triangular(eye - A / t, (x + rhs_u).T, lower=True).T
        if method == "bilinear":
            rhs = x + (x @ A.T) / (2 * t) + rhs_u
            return solve_triangular(eye - A / (2 * t), rhs.T, lower=True).T
        # ZOH in log-time: the step from τ = t-1 to t has length ln(t/(t-1)) (infinite at t=1)
        dA = np.zeros((N, N)) if t == 1 else expm(A * np.log(t / (t - 1)))
        dB = solve_triangular(A, (dA - eye) @ B, lower=True)
        return x @ dA.T + np.outer(u, dB)

    return step


def white_signal(
    length: int, dt: float, freq: float, rms: float = 0.5, batch: int | None = None, seed=None
) -> np.ndarray:
    """Band-limited white noise, the test input of HiPPO/S4 experiments (research note C11).

    Random complex Fourier coefficients (SD ``rms·√½`` per part) on the ``length`` frequency bins,
    bins above ``freq`` (Hz, with sample step ``dt``) zeroed and the rest scaled up to keep the
    expected power, then the series shifted to start at 0 (so its RMS is near, not exactly, ``rms``).

    Returns
    -------
    ndarray [length] or [batch, length], float64
    """
    if freq < 1.0 / (length * dt):
        raise InputError(
            f"freq {freq} is below the lowest frequency 1/(length·dt) = {1 / (length * dt):.4g}",
            "raise freq or the length",
        )
    rng = np.random.default_rng(seed)
    shape = (() if batch is None else (batch,)) + (length // 2 + 1,)
    sigma = rms * np.sqrt(0.5)
    coef = rng.normal(0.0, sigma, shape) + 1j * rng.normal(0.0, sigma, shape)
    coef[..., 0] = 0.0
    if length % 2 == 0:
        coef[..., -1] = coef[..., -1].real
    cut = np.fft.rfftfreq(length, d=dt) > freq
    coef[..., cut] = 0.0
    kept = (~cut).sum() - 1
    coef *= np.sqrt((length // 2) / max(kept, 1))
    signal = np.fft.irfft(coef * np.sqrt(length), n=length)
    return signal - signal[..., :1]
