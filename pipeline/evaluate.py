"""Stage `evaluate`: test-set metrics of every run, mean and spread over seeds.

Reads each run directory under `--models` (those holding a `run.json`), computes the metrics of
each seed on its test posts, and writes `runs.json` (the DVC metrics file) and `details.json`
(per-seed and per-bin numbers for the report). Shot regions and the training histograms come
from the training split of each scenario, never from the test set.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from pipeline.params import DEFAULT_PARAMS, load_section
from wrcr.errors import DataError
from wrcr.io import write_json
from wrcr.metrics import bin_edge, bin_index, regression_metrics, shot_metrics

logger = logging.getLogger(__name__)

METRICS = ("mae", "mse", "src", "pearson", "gm")
REGIONS = ("many", "medium", "few")


@dataclass(frozen=True)
class EvaluateParams:
    bin_width: float = 1.0
    many_shot: int = 100
    few_shot: int = 20

    def __post_init__(self) -> None:
        if self.bin_width <= 0:
            raise ValueError(f"bin_width={self.bin_width} must be > 0")
        if not 0 <= self.few_shot <= self.many_shot:
            raise ValueError(
                f"few_shot={self.few_shot} and many_shot={self.many_shot} must satisfy "
                "0 <= few_shot <= many_shot"
            )


def mean_std(values: list[float | None]) -> dict | None:
    """Mean and sample standard deviation (ddof 1; 0 for one seed) of the defined values."""
    vals = np.array([v for v in values if v is not None], dtype=np.float64)
    if len(vals) == 0:
        return None
    std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    return {"mean": float(vals.mean()), "std": std}


def find_runs(models: Path) -> list[Path]:
    """Run directories below `models` (two levels: <scenario>-<input>/<loss>)."""
    return sorted(p.parent for p in models.glob("*/*/run.json"))


class Bins:
    """One label-bin axis shared by every run: bins k0 .. k1 of `wrcr.metrics.bin_index`."""

    def __init__(self, labels: np.ndarray, width: float) -> None:
        k = bin_index(labels, width)
        self.width, self.k0, self.n = width, int(k.min()), int(k.max() - k.min() + 1)

    @property
    def edges(self) -> list[float]:
        return [bin_edge(self.k0 + b, self.width) for b in range(self.n + 1)]

    def index(self, labels: np.ndarray) -> np.ndarray:
        # labels outside the axis (none, since it spans the dataset) would be clipped
        return np.clip(bin_index(labels, self.width) - self.k0, 0, self.n - 1)

    def histogram(self, labels: np.ndarray) -> list[int]:
        return np.bincount(self.index(labels), minlength=self.n).tolist()

    def mae(self, labels: np.ndarray, preds: np.ndarray) -> list[float | None]:
        idx = self.index(labels)
        sums = np.bincount(idx, weights=np.abs(preds - labels), minlength=self.n)
        counts = np.bincount(idx, minlength=self.n)
        return [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]


def evaluate_run(
    run_dir: Path, train_labels: np.ndarray, bins_axis: Bins, cfg: EvaluateParams
) -> tuple[dict, dict]:
    """Metrics of one run: (entry of runs.json, entry of details.json)."""
    info = json.loads((run_dir / "run.json").read_text())
    if info.get("skipped"):
        return {"skipped": info["skipped"]}, {**_describe(info), "skipped": info["skipped"]}

    pred_path = run_dir / "predictions.parquet"
    if not pred_path.is_file():
        raise DataError("missing predictions of a finished run", file=pred_path)
    preds = pd.read_parquet(pred_path)
    test = preds[preds["split"] == "test"]
    if test.empty:
        raise DataError("no test predictions", file=pred_path, field="split")

    per_seed, regions, bins = [], {r: [] for r in REGIONS}, []
    for seed, rows in test.groupby("seed", sort=True):
        y, p = rows["label"].to_numpy(np.float64), rows["pred"].to_numpy(np.float64)
        per_seed.append({"seed": int(seed), **regression_metrics(y, p)})
        shots = shot_metrics(
            y,
            p,
            train_labels,
            bin_width=cfg.bin_width,
            many_shot=cfg.many_shot,
            few_shot=cfg.few_shot,
        )
        for region in REGIONS:
            regions[region].append(shots[region])
        bins.append(bins_axis.mae(y, p))

    entry = {"n_seeds": len(per_seed)}
    entry.update({m: mean_std([s[m] for s in per_seed]) for m in METRICS})
    for region, seeds in regions.items():
        if any(s is None for s in seeds):
            entry[region] = None  # no test post falls in this region
            continue
        entry[region] = {m: mean_std([s[m] for s in seeds]) for m in METRICS}
        entry[region]["count"] = int(seeds[0]["count"])

    bin_matrix = np.array([[np.nan if v is None else v for v in b] for b in bins])  # (S, n_bins)
    counts = bins_axis.histogram(test[test["seed"] == test["seed"].min()]["label"].to_numpy())
    detail = {
        **_describe(info),
        "per_seed": per_seed,
        "bin_count": counts,
        "bin_mae_mean": [
            None if c == 0 else float(np.nanmean(col))
            for c, col in zip(counts, bin_matrix.T, strict=True)
        ],
        "bin_mae_std": [
            None if c == 0 else float(np.nanstd(col, ddof=1)) if len(col) > 1 else 0.0
            for c, col in zip(counts, bin_matrix.T, strict=True)
        ],
    }
    return entry, detail


def _describe(info: dict) -> dict:
    keys = ("scenario", "input", "loss", "weighting", "seeds")
    return {k: info.get(k) for k in keys}


def main(
    models: Path = typer.Option(..., help="Directory holding the run directories."),
    posts: Path = typer.Option(..., help="Posts table (labels)."),
    splits: Path = typer.Option(..., help="Directory of <scenario>.parquet split files."),
    out: Path = typer.Option(..., help="Metrics JSON (runs.json)."),
    details: Path = typer.Option(..., help="Per-seed and per-bin details JSON."),
    params: Path = typer.Option(DEFAULT_PARAMS, help="Params file; reads section `evaluate`."),
) -> None:
    cfg = load_section(EvaluateParams, "evaluate", params)
    runs = find_runs(models)
    if not runs:
        raise DataError("no run directory with a run.json found", file=models)

    # the bins span every label of the dataset, so that all runs share one axis
    table = pd.read_parquet(posts, columns=["post_id", "label"])
    bins_axis = Bins(table["label"].to_numpy(np.float64), cfg.bin_width)
    train_labels = {}
    for split_file in sorted(splits.glob("*.parquet")):
        split = pd.read_parquet(split_file)
        ids = split.loc[split["split"] == "train", "post_id"]
        train_labels[split_file.stem] = (
            table.set_index("post_id").loc[ids, "label"].to_numpy(np.float64)
        )

    metrics, detail_runs = {}, {}
    for run_dir in runs:
        name = f"{run_dir.parent.name}/{run_dir.name}"
        info = json.loads((run_dir / "run.json").read_text())
        scenario = info["scenario"]
        if scenario not in train_labels:
            raise DataError(f"no split file for scenario '{scenario}'", file=splits)
        entry, detail = evaluate_run(run_dir, train_labels[scenario], bins_axis, cfg)
        metrics.setdefault(run_dir.parent.name, {})[run_dir.name] = entry
        detail_runs[name] = detail
        if "mae" in entry:
            logger.info(
                "evaluate %s: mae %.3f ± %.3f, src %.3f ± %.3f (%d seeds)",
                name,
                entry["mae"]["mean"],
                entry["mae"]["std"],
                entry["src"]["mean"],
                entry["src"]["std"],
                entry["n_seeds"],
            )
        else:
            logger.info("evaluate %s: skipped (%s)", name, entry["skipped"])

    write_json(out, metrics)
    write_json(
        details,
        {
            "bin_width": cfg.bin_width,
            "bin_edges": bins_axis.edges,
            "train_histograms": {s: bins_axis.histogram(v) for s, v in train_labels.items()},
            "runs": detail_runs,
        },
    )
