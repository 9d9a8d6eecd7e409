"""Stage `report`: the tables of DESIGN section 2, the figures and the DVC plot data.

Reads `runs.json` and `details.json` (docs/architecture.md) and, for the feature analysis, the
run directories of the headline (scenario, input). A run that is absent is reported as missing
in the summary; it never stops the stage. Every output is written atomically.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import typer

from pipeline.params import DEFAULT_PARAMS, ParamsError, load_section, read_params, save_resolved
from wrcr import analysis, plot_data, plots, tables
from wrcr.errors import DataError
from wrcr.io import atomic_dir, atomic_path, write_json
from wrcr.tables import FIGURE_INPUT, INPUTS, LOSSES, SCENARIOS, run_name

logger = logging.getLogger(__name__)

COMPARISONS = (("rnc", "l1"), ("wrcr", "l1"), ("wrcr", "rnc"))  # (method, baseline)
# NOTE: one fixed seed for the UMAP subsample and layout, so reruns draw the same picture
UMAP_SEED = 0


@dataclass(frozen=True)
class ReportParams:
    """Section `report` of params.yaml."""

    anchor_bin: float = 8.0
    umap: bool = True
    umap_max_points: int = 2000
    umap_neighbors: int = 15

    def __post_init__(self) -> None:
        if self.umap_max_points < analysis.MIN_UMAP_POINTS:
            raise ValueError(
                f"umap_max_points={self.umap_max_points}: must be >= {analysis.MIN_UMAP_POINTS}"
            )
        if self.umap_neighbors < 2:
            raise ValueError(f"umap_neighbors={self.umap_neighbors}: must be >= 2")


@dataclass(frozen=True)
class HeadlineParams:
    """Section `headline` of params.yaml: the (scenario, input) of the headline run."""

    scenario: str = "full"
    input: str = "tags+image"

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario={self.scenario!r}: allowed {', '.join(SCENARIOS)}")
        if self.input not in INPUTS:
            raise ValueError(f"input={self.input!r}: allowed {', '.join(INPUTS)}")


def headline_loss(params: Path) -> str:
    """`loss.name`: the loss of the headline run (the other keys of `loss` are not read)."""
    name = (read_params(params).get("loss") or {}).get("name")
    if name not in LOSSES:
        raise ParamsError(f"loss.name={name!r}: allowed {', '.join(LOSSES)}")
    return name


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise DataError("file not found", file=path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON at line {err.lineno}: {err.msg}", file=path) from err


def find_missing(runs: dict, models: Path, names: list[str]) -> dict[str, str]:
    """Run name -> why it is missing, for every named run without metrics or directory."""
    missing = {}
    for name in names:
        if tables.lookup(runs, name) is None:
            missing[name] = tables.missing_reason(runs, name)
        elif not (models / name).is_dir():
            missing[name] = f"no run directory {models / name}"
    for name, reason in missing.items():
        logger.warning("report: run %s missing (%s)", name, reason)
    return missing


def improvement_figures(details: dict, missing: dict[str, str], fig_dir: Path) -> list[str]:
    """One `bin_improvement_<scenario>.png` per scenario, three comparisons each; file names."""
    names = []
    for scenario in SCENARIOS:
        comps = []
        for method, baseline in COMPARISONS:
            m_name = run_name(scenario, FIGURE_INPUT, method)
            b_name = run_name(scenario, FIGURE_INPUT, baseline)
            m_run, b_run = details["runs"].get(m_name, {}), details["runs"].get(b_name, {})
            absent = [
                n
                for n, r in ((m_name, m_run), (b_name, b_run))
                if n in missing or not r.get("bin_mae_mean")
            ]
            if absent:
                comps.append(plots.Comparison(method, baseline, missing=f"missing: {absent[0]}"))
                continue
            comps.append(
                plots.Comparison(
                    method,
                    baseline,
                    method_mae=plots.as_array(m_run["bin_mae_mean"]),
                    baseline_mae=plots.as_array(b_run["bin_mae_mean"]),
                    method_std=plots.as_array(m_run.get("bin_mae_std")),
                    baseline_std=plots.as_array(b_run.get("bin_mae_std")),
                )
            )
        hist = details.get("train_histograms", {}).get(scenario)
        title = f"Per-bin test MAE improvement, scenario {scenario}, input {FIGURE_INPUT}"
        fig = plots.bin_improvement_figure(details["bin_edges"], hist, comps, title)
        names.append(plots.save_png(fig, fig_dir / f"bin_improvement_{scenario}.png").name)
    return names


def feature_figures(
    models: Path, details: dict, headline: HeadlineParams, cfg: ReportParams, fig_dir: Path
) -> tuple[list[str], list[str]]:
    """`feature_similarity.png` and `umap.png` of the headline setting: (file names, notes)."""
    edges = np.asarray(details["bin_edges"], dtype=np.float64)
    anchor = analysis.anchor_bin_index(edges, cfg.anchor_bin)
    setting = f"{headline.scenario}-{headline.input}"
    names, notes, sims, umaps = [], [], {}, {}

    for loss in LOSSES:
        name = run_name(headline.scenario, headline.input, loss)
        try:
            seeds = details["runs"].get(name, {}).get("seeds")
            features, labels = analysis.load_test_features(models / name, seeds)
        except FileNotFoundError as err:
            notes.append(f"feature analysis: `{name}` missing ({err})")
            umaps[loss] = "run missing"
            continue

        # similarity of bin means to the anchor bin's mean
        means, counts = analysis.bin_mean_features(features, labels, edges)
        if counts[anchor] == 0:
            notes.append(f"feature analysis: `{name}` has no test post in the anchor bin")
        sims[loss] = analysis.cosine_to_anchor(means, anchor)

        # UMAP of a fixed subsample
        if not cfg.umap:
            umaps[loss] = "disabled (report.umap: false)"
            continue
        idx = analysis.subsample_indices(len(labels), cfg.umap_max_points, UMAP_SEED)
        reason = analysis.umap_skip_reason(len(idx))
        if reason is not None:
            logger.warning("umap %s skipped: %s", name, reason)
            notes.append(f"UMAP of `{name}` skipped: {reason}")
            umaps[loss] = reason
            continue
        logger.info("umap %s: %d of %d test posts", name, len(idx), len(labels))
        coords = analysis.umap_embedding(features[idx], cfg.umap_neighbors, UMAP_SEED)
        umaps[loss] = (coords, labels[idx])

    if sims:
        title = f"Bin mean feature similarity to the anchor bin, {setting} (test posts)"
        fig = plots.feature_similarity_figure(edges, sims, anchor, title)
        names.append(plots.save_png(fig, fig_dir / "feature_similarity.png").name)
    if not cfg.umap:
        notes.append("UMAP figure disabled (report.umap: false)")
    if any(not isinstance(v, str) for v in umaps.values()):
        fig = plots.umap_figure(umaps, f"UMAP of test post features, {setting}")
        names.append(plots.save_png(fig, fig_dir / "umap.png").name)
    return names, notes


def figure_title(name: str, headline: HeadlineParams) -> str:
    """The link text of a figure in the summary."""
    setting = f"{headline.scenario}-{headline.input}"
    if name.startswith("bin_improvement_"):
        scenario = name.removeprefix("bin_improvement_").removesuffix(".png")
        return f"Per-bin MAE improvement, scenario {scenario} ({FIGURE_INPUT})"
    if name == "feature_similarity.png":
        return f"Bin mean feature similarity to the anchor bin ({setting})"
    return f"UMAP of test post features ({setting})"


def main(
    metrics: Path = typer.Option(..., help="Metrics of every run (runs.json)."),
    details: Path = typer.Option(..., help="Per-bin details (details.json)."),
    models: Path = typer.Option(..., help="Directory holding the run directories."),
    out_summary: Path = typer.Option(..., help="Markdown summary to write."),
    out_figures: Path = typer.Option(..., help="Directory of PNG figures to write."),
    out_plots: Path = typer.Option(..., help="Directory of DVC plot data to write."),
    params: Path = typer.Option(DEFAULT_PARAMS, help="Params file; reads `report`, `headline`."),
) -> None:
    # parameters and inputs first: nothing is written before they are known to be valid
    cfg = load_section(ReportParams, "report", params)
    headline = load_section(HeadlineParams, "headline", params)
    loss_name = headline_loss(params)
    runs, info = read_json(metrics), read_json(details)
    for key in ("bin_edges", "runs"):
        if key not in info:
            raise DataError("missing key", file=details, field=key)
    edges = info["bin_edges"]
    if analysis.bin_index(np.array([cfg.anchor_bin]), np.asarray(edges))[0] < 0:
        raise ParamsError(
            f"report.anchor_bin={cfg.anchor_bin}: outside the label bins [{edges[0]}, {edges[-1]}]"
        )
    names = tables.expected_runs(headline.scenario, headline.input)
    missing = find_missing(runs, models, names)

    # figures: the whole directory appears at once
    with atomic_dir(out_figures) as fig_dir:
        figure_names = improvement_figures(info, missing, fig_dir)
        feature_names, notes = feature_figures(models, info, headline, cfg, fig_dir)
        save_resolved(
            fig_dir / "report_config.json", report=cfg, headline=headline, loss={"name": loss_name}
        )

    # DVC plot data of every run evaluate knows of
    records = plot_data.bin_mae_records(info)
    write_json(out_plots / "bin_mae.json", records)
    known = sorted({*names, *info["runs"], *(f"{s}/{r}" for s in runs for r in runs[s])})
    curves = plot_data.training_curves(models, known)
    with atomic_path(out_plots / "training.csv") as tmp:
        curves.to_csv(tmp, index=False)

    rel = Path(os.path.relpath(out_figures, out_summary.parent)).as_posix()
    links = [(figure_title(n, headline), f"{rel}/{n}") for n in figure_names + feature_names]
    headline_run = (headline.scenario, headline.input, loss_name)
    text = tables.summary_markdown(runs, headline_run, missing, links, notes)
    with atomic_path(out_summary) as tmp:
        tmp.write_text(text)
    logger.info(
        "report: %d runs missing, %d figures, %d bin records, %d training rows",
        len(missing),
        len(links),
        len(records),
        len(curves),
    )
