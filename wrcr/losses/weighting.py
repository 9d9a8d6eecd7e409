"""Label-distance weights g(d) of WRCR, in log space.

WRCR multiplies each denominator term of Rank-N-Contrast by w_ik = g(d_ik), d_ik = |y_i - y_k|,
so that negatives far from the anchor in label push harder. The loss only ever needs log g(d)
(it adds it to the logit before a logsumexp), which stays finite where g(d) itself overflows:
(1 + alpha)^d with alpha = 10 and d = 40 is about 4e41, beyond float32.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

WEIGHTINGS = ("exp", "quadratic", "linear", "log", "none")


def check_weighting(weighting: str, alpha: float) -> None:
    """Raise ValueError unless `weighting` is known and `alpha` is a finite number > -1."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {list(WEIGHTINGS)}, got {weighting!r}")
    # NOTE: alpha is checked for every weighting, so a bad sweep value fails even where unused
    if not (isinstance(alpha, numbers.Real) and math.isfinite(alpha) and alpha > -1):
        raise ValueError(f"alpha must be a finite number > -1, got {alpha!r}")


def log_label_weights(label_dist: Tensor, weighting: str = "exp", alpha: float = 0.4) -> Tensor:
    """log g(d) for label distances d >= 0, elementwise.

    g is one of
        exp:        (1 + alpha)^d       log g = d * log(1 + alpha)
        quadratic:  d^2 + 1
        linear:     d + 1
        log:        log(d + 1) + 1
        none:       1                   (WRCR reduces to RnC)
    Every g is >= 1 on d >= 0 (>= 0 in log space) and equals 1 at d = 0. `alpha` is used by
    "exp" only.

    Args:
        label_dist: label distances |y_i - y_k|, any shape, floating point.
        weighting: one of WEIGHTINGS.
        alpha: base of the exponential weighting, > -1.

    Returns:
        log g(label_dist), same shape and dtype as `label_dist`.
    """
    check_weighting(weighting, alpha)
    if weighting == "exp":
        return label_dist * math.log1p(alpha)
    if weighting == "quadratic":
        return torch.log1p(label_dist.square())
    if weighting == "linear":
        return torch.log1p(label_dist)
    if weighting == "log":
        return torch.log1p(torch.log1p(label_dist))
    return torch.zeros_like(label_dist)


def label_weights(label_dist: Tensor, weighting: str = "exp", alpha: float = 0.4) -> Tensor:
    """g(d) for label distances d >= 0, elementwise: exp of `log_label_weights`.

    For plots and inspection. It can overflow to inf for a large alpha * d, which the loss
    avoids by working with `log_label_weights`.
    """
    return log_label_weights(label_dist, weighting, alpha).exp()
