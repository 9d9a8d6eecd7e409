"""Curated scenarios: which posts train, validate and test each experiment.

Three scenarios, all drawn from one base split so that they share their test pool:

- `full`: the natural label distribution.
- `skewed`: the training set is thinned in the low and high label bins so that both ends hold
  very few posts; the test set is uniform over label bins (at most `test_per_bin` posts each).
- `truncated`: training and validation posts with a label below `low` or above `high` are
  removed; the test set keeps the whole range, so the model is tested on labels it never saw.

The validation split follows the training distribution of its scenario (it picks the epoch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

SCENARIOS = ("full", "skewed", "truncated")
SPLIT_METHODS = ("random", "chronological")


@dataclass(frozen=True)
class CurateConfig:
    seed: int = 3407
    split: str = "random"
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    bin_width: float = 1.0
    skewed_tail_keep: float = 0.1
    skewed_test_per_bin: int = 30
    truncated_low: float = 4.0
    truncated_high: float = 13.0

    def __post_init__(self) -> None:
        if self.split not in SPLIT_METHODS:
            raise ValueError(f"split={self.split!r} is not one of {', '.join(SPLIT_METHODS)}")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name}={value} must be strictly between 0 and 1")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction} "
                "must be below 1 to leave posts for training"
            )
        if self.bin_width <= 0:
            raise ValueError(f"bin_width={self.bin_width} must be > 0")
        if not 0.0 < self.skewed_tail_keep <= 1.0:
            raise ValueError(f"skewed_tail_keep={self.skewed_tail_keep} must be in (0, 1]")
        if self.skewed_test_per_bin < 1:
            raise ValueError(f"skewed_test_per_bin={self.skewed_test_per_bin} must be >= 1")
        if self.truncated_low >= self.truncated_high:
            raise ValueError(
                f"truncated_low={self.truncated_low} must be below "
                f"truncated_high={self.truncated_high}"
            )


def label_bins(labels: np.ndarray, bin_width: float) -> np.ndarray:
    """Left edge of each label's bin; bins are aligned to multiples of `bin_width`."""
    return np.floor(np.asarray(labels, dtype=np.float64) / bin_width) * bin_width


def base_split(posts: pd.DataFrame, cfg: CurateConfig) -> pd.Series:
    """Assign every post to train / val / test, by seeded random draw or by post date."""
    N = len(posts)
    n_test = int(round(cfg.test_fraction * N))
    n_val = int(round(cfg.val_fraction * N))

    if cfg.split == "random":
        order = np.random.default_rng(cfg.seed).permutation(N)
    else:
        # oldest posts train, newest test: what a model deployed today would face;
        # post_id breaks ties so that the order does not depend on the input row order
        order = np.lexsort((posts["post_id"].to_numpy(), posts["postdate"].to_numpy()))
        order = order[::-1]  # newest first, so that the first n_test are the newest

    split = np.empty(N, dtype=object)
    split[order[:n_test]] = "test"
    split[order[n_test : n_test + n_val]] = "val"
    split[order[n_test + n_val :]] = "train"
    return pd.Series(split, index=posts.index, name="split")


def _thin_tails(labels: np.ndarray, keep_mask: np.ndarray, cfg: CurateConfig) -> np.ndarray:
    """Keep `skewed_tail_keep` of the posts in bins outside the middle half of the labels."""
    rng = np.random.default_rng(cfg.seed + 1)
    bins = label_bins(labels, cfg.bin_width)
    lo, hi = np.quantile(labels[keep_mask], [0.25, 0.75])
    tail_mask = keep_mask & ((bins + cfg.bin_width <= lo) | (bins > hi))
    out = keep_mask.copy()
    for b in np.unique(bins[tail_mask]):
        idx = np.flatnonzero(tail_mask & (bins == b))
        n_keep = max(1, int(round(cfg.skewed_tail_keep * len(idx))))
        drop = rng.choice(idx, size=len(idx) - n_keep, replace=False)
        out[drop] = False
    return out


def _uniform_test(labels: np.ndarray, test_mask: np.ndarray, cfg: CurateConfig) -> np.ndarray:
    """At most `skewed_test_per_bin` test posts per label bin, drawn at random."""
    rng = np.random.default_rng(cfg.seed + 2)
    bins = label_bins(labels, cfg.bin_width)
    out = np.zeros_like(test_mask)
    for b in np.unique(bins[test_mask]):
        idx = np.flatnonzero(test_mask & (bins == b))
        take = rng.choice(idx, size=min(len(idx), cfg.skewed_test_per_bin), replace=False)
        out[take] = True
    return out


def make_scenario(posts: pd.DataFrame, base: pd.Series, scenario: str, cfg: CurateConfig):
    """Return the split of `scenario` as a DataFrame (post_id, split); dropped posts are absent."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario={scenario!r} is not one of {', '.join(SCENARIOS)}")
    labels = posts["label"].to_numpy(dtype=np.float64)
    split = base.to_numpy()
    train_mask, val_mask, test_mask = split == "train", split == "val", split == "test"

    if scenario == "skewed":
        train_mask = _thin_tails(labels, train_mask, cfg)
        val_mask = _thin_tails(labels, val_mask, cfg)
        test_mask = _uniform_test(labels, test_mask, cfg)
    elif scenario == "truncated":
        inside = (labels >= cfg.truncated_low) & (labels <= cfg.truncated_high)
        train_mask &= inside
        val_mask &= inside

    keep = train_mask | val_mask | test_mask
    out = pd.DataFrame({"post_id": posts["post_id"].to_numpy()[keep], "split": split[keep]})
    return out.reset_index(drop=True)


def split_summary(posts: pd.DataFrame, split: pd.DataFrame, bin_width: float) -> dict:
    """Counts per split and per label bin, for the curate report."""
    merged = split.merge(posts[["post_id", "label"]], on="post_id", how="left")
    merged["bin"] = label_bins(merged["label"].to_numpy(), bin_width)
    summary = {"counts": merged["split"].value_counts().sort_index().to_dict()}
    per_bin = merged.groupby(["split", "bin"]).size()
    summary["per_bin"] = {
        s: {f"{b:g}": int(n) for (s2, b), n in per_bin.items() if s2 == s}
        for s in sorted(merged["split"].unique())
    }
    return summary
