"""The fused Triton AL-RNN kernel against the PyTorch reference (float64 autograd).

`gpu` tests run the compiled kernel on CUDA. Without CUDA the same check runs through Triton's
interpreter (TRITON_INTERPRET=1, small shapes) when triton is installed.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch

# (R, S, T, M, N, P, forcing, noise): padding of M (9 -> 16, 20 -> 32, 33 -> 64), N = 1..3,
# P = 0 (a linear model), identity forcing every 5 steps, generalised forcing, none
CASES = [
    (2, 3, 23, 9, 3, 2, "stf", 0.05),
    (1, 2, 17, 6, 2, 0, "gtf", 0.0),
    (2, 2, 11, 20, 3, 5, "none", 0.1),
    (3, 16, 201, 20, 3, 2, "stf", 0.05),
    (2, 5, 64, 33, 1, 3, "stf", 0.02),
]


def _rel(x, y):
    return (x - y).abs().max().item() / max(y.abs().max().item(), 1e-12)


def check_against_reference(case, device, dtype, tol):
    """Loss and every gradient against float64 autograd on the kernel's own windows (noise
    included), with per-step loss weights; the stored states are the forced trajectory; a run
    trained alone gets the same loss and gradients as inside the batch."""
    from tsdyn.kernels.rollout import triton as rt
    from tsdyn.kernels.rollout.naive import naive_alrnn_forced_loss

    R, S, T, M, N, P, kind, noise = case
    rng = np.random.default_rng([R, S, T, M])
    a = rng.uniform(0.3, 0.9, (R, M))
    W = rng.normal(0, 0.3 / np.sqrt(M), (R, M, M))
    h = rng.normal(0, 0.1, (R, M))
    L = rng.normal(0, 0.5, (R, M - N, N))
    data = rng.normal(size=(T * 4, N))
    alpha = np.zeros((R, T + 1))
    if kind == "stf":
        alpha[:, 5::5] = 1.0
    elif kind == "gtf":
        alpha[:, 1:] = 0.3
    wts = rng.uniform(0.0, 2.0, (R, T + 1, N))
    starts = torch.tensor(rng.integers(0, len(data) - T - 1, (R, S)), device=device)
    keys = rng.integers(0, 2**63, R).astype(np.uint64)

    def dev(x):
        return torch.tensor(x, dtype=dtype, device=device)

    args = [dev(v) for v in (a, W, h, L, data)]
    loss, grads, Z = rt.alrnn_forced_loss_grad(*args, starts, dev(alpha), P, noise, keys, dev(wts))
    x = rt.noisy_windows(args[4], starts, T, noise, keys).double().cpu()
    clean = torch.stack(
        [torch.stack([torch.tensor(data[s : s + T + 1]) for s in r]) for r in starts]
    )
    if noise:  # the noise has the asked SD, differs per window, and is centred
        eps = (x - clean) / noise
        assert abs(eps.std().item() - 1.0) < 6.0 / np.sqrt(eps.numel()) + 0.02
        assert abs(eps.mean().item()) < 6.0 / np.sqrt(eps.numel())
        if S > 1:
            assert not torch.allclose(eps[:, 0], eps[:, 1])
    else:
        assert torch.allclose(x, clean, atol=1e-6)
    params = [torch.tensor(p, requires_grad=True) for p in (a, W, h, L)]
    al = torch.tensor(alpha)
    ref, zhat = naive_alrnn_forced_loss(
        *params, x, al, P, return_states=True, weights=torch.tensor(wts)
    )
    ref.sum().backward()
    assert _rel(loss.double().cpu(), ref.detach()) < tol
    forced = zhat.detach().clone()
    forced[..., :N] = (1 - al[:, None, 1:, None]) * forced[..., :N] + al[:, None, 1:, None] * x[
        :, :, 1:
    ]
    assert _rel(Z[:, :, 1:].double().cpu(), forced) < tol
    for name, g, p in zip("aWhL", grads, params, strict=True):
        assert g.shape == p.shape
        err = _rel(g.double().cpu(), p.grad)
        assert err < tol, f"d{name}: relative error {err:.3g}"
    if R > 1:  # run R - 1 alone: bitwise the same
        last = slice(R - 1, R)
        l1, g1, _ = rt.alrnn_forced_loss_grad(
            *[v[last] for v in args[:4]], args[4], starts[last], dev(alpha)[last], P, noise,
            keys[last], dev(wts)[last],
        )  # fmt: skip
        assert torch.equal(l1, loss[last])
        for g, gb in zip(g1, grads, strict=True):
            assert torch.equal(g, gb[last])


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gpu_fused_loss_and_gradients_match_autograd(case, dtype):
    check_against_reference(case, "cuda", dtype, 1e-9 if dtype == torch.float64 else 2e-4)


@pytest.mark.gpu
def test_gpu_training_batched_runs_equal_separate_runs():
    """`fit` on CUDA trains through the Triton kernel; run 1 of two equals a run of seed 1."""
    from tsdyn.datasets.systems import simulate
    from tsdyn.reconstruct import ALRNNReconstructor

    x = simulate("lorenz63", 3000, seed=0).values
    kw = dict(epochs=3, batches_per_epoch=4, eval_every=3, eval_steps=500, horizon_decay=0.8)
    both = ALRNNReconstructor(runs=2, seed=0, **kw).fit(x, dt=0.01, device="cuda")
    one = ALRNNReconstructor(runs=1, seed=1, **kw).fit(x, dt=0.01, device="cuda")
    for name, p in both.model_.named_parameters():
        q = dict(one.model_.named_parameters())[name]
        assert torch.allclose(p[1:], q, rtol=1e-5, atol=1e-6), name
    assert not torch.allclose(both.model_.W[0], both.model_.W[1])


def check_interpreter():
    for case in CASES[:3]:
        check_against_reference(case, "cpu", torch.float64, 1e-12)


def test_interpreter():
    """The check above through Triton's interpreter, in a fresh process (TRITON_INTERPRET=1)."""
    import os
    import subprocess
    from pathlib import Path

    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed (a GPU-only dependency): no interpreter run")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the gpu tests run the compiled kernel")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, TRITON_INTERPRET="1")
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


if __name__ == "__main__":
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kernels"))
    from test_scan_triton import _patch_interpreter

    _patch_interpreter()
    check_interpreter()
