"""Regression metrics: overall, per shot region and per label bin (pure numpy).

- MAE, MSE; GM, the geometric mean of absolute errors; SRC (Spearman) and Pearson correlation.
- GM floors each absolute error at `GM_EPS` before the log. An exact hit would otherwise
  make the GM of the whole set 0, whatever the other errors are; predictions are float32,
  which cannot resolve errors much below 1e-6 on labels of 1 to 20, so the floor only
  replaces a zero by the smallest error the model could have made.
- SRC and Pearson are None for fewer than 2 points or when either side is constant: the
  correlation is undefined there, and None (JSON null) says so instead of NaN or 0.
- Label bins are aligned to multiples of the width: the bin of y is floor(y / width) * width,
  keyed by its left edge. A label on an edge opens the bin above it.
- Shot regions follow the imbalanced-regression literature (Yang et al., ICML 2021, "Delving
  into Deep Imbalanced Regression"): a test point takes the region of its label bin, by the
  number of TRAINING labels in that bin: many if count > many_shot, few if count < few_shot,
  else medium. A bin absent from training counts 0 and is few. An empty region is None.
"""

from __future__ import annotations

from typing import Any

import numpy as np

GM_EPS = 1e-6
SHOT_REGIONS = ("many", "medium", "few")

# bin edges tolerate this relative rounding, so 0.3 / 0.1 = 2.9999999999999996 lands in bin 3
_EDGE_TOL = 1e-9


def _finite(name: str, values: Any) -> np.ndarray:
    """`values` as a finite float64 1-D array."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name} holds a non-finite value {arr[bad[0]]} at index {bad[0]}")
    return arr


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as finite float64 1-D arrays of one length."""
    t, p = _finite("y_true", y_true), _finite("y_pred", y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape[0]} vs {p.shape[0]}")
    return t, p


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def gmean_abs_error(y_true: Any, y_pred: Any, eps: float = GM_EPS) -> float:
    """Geometric mean of absolute errors, each floored at `eps` (see the module docstring)."""
    t, p = _pair(y_true, y_pred)
    return float(np.exp(np.mean(np.log(np.maximum(np.abs(t - p), eps)))))


def pearson(y_true: Any, y_pred: Any) -> float | None:
    """Pearson correlation; None for fewer than 2 points or a constant side."""
    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        return None
    dt, dp = t - t.mean(), p - p.mean()
    denom = np.sqrt(np.dot(dt, dt) * np.dot(dp, dp))
    if denom == 0.0:
        return None
    return float(np.clip(np.dot(dt, dp) / denom, -1.0, 1.0))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties at their average rank (scipy's rankdata, without importing scipy).

    Every pipeline stage that reports SRC would otherwise pay scipy.stats' import time.
    """
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    # the distinct values in order occupy rank blocks; a block's average rank is its midpoint
    block_end = np.cumsum(counts)
    return (block_end - (counts - 1) / 2.0)[inverse]


def spearman(y_true: Any, y_pred: Any) -> float | None:
    """Spearman rank correlation (SRC), ties at their average rank; None as for `pearson`."""
    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        return None
    return pearson(average_ranks(t), average_ranks(p))


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float | int | None]:
    """mae, mse, gm, src, pearson and count of a non-empty set of predictions."""
    t, p = _pair(y_true, y_pred)
    if t.size == 0:
        raise ValueError("regression_metrics needs at least one prediction, got 0")
    return {
        "mae": mae(t, p),
        "mse": mse(t, p),
        "gm": gmean_abs_error(t, p),
        "src": spearman(t, p),
        "pearson": pearson(t, p),
        "count": int(t.size),
    }


def _check_width(bin_width: float) -> float:
    if not np.isfinite(bin_width) or bin_width <= 0:
        raise ValueError(f"bin_width must be a finite number > 0, got {bin_width}")
    return float(bin_width)


def bin_index(labels: Any, bin_width: float = 1.0) -> np.ndarray:
    """Integer bin k of each label: bin k covers [k * width, (k + 1) * width)."""
    width = _check_width(bin_width)
    q = _finite("labels", labels) / width
    return np.floor(q + _EDGE_TOL * np.maximum(np.abs(q), 1.0)).astype(np.int64)


def bin_edge(k: int, bin_width: float = 1.0) -> float:
    """Left edge of bin k, rounded so that 3 * 0.1 is 0.3 and not 0.30000000000000004."""
    return round(k * float(bin_width), 10)


def bin_counts(labels: Any, bin_width: float = 1.0) -> dict[float, int]:
    """Number of labels per bin, keyed by the bin's left edge, ascending."""
    ks, counts = np.unique(bin_index(labels, bin_width), return_counts=True)
    return {bin_edge(int(k), bin_width): int(c) for k, c in zip(ks, counts, strict=True)}


def per_bin_mae(
    y_true: Any, y_pred: Any, bin_width: float = 1.0
) -> dict[float, dict[str, float | int]]:
    """MAE per label bin (by the true label): left edge -> {count, mae}, ascending."""
    t, p = _pair(y_true, y_pred)
    k = bin_index(t, bin_width)
    abs_err = np.abs(t - p)
    out = {}
    for kk in np.unique(k):
        bin_mask = k == kk
        out[bin_edge(int(kk), bin_width)] = {
            "count": int(bin_mask.sum()),
            "mae": float(abs_err[bin_mask].mean()),
        }
    return out


def _check_shots(many_shot: int, few_shot: int) -> None:
    if few_shot < 0 or many_shot < few_shot:
        raise ValueError(
            f"shot thresholds need 0 <= few_shot <= many_shot, got few_shot={few_shot}, "
            f"many_shot={many_shot}"
        )


def shot_regions(
    y: Any,
    train_labels: Any,
    bin_width: float = 1.0,
    many_shot: int = 100,
    few_shot: int = 20,
) -> np.ndarray:
    """Shot region ('many' | 'medium' | 'few') of each label in `y`, by training bin counts."""
    _check_shots(many_shot, few_shot)
    train_k, train_n = np.unique(bin_index(train_labels, bin_width), return_counts=True)
    k = bin_index(y, bin_width)

    # training count of each label's bin; bins absent from training count 0
    count = np.zeros(k.shape, dtype=np.int64)
    if train_k.size:
        pos = np.minimum(np.searchsorted(train_k, k), train_k.size - 1)
        count = np.where(train_k[pos] == k, train_n[pos], 0)

    regions = np.full(k.shape, "medium", dtype="<U6")
    regions[count > many_shot] = "many"
    regions[count < few_shot] = "few"
    return regions


def shot_metrics(
    y_true: Any,
    y_pred: Any,
    train_labels: Any,
    bin_width: float = 1.0,
    many_shot: int = 100,
    few_shot: int = 20,
) -> dict[str, dict[str, float | int | None] | None]:
    """`regression_metrics` of each shot region; a region with no test points is None."""
    t, p = _pair(y_true, y_pred)
    regions = shot_regions(t, np.asarray(train_labels), bin_width, many_shot, few_shot)
    out: dict[str, dict[str, float | int | None] | None] = {}
    for region in SHOT_REGIONS:
        region_mask = regions == region
        out[region] = (
            regression_metrics(t[region_mask], p[region_mask]) if region_mask.any() else None
        )
    return out
