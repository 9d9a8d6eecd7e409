"""Scenario splits: disjoint, seeded, and shaped as each scenario promises."""

import numpy as np
import pandas as pd
import pytest

from wrcr.curate import CurateConfig, base_split, label_bins, make_scenario


def _posts(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(n)],
            "label": np.clip(rng.normal(7.0, 2.2, n), 1.0, 16.5),
            "postdate": rng.integers(1_400_000_000, 1_450_000_000, n),
        }
    )


def test_base_split_fractions_and_disjoint():
    """Every post lands in exactly one split, in the configured proportions."""
    posts = _posts()
    split = base_split(posts, CurateConfig())
    counts = split.value_counts()
    assert counts["test"] == 800 and counts["val"] == 400 and counts["train"] == 2800


def test_base_split_is_seeded():
    """The same seed gives the same split; another seed a different one."""
    posts = _posts()
    a = base_split(posts, CurateConfig(seed=1))
    b = base_split(posts, CurateConfig(seed=1))
    c = base_split(posts, CurateConfig(seed=2))
    assert a.equals(b)
    assert not a.equals(c)


def test_chronological_split_tests_on_newest_posts():
    """Chronological: every test post is newer than every training post."""
    posts = _posts()
    split = base_split(posts, CurateConfig(split="chronological"))
    dates = posts["postdate"]
    assert dates[split == "test"].min() >= dates[split == "val"].max()
    assert dates[split == "val"].min() >= dates[split == "train"].max()


def test_full_keeps_every_post():
    """`full` is the base split unchanged."""
    posts = _posts()
    cfg = CurateConfig()
    base = base_split(posts, cfg)
    full = make_scenario(posts, base, "full", cfg)
    assert len(full) == len(posts)
    assert (full["split"].to_numpy() == base.to_numpy()).all()


def test_truncated_removes_training_extremes_but_tests_all():
    """`truncated`: no train/val label outside [low, high]; the test set keeps them."""
    posts = _posts()
    cfg = CurateConfig(truncated_low=4.0, truncated_high=10.0)
    split = make_scenario(posts, base_split(posts, cfg), "truncated", cfg)
    merged = split.merge(posts, on="post_id")
    fit = merged[merged["split"] != "test"]["label"]
    test = merged[merged["split"] == "test"]["label"]
    assert fit.min() >= 4.0 and fit.max() <= 10.0
    assert test.min() < 4.0 and test.max() > 10.0


def test_skewed_thins_tails_and_balances_test():
    """`skewed`: tail bins of train shrink to about tail_keep; test has <= k posts per bin."""
    posts = _posts(8000)
    cfg = CurateConfig(skewed_tail_keep=0.1, skewed_test_per_bin=25)
    base = base_split(posts, cfg)
    split = make_scenario(posts, base, "skewed", cfg)
    merged = split.merge(posts, on="post_id")
    bins = label_bins(merged["label"].to_numpy(), 1.0)

    test_counts = pd.Series(bins[merged["split"].to_numpy() == "test"]).value_counts()
    assert test_counts.max() <= 25

    full_train = posts["label"][base == "train"]
    low_bin = np.floor(full_train.quantile(0.02))
    n_before = int((np.floor(full_train) == low_bin).sum())
    n_after = int(((bins == low_bin) & (merged["split"].to_numpy() == "train")).sum())
    assert n_after == max(1, round(0.1 * n_before)), (n_before, n_after)


def test_bad_config_names_the_parameter():
    """Invalid fractions and an unknown split method raise naming the parameter."""
    with pytest.raises(ValueError, match="split='weekly'"):
        CurateConfig(split="weekly")
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction"):
        CurateConfig(val_fraction=0.5, test_fraction=0.5)


def test_unknown_scenario_is_rejected():
    """An unknown scenario name lists the allowed ones."""
    posts = _posts(100)
    cfg = CurateConfig()
    with pytest.raises(ValueError, match="full, skewed, truncated"):
        make_scenario(posts, base_split(posts, cfg), "balanced", cfg)
