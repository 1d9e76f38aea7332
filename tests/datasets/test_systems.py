"""Built-in systems: known Lorenz-63 statistics, shapes, seeding and noise; the demo table."""

from __future__ import annotations

import numpy as np
import pytest

from tsdyn.datasets import demo_table, load, systems
from tsdyn.errors import InputError


def _rk4(rhs, s, dt):
    k1 = rhs(0.0, s)
    k2 = rhs(0.0, s + dt / 2 * k1)
    k3 = rhs(0.0, s + dt / 2 * k2)
    k4 = rhs(0.0, s + dt * k3)
    return s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _largest_lyapunov(rhs, x0, *, dt=0.01, steps=15000, every=10, d0=1e-8, seed=0):
    """Benettin: follow a reference and a perturbed trajectory, renormalize the gap every `every` steps.

    lambda = sum(log(d_k / d0)) / total time (Benettin et al. 1980). Both trajectories are advanced
    together as the columns of a [3, 2] state with classical RK4.
    """
    v = np.random.default_rng(seed).normal(size=3)
    state = np.stack([x0, x0 + v * d0 / np.linalg.norm(v)], axis=1)  # [3, 2]
    total = 0.0
    for k in range(1, steps + 1):
        state = _rk4(rhs, state, dt)
        if k % every == 0:
            gap = state[:, 1] - state[:, 0]
            d = np.linalg.norm(gap)
            total += np.log(d / d0)
            state[:, 1] = state[:, 0] + gap * (d0 / d)
    return total / (steps * dt)


@pytest.fixture(scope="module")
def lorenz():
    return systems.lorenz63(steps=15000, seed=0)


def test_lorenz63_mean_z_and_table(lorenz):
    assert lorenz.values.shape == (15000, 3)
    assert lorenz.columns == ("x", "y", "z")
    assert lorenz.freq == 0.01 and lorenz.name == "lorenz63"
    np.testing.assert_allclose(lorenz.time[:3], [0.0, 0.01, 0.02])
    # mean z on the attractor is about 23.5 (150 time units: a few tenths of sampling error)
    assert abs(lorenz.values[:, 2].mean() - 23.55) < 0.6
    assert abs(lorenz.values[:, 0].mean()) < 1.5  # x -> -x symmetry
    assert lorenz.values[:, 2].min() > 0 and lorenz.values[:, 2].max() < 50


def test_lorenz63_largest_lyapunov_exponent_near_0_9(lorenz):
    rhs = systems.SYSTEMS["lorenz63"].rhs
    lam = _largest_lyapunov(rhs, lorenz.values[-1].copy())
    assert 0.8 < lam < 1.0  # 0.906 in the literature (Sprott 2003)


def test_lorenz63_rhs_values():
    rhs = systems.SYSTEMS["lorenz63"].rhs
    np.testing.assert_allclose(rhs(0.0, np.array([1.0, 2.0, 3.0])), [10.0, 23.0, 2.0 - 8.0])
    np.testing.assert_allclose(
        systems.SYSTEMS["rossler"].rhs(0, np.array([1.0, 2.0, 3.0])),
        [-5.0, 1.4, 0.2 + 3 * (1 - 5.7)],
    )
    s = np.arange(5.0)
    expected = [(s[(i + 1) % 5] - s[i - 2]) * s[i - 1] - s[i] + 8 for i in range(5)]
    np.testing.assert_allclose(systems.SYSTEMS["lorenz96"].rhs(0, s), expected)


def test_sampling_matches_a_second_integration():
    # sampled states follow the flow: integrating from row 0 for 50 steps lands on row 50
    table = systems.lorenz63(steps=60, seed=3, transient=200)
    again = systems.lorenz63(steps=51, seed=3, transient=0, x0=table.values[0])
    np.testing.assert_allclose(again.values[50], table.values[50], rtol=1e-6, atol=1e-6)


def test_rossler_and_lorenz96_shapes():
    r = systems.rossler(steps=300, seed=1, transient=200)
    assert r.values.shape == (300, 3) and r.columns == ("x", "y", "z") and r.freq == 0.08
    assert np.isfinite(r.values).all() and r.values[:, 2].min() > -1e-3
    l96 = systems.lorenz96(steps=200, dim=7, seed=1, transient=100)
    assert l96.values.shape == (200, 7)
    assert l96.columns == tuple(f"x{i}" for i in range(1, 8))
    assert l96.freq == 0.05
    assert load("lorenz96", builtin_kwargs={"steps": 10, "transient": 10}).values.shape == (10, 20)


@pytest.mark.parametrize("name", ["lorenz63", "rossler", "lorenz96"])
def test_seeding(name):
    kwargs = {"steps": 200, "transient": 50} | ({"dim": 6} if name == "lorenz96" else {})
    a = systems.simulate(name, seed=5, **kwargs)
    b = systems.simulate(name, seed=5, **kwargs)
    c = systems.simulate(name, seed=6, **kwargs)
    np.testing.assert_array_equal(a.values, b.values)
    assert np.abs(a.values - c.values).max() > 1e-3


def test_noise_level():
    kwargs = {"steps": 2000, "seed": 2, "transient": 100}
    clean = systems.lorenz63(**kwargs).values
    noisy = systems.lorenz63(noise=0.1, **kwargs).values
    residual = noisy - clean
    ratio = residual.std(axis=0) / clean.std(axis=0)
    np.testing.assert_allclose(ratio, 0.1, rtol=0.1)  # 2000 samples: SD within a few percent
    assert np.abs(residual.mean(axis=0) / clean.std(axis=0)).max() < 0.02


def test_system_errors():
    with pytest.raises(InputError, match="unknown system 'duffing'"):
        systems.simulate("duffing")
    with pytest.raises(InputError, match="has no parameter"):
        systems.simulate("lorenz63", steps=5, gamma=1.0)
    with pytest.raises(InputError, match="rossler is 3-dimensional"):
        systems.simulate("rossler", steps=5, dim=4)
    with pytest.raises(InputError, match="seed -1 is out of range"):
        systems.simulate("lorenz63", steps=5, seed=-1)


def test_demo_table():
    a, b, c = demo_table(500, seed=0), demo_table(500, seed=0), demo_table(500, seed=1)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    assert a.values.shape == (500, 5) and a.target == a.columns[-1] == "temperature"
    assert a.freq == "1h" and (np.diff(a.time) == np.timedelta64(1, "h")).all()
    # seasonal: the daily cycle shows as a lag-24 autocorrelation above lag-12
    z = (a.values - a.values.mean(0)) / a.values.std(0)
    lag = lambda k: (z[k:] * z[:-k]).mean(0)  # noqa: E731
    assert (lag(24) > lag(12)).sum() >= 3
    corr = np.corrcoef(np.diff(a.values, axis=0).T)  # cross-correlated noise
    assert np.abs(corr[np.triu_indices(5, 1)]).max() > 0.2
    with pytest.raises(InputError, match="must be at least 1"):
        demo_table(0)
