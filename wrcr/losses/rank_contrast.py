"""Rank-N-Contrast (RnC) and Weighted-Rank Contrastive Regression (WRCR) losses.

Shapes: B samples, V views per sample, D feature dim, N = B * V view-samples.

References:
    Zha, Cao, Yang, Chen, Dai, Kuang, Katabi: "Rank-N-Contrast: Learning Continuous
    Representations for Regression", NeurIPS 2023 (RnC).
    WRCR: a 2024 thesis on social media popularity prediction, which weights RnC's denominator
    terms by the label distance to the anchor.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wrcr.losses._ranked import RankedContrast
from wrcr.losses.weighting import check_weighting

SIMILARITIES = ("cosine", "l2")


def check_loss_args(
    temperature: float, similarity: str, weighting: str = "none", alpha: float = 0.4
) -> None:
    """Raise ValueError naming the argument, its value and what is allowed, if any is bad."""
    if not (isinstance(temperature, numbers.Real) and 0 < temperature < float("inf")):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {list(SIMILARITIES)}, got {similarity!r}")
    check_weighting(weighting, alpha)


def _flatten_views(features: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """(B, D) or (B, V, D) features and (B,) or (B, 1) labels -> (N, D) and (N,)."""
    if not (isinstance(features, Tensor) and features.is_floating_point()):
        got = features.dtype if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"features must be a floating point tensor, got {got}")
    if not isinstance(labels, Tensor):
        raise ValueError(f"labels must be a tensor, got {type(labels).__name__}")
    if features.ndim == 2:
        (B, D), V = features.shape, 1
    elif features.ndim == 3:
        B, V, D = features.shape
    else:
        raise ValueError(
            f"features must have shape (B, D) or (B, V, D), got {tuple(features.shape)}"
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != B:
        raise ValueError(
            f"labels must have shape (B,) or (B, 1) with B = {B} as in features "
            f"{tuple(features.shape)}, got {tuple(labels.shape)}"
        )

    # view v of sample b is row b * V + v; every view carries its sample's label
    x = features.reshape(B * V, D)  # (N, D)
    y = labels.repeat_interleave(V) if V > 1 else labels  # (N,)
    return x, y


def _pairwise_logits(x: Tensor, temperature: float, similarity: str) -> Tensor:
    """sim(x_i, x_k) / temperature for all pairs, (N, D) -> (N, N)."""
    if similarity == "cosine":
        x = F.normalize(x, dim=1)
        return (x / temperature) @ x.T  # (N, N)
    # NOTE: cdist takes the matmul form for N > 25 (clamped before the sqrt, so the zero
    # distance on the diagonal has a finite gradient); the diagonal is never used
    return torch.cdist(x, x) * (-1.0 / temperature)  # (N, N)


def wrcr_loss(
    features: Tensor,
    labels: Tensor,
    temperature: float = 0.05,
    similarity: str = "cosine",
    weighting: str = "exp",
    alpha: float = 0.4,
) -> Tensor:
    """Weighted-Rank Contrastive Regression loss: RnC with label-distance-weighted denominators.

    For anchor i, every other sample j is a positive, contrasted against the samples at least
    as far from i in label as j:

        S_ij = {k != i : d_ik >= d_ij},   d_ik = |y_i - y_k|
        L_i  = -1/(N-1) * sum_{j != i} log( exp(s_ij) / sum_{k in S_ij} w_ik exp(s_ik) )
        loss = mean_i L_i,   s_ik = sim(v_i, v_k) / temperature,   w_ik = g(d_ik)

    with g from `weighting` (see `log_label_weights`): "exp" (1 + alpha)^d, "quadratic"
    d^2 + 1, "linear" d + 1, "log" log(d + 1) + 1, "none" 1. Each g is 1 at d = 0 and grows
    with d: samples far from the anchor in label weigh more in every denominator they are in,
    so they are pushed away from it harder than in RnC. With "none" it is RnC (`rnc_loss`).

    Choices, where the thesis formula, the RnC paper or the official RnC code leave room:
    - The weight multiplies every term of S_ij, j's own included, and the numerator is not
      weighted: exactly the thesis formula. Since w_ij >= 1 a positive far from the anchor
      also weighs more in its own denominator, so its term of L_i is bounded below by
      log w_ij instead of 0.
    - Ties: every k with d_ik == d_ij is in S_ij, j itself included: the paper's ">=", which
      the official code also uses. Stated because a strict ">" would read just as well.
      A tie is exact equality of the distances as computed in the loss's dtype, so labels
      equal only up to rounding may not tie (the loss jumps where a tie forms or breaks).
    - Similarity defaults to cosine (the thesis); "l2" is the negative Euclidean distance of
      the official RnC code, whose default temperature (2) differs from this one.
    - The official code loops over j with one (N, N-1) mask each: O(N^3) time and, under
      autograd, O(N^3) memory. Here each anchor's label distances are sorted once, S_ij's
      denominator is a prefix sum at the end of j's tie group, and a hand-written backward
      takes one reverse prefix sum: O(N^2 log N) time, O(N^2) memory (16 bytes per pair
      kept for the backward in float32), the same value up to rounding. The sums are
      log-sum-exps (log w + s, shifted per row; rows too wide for float32's range take
      logcumsumexp), so alpha = 10 and temperature = 0.01 stay finite.
    - Double backward (gradients of gradients) is not supported.

    Args:
        features: embeddings, one per sample or V views per sample (as the official code
            takes two augmentations). With views, the batch is the N = B * V view-samples,
            each with its sample's label, and j, k range over all other views, the other
            views of the same sample included.
        labels: regression targets. Integer labels are cast to float.
        temperature: tau > 0.
        similarity: "cosine" or "l2" (negative Euclidean distance).
        weighting: one of "exp", "quadratic", "linear", "log", "none".
        alpha: base of the "exp" weighting, > -1; checked for every weighting.

    Shapes:
        features (B, D) or (B, V, D); labels (B,) or (B, 1); returns a scalar. Half precision
        features are computed in float32, float64 in float64.

    Returns:
        The scalar loss. With fewer than two view-samples (N < 2) no pair exists: the result
        is `features.sum() * 0`, a zero that keeps the graph connected so that backward runs.
    """
    check_loss_args(temperature, similarity, weighting, alpha)
    x, y = _flatten_views(features, labels)
    N = x.shape[0]
    if N < 2:
        return features.sum() * 0.0

    # float32 at least: logcumsumexp over N terms needs more than half precision
    dtype = torch.promote_types(x.dtype, torch.float32)
    x = x.to(dtype)
    y = y.to(device=x.device, dtype=dtype)

    # sorted by label the loss is the same, and every row of label distances is two monotone
    # runs, on which the per-anchor sort is faster
    perm = y.argsort()
    x, y = x[perm], y[perm]

    logits = _pairwise_logits(x, temperature, similarity)  # (N, N)
    return RankedContrast.apply(logits, y, weighting, float(alpha))


def rnc_loss(
    features: Tensor,
    labels: Tensor,
    temperature: float = 0.05,
    similarity: str = "cosine",
) -> Tensor:
    """Rank-N-Contrast loss (Zha et al., NeurIPS 2023): `wrcr_loss` with unit weights.

        S_ij = {k != i : d_ik >= d_ij}
        L_i  = -1/(N-1) * sum_{j != i} log( exp(s_ij) / sum_{k in S_ij} exp(s_ik) )

    Same arguments, shapes, ties, views, small-batch result and algorithm as `wrcr_loss`.
    Differs from the official code in the default similarity (cosine with temperature 0.05,
    vs negative L2 with temperature 2) and in cost (O(N^2 log N) vs O(N^3)), not in value.
    """
    return wrcr_loss(features, labels, temperature, similarity, weighting="none")


class WRCRLoss(nn.Module):
    """`wrcr_loss` as a module: forward(features, labels) -> scalar."""

    def __init__(
        self,
        temperature: float = 0.05,
        similarity: str = "cosine",
        weighting: str = "exp",
        alpha: float = 0.4,
    ) -> None:
        super().__init__()
        check_loss_args(temperature, similarity, weighting, alpha)
        self.temperature, self.similarity = temperature, similarity
        self.weighting, self.alpha = weighting, alpha

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        return wrcr_loss(
            features, labels, self.temperature, self.similarity, self.weighting, self.alpha
        )

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, similarity={self.similarity!r}, "
            f"weighting={self.weighting!r}, alpha={self.alpha}"
        )


class RnCLoss(nn.Module):
    """`rnc_loss` as a module: forward(features, labels) -> scalar."""

    def __init__(self, temperature: float = 0.05, similarity: str = "cosine") -> None:
        super().__init__()
        check_loss_args(temperature, similarity)
        self.temperature, self.similarity = temperature, similarity

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        return rnc_loss(features, labels, self.temperature, self.similarity)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, similarity={self.similarity!r}"
