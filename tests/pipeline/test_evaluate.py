"""Stage `evaluate`: per-seed metrics aggregated exactly, shot regions from training only."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.evaluate import Bins, mean_std
from wrcr.errors import DataError
from wrcr.metrics import mae

PARAMS = "evaluate:\n  bin_width: 1.0\n  many_shot: 30\n  few_shot: 5\n"


def _app():
    import typer

    from pipeline import evaluate

    app = typer.Typer()
    app.command()(evaluate.main)
    return app


def _fixture(tmp_path: Path, skipped: bool = False) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    n = 200
    labels = np.round(rng.uniform(1.0, 9.0, n), 3)
    ids = np.array([f"p{i}" for i in range(n)])
    pd.DataFrame({"post_id": ids, "label": labels}).to_parquet(tmp_path / "posts.parquet")

    split = np.where(np.arange(n) < 120, "train", np.where(np.arange(n) < 150, "val", "test"))
    (tmp_path / "splits").mkdir()
    pd.DataFrame({"post_id": ids, "split": split}).to_parquet(tmp_path / "splits/full.parquet")

    run = tmp_path / "models/full-tags/l1"
    run.mkdir(parents=True)
    info = {"scenario": "full", "input": "tags", "loss": "l1", "weighting": None, "seeds": [1, 2]}
    test = split == "test"
    rows = [
        pd.DataFrame(
            {
                "post_id": ids[test],
                "seed": seed,
                "split": "test",
                "label": labels[test],
                "pred": labels[test] + rng.normal(0, s, test.sum()),
            }
        )
        for seed, s in ((1, 0.5), (2, 1.0))
    ]
    pd.concat(rows).to_parquet(run / "predictions.parquet")
    (run / "run.json").write_text(json.dumps(info))

    if skipped:
        other = tmp_path / "models/full-image/l1"
        other.mkdir(parents=True)
        (other / "run.json").write_text(
            json.dumps({**info, "input": "image", "skipped": "no images"})
        )
    (tmp_path / "params.yaml").write_text(PARAMS)
    return {"root": tmp_path, "run": run, "labels": labels, "split": split, "rows": rows}


def _invoke(tmp_path: Path):
    args = [
        "--models",
        str(tmp_path / "models"),
        "--posts",
        str(tmp_path / "posts.parquet"),
        "--splits",
        str(tmp_path / "splits"),
        "--out",
        str(tmp_path / "runs.json"),
        "--details",
        str(tmp_path / "details.json"),
        "--params",
        str(tmp_path / "params.yaml"),
    ]
    return CliRunner().invoke(_app(), args, catch_exceptions=False)


def test_mean_std_uses_sample_std():
    """Spread over seeds is the sample standard deviation; one seed has spread 0."""
    assert mean_std([1.0, 3.0]) == {"mean": 2.0, "std": pytest.approx(np.sqrt(2.0))}
    assert mean_std([2.0]) == {"mean": 2.0, "std": 0.0}
    assert mean_std([None, None]) is None


def test_run_metrics_are_the_mean_over_seeds(tmp_path):
    """runs.json MAE is the mean and sample std of each seed's test MAE."""
    fx = _fixture(tmp_path)
    result = _invoke(tmp_path)
    assert result.exit_code == 0, result.output
    entry = json.loads((tmp_path / "runs.json").read_text())["full-tags"]["l1"]
    per_seed = [mae(r["label"], r["pred"]) for r in fx["rows"]]
    assert entry["n_seeds"] == 2
    assert entry["mae"]["mean"] == pytest.approx(np.mean(per_seed), rel=1e-12)
    assert entry["mae"]["std"] == pytest.approx(np.std(per_seed, ddof=1), rel=1e-12)


def test_shot_regions_count_training_posts_only(tmp_path):
    """Region sizes come from the training split's bin counts, not from the test set."""
    fx = _fixture(tmp_path)
    _invoke(tmp_path)
    details = json.loads((tmp_path / "details.json").read_text())
    train_labels = fx["labels"][fx["split"] == "train"]
    assert sum(details["train_histograms"]["full"]) == len(train_labels)
    assert details["train_histograms"]["full"] == Bins(fx["labels"], 1.0).histogram(train_labels)


def test_per_bin_mae_matches_a_direct_computation(tmp_path):
    """Per-bin MAE of the first seed equals MAE over that bin's test posts."""
    fx = _fixture(tmp_path)
    _invoke(tmp_path)
    details = json.loads((tmp_path / "details.json").read_text())
    run = details["runs"]["full-tags/l1"]
    edges = details["bin_edges"]
    first = fx["rows"][0]
    in_bin = (first["label"] >= edges[2]) & (first["label"] < edges[3])
    seed_maes = [mae(r["label"][in_bin.values], r["pred"][in_bin.values]) for r in fx["rows"]]
    assert run["bin_mae_mean"][2] == pytest.approx(np.mean(seed_maes), rel=1e-9)
    assert run["bin_count"][2] == int(in_bin.sum())


def test_skipped_run_is_reported_not_fatal(tmp_path):
    """A run that was skipped in training shows up as skipped in the metrics."""
    _fixture(tmp_path, skipped=True)
    result = _invoke(tmp_path)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "runs.json").read_text())
    assert metrics["full-image"]["l1"] == {"skipped": "no images"}


def test_no_runs_is_an_error_naming_the_directory(tmp_path):
    """An empty models directory stops the stage with a message naming it."""
    _fixture(tmp_path)
    for f in (tmp_path / "models").rglob("run.json"):
        f.unlink()
    with pytest.raises(DataError, match="models.*no run directory"):
        _invoke(tmp_path)
    assert not (tmp_path / "runs.json").exists()
