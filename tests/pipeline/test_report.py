"""Stage `report` on a small fake evaluation: tables, missing runs, figures and plot files."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from pipeline import report as stage
from pipeline.params import ParamsError
from wrcr.tables import expected_runs

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EDGES = [float(e) for e in range(1, 18)]  # 16 unit bins over [1, 17)
# fixed test MAE of each loss: wrcr beats l1 by 0.2 with a spread of 0.02
MAE = {"l1": 1.80, "rnc": 1.79, "wrcr": 1.60}


def _stat(mean: float, std: float) -> dict:
    return {"mean": mean, "std": std}


def _entry(mae: float, src: float) -> dict:
    region = {"mae": _stat(mae, 0.02), "src": _stat(src, 0.01), "count": 40}
    return {
        "n_seeds": 3,
        "mae": _stat(mae, 0.02),
        "src": _stat(src, 0.01),
        "mse": _stat(mae**2, 0.05),
        "many": region,
        "medium": region,
        "few": None,
    }


def _run_dir(run_dir: Path, loss: str, with_features: bool, rng: np.random.Generator) -> None:
    """A run directory per docs/architecture.md, features that follow the label."""
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"loss": loss, "seeds": [3407, 3408]}))
    pd.DataFrame(
        {
            "seed": [3407, 3407],
            "epoch": [0, 1],
            "step": [10, 20],
            "train_loss": [2.0, 1.5],
            "train_l1": [1.8, 1.4],
            "train_contrast": [0.2, 0.1],
            "val_mae": [1.9, 1.7],
            "val_src": [0.3, 0.4],
        }
    ).to_csv(run_dir / "history.csv", index=False)
    labels = rng.uniform(1.0, 16.9, size=120)
    ids = np.array([f"p{i}" for i in range(len(labels))])
    preds = pd.DataFrame(
        {"post_id": np.tile(ids, 2), "seed": np.repeat([3407, 3408], len(ids)), "split": "test"}
    )
    preds["label"] = np.tile(labels, 2)
    preds["pred"] = preds["label"] + 0.5
    preds.to_parquet(run_dir / "predictions.parquet")
    if with_features:
        angle = (labels - 1.0) / 16.0 * np.pi  # direction turns with the label
        features = np.stack([np.cos(angle), np.sin(angle), rng.normal(0, 0.05, len(ids))], axis=1)
        np.savez(run_dir / "test_features.npz", post_id=ids, features=features.astype(np.float32))


def make_project(root: Path, drop: tuple[str, ...] = ()) -> dict[str, Path]:
    """Fake runs.json, details.json, run dirs and params.yaml under `root`; `drop` is left out."""
    rng = np.random.default_rng(0)
    runs, detail_runs = {}, {}
    for name in expected_runs("full", "tags+image"):
        if name in drop:
            continue
        setting, loss = name.split("/")
        base = loss.split("-")[0]
        mae = MAE[base] + (0.01 if "-" in loss else 0.0)
        runs.setdefault(setting, {})[loss] = _entry(mae, src=0.6 if base == "wrcr" else 0.5)
        # per-bin MAE that differs between losses in sign: bin 0 has no test post
        bins = [None if b == 0 else mae + 0.1 * ((b * len(loss)) % 5 - 2) for b in range(16)]
        detail_runs[name] = {
            "scenario": setting.split("-")[0],
            "loss": base,
            "seeds": [3407, 3408],
            "bin_count": [0 if v is None else 10 for v in bins],
            "bin_mae_mean": bins,
            "bin_mae_std": [None if v is None else 0.01 for v in bins],
        }
        _run_dir(root / "models" / name, base, setting == "full-tags+image", rng)

    hist = [0, 3, 20, 80, 150, 300, 400, 420, 380, 300, 150, 60, 20, 5, 1, 0]
    details = {
        "bin_width": 1.0,
        "bin_edges": EDGES,
        "train_histograms": {s: hist for s in ("full", "skewed", "truncated")},
        "runs": detail_runs,
    }
    paths = {
        "metrics": root / "reports/metrics/runs.json",
        "details": root / "reports/evaluation/details.json",
        "params": root / "params.yaml",
    }
    for key, payload in (("metrics", runs), ("details", details)):
        paths[key].parent.mkdir(parents=True, exist_ok=True)
        paths[key].write_text(json.dumps(payload))
    params = {
        "loss": {"name": "wrcr"},
        "headline": {"scenario": "full", "input": "tags+image"},
        "report": {"anchor_bin": 8.0, "umap_max_points": 100, "umap_neighbors": 15},
    }
    paths["params"].write_text(yaml.safe_dump(params))
    return paths


def run_report(root: Path, paths: dict[str, Path]) -> None:
    stage.main(
        metrics=paths["metrics"],
        details=paths["details"],
        models=root / "models",
        out_summary=root / "reports/summary.md",
        out_figures=root / "reports/figures",
        out_plots=root / "reports/plots",
        params=paths["params"],
    )


def _fake_umap(features: np.ndarray, n_neighbors: int, seed: int) -> np.ndarray:
    """Stand-in for UMAP (its numba compile takes seconds); tests/test_analysis.py runs it."""
    return features[:, :2].astype(np.float64)


@pytest.fixture(autouse=True)
def no_umap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stage.analysis, "umap_embedding", _fake_umap)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full report run, shared by the tests that only read its outputs."""
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stage.analysis, "umap_embedding", _fake_umap)
        run_report(root, make_project(root))
    return root


def _row(summary: str, label: str) -> list[str]:
    line = next(line for line in summary.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_main_table_means_and_change(project: Path) -> None:
    """The main table shows wrcr's MAE and its change against l1, absolute and relative."""
    row = _row((project / "reports/summary.md").read_text(), "tags+image / wrcr")
    assert row[2] == "1.600 ± 0.020"
    assert row[3] == "-0.200 (-11.1%)"


def test_change_within_spread_is_flagged(project: Path) -> None:
    """A change smaller than the seed spread (rnc vs l1: 0.01 < 0.028) carries the † mark."""
    summary = (project / "reports/summary.md").read_text()
    assert _row(summary, "tags / rnc")[3].endswith("†")
    assert "not a result" in summary


def test_shot_table_shows_empty_region_as_dash(project: Path) -> None:
    """An empty shot region (few = null) is shown as the dash."""
    row = _row((project / "reports/summary.md").read_text(), "skewed / wrcr")
    assert row[2] == "1.600 ± 0.020"
    assert row[4] == "–"


def test_figures_are_png(project: Path) -> None:
    """Every figure is written as a valid PNG file."""
    names = {p.name for p in (project / "reports/figures").glob("*.png")}
    expected = {f"bin_improvement_{s}.png" for s in ("full", "skewed", "truncated")}
    assert names == expected | {"feature_similarity.png", "umap.png"}
    for name in names:
        assert (project / "reports/figures" / name).read_bytes()[:8] == PNG_MAGIC


def test_summary_links_figures(project: Path) -> None:
    """The summary links each figure by its path relative to the summary."""
    summary = (project / "reports/summary.md").read_text()
    assert "(figures/bin_improvement_full.png)" in summary
    assert "(figures/umap.png)" in summary


def test_bin_mae_plot_has_declared_fields(project: Path) -> None:
    """bin_mae.json is a list of records with the declared x (bin) and y (mae) and the run."""
    records = json.loads((project / "reports/plots/bin_mae.json").read_text())
    assert records and all({"bin", "mae", "run"} <= set(r) for r in records)
    first = next(r for r in records if r["run"] == "full-tags+image/wrcr")
    assert first["bin"] == 2.0  # bin [1, 2) has no test post and no record


def test_training_plot_has_declared_fields(project: Path) -> None:
    """training.csv stacks every history.csv with the declared x (step), y (val_mae) and run."""
    curves = pd.read_csv(project / "reports/plots/training.csv")
    assert {"run", "seed", "epoch", "step", "val_mae", "val_src"} <= set(curves.columns)
    assert curves["run"].nunique() == len(expected_runs("full", "tags+image"))


def test_missing_run_is_reported(tmp_path: Path) -> None:
    """A run absent from the metrics and the models is listed as missing, not a crash."""
    paths = make_project(tmp_path, drop=("truncated-tags+image/rnc", "full-tags+image/l1"))
    run_report(tmp_path, paths)
    summary = (tmp_path / "reports/summary.md").read_text()
    assert _row(summary, "truncated / rnc")[2] == "missing (absent from the metrics)"
    assert "- `full-tags+image/l1`: absent from the metrics" in summary
    assert (tmp_path / "reports/figures/bin_improvement_truncated.png").is_file()


def test_too_few_points_skip_umap(tmp_path: Path) -> None:
    """With fewer test posts than UMAP needs, umap.png is skipped and the summary says why."""
    paths = make_project(tmp_path)
    for loss in ("l1", "rnc", "wrcr"):
        npz_path = tmp_path / "models/full-tags+image" / loss / "test_features.npz"
        with np.load(npz_path) as npz:
            ids, feats = npz["post_id"][:5], npz["features"][:5]
        np.savez(npz_path, post_id=ids, features=feats)
    run_report(tmp_path, paths)
    assert not (tmp_path / "reports/figures/umap.png").exists()
    assert (
        "UMAP of `full-tags+image/wrcr` skipped: 5 points"
        in (tmp_path / "reports/summary.md").read_text()
    )


def test_anchor_outside_bins_fails(tmp_path: Path) -> None:
    """An anchor bin outside the label bins fails naming the parameter, before any output."""
    paths = make_project(tmp_path)
    text = paths["params"].read_text().replace("anchor_bin: 8.0", "anchor_bin: 30.0")
    paths["params"].write_text(text)
    with pytest.raises(ParamsError, match=r"report\.anchor_bin=30\.0"):
        run_report(tmp_path, paths)
    assert not (tmp_path / "reports/summary.md").exists()


def test_dvc_command_line_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dvc.yaml `report` command line runs, even with no run at all."""
    paths = make_project(tmp_path, drop=tuple(expected_runs("full", "tags+image")))
    monkeypatch.chdir(tmp_path)  # the relative paths of dvc.yaml land in the fake root
    cmd = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["report"]["cmd"]
    args = shlex.split(cmd)[2:] + ["--params", str(paths["params"])]
    app = typer.Typer()
    app.command()(stage.main)
    result = CliRunner().invoke(app, args, catch_exceptions=False, prog_name="wrcr")
    assert result.exit_code == 0, result.output
    assert "missing (absent from the metrics)" in (tmp_path / "reports/summary.md").read_text()
