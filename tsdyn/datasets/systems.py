"""Built-in chaotic systems, integrated with scipy's `solve_ivp` at tight tolerance.

Each system returns a `Table` (columns x, y, z or x1..xN; numeric time in the system's time unit),
so every subcommand accepts a system name wherever it accepts a file.

- Lorenz-63: dx = sigma (y - x), dy = x (rho - z) - y, dz = x y - beta z; sigma 10, rho 28, beta 8/3.
- Rossler: dx = -y - z, dy = x + a y, dz = b + z (x - c); a 0.2, b 0.2, c 5.7.
- Lorenz-96: dx_i = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F (indices cyclic), F 8, any dimension >= 4.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from tsdyn.datasets._table import Table
from tsdyn.errors import InputError

__all__ = ["SYSTEMS", "System", "lorenz63", "lorenz96", "rossler", "simulate"]

RTOL, ATOL = 1e-10, 1e-10  # solve_ivp tolerances (DOP853)


def _lorenz63_rhs(t, s, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    x, y, z = s
    return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])


def _rossler_rhs(t, s, a=0.2, b=0.2, c=5.7):
    x, y, z = s
    return np.array([-y - z, x + a * y, b + z * (x - c)])


def _lorenz96_rhs(t, s, forcing=8.0):
    return (np.roll(s, -1) - np.roll(s, 2)) * np.roll(s, 1) - s + forcing


@dataclasses.dataclass(frozen=True)
class System:
    """A built-in ODE: right-hand side, parameter defaults and a random initial state."""

    name: str
    description: str
    rhs: Callable
    params: dict
    dt: float  # default sampling step
    x0: Callable[[np.random.Generator, int], np.ndarray]
    default_dim: int = 3

    def columns(self, dim: int) -> tuple[str, ...]:
        return (
            ("x", "y", "z")
            if dim == 3 and self.name != "lorenz96"
            else tuple(f"x{i + 1}" for i in range(dim))
        )


SYSTEMS: dict[str, System] = {
    "lorenz63": System(
        "lorenz63",
        "Lorenz-63 (sigma 10, rho 28, beta 8/3), 3-d, dt 0.01",
        _lorenz63_rhs,
        {"sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0},
        0.01,
        lambda rng, d: rng.normal(0.0, 1.0, 3) + np.array([0.0, 0.0, 25.0]),
    ),
    "rossler": System(
        "rossler",
        "Rossler (a 0.2, b 0.2, c 5.7), 3-d, dt 0.08",
        _rossler_rhs,
        {"a": 0.2, "b": 0.2, "c": 5.7},
        0.08,
        lambda rng, d: rng.normal(0.0, 1.0, 3) + np.array([1.0, 1.0, 0.0]),
    ),
    "lorenz96": System(
        "lorenz96",
        "Lorenz-96 (F 8), any dimension (default 20), dt 0.05",
        _lorenz96_rhs,
        {"forcing": 8.0},
        0.05,
        lambda rng, d: 8.0 + rng.normal(0.0, 0.5, d),
        default_dim=20,
    ),
}


def simulate(
    name: str,
    steps: int = 10_000,
    dt: float | None = None,
    *,
    transient: int = 1000,
    noise: float = 0.0,
    seed: int = 0,
    dim: int | None = None,
    x0: np.ndarray | None = None,
    **params: float,
) -> Table:
    """Integrate a built-in system and sample it every `dt`.

    Parameters
    ----------
    name : {"lorenz63", "rossler", "lorenz96"}
    steps : int
        Samples returned (after the transient).
    dt : float, optional
        Sampling step in the system's time unit (default: the system's, e.g. 0.01 for Lorenz-63).
    transient : int
        Samples integrated and discarded first, so the state is on the attractor.
    noise : float
        Observation noise: Gaussian with SD `noise` times each column's SD, added after sampling.
    seed : int
        Seeds the random initial state and the noise.
    dim : int, optional
        Dimension (Lorenz-96 only; default 20).
    x0 : ndarray, optional
        Initial state (instead of a random one).
    **params
        System parameters (sigma, rho, beta; a, b, c; forcing).

    Returns
    -------
    Table
        values [steps, dim], time = t_0 + dt * k (the transient's end is t = 0).
    """
    from scipy.integrate import solve_ivp

    system = SYSTEMS.get(name)
    if system is None:
        raise InputError(f"unknown system '{name}'", f"use one of {', '.join(SYSTEMS)}")
    if steps < 1:
        raise InputError(f"--steps {steps} must be at least 1", "pass a positive number of steps")
    dt = system.dt if dt is None else float(dt)
    if not dt > 0:
        raise InputError(f"--dt {dt} must be positive", "pass a positive sampling step")
    if not 0 <= seed < 2**32:  # numpy's generators reject negative seeds with a bare ValueError
        raise InputError(f"seed {seed} is out of range", "use a seed in [0, 2**32)")
    if not (transient >= 0 and 0 <= noise < np.inf):  # also rejects NaN
        raise InputError(
            f"--transient {transient} and --noise {noise:g} must be finite and non-negative",
            "pass values >= 0",
        )
    unknown = set(params) - set(system.params)
    if unknown:
        raise InputError(
            f"{name} has no parameter {sorted(unknown)}", f"use {', '.join(system.params)}"
        )
    if dim is None:
        dim = system.default_dim
    if name != "lorenz96" and dim != 3:
        raise InputError(f"{name} is 3-dimensional, not {dim}", "leave out --dim")
    if name == "lorenz96" and dim < 4:
        raise InputError(f"Lorenz-96 needs dimension >= 4, got {dim}", "pass --dim 4 or more")
    rng = np.random.default_rng(seed)
    state = system.x0(rng, dim) if x0 is None else np.asarray(x0, dtype=np.float64)
    args = {**system.params, **params}
    t_eval = dt * np.arange(transient + steps)
    sol = solve_ivp(
        lambda t, s: system.rhs(t, s, **args),
        (0.0, float(t_eval[-1])),
        state,
        method="DOP853",
        t_eval=t_eval,
        rtol=RTOL,
        atol=ATOL,
    )
    if not sol.success:  # pragma: no cover - the built-in systems are smooth
        raise RuntimeError(f"integration of {name} failed: {sol.message}")
    values = sol.y.T[transient:].copy()  # [steps, dim]
    if noise > 0:
        values += noise * values.std(axis=0) * rng.standard_normal(values.shape)
    return Table(
        values=values,
        columns=system.columns(dim),
        time=dt * np.arange(steps, dtype=np.float64),
        time_name="time",
        freq=dt,
        name=name,
        notes=(
            f"{system.description}; seed {seed}; transient {transient} samples; noise {noise:g}",
        ),
    )


def lorenz63(steps: int = 10_000, dt: float = 0.01, **kwargs) -> Table:
    """Lorenz-63 trajectory (see `simulate`)."""
    return simulate("lorenz63", steps, dt, **kwargs)


def rossler(steps: int = 10_000, dt: float = 0.08, **kwargs) -> Table:
    """Rossler trajectory (see `simulate`)."""
    return simulate("rossler", steps, dt, **kwargs)


def lorenz96(steps: int = 10_000, dt: float = 0.05, dim: int = 20, **kwargs) -> Table:
    """Lorenz-96 trajectory (see `simulate`)."""
    return simulate("lorenz96", steps, dt, dim=dim, **kwargs)
