"""Tests of wrcr.metrics against scipy.stats and sklearn.metrics, plus bins and shot regions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import mean_absolute_error, mean_squared_error

from wrcr import metrics


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.uniform(1.0, 16.0, size=300)
    return y, y + rng.normal(0.0, 1.5, size=300)


def test_mae_mse_match_sklearn(pair):
    """MAE and MSE equal sklearn's."""
    y, p = pair
    assert metrics.mae(y, p) == pytest.approx(mean_absolute_error(y, p), rel=1e-12)
    assert metrics.mse(y, p) == pytest.approx(mean_squared_error(y, p), rel=1e-12)


def test_correlations_match_scipy(pair):
    """Pearson and Spearman equal scipy.stats, also with tied values."""
    y, p = pair
    assert metrics.pearson(y, p) == pytest.approx(stats.pearsonr(y, p).statistic, abs=1e-12)
    y_tied, p_tied = np.round(y), np.round(p / 2)
    expected = stats.spearmanr(y_tied, p_tied).statistic
    assert metrics.spearman(y_tied, p_tied) == pytest.approx(expected, abs=1e-12)


def test_gm_matches_scipy_gmean(pair):
    """GM equals scipy.stats.gmean of the absolute errors when none is zero."""
    y, p = pair
    assert metrics.gmean_abs_error(y, p) == pytest.approx(stats.gmean(np.abs(y - p)), rel=1e-10)


def test_gm_floors_zero_errors():
    """An exact hit counts as an error of GM_EPS instead of zeroing the GM."""
    gm = metrics.gmean_abs_error([1.0, 2.0], [1.0, 3.0])
    assert gm == pytest.approx(np.sqrt(metrics.GM_EPS * 1.0))


def test_correlation_undefined_is_none():
    """Fewer than 2 points or a constant side gives None for SRC and Pearson."""
    assert metrics.spearman([1.0], [2.0]) is None
    assert metrics.pearson([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) is None
    assert metrics.spearman([4.0, 4.0], [1.0, 2.0]) is None


def test_length_mismatch_raises():
    """y_true and y_pred of different lengths name both lengths."""
    with pytest.raises(ValueError, match="differ in length: 3 vs 2"):
        metrics.mae([1, 2, 3], [1, 2])


def test_non_finite_raises():
    """A NaN prediction is refused, naming the side and the index."""
    with pytest.raises(ValueError, match="y_pred holds a non-finite value nan at index 1"):
        metrics.mse([1.0, 2.0], [1.0, np.nan])


def test_regression_metrics_keys_and_json(pair):
    """regression_metrics gives every metric and a count, and serialises to JSON."""
    y, p = pair
    out = metrics.regression_metrics(y, p)
    assert set(out) == {"mae", "mse", "gm", "src", "pearson", "count"}
    assert out["count"] == 300
    json.dumps(out, allow_nan=False)


def test_regression_metrics_empty_raises():
    """Overall metrics of no predictions is a caller error."""
    with pytest.raises(ValueError, match="at least one prediction"):
        metrics.regression_metrics([], [])


def test_bins_align_to_width_multiples():
    """Bins are floor(y / width) * width; an edge value opens the bin above it."""
    counts = metrics.bin_counts([0.3, 0.35, 0.2999, 1.0, 0.99], bin_width=0.1)
    assert counts == {0.2: 1, 0.3: 2, 0.9: 1, 1.0: 1}
    assert metrics.bin_counts([1.0, 1.5, 2.0, -0.5], bin_width=1.0) == {-1.0: 1, 1.0: 2, 2.0: 1}


def test_per_bin_mae():
    """MAE per bin groups by the true label and matches a direct computation."""
    y = np.array([1.2, 1.8, 2.5, 5.0])
    p = np.array([1.0, 2.8, 2.0, 7.0])
    out = metrics.per_bin_mae(y, p, bin_width=1.0)
    assert list(out) == [1.0, 2.0, 5.0]
    assert out[1.0] == {"count": 2, "mae": pytest.approx(0.6)}
    assert out[5.0] == {"count": 1, "mae": pytest.approx(2.0)}


def test_bin_width_must_be_positive():
    """A zero bin width is refused, naming the parameter."""
    with pytest.raises(ValueError, match="bin_width must be a finite number > 0, got 0"):
        metrics.bin_counts([1.0], bin_width=0)


def test_shot_regions_by_training_counts():
    """Bins with > many_shot training labels are many, < few_shot few, unseen bins few."""
    train = np.concatenate([np.full(150, 5.5), np.full(50, 6.5), np.full(10, 7.5)])
    regions = metrics.shot_regions([5.1, 6.9, 7.0, 9.0, 100.0], train, 1.0, 100, 20)
    assert regions.tolist() == ["many", "medium", "few", "few", "few"]


def test_shot_thresholds_are_strict():
    """A bin of exactly many_shot (or few_shot) training labels is medium."""
    train = np.concatenate([np.full(100, 1.5), np.full(20, 2.5)])
    assert metrics.shot_regions([1.5, 2.5], train, 1.0, 100, 20).tolist() == ["medium"] * 2


def test_shot_metrics_match_region_subsets(pair):
    """Each region's metrics equal regression_metrics of its points; counts add up."""
    y, p = pair
    rng = np.random.default_rng(1)
    train = rng.normal(8.0, 2.0, size=2000)
    out = metrics.shot_metrics(y, p, train, bin_width=1.0, many_shot=100, few_shot=20)
    regions = metrics.shot_regions(y, train, 1.0, 100, 20)
    for region in metrics.SHOT_REGIONS:
        mask = regions == region
        assert out[region] == metrics.regression_metrics(y[mask], p[mask])
    assert sum(out[r]["count"] for r in metrics.SHOT_REGIONS) == y.size


def test_empty_shot_region_is_none():
    """A region without test points is None and the result still serialises to JSON."""
    train = np.full(500, 3.5)
    out = metrics.shot_metrics([3.2, 3.7], [3.0, 4.0], train)
    assert out["medium"] is None and out["few"] is None
    assert out["many"]["count"] == 2
    json.dumps(out, allow_nan=False)


def test_shot_thresholds_validated():
    """few_shot above many_shot is refused with both values."""
    with pytest.raises(ValueError, match="few_shot=50, many_shot=10"):
        metrics.shot_regions([1.0], [1.0], many_shot=10, few_shot=50)


def test_average_ranks_match_scipy_rankdata():
    """Ranks with ties at their average equal scipy.stats.rankdata."""
    from wrcr.metrics import average_ranks

    rng = np.random.default_rng(7)
    for _ in range(50):
        x = rng.integers(0, 6, rng.integers(1, 40)).astype(np.float64)
        np.testing.assert_allclose(average_ranks(x), stats.rankdata(x), rtol=0, atol=1e-12)
