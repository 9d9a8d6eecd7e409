"""Report figures: sign and colour convention, and valid PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wrcr import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EDGES = [1.0, 2.0, 3.0, 4.0]


def test_improvement_is_positive_where_method_better() -> None:
    """Improvement is baseline MAE minus method MAE: positive where the method errs less."""
    diff = plots.improvement(np.array([2.0, 1.0, 1.5]), np.array([1.5, 1.2, 1.5]))
    np.testing.assert_allclose(diff, [0.5, -0.2, 0.0])


def test_colors_green_better_red_worse() -> None:
    """Bars are green where the method is better, red where worse, grey when even or empty."""
    colors = plots.improvement_colors(np.array([0.5, -0.2, 0.0, np.nan]))
    assert colors == [plots.BETTER_COLOR, plots.WORSE_COLOR, plots.EVEN_COLOR, plots.EVEN_COLOR]


def test_improvement_bars_take_the_sign_colour() -> None:
    """The drawn bars of a comparison carry green for the better bins, red for the worse."""
    comp = plots.Comparison(
        "wrcr",
        "l1",
        method_mae=np.array([1.0, 2.0, np.nan]),
        baseline_mae=np.array([1.5, 1.0, 1.0]),
    )
    fig = plots.bin_improvement_figure(EDGES, [5, 50, 5], [comp], "t")
    bars = fig.axes[1].patches
    to_hex = [plots.matplotlib.colors.to_hex(b.get_facecolor()) for b in bars]
    assert to_hex == [plots.BETTER_COLOR, plots.WORSE_COLOR, plots.EVEN_COLOR]
    plots.plt.close(fig)


def test_figures_save_as_png(tmp_path: Path) -> None:
    """Each figure, with a missing panel and a skipped UMAP panel, saves as a valid PNG."""
    rng = np.random.default_rng(0)
    comps = [
        plots.Comparison("rnc", "l1", method_mae=np.ones(3), baseline_mae=np.full(3, 1.2)),
        plots.Comparison("wrcr", "l1", missing="missing: full-tags+image/wrcr"),
    ]
    figs = {
        "bins.png": plots.bin_improvement_figure(EDGES, None, comps, "bins"),
        "sim.png": plots.feature_similarity_figure(
            EDGES, {"l1": np.array([0.5, 1.0, 0.2])}, 1, "s"
        ),
        "umap.png": plots.umap_figure(
            {"l1": (rng.normal(size=(20, 2)), rng.uniform(1, 4, 20)), "rnc": "run missing"}, "u"
        ),
    }
    for name, fig in figs.items():
        path = plots.save_png(fig, tmp_path / name)
        assert path.read_bytes()[:8] == PNG_MAGIC, name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(figs)  # no temp file left
