"""The Forecaster estimator and the shared training loop."""

import numpy as np
import pytest
import torch

from tsdyn.datasets import demo_table
from tsdyn.errors import InputError, NotFittedError
from tsdyn.forecast import Forecaster
from tsdyn.training import TrainConfig, lr_at_epoch, train


@pytest.fixture(scope="module")
def table():
    return demo_table(n_rows=1500, seed=3)


@pytest.fixture(scope="module")
def fitted(table):
    torch.set_num_threads(1)
    return Forecaster("dlinear", seq_len=48, pred_len=12, epochs=3, seed=0).fit(table)


def test_type1_schedule_matches_ltsf_linear():
    # adjust_learning_rate(epoch + 1) after each epoch: lr, lr, lr/2, lr/4, ...
    assert [lr_at_epoch("type1", 1.0, e, 10) for e in range(1, 6)] == [1.0, 1.0, 0.5, 0.25, 0.125]
    assert [lr_at_epoch("type3", 1.0, e, 10) for e in range(1, 6)] == [1.0, 1.0, 1.0, 1.0, 0.9]
    assert lr_at_epoch("cosine", 1.0, 1, 10) == 1.0
    assert lr_at_epoch("cosine", 1.0, 6, 10) == pytest.approx(0.5 * (1 + np.cos(np.pi * 5 / 10)))
    assert lr_at_epoch("constant", 0.3, 7, 10) == 0.3


def test_train_restores_the_best_epoch_and_stops_early():
    torch.manual_seed(0)
    x = torch.randn(64, 8, 1)
    y = x[:, -4:] * 2.0
    # validation targets the model cannot fit after the first epochs: its loss rises as training fits y
    val = (x[:16], -y[:16])
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(8, 4), torch.nn.Unflatten(1, (4, 1))
    )
    result = train(
        model,
        (x, y),
        val,
        torch.nn.functional.mse_loss,
        TrainConfig(epochs=30, batch_size=8, lr=0.05, patience=2, lr_schedule="constant"),
    )
    assert result.stopped_early and len(result.history) < 30
    best = min(result.history, key=lambda r: r["val_loss"])
    assert result.best_epoch == best["epoch"]
    with torch.no_grad():
        restored = torch.nn.functional.mse_loss(model(val[0]), val[1]).item()
    assert restored == pytest.approx(best["val_loss"], rel=1e-5)


def test_fit_beats_repeat_and_reports_both_scales(fitted, table):
    ev = fitted.evaluate()
    assert ev["windows"] == fitted.split_.n_windows("test")
    assert ev["mse"] < ev["repeat"]["mse"]
    # original units = standardized error times the column's scale squared, averaged
    _, pred, true = fitted.predict_windows("test")
    scale = fitted.scaler_.scale_
    assert ev["mse_original"] == pytest.approx(
        float(np.mean(((pred - true) * scale) ** 2)), rel=1e-5
    )
    assert set(ev["per_column"]) == set(table.columns)


def test_predict_continues_dates_in_original_units(fitted, table):
    pred = fitted.predict()
    assert pred["values"].shape == (12, table.n_columns)
    assert pred["time"][0] == table.time[-1] + np.timedelta64(1, "h")
    # forecasting from the last window by hand gives the same numbers
    x = torch.as_tensor(fitted.scaler_.transform(table.values[-48:]), dtype=torch.float32)[None]
    manual = fitted.scaler_.inverse_transform(
        fitted.model_(x)[0].detach().numpy().astype(np.float64)
    )
    np.testing.assert_allclose(pred["values"], manual, rtol=1e-6)


def test_save_load_round_trip_gives_identical_predictions(fitted, tmp_path):
    path = fitted.save(tmp_path / "m.safetensors")
    again = Forecaster.load(path)
    np.testing.assert_array_equal(
        again.predict(fitted.table_)["values"], fitted.predict()["values"]
    )
    assert again.columns_ == fitted.columns_ and again.config_ == fitted.config_


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        ("olinear", {"model_kwargs": {"d_model": 16, "d_ff": 16}}),
        ("nlinear", {"orthotrans": True}),
        ("linear", {"individual": True}),
    ],
)
def test_variants_fit_save_and_load(table, tmp_path, model, kwargs):
    f = Forecaster(model, seq_len=24, pred_len=8, epochs=1, seed=1, **kwargs).fit(table)
    again = Forecaster.load(f.save(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(again.predict(table)["values"], f.predict()["values"])


def test_orthotrans_cache_is_reused(table, tmp_path):
    a = Forecaster(
        "olinear",
        seq_len=24,
        pred_len=8,
        epochs=1,
        cache_dir=tmp_path,
        model_kwargs={"d_model": 8, "d_ff": 8},
    ).fit(table)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and all(f.startswith("orthotrans-T") for f in files)
    b = Forecaster(
        "olinear",
        seq_len=24,
        pred_len=8,
        epochs=1,
        cache_dir=tmp_path,
        model_kwargs={"d_model": 8, "d_ff": 8},
    ).fit(table)
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    torch.testing.assert_close(a.model_.inner.q_in, b.model_.inner.q_in)


def test_ms_features_predict_only_the_target(table):
    import dataclasses

    t = dataclasses.replace(table, target=table.columns[-1])
    f = Forecaster("dlinear", seq_len=24, pred_len=6, features="MS", epochs=1).fit(t)
    assert f.predict()["columns"] == [table.columns[-1]]
    assert f.evaluate()["windows"] > 0


def test_errors(table):
    with pytest.raises(NotFittedError):
        Forecaster().predict()
    with pytest.raises(InputError, match="unknown model"):
        Forecaster("transformer").fit(table)
    import dataclasses

    with pytest.raises(InputError, match="needs a target"):
        Forecaster(features="S", seq_len=24, pred_len=6).fit(
            dataclasses.replace(table, target=None)
        )
    with pytest.raises(InputError, match="needs at least"):
        Forecaster(seq_len=1200, pred_len=96).fit(table)
