"""Figures of the report: per-bin MAE improvement, feature similarity, UMAP of post features.

Pure functions: arrays in, a matplotlib Figure out; `save_png` writes one atomically. The Agg
backend is selected on import so that no display is ever needed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from wrcr.io import atomic_path  # noqa: E402

logger = logging.getLogger(__name__)

BETTER_COLOR = "#2ca02c"  # green: the method has the lower MAE in this bin
WORSE_COLOR = "#d62728"  # red: the method has the higher MAE
EVEN_COLOR = "#7f7f7f"  # grey: equal, or a bin without a number


@dataclass(frozen=True)
class Comparison:
    """One panel of the improvement figure: `method` against `baseline`, per label bin.

    The MAE arrays have one entry per bin, NaN where a bin has no test post. `missing` says
    why the panel has no data (a run absent), and the arrays are then ignored.
    """

    method: str
    baseline: str
    method_mae: np.ndarray | None = None
    baseline_mae: np.ndarray | None = None
    method_std: np.ndarray | None = None
    baseline_std: np.ndarray | None = None
    missing: str | None = None


def as_array(values: Sequence[float | None] | None) -> np.ndarray | None:
    """JSON list with nulls -> float array with NaN."""
    if values is None:
        return None
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def improvement(baseline_mae: np.ndarray, method_mae: np.ndarray) -> np.ndarray:
    """Per-bin baseline MAE minus method MAE: positive where the method is better."""
    return np.asarray(baseline_mae, dtype=np.float64) - np.asarray(method_mae, dtype=np.float64)


def improvement_colors(diff: np.ndarray) -> list[str]:
    """Green where the method is better (diff > 0), red where worse, grey otherwise."""
    return [BETTER_COLOR if d > 0 else WORSE_COLOR if d < 0 else EVEN_COLOR for d in diff]


def _note(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    # tick_params, not set_xticks([]): the axes share x with panels that keep their ticks
    ax.tick_params(bottom=False, left=False, labelbottom=False, labelleft=False)


def bin_improvement_figure(
    bin_edges: Sequence[float],
    train_hist: Sequence[int] | None,
    comparisons: Sequence[Comparison],
    title: str,
) -> Figure:
    """Training label histogram on top, per-bin MAE difference below, one column per comparison.

    Whiskers are the seed spread of the difference, sqrt(std_b^2 + std_m^2) of the per-bin MAE.
    A bin without test posts (NaN) gets neither a bar nor a whisker.
    """
    edges = np.asarray(bin_edges, dtype=np.float64)
    lefts, widths = edges[:-1], np.diff(edges)
    ncol = max(1, len(comparisons))
    fig, axes = plt.subplots(
        2,
        ncol,
        figsize=(4.6 * ncol, 6.0),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [1, 2]},
    )

    for col, comp in enumerate(comparisons):
        top, bottom = axes[0, col], axes[1, col]

        # training label histogram of the scenario
        if train_hist is None:
            _note(top, "no training histogram")
        else:
            top.bar(lefts, train_hist, width=widths, align="edge", color="#4c72b0", alpha=0.8)
            top.set_yscale("symlog", linthresh=10)
        top.set_title(f"{comp.method} vs {comp.baseline}")
        if col == 0:
            top.set_ylabel("training posts")

        # per-bin difference, coloured by sign
        if comp.missing is not None or comp.method_mae is None or comp.baseline_mae is None:
            _note(bottom, comp.missing or "no per-bin MAE")
            continue
        diff = improvement(comp.baseline_mae, comp.method_mae)
        spread = None
        if comp.method_std is not None and comp.baseline_std is not None:
            spread = np.sqrt(comp.method_std**2 + comp.baseline_std**2)
            spread[np.isnan(diff)] = np.nan
        shown = np.nan_to_num(diff, nan=0.0)
        bottom.bar(
            lefts,
            shown,
            width=widths * 0.9,
            align="edge",
            color=improvement_colors(shown),
            yerr=spread,
            error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "black"},
        )
        bottom.axhline(0.0, color="black", linewidth=0.8)
        bottom.set_xlabel("label bin (left edge)")
        bottom.set_xlim(edges[0], edges[-1])
        bottom.set_ylabel(f"MAE({comp.baseline}) − MAE({comp.method})")
        bottom.grid(axis="y", alpha=0.3)

    handles = [
        Patch(color=BETTER_COLOR, label="method better"),
        Patch(color=WORSE_COLOR, label="method worse"),
    ]
    fig.legend(handles=handles, loc="upper right", ncol=2, frameon=False)
    subtitle = (
        "bars: MAE(baseline) − MAE(method), > 0 where the method is better; whiskers: seed spread"
    )
    fig.suptitle(f"{title}\n{subtitle}", x=0.02, ha="left", fontsize="medium")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def feature_similarity_figure(
    bin_edges: Sequence[float],
    similarities: Mapping[str, np.ndarray],
    anchor: int,
    title: str,
) -> Figure:
    """Cosine similarity of each bin's mean feature to the anchor bin's, one line per loss."""
    edges = np.asarray(bin_edges, dtype=np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for name, sims in similarities.items():
        ax.plot(centres, sims, marker="o", markersize=4, label=name)
    ax.axvline(centres[anchor], color="grey", linestyle="--", linewidth=1)
    anchor_label = f" anchor bin [{edges[anchor]:g}, {edges[anchor + 1]:g})"
    ax.text(centres[anchor], 0.02, anchor_label, transform=ax.get_xaxis_transform(), color="grey")
    ax.set_xlabel("label bin (centre)")
    ax.set_ylabel("cosine similarity to anchor bin mean")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if similarities:
        ax.legend(title="loss")
    fig.tight_layout()
    return fig


def umap_figure(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray] | str],
    title: str,
) -> Figure:
    """One scatter per loss of 2-d coordinates (N, 2) coloured by label; a str is a skip note."""
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n + 0.8, 4.4), squeeze=False)
    data = [v for v in panels.values() if not isinstance(v, str)]
    labels_all = np.concatenate([lab for _, lab in data]) if data else np.array([0.0, 1.0])
    vmin, vmax = float(np.min(labels_all)), float(np.max(labels_all))

    mappable = None
    for ax, (name, panel) in zip(axes[0], panels.items(), strict=False):
        ax.set_title(name)
        if isinstance(panel, str):
            _note(ax, f"skipped: {panel}")
            continue
        coords, labels = panel
        ax.set_title(f"{name} ({len(labels)} posts)")
        mappable = ax.scatter(
            coords[:, 0], coords[:, 1], c=labels, s=6, cmap="viridis", vmin=vmin, vmax=vmax
        )
        ax.set_xlabel("UMAP 1")
        ax.set_ylabel("UMAP 2")
        ax.set_xticks([])
        ax.set_yticks([])
    if mappable is not None:
        fig.colorbar(mappable, ax=list(axes[0]), label="label (popularity)", shrink=0.9)
    fig.suptitle(title)
    return fig


def save_png(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write `fig` as a PNG at `path` (atomically) and close it."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    logger.info("figure %s", path.name)
    return path
