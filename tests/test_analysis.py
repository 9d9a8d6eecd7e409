"""Feature analysis numbers: bins, bin mean similarity to the anchor, subsample, UMAP."""

from __future__ import annotations

import numpy as np
import pytest

from wrcr import analysis

EDGES = np.array([1.0, 2.0, 3.0, 4.0])


def test_bin_index_half_open_with_last_edge() -> None:
    """Bins are [e_b, e_b+1), the last edge falls in the last bin, outside labels get -1."""
    idx = analysis.bin_index(np.array([1.0, 1.99, 2.0, 4.0, 0.5, 4.5]), EDGES)
    np.testing.assert_array_equal(idx, [0, 0, 1, 2, -1, -1])


def test_anchor_similarity_to_itself_is_one() -> None:
    """The anchor bin's mean feature has cosine similarity 1 with itself."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 8))
    labels = rng.uniform(1.0, 4.0, size=60)
    means, counts = analysis.bin_mean_features(features, labels, EDGES)
    sims = analysis.cosine_to_anchor(means, anchor=1)
    assert counts.sum() == 60
    assert abs(sims[1] - 1.0) < 1e-12, f"self-similarity {sims[1]}"


def test_empty_bin_similarity_is_nan() -> None:
    """A bin with no post has no mean and a NaN similarity, not a number."""
    features = np.array([[1.0, 0.0], [0.0, 1.0]])
    means, counts = analysis.bin_mean_features(features, np.array([1.5, 3.5]), EDGES)
    sims = analysis.cosine_to_anchor(means, anchor=0)
    np.testing.assert_array_equal(counts, [1, 0, 1])
    assert np.isnan(sims[1]) and sims[2] == pytest.approx(0.0)


def test_anchor_outside_bins_raises() -> None:
    """An anchor value outside the bins raises and names the value."""
    with pytest.raises(ValueError, match="anchor 9.0 is outside"):
        analysis.anchor_bin_index(EDGES, 9.0)


def test_subsample_is_fixed_by_seed() -> None:
    """The subsample is capped, sorted and the same for the same seed."""
    first = analysis.subsample_indices(100, 10, seed=0)
    assert len(first) == 10 and np.all(np.diff(first) > 0)
    np.testing.assert_array_equal(first, analysis.subsample_indices(100, 10, seed=0))


@pytest.mark.slow  # numba compiles UMAP on first use, about 10 s
def test_umap_is_reproducible_with_capped_neighbours() -> None:
    """UMAP with n_neighbors above N - 1 runs (capped) and repeats with the same seed."""
    features = np.random.default_rng(0).normal(size=(20, 5))
    first = analysis.umap_embedding(features, n_neighbors=50, seed=0)
    assert first.shape == (20, 2) and np.isfinite(first).all()
    np.testing.assert_allclose(first, analysis.umap_embedding(features, n_neighbors=50, seed=0))


def test_umap_refuses_too_few_points() -> None:
    """Fewer points than UMAP needs is refused with the reason."""
    assert analysis.umap_skip_reason(3) == "3 points, UMAP needs at least 10"
    with pytest.raises(ValueError, match="3 points"):
        analysis.umap_embedding(np.zeros((3, 2)), n_neighbors=15, seed=0)
