"""Feature analysis numbers: per-bin mean features, their similarity to an anchor bin, UMAP.

Shapes: N posts, D feature dim, B label bins (B + 1 edges).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from wrcr.errors import DataError

logger = logging.getLogger(__name__)

# UMAP needs a handful of neighbours per point; below this it is not worth a figure
MIN_UMAP_POINTS = 10


def load_test_features(
    run_dir: Path, seeds: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Test post features (N, D) of a run and their labels (N,), in the features' order.

    Features come from `test_features.npz` (first seed), labels from the test rows of that seed
    in `predictions.parquet` (docs/architecture.md). FileNotFoundError when either is absent.
    """
    feat_path, pred_path = run_dir / "test_features.npz", run_dir / "predictions.parquet"
    for path in (feat_path, pred_path):
        if not path.is_file():
            raise FileNotFoundError(f"no {path}")
    with np.load(feat_path, allow_pickle=False) as npz:
        for key in ("post_id", "features"):
            if key not in npz:
                raise DataError("missing array", file=feat_path, field=key)
        ids, features = npz["post_id"].astype(str), npz["features"]
    if features.ndim != 2 or len(features) != len(ids):
        raise DataError(f"features shape {features.shape} for {len(ids)} post ids", file=feat_path)

    # labels of the first seed's test rows, keyed by post id
    preds = pd.read_parquet(pred_path, columns=["post_id", "seed", "split", "label"])
    test = preds[preds["split"] == "test"]
    seed = seeds[0] if seeds else test["seed"].min()
    labels = test[test["seed"] == seed].drop_duplicates("post_id")
    labels = pd.Series(labels["label"].to_numpy(np.float64), index=labels["post_id"].astype(str))

    pos = labels.index.get_indexer(ids)
    found_mask = pos >= 0
    if not found_mask.all():
        logger.warning("%s: %d feature rows without a test label", feat_path, (~found_mask).sum())
    return features[found_mask], labels.to_numpy()[pos[found_mask]]


def bin_index(labels: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
    """Bin of each label, bins `[e[b], e[b+1])` with the last edge included; -1 outside."""
    edges = np.asarray(bin_edges, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    idx = np.searchsorted(edges, labels, side="right") - 1
    idx[labels == edges[-1]] = len(edges) - 2
    idx[(labels < edges[0]) | (labels > edges[-1]) | ~np.isfinite(labels)] = -1
    return idx


def anchor_bin_index(bin_edges: np.ndarray, value: float) -> int:
    """Index of the bin holding `value`; ValueError when it lies outside the bins."""
    idx = int(bin_index(np.array([value]), bin_edges)[0])
    if idx < 0:
        raise ValueError(
            f"anchor {value} is outside the label bins [{bin_edges[0]}, {bin_edges[-1]}]"
        )
    return idx


def bin_mean_features(
    features: np.ndarray, labels: np.ndarray, bin_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean feature of each label bin (NaN rows for empty bins) and the bin counts."""
    N, D = features.shape
    B = len(bin_edges) - 1
    idx = bin_index(labels, bin_edges)
    keep_mask = idx >= 0

    sums = np.zeros((B, D), dtype=np.float64)
    np.add.at(sums, idx[keep_mask], features[keep_mask].astype(np.float64))
    counts = np.bincount(idx[keep_mask], minlength=B)  # (B,)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[:, None]  # (B, D), NaN where a bin is empty
    return means, counts


def cosine_to_anchor(bin_means: np.ndarray, anchor: int) -> np.ndarray:
    """Cosine similarity of every bin mean to the anchor bin's mean; NaN for empty bins."""
    ref = bin_means[anchor]
    norms = np.linalg.norm(bin_means, axis=1) * np.linalg.norm(ref)  # (B,)
    with np.errstate(invalid="ignore", divide="ignore"):
        sims = bin_means @ ref / norms  # (B,)
    # NOTE: a zero mean vector has no direction; it gets NaN rather than a made-up 0
    sims[~np.isfinite(sims)] = np.nan
    return np.clip(sims, -1.0, 1.0)


def subsample_indices(n: int, max_points: int, seed: int) -> np.ndarray:
    """Sorted indices of at most `max_points` of `n` items, drawn with a fixed seed."""
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_points, replace=False))


def umap_skip_reason(n_points: int) -> str | None:
    """Why a UMAP of `n_points` is not drawn, or None when it can be."""
    if n_points < MIN_UMAP_POINTS:
        return f"{n_points} points, UMAP needs at least {MIN_UMAP_POINTS}"
    return None


def umap_embedding(features: np.ndarray, n_neighbors: int, seed: int) -> np.ndarray:
    """2-d UMAP of the rows of `features` (N, D) -> (N, 2); n_neighbors capped below N."""
    import umap  # imported here: numba compiles on import, a few seconds

    N = features.shape[0]
    reason = umap_skip_reason(N)
    if reason is not None:
        raise ValueError(reason)
    k = max(2, min(n_neighbors, N - 1))
    if k != n_neighbors:
        logger.info("umap: n_neighbors %d capped to %d for %d points", n_neighbors, k, N)
    reducer = umap.UMAP(n_components=2, n_neighbors=k, random_state=seed, n_jobs=1)
    with warnings.catch_warnings():
        # a fixed random_state forces one thread; umap warns about it every call
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        coords = reducer.fit_transform(np.asarray(features, dtype=np.float32))
    return np.asarray(coords, dtype=np.float64)  # (N, 2)
