"""The deep SSM forecaster behind `ssm fit` and `forecast --model s4d`."""

import pytest
import torch

from tsdyn.errors import InputError
from tsdyn.forecast.models import MODELS
from tsdyn.ssm import SSMForecastNet


@pytest.mark.parametrize("layer", ["s4d", "lssl"])
def test_shapes_modes_and_groups(layer):
    torch.manual_seed(0)
    net = SSMForecastNet(30, 7, 3, layer=layer, d_model=8, d_state=8, n_layers=2, dropout=0.0)
    net = net.double().eval()
    x = torch.randn(4, 30, 3, dtype=torch.float64)
    y = net(x)
    assert y.shape == (4, 7, 3)
    net.mode = "recurrent"
    torch.testing.assert_close(net(x), y, rtol=1e-9, atol=1e-9)
    slow, rest = net.param_groups(0.01)
    assert slow["lr"] == 1e-3 and slow["weight_decay"] == 0.0 and rest["lr"] == 0.01
    n_slow = sum(p.numel() for p in slow["params"])
    n_rest = sum(p.numel() for p in rest["params"])
    n_all = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert n_slow > 0 and n_slow + n_rest == n_all


def test_channels_are_independent_and_scale_equivariant():
    torch.manual_seed(1)
    net = SSMForecastNet(20, 5, 2, d_model=8, d_state=8, n_layers=1, dropout=0.0).eval()
    x = torch.randn(3, 20, 2)
    y = net(x)
    x2 = x.clone()
    x2[..., 1] = 5 * x[..., 1] + 2  # per-series standardization makes this an affine map of y
    y2 = net(x2)
    torch.testing.assert_close(y2[..., 0], y[..., 0])
    torch.testing.assert_close(y2[..., 1], 5 * y[..., 1] + 2, rtol=1e-4, atol=1e-4)


def test_learns_a_sine_better_than_repeat():
    torch.manual_seed(2)
    t = torch.arange(400.0)
    series = torch.sin(2 * torch.pi * t / 16)
    idx = torch.arange(0, 400 - 48 - 8, 4)
    x = torch.stack([series[i : i + 48] for i in idx])[..., None]
    y = torch.stack([series[i + 48 : i + 56] for i in idx])[..., None]
    net = SSMForecastNet(48, 8, 1, d_model=8, d_state=8, n_layers=1, dropout=0.0)
    opt = torch.optim.Adam(net.param_groups(0.01))
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
    repeat = torch.nn.functional.mse_loss(x[:, -1:].expand_as(y), y)
    assert loss.item() < 0.2 * repeat.item()


def test_registered_as_s4d_forecaster():
    net = MODELS["s4d"](16, 4, 2, d_model=4, d_state=4, n_layers=1)
    assert isinstance(net, SSMForecastNet)
    assert net(torch.randn(2, 16, 2)).shape == (2, 4, 2)


def test_bad_layer():
    with pytest.raises(InputError, match="unknown layer"):
        SSMForecastNet(8, 2, 1, layer="mamba")
