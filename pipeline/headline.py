"""Stage `headline`: the run chosen by `loss.name` becomes `models/headline/` and its metrics.

`dvc exp run -S loss.name=rnc` and `-S loss.name=wrcr` re-run only this stage (and the report),
so that `dvc metrics diff` between the two experiments shows the change of the headline numbers.
The bundle copied is the run's first seed; the metrics are the means and spreads over all seeds.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import typer

from wrcr.errors import DataError
from wrcr.io import atomic_dir, write_json

logger = logging.getLogger(__name__)


def flatten_headline(run_name: str, entry: dict) -> dict:
    """Flat keys (`mae`, `mae_std`, ..., `few_mae`) so that `dvc metrics diff` reads well."""
    flat: dict = {"run": run_name, "n_seeds": entry["n_seeds"]}
    for metric in ("mae", "mse", "src", "pearson", "gm"):
        stats = entry.get(metric)
        flat[metric] = None if stats is None else stats["mean"]
        flat[f"{metric}_std"] = None if stats is None else stats["std"]
    for region in ("many", "medium", "few"):
        for metric in ("mae", "src", "gm"):
            stats = (entry.get(region) or {}).get(metric)
            flat[f"{region}_{metric}"] = None if stats is None else stats["mean"]
    return flat


def main(
    run: Path = typer.Option(..., help="Run directory <scenario>-<input>/<loss> to promote."),
    metrics: Path = typer.Option(..., help="runs.json written by `wrcr evaluate`."),
    out: Path = typer.Option(..., help="Directory for the headline bundle."),
    out_metrics: Path = typer.Option(..., help="Headline metrics JSON."),
) -> None:
    info_path = run / "run.json"
    if not info_path.is_file():
        raise DataError("not a finished run (no run.json)", file=run)
    info = json.loads(info_path.read_text())
    if info.get("skipped"):
        raise DataError(
            f"the headline run was skipped: {info['skipped']}; choose a run the data can "
            "train, e.g. headline.input=tags for a dataset without images",
            file=info_path,
        )

    group, loss = run.parent.name, run.name
    all_metrics = json.loads(metrics.read_text())
    entry = all_metrics.get(group, {}).get(loss)
    if entry is None:
        raise DataError(f"no metrics for run {group}/{loss}", file=metrics)

    # the first seed's bundle, plus the run description, is what `wrcr predict` needs
    seed = info["seeds"][0]
    with atomic_dir(out) as tmp:
        shutil.copytree(run / f"seed{seed}", tmp, dirs_exist_ok=True)
        (tmp / "run.json").write_text(info_path.read_text())

    flat = flatten_headline(f"{group}/{loss}", entry)
    write_json(out_metrics, {"headline": flat})
    logger.info("headline %s/%s: mae %.3f, src %.3f", group, loss, flat["mae"], flat["src"])
