"""linear_scan on CPU backends against a float64 sequential reference (research note §6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsdyn.kernels import linear_scan
from tsdyn.kernels.scan._linear_scan import generic_scan_bwd
from tsdyn.kernels.scan.naive import naive_linear_scan

CPU_BACKENDS = ["naive", "chunk", "cpu"]
LENGTHS = [1, 2, 7, 63, 64, 65, 130, 1000, 100003]


def ref_scan(a, b, h0=None, reverse=False):
    """float64 (complex128) numpy loop on the inputs as given (upcast, never re-drawn)."""
    cplx = a.is_complex() or b.is_complex()
    wide = torch.complex128 if cplx else torch.float64
    a_, b_ = a.detach().to(wide).numpy(), b.detach().to(wide).numpy()
    Bn, T, D = b_.shape
    if a_.ndim == 1:
        a_ = np.broadcast_to(a_, (Bn, D))
    cd = a_.dtype
    h = np.zeros((Bn, D), cd) if h0 is None else h0.detach().to(wide).numpy()
    out = np.empty((Bn, T, D), cd)
    for t in range(T - 1, -1, -1) if reverse else range(T):
        h = (a_[:, t] if a_.ndim == 3 else a_) * h + b_[:, t]
        out[:, t] = h
    return out


def rel(x, ref):
    x = x.detach().to(torch.complex128 if np.iscomplexobj(ref) else torch.float64).numpy()
    assert np.isfinite(x).all()
    return np.linalg.norm(x - ref) / max(np.linalg.norm(ref), 1e-300)


def draw_a(kind, shape, gen, dtype=torch.float32):
    if kind == "unit":  # (0, 1)
        return torch.rand(shape, generator=gen).to(dtype)
    if kind == "negative":
        return -torch.rand(shape, generator=gen).to(dtype)
    if kind == "zero":
        a = torch.rand(shape, generator=gen)
        return torch.where(torch.rand(shape, generator=gen) < 0.3, 0.0, a).to(dtype)
    if kind == "one":
        return torch.ones(shape, dtype=dtype)
    if kind == "complex":
        r = torch.rand(shape, generator=gen).sqrt() * 0.999
        phi = torch.rand(shape, generator=gen) * 6.283
        return torch.polar(r, phi).to(torch.complex64 if dtype == torch.float32 else dtype)
    raise ValueError(kind)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("kind", ["unit", "negative", "zero", "one", "complex"])
def test_forward_matches_reference(backend, T, kind):
    gen = torch.Generator().manual_seed(T * 7 + len(kind))
    Bn, D = (2, 3) if T > 1000 else (2, 5)
    a = draw_a(kind, (Bn, T, D), gen)
    b = torch.randn(Bn, T, D, generator=gen).to(a.dtype)
    h0 = torch.randn(Bn, D, generator=gen).to(a.dtype)
    if T > 1000 and backend == "naive":
        Bn = 1
        a, b, h0 = a[:1], b[:1], h0[:1]
    h = linear_scan(a, b, h0, backend=backend)
    assert h.dtype == a.dtype and h.shape == (Bn, T, D)
    # a = 1 is a running sum: float32 rounding error grows like sqrt(T)
    tol = 1e-5 if kind != "one" else 1e-7 * max(T, 100) ** 0.5 * 3
    assert rel(h, ref_scan(a, b, h0)) <= tol


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("a_shape", ["tv", "lti_d", "lti_bd"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64, torch.bfloat16])
def test_layouts_dtypes_reverse(backend, a_shape, reverse, dtype):
    gen = torch.Generator().manual_seed(3)
    Bn, T, D = 3, 77, 6
    shape = {"tv": (Bn, T, D), "lti_d": (D,), "lti_bd": (Bn, D)}[a_shape]
    kind = "complex" if dtype.is_complex else "unit"
    a = draw_a(kind, shape, gen, dtype if dtype.is_complex else torch.float32).to(dtype)
    b = torch.randn(Bn, T, D, generator=gen).to(dtype)
    h0 = torch.randn(Bn, D, generator=gen).to(dtype)
    h, last = linear_scan(a, b, h0, reverse=reverse, return_last=True, backend=backend)
    assert h.dtype == dtype
    ref = ref_scan(a, b, h0, reverse)
    tol = {torch.bfloat16: 1e-2, torch.float64: 1e-13}.get(dtype, 1e-5)
    assert rel(h, ref) <= tol
    assert torch.equal(last, h[:, 0] if reverse else h[:, -1])


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_mixed_real_a_complex_b(backend):
    gen = torch.Generator().manual_seed(4)
    a = torch.rand(2, 40, 3, generator=gen)
    b = torch.randn(2, 40, 3, dtype=torch.complex64, generator=gen)
    h = linear_scan(a, b, backend=backend)
    assert h.dtype == torch.complex64
    assert rel(h, ref_scan(a, b)) <= 1e-5


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("T", [1, 2, 7, 63, 64, 65, 130])
@pytest.mark.parametrize("a_shape", ["tv", "lti"])
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck(backend, dtype, T, a_shape, reverse):
    gen = torch.Generator().manual_seed(T)
    Bn, D = 2, 3
    shape = (Bn, T, D) if a_shape == "tv" else (D,)
    kind = "complex" if dtype.is_complex else "unit"
    a = draw_a(kind, shape, gen, dtype).to(dtype).requires_grad_()
    b = torch.randn(Bn, T, D, generator=gen).to(dtype).requires_grad_()
    h0 = torch.randn(Bn, D, generator=gen).to(dtype).requires_grad_()

    def f(a, b, h0):
        return linear_scan(a, b, h0, reverse=reverse, return_last=True, backend=backend)

    assert torch.autograd.gradcheck(f, (a, b, h0), fast_mode=T > 7)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64])
def test_gradients_match_autograd_through_loop(backend, dtype):
    """The fused/reversed-scan backward equals autograd through the sequential loop (float32)."""
    gen = torch.Generator().manual_seed(5)
    Bn, T, D = 2, 300, 4
    kind = "complex" if dtype.is_complex else "unit"
    a = draw_a(kind, (Bn, T, D), gen, dtype).requires_grad_()
    b = torch.randn(Bn, T, D, generator=gen).to(dtype).requires_grad_()
    h0 = torch.randn(Bn, D, generator=gen).to(dtype).requires_grad_()
    gy = torch.randn(Bn, T, D, generator=gen).to(dtype)
    wide = torch.complex128 if dtype.is_complex else torch.float64
    xs64 = [x.detach().to(wide).requires_grad_() for x in (a, b, h0)]
    ref = torch.autograd.grad(naive_linear_scan(*xs64), xs64, gy.to(wide))
    got = torch.autograd.grad(linear_scan(a, b, h0, backend=backend), (a, b, h0), gy)
    for g, r in zip(got, ref, strict=True):
        assert rel(g, r.numpy()) <= 1e-5


def test_reverse_scan_is_the_vjp():
    """g = reverse scan of gy with the shifted conj(a) equals autograd's VJP for b."""
    gen = torch.Generator().manual_seed(6)
    a = draw_a("complex", (2, 50, 3), gen, torch.complex128)
    b = torch.randn(2, 50, 3, dtype=torch.complex128, generator=gen).requires_grad_()
    gy = torch.randn(2, 50, 3, dtype=torch.complex128, generator=gen)
    (vjp,) = torch.autograd.grad(naive_linear_scan(a, b), b, gy)
    a_next = torch.zeros_like(a)
    a_next[:, :-1] = a[:, 1:].conj()
    g = linear_scan(a_next, gy, reverse=True, backend="cpu")
    assert rel(g, vjp.numpy()) <= 1e-13


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("reverse", [False, True])
def test_state_passing(backend, reverse):
    gen = torch.Generator().manual_seed(7)
    Bn, T, D, cut = 2, 200, 4, 73
    a = draw_a("complex", (Bn, T, D), gen)
    b = torch.randn(Bn, T, D, dtype=torch.complex64, generator=gen)
    whole = linear_scan(a, b, backend=backend, reverse=reverse)
    if reverse:
        h2, carry = linear_scan(
            a[:, cut:], b[:, cut:], backend=backend, reverse=True, return_last=True
        )
        h1 = linear_scan(a[:, :cut], b[:, :cut], carry, backend=backend, reverse=True)
    else:
        h1, carry = linear_scan(a[:, :cut], b[:, :cut], backend=backend, return_last=True)
        h2 = linear_scan(a[:, cut:], b[:, cut:], carry, backend=backend)
    torch.testing.assert_close(torch.cat([h1, h2], 1), whole, rtol=1e-5, atol=1e-6)


def test_long_sequence_error_does_not_grow():
    """T = 2^20, a in (0.99, 0.9999): finite, and the error at 2^20 is within 2x the error at 1K."""
    gen = torch.Generator().manual_seed(8)
    Bn, T, D = 1, 1 << 20, 4
    a = 0.99 + 0.0099 * torch.rand(Bn, T, D, generator=gen)
    b = torch.randn(Bn, T, D, generator=gen)
    h = linear_scan(a, b, backend="cpu")
    ref = linear_scan(a.double(), b.double(), backend="chunk")  # chunk is tested against the loop
    assert torch.isfinite(h).all()
    diff = (h.double() - ref).view(T // 1024, 1024 * D).norm(dim=1)
    err = (diff / ref.view(T // 1024, 1024 * D).norm(dim=1)).numpy()  # per block of 1024 steps
    assert err[-1] <= max(2 * err[0], 1e-6)
    assert err.max() <= 1e-5
    # the global cumprod/division formula fails on the same data (research note §2.6)
    P = torch.cumprod(a, 1)
    assert not torch.isfinite(P * torch.cumsum(b / P, 1)).all()


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_outputs_fully_written_and_deterministic(backend, monkeypatch):
    real_empty = torch.empty

    def nan_empty(*args, **kwargs):
        x = real_empty(*args, **kwargs)
        return x.fill_(float("nan")) if x.is_floating_point() or x.is_complex() else x

    monkeypatch.setattr(torch, "empty", nan_empty)
    gen = torch.Generator().manual_seed(9)
    a = torch.rand(3, 129, 5, generator=gen).requires_grad_()
    b = torch.randn(3, 129, 5, generator=gen).requires_grad_()
    h = linear_scan(a, b, backend=backend)
    ga, gb = torch.autograd.grad(h, (a, b), torch.ones_like(h))
    for x in (h, ga, gb):
        assert torch.isfinite(x).all()
    h2 = linear_scan(a, b, backend=backend)
    assert torch.equal(h, h2)


def test_generic_backward_equals_fused_cpu_backward():
    from tsdyn.kernels.scan import cpu

    gen = torch.Generator().manual_seed(10)
    for reverse in (False, True):
        for a in (
            draw_a("complex", (2, 33, 3), gen, torch.complex128),
            draw_a("complex", (2, 3), gen, torch.complex128),
        ):
            b = torch.randn(2, 33, 3, dtype=torch.complex128, generator=gen)
            h0 = torch.randn(2, 3, dtype=torch.complex128, generator=gen)
            gh = torch.randn(2, 33, 3, dtype=torch.complex128, generator=gen)
            h = cpu.scan_fwd(a, b, h0, reverse)
            fused = cpu.scan_bwd(a, h, h0, gh, reverse)
            generic = generic_scan_bwd(cpu, a, h, h0, gh, reverse)
            for x, y in zip(fused, generic, strict=True):
                torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-12)


def test_bad_input_messages():
    b = torch.zeros(2, 5, 3)
    with pytest.raises(ValueError, match=r"a must be \[B, T, D\]"):
        linear_scan(torch.zeros(4), b)
    with pytest.raises(ValueError, match="h0 must be"):
        linear_scan(torch.zeros(3), b, torch.zeros(3))
    with pytest.raises(ValueError, match="backend must be one of"):
        linear_scan(torch.zeros(3), b, backend="cuda")
    with pytest.raises(TypeError, match="not supported"):
        linear_scan(torch.zeros(3, dtype=torch.int64), b.long())


def test_empty_time_axis():
    h, last = linear_scan(torch.zeros(2, 0, 3), torch.zeros(2, 0, 3), return_last=True)
    assert h.shape == (2, 0, 3) and last.shape == (2, 3)
