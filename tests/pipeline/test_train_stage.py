"""Stage `train` and `headline`: parameters are checked before any data is read."""

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from pipeline import headline, train
from pipeline.params import ParamsError
from wrcr.errors import DataError

BASE = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())


def _app(main) -> typer.Typer:
    app = typer.Typer()
    app.command()(main)
    return app


def _train(tmp_path: Path, loss: str = "wrcr", scenario: str = "full", **overrides):
    params = {k: dict(v) for k, v in BASE.items()}
    for key, value in overrides.items():
        section, name = key.split("__")
        params[section][name] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    missing = str(tmp_path / "does-not-exist")
    args = [
        "--scenario",
        scenario,
        "--input",
        "tags",
        "--loss",
        loss,
        "--posts",
        missing,
        "--splits",
        missing,
        "--image-cache",
        missing,
        "--text-cache",
        missing,
        "--dense",
        missing,
        "--out",
        str(tmp_path / "run"),
        "--params",
        str(tmp_path / "params.yaml"),
    ]
    return CliRunner().invoke(_app(train.main), args, catch_exceptions=False)


def test_unknown_scenario_is_refused_naming_the_option(tmp_path):
    """An unknown scenario fails with the allowed values before reading data."""
    with pytest.raises(ParamsError, match="--scenario 'balanced' is not one of full, skewed"):
        _train(tmp_path, scenario="balanced")


def test_bad_alpha_is_refused_before_any_data(tmp_path):
    """alpha <= -1 is a parameter error naming alpha, raised before the missing files matter."""
    with pytest.raises(ParamsError, match="alpha"):
        _train(tmp_path, loss__alpha=-1.5)


def test_unknown_train_key_is_refused(tmp_path):
    """A misspelt train parameter is named, not ignored."""
    with pytest.raises(ParamsError, match="train.epoch"):
        _train(tmp_path, train__epoch=3)


def test_l1_does_not_read_the_loss_section(tmp_path):
    """l1 ignores `loss`, so a bad loss value does not stop it (it reaches the data)."""
    with pytest.raises(DataError, match="no split file"):
        _train(tmp_path, loss="l1", loss__alpha=-1.5)
    assert not (tmp_path / "run").exists()


def test_headline_refuses_a_skipped_run(tmp_path):
    """Promoting a run that was skipped names the reason."""
    run = tmp_path / "models/full-tags+image/wrcr"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"skipped": "no images", "seeds": [1]}))
    (tmp_path / "runs.json").write_text("{}")
    args = [
        "--run",
        str(run),
        "--metrics",
        str(tmp_path / "runs.json"),
        "--out",
        str(tmp_path / "headline"),
        "--out-metrics",
        str(tmp_path / "h.json"),
    ]
    with pytest.raises(DataError, match="skipped: no images"):
        CliRunner().invoke(_app(headline.main), args, catch_exceptions=False)
    assert not (tmp_path / "headline").exists()


def test_headline_metrics_are_flat():
    """The headline metrics are flat keys, with null for an empty shot region."""
    entry = {
        "n_seeds": 2,
        "mae": {"mean": 1.5, "std": 0.1},
        "src": {"mean": 0.5, "std": 0.0},
        "mse": None,
        "pearson": None,
        "gm": None,
        "many": None,
        "medium": {"mae": {"mean": 1.2, "std": 0.1}},
        "few": None,
    }
    flat = headline.flatten_headline("full-tags+image/wrcr", entry)
    assert flat["mae"] == 1.5 and flat["mae_std"] == 0.1
    assert flat["medium_mae"] == 1.2 and flat["few_mae"] is None


def test_image_run_on_a_dataset_without_images_is_skipped_not_failed(tmp_path):
    """An image input with no valid image vector writes a run marked skipped, with the reason."""
    import numpy as np
    import pandas as pd

    from wrcr.features.cache import CacheWriter

    n = 40
    ids = np.array([f"p{i}" for i in range(n)], dtype=object)
    pd.DataFrame({"post_id": ids, "label": np.linspace(1, 10, n)}).to_parquet(
        tmp_path / "posts.parquet"
    )
    (tmp_path / "splits").mkdir()
    split = np.array(["train"] * 30 + ["val"] * 5 + ["test"] * 5)
    pd.DataFrame({"post_id": ids, "split": split}).to_parquet(tmp_path / "splits/full.parquet")
    dense = {c: np.ones(n) for c in BASE["train"]["dense_columns"]}
    pd.DataFrame({"post_id": ids, **dense}).to_parquet(tmp_path / "dense.parquet")

    # the image cache of a dataset without images: every row a zero vector, invalid
    writer = CacheWriter(tmp_path / "image", {"key": "k", "model": {"name": "m"}, "dim": None})
    writer.write_shard(ids, np.zeros((n, 4), np.float32), np.zeros(n, bool), ["no_image"] * n)
    writer.finalise(ids, 4)

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(BASE))
    args = [
        "--scenario",
        "full",
        "--input",
        "image",
        "--loss",
        "l1",
        "--posts",
        str(tmp_path / "posts.parquet"),
        "--splits",
        str(tmp_path / "splits"),
        "--image-cache",
        str(tmp_path / "image"),
        "--text-cache",
        str(tmp_path / "none"),
        "--dense",
        str(tmp_path / "dense.parquet"),
        "--out",
        str(tmp_path / "run"),
        "--params",
        str(tmp_path / "params.yaml"),
    ]
    result = CliRunner().invoke(_app(train.main), args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "run/run.json").read_text())
    assert info["skipped"] == "no valid image features in the training split"
    assert not (tmp_path / "run/predictions.parquet").exists()
