"""Teacher-forced training: batched runs equal separate runs, schedule, divergence, GTF, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsdyn.datasets.systems import simulate
from tsdyn.errors import InputError
from tsdyn.reconstruct import ALRNNReconstructor, ReconstructConfig, train_alrnn
from tsdyn.reconstruct.alrnn import ALRNN
from tsdyn.reconstruct.metrics import dstsp_bins, hellinger_spectrum, lyapunov_from_data
from tsdyn.reconstruct.training import (
    _draw_starts,
    _forcing_weights,
    _loss_weights,
    _tau_at,
    adaptive_alpha,
    alpha_at,
    noise_at,
    window_start_cdf,
)


@pytest.fixture(scope="module")
def lorenz():
    x = simulate("lorenz63", 4000, 0.01, seed=0).values
    return (x - x.mean(0)) / x.std(0)


SMALL = dict(
    M=8,
    P=2,
    window=30,
    tau=5,
    batch_size=4,
    batches_per_epoch=5,
    epochs=4,
    eval_every=2,
    eval_steps=1500,
)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        dict(
            forcing="gtf",
            alpha=0.3,
            alpha_end=0.05,
            ema=0.9,
            balance=0.5,
            select_dh=2.0,
            eval_every_late=1,
            eval_transient=20,
        ),
        dict(tau_end=9, ema=0.5, weight_decay=5.0),
        dict(burn_in=6, tail=8, tail_weight=0.5, dim_weights=(1.0, 2.0, 0.5), horizon_decay=0.8),
        dict(dist_weight=0.5, dist_every=2, dist_steps=20, dist_features=64, noise_end=0.01),
    ],
)
def test_batched_runs_equal_separate_runs(lorenz, extra):
    both = train_alrnn(lorenz, ReconstructConfig(**SMALL, **extra, runs=2, seed=5))
    alone = train_alrnn(lorenz, ReconstructConfig(**SMALL, **extra, runs=1, seed=6))
    for name in "aWhL":
        assert torch.equal(getattr(both.model, name)[1], getattr(alone.model, name)[0])
    assert both.best_epoch[1] == alone.best_epoch[0]
    assert both.best_dstsp[1] == alone.best_dstsp[0]
    assert both.final_loss[1] == alone.final_loss[0]
    first = train_alrnn(lorenz, ReconstructConfig(**SMALL, **extra, runs=1, seed=5))
    assert torch.equal(both.model.W[0], first.model.W[0])
    assert not torch.equal(both.model.W[0], both.model.W[1])


def test_learning_rate_decays_geometrically_to_the_end_value(lorenz):
    cfg = ReconstructConfig(**{**SMALL, "eval_every": 1}, lr_start=1e-3, lr_end=1e-5)
    res = train_alrnn(lorenz, cfg)
    lrs = np.array([h["lr"] for h in res.history])
    assert lrs[-1] == pytest.approx(1e-5, rel=1e-9)
    ratios = lrs[1:] / lrs[:-1]
    assert np.allclose(ratios, (1e-5 / 1e-3) ** (1 / cfg.epochs), rtol=1e-9)


def test_training_lowers_the_loss_and_selects_the_best_checkpoint(lorenz):
    cfg = ReconstructConfig(
        **{**SMALL, "epochs": 20, "batches_per_epoch": 10}, lr_start=2e-2, lr_end=1e-4
    )
    res = train_alrnn(lorenz, cfg)
    losses = [h["loss"][0] for h in res.history]
    assert losses[-1] < 0.4 * losses[0]
    scores = np.array([h["dstsp"][0] for h in res.history])
    assert res.best_dstsp[0] == pytest.approx(np.nanmin(scores))
    assert res.best_epoch[0] == res.history[int(np.nanargmin(scores))]["epoch"]


def test_non_finite_parameters_stop_training_with_a_message(lorenz):
    cfg = ReconstructConfig(**SMALL, lr_start=1e6, lr_end=1e5, runs=2)
    with pytest.raises(InputError, match="non-finite"):
        train_alrnn(lorenz * 1e3, cfg)


def test_generalised_teacher_forcing_adapts_alpha(lorenz):
    cfg = ReconstructConfig(**SMALL, forcing="gtf")
    res = train_alrnn(lorenz, cfg)
    alphas = np.array([h["alpha"][0] for h in res.history])
    assert np.all((alphas >= 0) & (alphas <= 1))
    fixed = train_alrnn(lorenz, ReconstructConfig(**SMALL, forcing="gtf", alpha=0.2))
    assert all(h["alpha"][0] == 0.2 for h in fixed.history)


def test_schedules_of_alpha_and_tau_reach_their_end_values():
    cfg = ReconstructConfig(forcing="gtf", alpha=0.3, alpha_end=0.03, epochs=11, window=40)
    alphas = [alpha_at(cfg, e) for e in range(cfg.epochs)]
    assert alphas[0] == pytest.approx(0.3) and alphas[-1] == pytest.approx(0.03)
    assert np.allclose(np.diff(np.log(alphas)), np.log(0.1) / 10)  # geometric
    w = _forcing_weights(cfg, np.array([alphas[4]]), 4)
    assert w[0, 0] == 0 and np.all(w[0, 1:] == np.float32(alphas[4]))
    assert alpha_at(ReconstructConfig(forcing="gtf", alpha=0.2), 7) == 0.2
    stf = ReconstructConfig(tau=4, tau_end=12, epochs=5, window=40)
    assert [_tau_at(stf, e) for e in range(5)] == [4, 6, 8, 10, 12]
    w = _forcing_weights(stf, np.ones(2), 2)
    assert np.flatnonzero(w[0]).tolist() == [8, 16, 24, 32, 40] and np.all(w[1] == w[0])


def test_ema_equals_its_definition(lorenz):
    """avg_B = d^B p_0 + (1 - d) sum_b d^(B - b) p_b, where p_b are the raw parameters after b
    batches (got from runs stopped after b batches of the same stream, EMA off)."""
    d, B = 0.7, 4
    base = dict(SMALL, epochs=1, eval_every=1, lr_start=5e-3, lr_end=1e-3)
    raw = [ALRNN(8, 3, 2, runs=1, seeds=[[3, 0]]).numpy_params()]
    for b in range(1, B + 1):
        res = train_alrnn(lorenz, ReconstructConfig(**{**base, "batches_per_epoch": b}, seed=3))
        assert res.best_epoch[0] == 1
        raw.append(res.model.numpy_params())
    avg = train_alrnn(lorenz, ReconstructConfig(**{**base, "batches_per_epoch": B}, ema=d, seed=3))
    for k in "aWhL":
        expect = d**B * raw[0][k] + sum((1 - d) * d ** (B - b) * raw[b][k] for b in range(1, B + 1))
        assert np.allclose(avg.model.numpy_params()[k], expect, rtol=1e-5, atol=1e-6)
        assert not np.allclose(expect, raw[B][k])


def test_decoupled_weight_decay_shrinks_only_w_and_l(lorenz):
    """One RAdam step with decoupled decay wd: p_1 = (1 - lr wd) p_0 + u, u the step without decay
    (independent of p_0), so W and L end lr wd p_0 below the undecayed run; a and h are equal."""
    lr, wd = 5e-3, 40.0
    base = dict(SMALL, epochs=1, batches_per_epoch=1, eval_every=1, lr_start=lr, lr_end=1e-3)
    init = ALRNN(8, 3, 2, runs=2, seeds=[[3, 0], [4, 0]]).numpy_params()
    plain = train_alrnn(lorenz, ReconstructConfig(**base, runs=2, seed=3))
    dec = train_alrnn(lorenz, ReconstructConfig(**base, runs=2, seed=3, weight_decay=wd))
    assert list(plain.best_epoch) == list(dec.best_epoch) == [1, 1]
    p, d = plain.model.numpy_params(), dec.model.numpy_params()
    for k in "ah":
        assert np.array_equal(p[k], d[k])
    for k in "WL":
        assert np.allclose(d[k], p[k] - lr * wd * init[k], rtol=1e-5, atol=1e-7)
        assert not np.allclose(d[k], p[k], rtol=1e-3, atol=1e-5)
    with pytest.raises(InputError, match="weight-decay"):
        ReconstructConfig(weight_decay=-1.0).check()


def test_noise_anneals_geometrically_per_epoch(lorenz, monkeypatch):
    """The kernel sees noise * (noise_end / noise)^(e / (E - 1)) in every batch of epoch e."""
    import tsdyn.kernels.rollout.cpu as cpu

    seen = []
    kernel = cpu.alrnn_forced_loss_grad

    def spy(a, W, h, L, data, starts, forcing, P, noise, *rest):
        seen.append(noise)
        return kernel(a, W, h, L, data, starts, forcing, P, noise, *rest)

    monkeypatch.setattr(cpu, "alrnn_forced_loss_grad", spy)
    cfg = ReconstructConfig(**{**SMALL, "epochs": 5, "batches_per_epoch": 2}, noise_end=0.002)
    train_alrnn(lorenz, cfg)
    expect = [0.05 * (0.002 / 0.05) ** (e / 4) for e in range(5) for _ in range(2)]
    assert np.allclose(seen, expect, rtol=1e-12) and seen[-1] == pytest.approx(0.002)
    assert noise_at(ReconstructConfig(noise=0.3), 7) == 0.3
    with pytest.raises(InputError, match="noise-end"):
        ReconstructConfig(noise=0.0, noise_end=0.01).check()


def test_balanced_window_starts_follow_the_rarity_of_their_states():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 2)) ** 3
    window, bins = 12, 4
    assert np.allclose(np.diff(window_start_cdf(x, window, 0.0), prepend=0), 1 / (300 - window))
    lo, hi = x.min(0), x.max(0)
    cells = [
        tuple(
            min(int((v - l) / (u - l) * bins), bins - 1)
            for v, l, u in zip(row, lo, hi, strict=True)
        )
        for row in x
    ]
    counts = {c: cells.count(c) for c in set(cells)}
    q = np.array(
        [sum(1 / counts[cells[t]] for t in range(s, s + window + 1)) for s in range(300 - window)]
    )
    for beta in (1.0, 0.3):
        p = np.diff(window_start_cdf(x, window, beta, bins), prepend=0)
        assert np.allclose(p, (1 - beta) / len(q) + beta * q / q.sum())
    starts = _draw_starts(
        np.random.default_rng(0), window_start_cdf(x, window, 1.0, bins), 300 - window, 20000
    )
    assert starts.min() >= 0 and starts.max() < 300 - window
    freq = np.bincount(starts, minlength=len(q)) / len(starts)
    assert np.abs(freq - q / q.sum()).max() < 0.006


def test_selection_on_a_validation_series(lorenz):
    """With a validation series the kept checkpoint's selection D_stsp is that of a free run from
    the validation's first point (transient dropped) against the validation series."""
    val = lorenz[2500:]
    cfg = ReconstructConfig(**{**SMALL, "eval_steps": None}, eval_transient=30, select_dh=1.0)
    res = train_alrnn(lorenz[:2500], cfg, validation=val)
    gen = res.model.generate(torch.tensor(val[:1], dtype=torch.float32), 30 + len(val))
    gen = gen[0, 0, 30:, :3].double().numpy()
    assert res.best_dstsp[0] == pytest.approx(dstsp_bins(val, gen), rel=1e-6)
    # float32 kernel vs torch float32: the spectra of 1500 steps differ in the last digits
    assert res.best_dh[0] == pytest.approx(hellinger_spectrum(val, gen), rel=1e-2)
    scores = np.array([h["score"][0] for h in res.history])
    assert np.nanmin(scores) == pytest.approx(res.best_dstsp[0] + res.best_dh[0], rel=1e-9)
    with pytest.raises(InputError, match="validation"):
        train_alrnn(lorenz, cfg, validation=val[:, :2])


def test_lyapunov_term_of_the_selection_score(lorenz):
    cfg = ReconstructConfig(**SMALL, select_dh=0.5, select_lyap=3.0, lyap_steps=400, runs=2)
    res = train_alrnn(lorenz, cfg)
    for h in res.history:
        lam, lam_d = np.asarray(h["lyapunov"]), h["lyapunov_data"]
        assert lam_d == pytest.approx(lyapunov_from_data(lorenz[:1500], 1.0)[0])
        expect = h["dstsp"] + 0.5 * h["dh"] + 3.0 * np.abs(lam / lam_d - 1)
        assert np.allclose(h["score"], expect, equal_nan=True)


def test_adaptive_alpha_formula():
    a = np.array([0.5, 0.5])
    W = np.array([[1.5, 0.0], [0.0, 0.0]])  # ||J|| = 2 in region "1", 0.5... in region "0"
    codes = np.array([[1, 1, 1, 1], [0, 0, 0, 0]])
    # P = 1: region 1 has J = diag(2, 0.5) (norm 2), region 0 has diag(2, 0.5) too (unit 1 is
    # linear); so alpha* = 1 - 1/2
    assert adaptive_alpha(a, W, 1, codes) == pytest.approx(0.5)
    assert adaptive_alpha(a, np.zeros((2, 2)), 1, codes) == 0.0


def test_estimator_fit_evaluate_save_load(lorenz, tmp_path):
    rec = ALRNNReconstructor(**SMALL, runs=2).fit(lorenz[:3000] * 3 + 1, dt=0.01)
    report = rec.evaluate(lorenz[3000:] * 3 + 1, transient=100, lyapunov_steps=500)
    per = report["per_run"]
    assert len(per["dstsp"]) == 2 and report["mean"]["dh"]["n"] <= 2
    assert all(1 <= r <= 4 for r in per["regions"])
    rec.save(tmp_path)
    back = ALRNNReconstructor.load(tmp_path)
    x0 = lorenz[0] * 3 + 1
    assert np.allclose(back.simulate(50, x0), rec.simulate(50, x0), atol=1e-5)
    code = back.symbolic_code(run=1, steps=2000)
    assert code["used_regions"] == len(code["regions"]) <= 4
    assert np.allclose(np.sum(code["transition_matrix"]["probabilities"], axis=1), 1)


@pytest.mark.slow
def test_benchmark_model_reproduces_lorenz_structure():
    """The 10 runs trained by benchmarks/reconstruct.py (committed): their Lyapunov exponent is
    close to Lorenz-63's and the reference run's symbolic graph is wing - centre - wing."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "benchmarks/results/reconstruct_lorenz63_model"
    if not (folder / "model.safetensors").is_file():
        pytest.skip("benchmarks/results/reconstruct_lorenz63_model is absent")
    rec = ALRNNReconstructor.load(folder)
    test = simulate("lorenz63", 30_000, 0.01, seed=1).values
    report = rec.evaluate(test, transient=1000, lyapunov_steps=20_000, data_lyapunov=False)
    assert report["mean"]["lyapunov_max"]["mean"] == pytest.approx(0.906, rel=0.15)
    assert np.nanmean(report["per_run"]["dh"]) < 0.6
    code = rec.symbolic_code(run=7, steps=50_000)
    shares = {r["symbol"]: r["share"] for r in code["regions"]}
    assert sum(v >= 0.05 for v in shares.values()) == 3
    syms = code["transition_matrix"]["symbols"]
    Pm = np.array(code["transition_matrix"]["probabilities"])
    main = sorted((s for s in syms if shares[s] >= 0.05), key=lambda s: -shares[s])
    idx = {s: syms.index(s) for s in main}
    hub = [s for s in main if all(Pm[idx[s], idx[o]] > 0 for o in main if o != s)]
    assert len(hub) >= 1
    wings = [s for s in main if s != hub[0]]
    assert Pm[idx[wings[0]], idx[wings[1]]] == 0 and Pm[idx[wings[1]], idx[wings[0]]] == 0


def test_paper_preset_is_the_authors_lorenz_recipe():
    cfg = ALRNNReconstructor(preset="lorenz63-paper").config
    assert (cfg.M, cfg.P, cfg.window, cfg.tau, cfg.forcing) == (20, 2, 200, 16, "stf")
    assert (cfg.lr_start, cfg.lr_end, cfg.epochs, cfg.noise) == (1e-3, 1e-5, 2000, 0.05)
    assert (cfg.batch_size, cfg.batches_per_epoch, cfg.eval_every) == (16, 50, 25)
    assert (cfg.ema, cfg.select_dh, cfg.balance, cfg.eval_every_late) == (0.0, 0.0, 0.0, None)
    with pytest.raises(InputError, match="alpha-end"):
        ReconstructConfig(forcing="gtf", alpha=None, alpha_end=0.1).check()
    with pytest.raises(InputError, match="ema"):
        ReconstructConfig(ema=1.0).check()


def test_burn_in_and_tail_layout_of_forcing_and_loss_weights():
    cfg = ReconstructConfig(window=10, tau=4, burn_in=3, tail=5, tail_weight=0.25)
    assert cfg.rollout == 18
    alpha = _forcing_weights(cfg, np.ones(2))
    # steps 1..3 forced (burn-in), then the window's forcing at 3 + 4, 3 + 8, nothing in the tail
    assert np.flatnonzero(alpha[0]).tolist() == [1, 2, 3, 7, 11] and np.all(alpha[1] == alpha[0])
    w = _loss_weights(cfg, 2, 3)
    assert w.shape == (2, 19, 3)
    assert np.all(w[:, :4] == 0) and np.all(w[:, 4:14] == 1) and np.all(w[:, 14:] == 0.25)
    gtf = ReconstructConfig(window=6, forcing="gtf", burn_in=2, tail=3)
    a = _forcing_weights(gtf, np.array([0.3]))
    assert np.allclose(a[0], [0, 1, 1, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0, 0, 0])
    d = _loss_weights(ReconstructConfig(window=6, dim_weights=(1.0, 3.0)), 1, 2)
    assert np.allclose(d[0, 1], [0.5, 1.5])  # normalised to mean 1
    assert _loss_weights(ReconstructConfig(), 1, 3) is None  # the paper's plain MSE
    dec = _loss_weights(ReconstructConfig(window=8, tau=3, horizon_decay=0.5, burn_in=1), 1, 1)
    raw = np.array([1, 0.5, 0.25, 1, 0.5, 0.25, 1, 0.5])  # k = 1, 2, 3 steps after forcing
    assert np.allclose(dec[0, 2:, 0], raw / raw.mean()) and np.all(dec[0, :2] == 0)
    with pytest.raises(InputError):
        ReconstructConfig(horizon_decay=0.0).check()
    with pytest.raises(InputError, match="needs 3 values"):
        _loss_weights(ReconstructConfig(dim_weights=(1.0, 2.0)), 1, 3)
    with pytest.raises(InputError):
        ReconstructConfig(tail=-1).check()


def test_zero_weight_tail_and_burn_in_leave_the_window_loss_unchanged(lorenz):
    """A tail with weight 0 adds nothing (later steps cannot change earlier predictions); a
    burn-in of B forced steps without loss equals the plain window started B steps later from the
    state the forced burn-in reached (checked against the autograd reference)."""
    from tsdyn.kernels.rollout.cpu import alrnn_forced_loss_grad, noisy_windows
    from tsdyn.kernels.rollout.naive import naive_alrnn_forced_loss

    rng = np.random.default_rng(3)
    R, S, M, N, P = 2, 5, 8, 3, 2
    model = ALRNN(M, N, P, runs=R, seeds=[1, 2])
    arrays = [getattr(model, k).detach().numpy().astype(np.float64) for k in "aWhL"]
    arrays[1] = arrays[1] + rng.normal(0, 0.2, arrays[1].shape)
    keys = rng.integers(0, 2**63, R).astype(np.uint64)
    starts = rng.integers(0, 3000, (R, S))
    plain = ReconstructConfig(M=M, P=P, window=24, tau=5)
    tailed = ReconstructConfig(M=M, P=P, window=24, tau=5, tail=9, tail_weight=0.0)
    l0, g0, _ = alrnn_forced_loss_grad(
        *arrays, lorenz, starts, _forcing_weights(plain, np.ones(R)), P, 0.05, keys
    )
    w = _loss_weights(tailed, R, N)
    l1, g1, _ = alrnn_forced_loss_grad(
        *arrays, lorenz, starts, _forcing_weights(tailed, np.ones(R)), P, 0.05, keys, w
    )
    # same sum of squares over the window, divided by the longer rollout's step count
    assert np.allclose(l1 * tailed.rollout, l0 * plain.rollout, rtol=1e-12)
    for a, b in zip(g0, g1, strict=True):
        assert np.allclose(a * plain.rollout, b * tailed.rollout, rtol=1e-10, atol=1e-14)
    # burn-in: reference by hand (teacher-force B steps, then the plain window from there)
    B = 4
    warm = ReconstructConfig(M=M, P=P, window=24, tau=5, burn_in=B)
    w = _loss_weights(warm, R, N)
    lw, gw, _ = alrnn_forced_loss_grad(
        *arrays, lorenz, starts, _forcing_weights(warm, np.ones(R)), P, 0.05, keys, w
    )
    x = torch.tensor(noisy_windows(lorenz, starts, warm.rollout, 0.05, keys))
    params = [torch.tensor(p, requires_grad=True) for p in arrays]
    a, W, h, L = params
    z = torch.cat((x[:, :, 0], torch.einsum("rkn,rsn->rsk", L, x[:, :, 0])), -1)
    for t in range(1, B + 1):
        zhat = a[:, None] * z + torch.einsum("rij,rsj->rsi", W, _phi(z, P)) + h[:, None]
        z = torch.cat((x[:, :, t], zhat[..., N:]), -1)
    preds, alpha = [], _forcing_weights(plain, np.ones(R))
    for t in range(1, plain.window + 1):
        zhat = a[:, None] * z + torch.einsum("rij,rsj->rsi", W, _phi(z, P)) + h[:, None]
        preds.append(zhat[..., :N])
        al = float(alpha[0, t])
        z = torch.cat((zhat[..., :N] * (1 - al) + al * x[:, :, B + t], zhat[..., N:]), -1)
    sq = ((torch.stack(preds, 2) - x[:, :, B + 1 :]) ** 2).sum(dim=(1, 2, 3))
    ref = sq / (S * warm.rollout * N)
    ref.sum().backward()
    assert np.allclose(lw, ref.detach().numpy(), rtol=1e-12)
    for g, p in zip(gw, params, strict=True):
        assert np.allclose(g, p.grad.numpy(), rtol=1e-9, atol=1e-13)
    # and the naive reference with the same weights agrees with the kernel
    params2 = [torch.tensor(p, requires_grad=True) for p in arrays]
    ref2 = naive_alrnn_forced_loss(
        *params2,
        x,
        torch.tensor(_forcing_weights(warm, np.ones(R)), dtype=x.dtype),
        P,
        weights=torch.tensor(w, dtype=x.dtype),
    )
    assert np.allclose(lw, ref2.detach().numpy(), rtol=1e-12)


def _phi(z, P):
    M = z.shape[-1]
    return torch.cat((z[..., : M - P], torch.relu(z[..., M - P :])), -1)


def test_state_distribution_term_matches_autograd(lorenz):
    """The free-run MMD term (`dist_weight`): value and gradients of the fused-kernel path equal
    torch autograd through a float64 free run with the same random features; a run whose free
    run leaves the finite range gets zero gradients."""
    from tsdyn.kernels.rollout.naive import naive_alrnn_free_run
    from tsdyn.reconstruct.training import rff_features, state_distribution_grads

    rng = np.random.default_rng(11)
    R, S, M, N, P, T, D = 3, 4, 9, 3, 2, 37, 50
    model = ALRNN(M, N, P, runs=R, seeds=[4, 5, 6])
    arrays = [getattr(model, k).detach().numpy().astype(np.float64) for k in "aWhL"]
    arrays[1] = arrays[1] + rng.normal(0, 0.15, arrays[1].shape)
    arrays[2] = rng.normal(0, 0.1, arrays[2].shape)
    arrays[1][2] *= 40.0  # run 2 blows up
    starts = rng.integers(0, len(lorenz) - T - 1, (R, S))
    feats = [rff_features(rng, N, D, (0.3, 1.0)) for _ in range(R)]
    omega, beta = np.stack([f[0] for f in feats]), np.stack([f[1] for f in feats])
    weight = 1.7
    value, grads = state_distribution_grads(
        *arrays, lorenz, starts, T, P, weight, omega, beta, stride=3
    )

    params = [torch.tensor(p, requires_grad=True) for p in arrays]
    a, W, h, L = params
    x = torch.tensor(lorenz)
    idx = torch.tensor(starts)[:, :, None] + torch.arange(T + 1)
    win = x[idx]  # [R, S, T + 1, N]
    z0 = torch.cat((win[:, :, 0], torch.einsum("rkn,rsn->rsk", L, win[:, :, 0])), -1)
    with torch.enable_grad():
        z, out = z0, []
        for _ in range(T):
            z = a[:, None] * z + torch.einsum("rij,rsj->rsi", W, _phi(z, P)) + h[:, None]
            out.append(z[..., :N])
    g = torch.stack(out, 2)[:, :, 2::3].reshape(R, -1, N)
    om, be = torch.tensor(omega), torch.tensor(beta)
    scale = np.sqrt(2.0 / D)
    mg = (scale * torch.cos(g @ om.transpose(1, 2) + be[:, None])).mean(1)
    mx = (
        scale * torch.cos(win[:, :, 3::3].reshape(R, -1, N) @ om.transpose(1, 2) + be[:, None])
    ).mean(1)
    ref = weight * ((mg - mx) ** 2).sum(1)
    ref[:2].sum().backward()
    assert np.allclose(value[:2], ref[:2].detach().numpy(), rtol=1e-10)
    assert np.isnan(value[2])
    assert not bool(torch.all(g[2].detach().abs() < 1e6))
    for gk, p in zip(grads, params, strict=True):
        assert np.allclose(gk[:2], p.grad.numpy()[:2], rtol=1e-7, atol=1e-12)
        assert np.all(gk[2] == 0.0)
        assert np.abs(gk[:2]).max() > 0
    # the free run agrees with the reference rollout
    free = naive_alrnn_free_run(*[torch.tensor(v) for v in arrays[:3]], z0.detach(), T, P)
    assert torch.allclose(free[:2, :, 2::3, :N].reshape(2, -1, N), g[:2].detach())


def test_random_features_approximate_the_kernel():
    """E[phi(u) . phi(v)] = mean over bandwidths of exp(-|u - v|^2 / (2 b^2))."""
    from tsdyn.reconstruct.training import rff_features

    rng = np.random.default_rng(0)
    u, v = np.array([0.1, -0.4, 0.3]), np.array([0.5, 0.2, -0.1])
    omega, beta = rff_features(rng, 3, 400_000, (0.5, 1.0))
    D = len(beta)
    est = (2.0 / D) * np.sum(np.cos(omega @ u + beta) * np.cos(omega @ v + beta))
    d2 = np.sum((u - v) ** 2)
    exact = 0.5 * (np.exp(-d2 / (2 * 0.25)) + np.exp(-d2 / 2))
    assert abs(est - exact) < 0.01
    with pytest.raises(InputError):
        ReconstructConfig(dist_weight=-1.0).check()
    with pytest.raises(InputError):
        ReconstructConfig(dist_steps=0).check()
