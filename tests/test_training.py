"""Tests of wrcr.training: dense scaler, configs, the fit loop and predict."""

from __future__ import annotations

import json
import logging
import re
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from wrcr.errors import DataError
from wrcr.models import ModelConfig, PopularityModel
from wrcr.training import (
    DenseScaler,
    LossConfig,
    TensorData,
    TrainConfig,
    TrainingError,
    fit,
    predict,
)

SMALL = dict(proj_hidden=32, proj_dim=16, contrast_hidden=16, contrast_dim=8)


def _needs_losses() -> None:
    # the contrastive losses live in wrcr.losses, written alongside this module
    losses = pytest.importorskip("wrcr.losses")
    if not hasattr(losses, "wrcr_loss"):
        pytest.skip("wrcr.losses does not provide rnc_loss / wrcr_loss yet")


def _synthetic(N: int, seed: int, dense: bool = False) -> TensorData:
    """Labels that are a smooth function of both embeddings (and of one dense column)."""
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(N, 8)).astype(np.float32)
    image = rng.normal(size=(N, 6)).astype(np.float32)
    signal = text[:, :3].sum(1) - image[:, :2].sum(1)  # (N,)
    labels = 8.0 + 1.2 * signal + rng.normal(0.0, 0.2, size=N)
    extra = None
    if dense:
        extra = rng.normal(size=(N, 2)).astype(np.float32)
        labels += extra[:, 0]
    return TensorData({"text": text, "image": image}, extra, labels.astype(np.float32))


def _model(seed: int = 0, dense_dim: int = 0) -> PopularityModel:
    torch.manual_seed(seed)
    return PopularityModel(ModelConfig(embed_dims=(6, 8), dense_dim=dense_dim, **SMALL))


FAST = TrainConfig(epochs=8, batch_size=32, lr=2e-3, seed=3407)


# ---------------------------------------------------------------------------------------------
# dense scaler


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "post_id": ["a", "b", "c", "d"],
            "ispro": [0.0, 1.0, 1.0, np.nan],
            "photo_count": [0.0, 9.0, 99.0, 999.0],
            "constant": [5.0, 5.0, 5.0, 5.0],
            "ispro_missing": [False, False, False, True],
        }
    )


def test_scaler_standardises_with_train_stats(frame):
    """Values are (x - mean) / std over the non-NaN training values."""
    scaler = DenseScaler.fit(frame, ["ispro"])
    assert scaler.mean == pytest.approx((2 / 3,))
    assert scaler.std == pytest.approx((np.std([0.0, 1.0, 1.0]),))
    out = scaler.transform(frame)
    expected = (np.array([0.0, 1.0, 1.0]) - 2 / 3) / np.std([0.0, 1.0, 1.0])
    np.testing.assert_allclose(out[:3, 0], expected, rtol=1e-6)


def test_scaler_output_layout(frame):
    """Output is float32 (N, 2C): scaled values, then one missing indicator per column."""
    scaler = DenseScaler.fit(frame, ["ispro", "photo_count"])
    out = scaler.transform(frame)
    assert out.shape == (4, 4) and out.dtype == np.float32
    assert scaler.feature_names == ["ispro", "photo_count", "ispro_missing", "photo_count_missing"]
    np.testing.assert_array_equal(out[:, 2], [0, 0, 0, 1])
    np.testing.assert_array_equal(out[:, 3], [0, 0, 0, 0])


def test_scaler_nan_becomes_zero(frame):
    """A missing value is 0 after scaling (the training mean) and flagged."""
    out = DenseScaler.fit(frame, ["ispro"]).transform(frame)
    assert out[3, 0] == 0.0 and out[3, 1] == 1.0


def test_scaler_constant_column_has_unit_std(frame):
    """A constant training column gets std 1, so it scales to 0 instead of dividing by 0."""
    scaler = DenseScaler.fit(frame, ["constant"])
    assert scaler.std == (1.0,)
    np.testing.assert_array_equal(scaler.transform(frame)[:, 0], 0.0)


def test_scaler_log1p_column(frame):
    """A log1p column is standardised on log1p of its values."""
    scaler = DenseScaler.fit(frame, ["photo_count"], log1p=["photo_count"])
    logs = np.log1p([0.0, 9.0, 99.0, 999.0])
    assert scaler.mean == pytest.approx((logs.mean(),))
    np.testing.assert_allclose(
        scaler.transform(frame)[:, 0], (logs - logs.mean()) / logs.std(), 1e-5
    )


def test_scaler_uses_fit_frame_only(frame):
    """Transforming other rows reuses the training statistics."""
    scaler = DenseScaler.fit(frame.iloc[:2], ["photo_count"])
    out = scaler.transform(frame.iloc[2:])
    np.testing.assert_allclose(out[:, 0], (np.array([99.0, 999.0]) - 4.5) / 4.5, rtol=1e-6)


def test_scaler_all_nan_column():
    """A column that is NaN throughout training gets mean 0, std 1 and no warning."""
    df = pd.DataFrame({"x": [np.nan, np.nan]})
    scaler = DenseScaler.fit(df, ["x"])
    assert (scaler.mean, scaler.std) == ((0.0,), (1.0,))


def test_scaler_negative_log1p_raises(frame):
    """A negative value in a log1p column names the column, the row and the value."""
    frame.loc[2, "photo_count"] = -3.0
    with pytest.raises(DataError, match=r"row 2, field 'photo_count': .*got -3.0"):
        DenseScaler.fit(frame, ["photo_count"], log1p=["photo_count"])


def test_scaler_missing_column_raises(frame):
    """A dense column absent from the table is named."""
    with pytest.raises(DataError, match=r"missing dense column\(s\) \['postdate'\]"):
        DenseScaler.fit(frame, ["ispro", "postdate"])


def test_scaler_dict_round_trip(frame):
    """to_dict is JSON-serialisable and from_dict rebuilds a scaler with the same output."""
    scaler = DenseScaler.fit(frame, ["ispro", "photo_count"], log1p=["photo_count"])
    restored = DenseScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert restored == scaler
    np.testing.assert_array_equal(restored.transform(frame), scaler.transform(frame))


# ---------------------------------------------------------------------------------------------
# configs and data


def test_loss_config_unknown_name():
    """An unknown loss name is refused with the allowed names."""
    with pytest.raises(ValueError, match=r"loss name must be one of \['l1', 'rnc', 'wrcr'\]"):
        LossConfig(name="mse")


def test_loss_config_alpha_bound():
    """alpha <= -1 is refused, naming the parameter and the value."""
    with pytest.raises(ValueError, match="alpha must be a finite number > -1, got -1.0"):
        LossConfig(name="wrcr", alpha=-1.0)


def test_loss_config_temperature_bound():
    """A non-positive temperature is refused."""
    with pytest.raises(ValueError, match="temperature must be a finite number > 0, got 0.0"):
        LossConfig(name="rnc", temperature=0.0)


def test_loss_config_unknown_weighting():
    """An unknown weighting names the allowed ones."""
    with pytest.raises(ValueError, match=r"weighting must be one of \['exp'"):
        LossConfig(name="wrcr", weighting="cubic")


def test_configs_dict_round_trip():
    """LossConfig and TrainConfig survive to_dict / from_dict."""
    loss = LossConfig(name="wrcr", weighting="log", alpha=1.5)
    train = TrainConfig(epochs=2, device="cuda")
    assert LossConfig.from_dict(loss.to_dict()) == loss
    assert TrainConfig.from_dict(train.to_dict()) == train


def test_train_config_batch_size_bound():
    """batch_size 0 is refused."""
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        TrainConfig(batch_size=0)


def test_tensor_data_length_mismatch():
    """Parts of different lengths are refused, listing each length."""
    with pytest.raises(ValueError, match=r"differ in length: .*'labels': 3"):
        TensorData({"text": np.zeros((4, 2))}, None, np.zeros(3))


# ---------------------------------------------------------------------------------------------
# fit and predict


@pytest.mark.parametrize("name", ["l1", "rnc", "wrcr"])
def test_fit_beats_mean_predictor(name):
    """Every loss brings val MAE below that of predicting the training mean."""
    if name != "l1":
        _needs_losses()
    train, val = _synthetic(384, seed=1), _synthetic(128, seed=2)
    baseline = float(np.abs(val.labels.numpy() - train.labels.numpy().mean()).mean())
    result = fit(_model(), train, val, LossConfig(name=name), FAST)
    assert result.best_val_mae < 0.6 * baseline, (result.best_val_mae, baseline)


def test_fit_with_dense_features():
    """Dense features reach the regressor and training beats the mean predictor."""
    train, val = _synthetic(384, seed=1, dense=True), _synthetic(128, seed=2, dense=True)
    baseline = float(np.abs(val.labels.numpy() - train.labels.numpy().mean()).mean())
    result = fit(_model(dense_dim=2), train, val, LossConfig(name="l1"), FAST)
    assert result.best_val_mae < 0.6 * baseline, (result.best_val_mae, baseline)


def test_fit_is_reproducible():
    """Two fits with the same seeds give identical predictions."""
    _needs_losses()
    train, val = _synthetic(200, seed=1), _synthetic(64, seed=2)
    cfg = TrainConfig(epochs=2, batch_size=32, lr=2e-3, seed=5)
    preds = [
        predict(fit(_model(), train, val, LossConfig(name="wrcr"), cfg).model, val)[0]
        for _ in range(2)
    ]
    np.testing.assert_array_equal(preds[0], preds[1])


def test_fit_seed_changes_shuffling():
    """A different train seed (same initial weights) gives different predictions."""
    train, val = _synthetic(200, seed=1), _synthetic(64, seed=2)
    preds = []
    for seed in (5, 6):
        cfg = TrainConfig(epochs=1, batch_size=32, lr=2e-3, seed=seed)
        preds.append(predict(fit(_model(), train, val, LossConfig(name="l1"), cfg).model, val)[0])
    assert not np.array_equal(preds[0], preds[1])


def test_fit_restores_best_epoch():
    """The returned model is the best val-MAE epoch's, as recorded in the history."""
    train, val = _synthetic(200, seed=1), _synthetic(64, seed=2)
    cfg = TrainConfig(epochs=4, batch_size=32, lr=5e-2, seed=1)  # lr high enough to oscillate
    result = fit(_model(), train, val, LossConfig(name="l1"), cfg)
    maes = [row["val_mae"] for row in result.history]
    assert result.best_epoch == int(np.argmin(maes)) + 1
    pred, _ = predict(result.model, val)
    mae = float(np.abs(pred - val.labels.numpy()).mean())
    assert mae == pytest.approx(min(maes), rel=1e-5)


def test_fit_history_rows():
    """One history row per epoch with the documented keys; step counts optimizer steps."""
    _needs_losses()
    train, val = _synthetic(100, seed=1), _synthetic(32, seed=2)
    cfg = TrainConfig(epochs=2, batch_size=32, seed=9)
    history = fit(_model(), train, val, LossConfig(name="rnc"), cfg).history
    keys = {"seed", "epoch", "step", "train_loss", "train_l1", "train_contrast"}
    assert all(set(row) == keys | {"val_mae", "val_src"} for row in history)
    assert [(r["seed"], r["epoch"], r["step"]) for r in history] == [(9, 1, 4), (9, 2, 8)]
    row = history[0]
    assert row["train_loss"] == pytest.approx(row["train_l1"] + row["train_contrast"], rel=1e-5)


def test_fit_l1_has_no_contrast_term():
    """With loss l1 the history's train_contrast is None and train_loss is train_l1."""
    train, val = _synthetic(64, seed=1), _synthetic(16, seed=2)
    history = fit(_model(), train, val, LossConfig(name="l1"), TrainConfig(epochs=1)).history
    assert history[0]["train_contrast"] is None
    assert history[0]["train_loss"] == history[0]["train_l1"]


def test_fit_drops_single_post_batch_for_contrastive_loss():
    """A last batch of one post is dropped for RnC, which needs two posts per batch."""
    _needs_losses()
    train, val = _synthetic(65, seed=1), _synthetic(16, seed=2)
    cfg = TrainConfig(epochs=1, batch_size=32, seed=2)
    history = fit(_model(), train, val, LossConfig(name="rnc"), cfg).history
    assert history[0]["step"] == 2
    assert np.isfinite(history[0]["train_loss"])


def test_fit_contrastive_needs_batch_of_two():
    """batch_size 1 with a contrastive loss is refused before training."""
    train, val = _synthetic(16, seed=1), _synthetic(8, seed=2)
    with pytest.raises(ValueError, match="'rnc' needs >= 2 posts per batch"):
        fit(_model(), train, val, LossConfig(name="rnc"), TrainConfig(batch_size=1))


def test_fit_nan_loss_raises():
    """A NaN in the inputs stops training, naming the epoch, the step and the label range."""
    train, val = _synthetic(64, seed=1), _synthetic(16, seed=2)
    train.inputs["text"][10, 0] = float("nan")
    cfg = TrainConfig(epochs=1, batch_size=64)
    lo, hi = train.labels.min().item(), train.labels.max().item()
    with pytest.raises(
        TrainingError, match=rf"epoch 1, step 1: .*labels in \[{lo:.4g}, {hi:.4g}\]"
    ):
        fit(_model(), train, val, LossConfig(name="l1"), cfg)


def test_fit_nan_validation_prediction_raises():
    """A NaN validation prediction stops training, naming the epoch and the val row."""
    train, val = _synthetic(64, seed=1), _synthetic(16, seed=2)
    val.inputs["image"][3, 1] = float("nan")
    with pytest.raises(TrainingError, match=r"at epoch 1 \(after step 1\), val row 3 and 0 more"):
        fit(_model(), train, val, LossConfig(name="l1"), TrainConfig(epochs=1, batch_size=64))


def test_fit_logs_compact_epoch_lines(caplog):
    """Each epoch logs `epoch N: train loss X, val mae Y, val src Z`."""
    train, val = _synthetic(64, seed=1), _synthetic(16, seed=2)
    with caplog.at_level(logging.INFO, logger="wrcr.training"):
        fit(_model(), train, val, LossConfig(name="l1"), TrainConfig(epochs=2, batch_size=32))
    pattern = re.compile(
        r"^epoch \d+: train loss \d+\.\d{4}, val mae \d+\.\d{3}, val src -?\d\.\d{3}$"
    )
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch")]
    assert len(lines) == 2 and all(pattern.match(line) for line in lines), lines


def test_progress_bar_only_on_a_terminal(capsys, monkeypatch):
    """progress=True draws a bar on a tty stderr and nothing when stderr is not a terminal."""
    train, val = _synthetic(64, seed=1), _synthetic(16, seed=2)
    cfg = TrainConfig(epochs=1, batch_size=32)
    fit(_model(), train, val, LossConfig(name="l1"), cfg, progress=True)
    assert "epoch 1" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    fit(_model(), train, val, LossConfig(name="l1"), cfg, progress=True)
    assert "epoch 1" in capsys.readouterr().err


def test_predict_shapes_and_dtype():
    """predict returns float32 (N,) predictions and (N, F) features."""
    data = _synthetic(50, seed=3)
    pred, features = predict(_model(), data, batch_size=16)
    assert pred.shape == (50,) and pred.dtype == np.float32
    assert features.shape == (50, 32) and features.dtype == np.float32


def test_predict_independent_of_batch_size():
    """Batching in predict does not change the output."""
    model, data = _model(), _synthetic(50, seed=3)
    a, _ = predict(model, data, batch_size=7)
    b, _ = predict(model, data, batch_size=1024)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_predict_keeps_training_mode():
    """predict runs in eval mode and then restores the mode the model was in."""
    model = _model().train()
    predict(model, _synthetic(8, seed=3))
    assert model.training
