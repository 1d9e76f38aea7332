"""S4D / LSSL layers: convolution, recurrent scan and step-by-step agree (note C7, C8)."""

import pytest
import torch

from tsdyn.errors import InputError
from tsdyn.ssm import LSSL, S4D, DenseSSM, DiagonalSSM


def _steps(module, u):
    state = module.default_state(u.shape[0])
    ys = []
    for k in range(u.shape[1]):
        y, state = module.step(u[:, k], state)
        ys.append(y)
    return torch.stack(ys, 1), state


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("init", ["legs", "inv", "lin"])
@pytest.mark.parametrize("disc", ["zoh", "bilinear"])
def test_c8_diagonal_conv_recurrent_step_agree_float64(init, disc):
    torch.manual_seed(0)
    ssm = DiagonalSSM(6, 16, init, disc, dt_min=1e-2, dt_max=0.3).double()
    u = torch.randn(3, 137, 6, dtype=torch.float64)
    y_conv = ssm(u, mode="conv")
    y_rec, last_rec = ssm(u, mode="recurrent", return_state=True)
    y_step, last_step = _steps(ssm, u)
    assert _rel(y_rec, y_conv) < 1e-10
    assert _rel(y_step, y_conv) < 1e-10
    assert (last_rec - last_step).abs().max() < 1e-10
    # a carried state: two halves equal one pass, in both modes
    for mode in ("conv", "recurrent"):
        y1, s1 = ssm(u[:, :60], mode=mode, return_state=True)
        y2, s2 = ssm(u[:, 60:], state=s1, mode=mode, return_state=True)
        assert _rel(torch.cat([y1, y2], 1), y_conv) < 1e-10
        assert (s2 - last_step).abs().max() < 1e-10


@pytest.mark.parametrize("disc", ["zoh", "bilinear"])
def test_diagonal_float32_matches_float64(disc):
    torch.manual_seed(1)
    ssm = DiagonalSSM(4, 64, "legs", disc)
    u = torch.randn(2, 500, 4)
    ref = ssm.double()(u.double())
    ssm.float()
    for mode in ("conv", "recurrent"):
        assert _rel(ssm(u, mode=mode).double(), ref) < 1e-4


def test_diagonal_gradients_agree_between_modes():
    torch.manual_seed(2)
    ssm = DiagonalSSM(3, 8, "inv", "zoh", dt_min=0.01, dt_max=0.2).double()
    u = torch.randn(2, 41, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 41, 3, dtype=torch.float64)
    grads = {}
    for mode in ("conv", "recurrent"):
        ssm.zero_grad()
        u.grad = None
        (ssm(u, mode=mode) * w).sum().backward()
        grads[mode] = [u.grad.clone()] + [p.grad.clone() for p in ssm.parameters()]
    for a, b in zip(grads["conv"], grads["recurrent"], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("measure", ["legs", "legt", "fout"])
def test_dense_conv_recurrent_step_agree(measure):
    torch.manual_seed(3)
    ssm = DenseSSM(3, 16, 2, measure, dt_min=0.01, dt_max=0.1).double()
    u = torch.randn(2, 75, 3, dtype=torch.float64)
    y_conv = ssm(u)
    assert y_conv.shape == (2, 75, 3, 2)
    y_rec, last = ssm(u, mode="recurrent", return_state=True)
    y_step, last_step = _steps(ssm, u)
    assert _rel(y_rec, y_conv) < 1e-10
    assert _rel(y_step, y_conv) < 1e-10
    torch.testing.assert_close(last, last_step)
    y32 = ssm.float()(u.float()).double()
    assert _rel(y32, y_conv) < 1e-4


@pytest.mark.parametrize("layer", ["s4d", "lssl"])
def test_layers_stream_step_by_step(layer):
    torch.manual_seed(4)
    net = (S4D(5, 8, dropout=0.1) if layer == "s4d" else LSSL(5, 8, channels=2)).double().eval()
    u = torch.randn(2, 33, 5, dtype=torch.float64)
    y = net(u)
    assert y.shape == u.shape
    y_step, _ = _steps(net, u)
    assert _rel(y_step, y) < 1e-10
    assert _rel(net(u, mode="recurrent"), y) < 1e-10


def test_parameters_are_real_and_ssm_group_is_separate():
    net = S4D(4, 8)
    assert all(not p.is_complex() for p in net.parameters())
    names = {id(p) for p in net.ssm.ssm_parameters()}
    assert {id(net.ssm.log_dt), id(net.ssm.A_log_re), id(net.ssm.A_im)} <= names
    assert id(net.ssm.C) not in names


def test_dt_init_is_log_uniform_in_range():
    torch.manual_seed(5)
    ssm = DiagonalSSM(2000, 4, dt_min=1e-3, dt_max=1e-1)
    dt = ssm.log_dt.exp()
    assert dt.min() >= 1e-3 * (1 - 1e-6) and dt.max() <= 1e-1 * (1 + 1e-6)
    frac = (ssm.log_dt < (torch.log(torch.tensor(1e-2)))).float().mean()  # geometric midpoint
    assert abs(frac - 0.5) < 0.05


def test_timescales_report():
    ssm = DiagonalSSM(3, 8, "lin")
    ts = ssm.timescales()
    assert ts["dt"].shape == (3,) and ts["decay"].shape == (3, 4)
    torch.testing.assert_close(ts["decay"], 0.5 * ts["dt"][:, None].expand(3, 4))


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: DiagonalSSM(4, 8, init="foo"), "unknown S4D init"),
        (lambda: DiagonalSSM(4, 8, disc="forward_euler"), "zoh"),
        (lambda: DiagonalSSM(4, 8, dt_min=0.1, dt_max=0.01), "dt range"),
        (lambda: DenseSSM(4, 8, measure="x"), "unknown measure"),
        (lambda: DiagonalSSM(4, 8)(torch.zeros(1, 3, 4), mode="fft"), "unknown mode"),
    ],
)
def test_bad_settings(call, words):
    with pytest.raises(InputError, match=words):
        call()


@pytest.mark.gpu
def test_gpu_modes_agree_float32():
    torch.manual_seed(6)
    ssm = DiagonalSSM(64, 64, "legs").cuda()
    u = torch.randn(8, 1000, 64, device="cuda")
    ref = ssm.double()(u.double())
    ssm.float()
    for mode in ("conv", "recurrent"):
        assert _rel(ssm(u, mode=mode).double(), ref) < 1e-4
    dense = DenseSSM(16, 32).cuda()
    x = torch.randn(4, 300, 16, device="cuda")
    assert _rel(dense(x), dense(x, mode="recurrent")) < 1e-4


def test_s4d_under_bfloat16_autocast_keeps_the_ffts_in_float32():
    torch.manual_seed(7)
    net = S4D(8, 16).eval()
    x = torch.randn(2, 64, 8)
    ref = net(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = net(x)
    assert _rel(y.float(), ref) < 5e-2


@pytest.mark.parametrize("chunk", [1, 8, 64])
def test_dense_chunked_recurrence_carries_state(chunk):
    torch.manual_seed(8)
    ssm = DenseSSM(3, 12, 2, "legt", dt_min=0.02, dt_max=0.2, chunk=chunk).double()
    u = torch.randn(2, 101, 3, dtype=torch.float64)
    y_conv = ssm(u)
    y1, s1 = ssm(u[:, :37], mode="recurrent", return_state=True)
    y2, s2 = ssm(u[:, 37:], state=s1, mode="recurrent", return_state=True)
    assert _rel(torch.cat([y1, y2], 1), y_conv) < 1e-10
    _, s_all = _steps(ssm, u)
    torch.testing.assert_close(s2, s_all)
