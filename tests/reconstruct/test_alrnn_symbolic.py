"""The AL-RNN map, its initialisation, and the symbolic analysis (regions, fixed points, cycles)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from tsdyn.errors import InputError
from tsdyn.kernels.rollout.cpu import alrnn_free_run
from tsdyn.reconstruct import ALRNN, init_parameters
from tsdyn.reconstruct.symbolic import (
    cycles,
    fixed_points,
    region_jacobian,
    region_stats,
    symbol_name,
    symbols,
    transition_matrix,
)


def _F(a, W, h, z, P):
    phi = z.copy()
    if P:
        phi[-P:] = np.maximum(phi[-P:], 0)
    return a * z + W @ phi + h


def test_initialisation_follows_the_paper():
    p = init_parameters(20, 3, np.random.default_rng(0))
    assert p["a"].shape == (20,) and np.all((p["a"] > 0) & (p["a"] <= 1 + 1e-12))
    assert abs(p["W"].std() - 0.01) < 0.002 and np.all(p["h"] == 0)
    assert p["L"].shape == (17, 3) and np.abs(p["L"]).max() <= np.sqrt(6 / 20)


def test_invalid_sizes_are_input_errors():
    with pytest.raises(InputError, match="P <= M - N"):
        ALRNN(M=4, N=3, P=2)
    with pytest.raises(InputError, match="runs"):
        ALRNN(M=4, N=1, P=1, runs=0)


def test_p0_is_linear_with_the_closed_form_fixed_point():
    rng = np.random.default_rng(1)
    M, N = 6, 2
    model = ALRNN(M, N, 0, runs=1, dtype=torch.float64)
    with torch.no_grad():
        model.W.copy_(torch.tensor(rng.normal(0, 0.15, (1, M, M))))
        model.h.copy_(torch.tensor(rng.normal(size=(1, M))))
    z = torch.tensor(rng.normal(size=(1, 4, M)))
    assert torch.equal(model.phi(z), z)  # no ReLU anywhere with P = 0
    p = model.numpy_params()
    a, W, h = p["a"][0], p["W"][0], p["h"][0]
    expected = np.linalg.solve(np.eye(M) - np.diag(a) - W, h)
    fps = fixed_points(a, W, h, 0)
    assert len(fps) == 1 and fps[0]["real"]
    assert fps[0]["type"] in ("stable", "stable focus")
    assert np.allclose(fps[0]["z"], expected, atol=1e-12)
    # a stable linear map converges to it: torch generate and the kernel agree
    run = model.generate(torch.tensor(rng.normal(size=(1, N))), 600)
    assert np.allclose(run[0, 0, -1].numpy(), expected, atol=1e-8)
    z0 = run[:, :, 0].numpy()
    kern = alrnn_free_run(p["a"], p["W"], p["h"], z0, 599, 0)
    assert np.allclose(kern[0, 0], run[0, 0, 1:].numpy(), atol=1e-12)


def test_region_fixed_points_real_and_virtual_checked_by_iterating():
    rng = np.random.default_rng(2)
    M, P = 5, 2
    seen = {True: 0, False: 0}
    for _ in range(30):
        a = rng.uniform(0.2, 0.9, M)
        W = rng.normal(0, 0.6, (M, M))
        h = rng.normal(0, 1, M)
        for fp in fixed_points(a, W, h, P):
            z = np.array(fp["z"])
            J = region_jacobian(a, W, fp["code"], P)
            assert np.allclose(J @ z + h, z, atol=1e-9)  # fixed by its region's affine map
            real = np.allclose(_F(a, W, h, z, P), z, atol=1e-9)  # fixed by the true map?
            assert fp["real"] == real
            assert fp["spectral_radius"] == pytest.approx(np.abs(np.linalg.eigvals(J)).max())
            seen[real] += 1
    assert seen[True] > 0 and seen[False] > 0


def test_cycles_are_periodic_orbits_of_the_map():
    rng = np.random.default_rng(3)
    M, P = 3, 2
    found = 0
    for _ in range(60):
        a = rng.uniform(-0.9, 0.9, M)
        W = rng.normal(0, 1.2, (M, M))
        h = rng.normal(0, 1, M)
        for c in cycles(a, W, h, P, max_period=4):
            k = c["period"]
            z = np.array(c["z"][0])
            orbit = [z]
            for _ in range(k):
                orbit.append(_F(a, W, h, orbit[-1], P))
            assert np.allclose(orbit[k], z, atol=1e-7 * (1 + np.abs(z).max()))
            assert [symbol_name(symbols(o, P), P) for o in orbit[:k]] == c["symbols"]
            assert not any(np.allclose(orbit[j], z) for j in range(1, k))  # minimal period
            found += 1
    assert found > 0


def test_symbols_stats_and_row_stochastic_transitions():
    z = np.zeros((7, 4))
    z[:, 2] = [1, 1, -1, -1, 1, -1, -1]
    z[:, 3] = [1, -1, -1, 1, 1, 1, 1]
    codes = symbols(z, 2)
    assert codes.tolist() == [3, 2, 0, 1, 3, 1, 1]
    assert symbol_name(2, 2) == "10" and symbols(z, 0).tolist() == [0] * 7
    stats = region_stats(codes, 2)
    assert stats[0]["symbol"] == "01" and sum(s["share"] for s in stats) == pytest.approx(1)
    states, Pm, C = transition_matrix(codes)
    assert states.tolist() == [0, 1, 2, 3]
    assert C.sum() == len(codes) - 1
    ref = np.zeros((4, 4))
    for s, t in itertools.pairwise(codes):
        ref[s, t] += 1
    assert np.array_equal(C, ref)
    assert np.allclose(Pm.sum(1), 1)
