"""StandardScaler (train rows only, inverse) and sliding windows against a direct slicing reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsdyn.datasets import (
    StandardScaler,
    WindowDataset,
    feature_columns,
    make_split,
    sliding_windows,
)
from tsdyn.errors import InputError, NotFittedError


def _table(rng, T=157, C=4):
    # columns on very different scales and offsets, with a trend so train and test differ
    t = np.arange(T)[:, None]
    return rng.normal(size=(T, C)) * [1.0, 10.0, 0.01, 300.0] + [5.0, -40.0, 0.0, 1e4] + 0.05 * t


def test_scaler_uses_train_rows_only_and_inverts():
    rng = np.random.default_rng(0)
    values = _table(rng)
    sp = make_split(len(values), 12, 5, "ratio")
    train = values[sp.train[0] : sp.train[1]]
    scaler = StandardScaler().fit(train)
    np.testing.assert_allclose(scaler.mean_, train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler.scale_, train.std(axis=0, ddof=0), rtol=1e-12)
    z = scaler.transform(values)
    np.testing.assert_allclose(z[: sp.train[1]].mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(z[: sp.train[1]].std(axis=0), 1.0, rtol=1e-10)
    assert np.abs(z[sp.test[0] :].mean(axis=0)).max() > 0.1  # test rows did not enter the fit
    np.testing.assert_allclose(scaler.inverse_transform(z), values, rtol=1e-12, atol=1e-9)


def test_scaler_on_tensors_and_column_subsets():
    rng = np.random.default_rng(1)
    values = _table(rng, 60)
    scaler = StandardScaler().fit(values[:40])
    x = torch.tensor(values, dtype=torch.float64)
    z = scaler.transform(x)
    assert isinstance(z, torch.Tensor) and z.dtype == torch.float64
    np.testing.assert_allclose(z.numpy(), scaler.transform(values), rtol=1e-12)
    # a target-only block [B, H, 1] uses the target column's statistics
    y = z[None, :, [3]]
    back = scaler.inverse_transform(y, [3])
    np.testing.assert_allclose(back[0, :, 0].numpy(), values[:, 3], rtol=1e-12)
    state = scaler.state_dict()
    again = StandardScaler.from_state_dict(state)
    np.testing.assert_array_equal(again.transform(values), scaler.transform(values))


def test_scaler_constant_column_and_not_fitted():
    scaler = StandardScaler().fit(np.array([[1.0, 2.0], [1.0, 4.0]]))
    np.testing.assert_array_equal(scaler.transform(np.array([[1.0, 3.0]])), [[0.0, 0.0]])
    with pytest.raises(NotFittedError):
        StandardScaler().transform(np.zeros((2, 2)))


def _reference(values: np.ndarray, start: int, end: int, L: int, H: int, cin, cout):
    xs, ys = [], []
    for s in range(start, end - L - H + 1):
        xs.append(values[s : s + L, cin])
        ys.append(values[s + L : s + L + H, cout])
    return np.stack(xs), np.stack(ys)


@pytest.mark.parametrize("features", ["M", "S", "MS"])
@pytest.mark.parametrize(("L", "H"), [(7, 3), (1, 1), (13, 11)])
def test_windows_equal_direct_slicing(features, L, H):
    rng = np.random.default_rng(L * 31 + H)
    values = rng.normal(size=(101, 5))
    start, end = 9, 83
    ds = WindowDataset(values, start, end, L, H, features=features)
    cin, cout = {"M": ([0, 1, 2, 3, 4],) * 2, "S": ([4], [4]), "MS": ([0, 1, 2, 3, 4], [4])}[
        features
    ]
    ref_x, ref_y = _reference(values, start, end, L, H, cin, cout)
    assert len(ds) == end - start - L - H + 1
    x, y = ds.tensors()
    assert x.shape == (len(ds), L, len(cin)) and y.shape == (len(ds), H, len(cout))
    assert x.dtype == torch.float32
    np.testing.assert_array_equal(x.numpy(), ref_x.astype(np.float32))
    np.testing.assert_array_equal(y.numpy(), ref_y.astype(np.float32))
    i = len(ds) // 2
    xi, yi = ds[i]
    np.testing.assert_array_equal(xi.numpy(), ref_x[i].astype(np.float32))
    np.testing.assert_array_equal(yi.numpy(), ref_y[i].astype(np.float32))


def test_windows_target_index_and_errors():
    values = np.arange(40.0).reshape(20, 2)
    ds = WindowDataset(values, 0, 20, 4, 2, features="S", target=0)
    assert ds.in_cols == ds.out_cols == [0]
    np.testing.assert_array_equal(ds[0][1].numpy()[:, 0], [8.0, 10.0])
    assert feature_columns(3, "MS", target=1) == ([0, 1, 2], [1])
    with pytest.raises(InputError, match="unknown --features 'X'"):
        feature_columns(3, "X")
    with pytest.raises(InputError, match="5 rows are too few for seq_len 4 \\+ pred_len 2"):
        sliding_windows(torch.zeros(5, 2), 4, 2)
    x, y = sliding_windows(torch.arange(6.0)[:, None], 4, 2)
    assert x.shape == (1, 4, 1) and y.shape == (1, 2, 1)
