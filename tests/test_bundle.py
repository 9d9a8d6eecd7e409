"""Tests of wrcr.bundle: save / load round trip and clear errors on broken bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from wrcr.bundle import FORMAT_VERSION, META_FILE, WEIGHTS_FILE, load_bundle, save_bundle
from wrcr.errors import DataError
from wrcr.models import ModelConfig, PopularityModel
from wrcr.training import DenseScaler, LossConfig, TensorData, TrainConfig, predict

ENCODERS = {
    "image": {"name": "wrcr/tiny-vit", "hash": "abc123", "dim": 6, "pooling": "cls"},
    "text": {"name": "sentence-transformers/all-MiniLM-L6-v2", "revision": "r1", "dim": 8},
}


@pytest.fixture
def dense_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 500, size=20).astype(float)
    counts[3] = np.nan
    return pd.DataFrame({"post_id": [str(i) for i in range(20)], "photo_count": counts})


@pytest.fixture
def parts(dense_frame):
    scaler = DenseScaler.fit(dense_frame, ["photo_count"], log1p=["photo_count"])
    config = ModelConfig(embed_dims=(6, 8), proj_hidden=16, proj_dim=8, dense_dim=2)
    torch.manual_seed(0)
    return {
        "model": PopularityModel(config),
        "model_config": config,
        "scaler": scaler,
        "loss_config": LossConfig(name="wrcr", alpha=0.7),
        "train_config": TrainConfig(epochs=3, seed=11),
        "input_name": "tags+image",
        "encoders": ENCODERS,
        "extra": {"scenario": "full", "best_epoch": 2},
    }


def _save(out_dir: Path, parts: dict) -> Path:
    parts = dict(parts)
    return save_bundle(out_dir, parts.pop("model"), **parts)


def _data(scaler: DenseScaler, frame: pd.DataFrame) -> TensorData:
    rng = np.random.default_rng(1)
    N = len(frame)
    inputs = {"image": rng.normal(size=(N, 6)), "text": rng.normal(size=(N, 8))}
    return TensorData(inputs, scaler.transform(frame))


def test_round_trip_gives_identical_predictions(tmp_path, parts, dense_frame):
    """A loaded bundle predicts exactly what the saved model predicted."""
    bundle_dir = _save(tmp_path / "bundle", parts)
    loaded = load_bundle(bundle_dir)
    before, feats_before = predict(parts["model"], _data(parts["scaler"], dense_frame))
    after, feats_after = predict(loaded.model, _data(loaded.scaler, dense_frame))
    np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(feats_before, feats_after)


def test_round_trip_restores_configs(tmp_path, parts):
    """Configs, scaler, encoders, input name and extra come back equal."""
    loaded = load_bundle(_save(tmp_path / "bundle", parts))
    assert loaded.model_config == parts["model_config"]
    assert loaded.loss_config == parts["loss_config"]
    assert loaded.train_config == parts["train_config"]
    assert loaded.scaler == parts["scaler"]
    assert loaded.dense_columns == ["photo_count"]
    assert loaded.input_name == "tags+image"
    assert loaded.encoders == ENCODERS
    assert loaded.extra == {"scenario": "full", "best_epoch": 2}


def test_loaded_model_is_in_eval_mode(tmp_path, parts):
    """load_bundle returns the model ready to predict."""
    assert not load_bundle(_save(tmp_path / "bundle", parts)).model.training


def test_bundle_without_dense_features(tmp_path, parts):
    """A model without dense input saves a null scaler and no dense columns."""
    config = ModelConfig(modalities=("text",), embed_dims=(8,), proj_hidden=16, proj_dim=8)
    parts.update(
        model=PopularityModel(config),
        model_config=config,
        scaler=None,
        input_name="tags",
        encoders={"text": ENCODERS["text"]},
    )
    loaded = load_bundle(_save(tmp_path / "bundle", parts))
    assert loaded.scaler is None and loaded.dense_columns == []


def test_save_replaces_existing_bundle(tmp_path, parts):
    """Saving over an existing bundle replaces it whole and leaves no temporary directory."""
    out = tmp_path / "bundle"
    _save(out, parts)
    (out / "stale.txt").write_text("old")
    _save(out, parts)
    assert sorted(p.name for p in out.iterdir()) == [META_FILE, WEIGHTS_FILE]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_failed_save_leaves_nothing(tmp_path, parts):
    """An extra dict that is not JSON-serialisable fails without leaving a bundle behind."""
    parts["extra"] = {"bad": object()}
    with pytest.raises(TypeError):
        _save(tmp_path / "bundle", parts)
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_input_name_mismatch(tmp_path, parts):
    """An input name whose modalities differ from the model's is refused."""
    parts["input_name"] = "tags"
    with pytest.raises(ValueError, match=r"input 'tags' uses modalities \['text'\]"):
        _save(tmp_path / "bundle", parts)


def test_save_rejects_scaler_dim_mismatch(tmp_path, parts):
    """A scaler whose output width differs from dense_dim is refused."""
    parts["scaler"] = None
    with pytest.raises(ValueError, match="dense scaler gives 0 features, the model expects"):
        _save(tmp_path / "bundle", parts)


def test_save_requires_encoder_per_modality(tmp_path, parts):
    """Each modality of the model needs its encoder description."""
    parts["encoders"] = {"text": ENCODERS["text"]}
    with pytest.raises(ValueError, match=r"encoders must describe exactly the modalities"):
        _save(tmp_path / "bundle", parts)


def test_save_rejects_other_model_config(tmp_path, parts):
    """A model_config that is not the model's own is refused."""
    parts["model_config"] = ModelConfig(embed_dims=(6, 8), proj_hidden=32, proj_dim=8, dense_dim=2)
    with pytest.raises(ValueError, match="not with model_config"):
        _save(tmp_path / "bundle", parts)


def test_missing_weights_named(tmp_path, parts):
    """A bundle without model.safetensors names that file."""
    out = _save(tmp_path / "bundle", parts)
    (out / WEIGHTS_FILE).unlink()
    with pytest.raises(DataError, match=r"model\.safetensors: bundle file is missing"):
        load_bundle(out)


def test_missing_meta_named(tmp_path, parts):
    """A bundle without bundle.json names that file."""
    out = _save(tmp_path / "bundle", parts)
    (out / META_FILE).unlink()
    with pytest.raises(DataError, match=r"bundle\.json: bundle file is missing"):
        load_bundle(out)


def test_missing_directory_named(tmp_path):
    """A path that is no directory is named."""
    with pytest.raises(DataError, match=r"nowhere: bundle directory not found"):
        load_bundle(tmp_path / "nowhere")


def test_unknown_format_version(tmp_path, parts):
    """A newer format version is refused, naming the file and the version read."""
    out = _save(tmp_path / "bundle", parts)
    meta = json.loads((out / META_FILE).read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    (out / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(DataError, match=rf"bundle\.json, field 'format_version': .*version {2}"):
        load_bundle(out)


def test_weights_not_matching_config(tmp_path, parts):
    """Weights of another model size are refused, naming the weights file."""
    out = _save(tmp_path / "bundle", parts)
    meta = json.loads((out / META_FILE).read_text())
    meta["model_config"]["proj_hidden"] = 32
    (out / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"model\.safetensors: weights do not fit the model config"):
        load_bundle(out)
