"""The (weighted) rank-contrast loss from one sort per anchor, with a hand-written backward.

Shapes: N samples in the batch (all views flattened), so logits are (N, N).

For anchor i, order all samples k by decreasing label distance d_ik, the anchor itself last
(where it is masked out). Then S_ij = {k != i : d_ik >= d_ij} is a prefix of that order: it
ends at the last position of j's tie group (all k with d_ik == d_ij, j included). With
a_ik = log w_ik + s_ik,

    log_den[q] = logsumexp(a over positions 0..q)        (one prefix sum per row)
    L_i = 1/(N-1) * sum_{j != i} (log_den[end(j)] - s_ij)

A group ending at position q holds size[q] samples j, all with the denominator log_den[q], so
the sum over j is sum_q size[q] * log_den[q] with size[q] = 0 where no group ends. The gradient
with respect to a at position q collects every denominator that contains it:

    dL/da_q = 1/(N(N-1)) * sum_{group ends r >= q} size[r] * exp(a_q - log_den[r])

one reverse cumulative sum. The numerator contributes -1/(N(N-1)) to every s_ij, j != i.

Both cumulative sums run on exp(a - shift) with one shift per row. This is as exact as
logcumsumexp as long as the row's values span less than about 128 (from the float32 exponent
range; the same bound is kept for float64): every prefix sum then lies in [e^-64, e^64].
A row that spans more (cosine similarity at tau below about 0.017, or far apart features with
"l2") takes logcumsumexp instead, so any temperature and weight stays finite; it is not the
default because on CPU it costs about as much as the sort.

Time O(N^2 log N) (the sort), memory O(N^2): the forward keeps the sort order (int64),
exp(a - shift) and size / den for the backward, 16 bytes per pair in float32, instead of the
graph of a dozen (N, N) intermediates that autograd would keep. Every (N, N) tensor is a full
row per anchor, the anchor's own column included, so that all of them are contiguous.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from wrcr.losses.weighting import log_label_weights

# prefix sums of exp(a - shift) stay within [e^-SPAN, e^SPAN], far from float32's e^+-87
SPAN = 64.0


def _sort_by_label_distance(labels: Tensor) -> tuple[Tensor, Tensor]:
    """Per row, d_ik sorted descending with the anchor (-1) last, and that order; (N, N) each."""
    label_dist = (labels[:, None] - labels[None, :]).abs_()  # (N, N)
    label_dist.fill_diagonal_(-1.0)
    # NOTE: stable sort is faster here on CPU: with labels sorted beforehand every row is two
    # monotone runs, which merge sort exploits; the order within ties does not matter
    return label_dist.sort(dim=1, descending=True, stable=True)


def _group_sizes(sorted_dist: Tensor, dtype: torch.dtype) -> Tensor:
    """size[i, q]: the size of the tie group ending at position q, 0 where none ends (N, N)."""
    N = sorted_dist.shape[0]
    # flattened, a row never merges with the next: it ends with the anchor's -1, the next
    # starts at a distance >= 0
    _, counts = torch.unique_consecutive(sorted_dist.view(-1), return_counts=True)
    ends = counts.cumsum(0).sub_(1)  # flat position of each group's last element
    size = torch.zeros(N * N, dtype=dtype, device=sorted_dist.device)
    size.scatter_(0, ends, counts.to(dtype)).view(N, N)[:, -1] = 0  # the anchor is no j
    return size.view(N, N)


def _add_log_weights_(a: Tensor, label_dist: Tensor, weighting: str, alpha: float) -> None:
    """a += log g(label_dist), in place; the common exponential weighting in one pass."""
    if weighting == "exp":
        a.add_(label_dist, alpha=math.log1p(alpha))
    elif weighting != "none":
        a.add_(log_label_weights(label_dist, weighting, alpha))


def _shifts(a: Tensor) -> tuple[Tensor, Tensor]:
    """Per row of a (N, N): the shift of its prefix sums (N,), and if it spans too wide (N,)."""
    N = a.shape[0]
    row_max = a.amax(dim=1)  # (N,)
    first = a[:, 0]  # the smallest prefix sum is the first term
    shift = torch.minimum(row_max, first + SPAN)  # (N,)
    exact_mask = row_max - first > 2 * SPAN - math.log(N)  # (N,)
    return shift, exact_mask


class RankedContrast(torch.autograd.Function):
    """loss = RankedContrast.apply(logits (N, N), labels (N,), weighting, alpha), N >= 2."""

    @staticmethod
    def forward(ctx: Any, logits: Tensor, labels: Tensor, weighting: str, alpha: float) -> Tensor:
        N = logits.shape[0]
        sorted_dist, order = _sort_by_label_distance(labels)  # (N, N) each
        size = _group_sizes(sorted_dist, logits.dtype)  # (N, N)

        # a_ik = log w_ik + s_ik, k in order of decreasing d_ik; the anchor (last) drops out
        a = logits.gather(1, order)  # (N, N)
        _add_log_weights_(a, sorted_dist, weighting, alpha)
        a[:, -1] = float("-inf")
        del sorted_dist

        # rows too wide for one shift (R of them, usually none) take exact log-space sums
        shift, exact_mask = _shifts(a)  # (N,) each
        exact_a = a[exact_mask]  # (R, N)
        exact_log_den = torch.logcumsumexp(exact_a, dim=1)  # (R, N)

        # prefix sums of exp(a - shift): den[q] = exp(shift) * prefix[q]
        exp_a = a.sub_(shift[:, None]).exp_()  # (N, N), in a's storage
        prefix = exp_a.cumsum(dim=1)  # (N, N)
        log_prefix = prefix.log()  # (N, N)
        log_prefix[exact_mask] = exact_log_den - shift[exact_mask, None]

        # every j shares the denominator of its group's last position: sum_q size log den[q]
        exact_terms = size[exact_mask].log_().sub_(exact_log_den)  # (R, N)
        den_sum = log_prefix.mul_(size).sum() + (N - 1) * shift.sum()
        pos_sum = logits.sum() - logits.diagonal().sum()
        loss = (den_sum - pos_sum) / (N * (N - 1))

        # the backward sums size / den from the right (log(size) - log den on exact rows)
        tail_terms = size.div_(prefix)  # (N, N)
        del prefix, log_prefix
        ctx.save_for_backward(order, exp_a, tail_terms, exact_mask, exact_a, exact_terms)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_loss: Tensor) -> tuple[Tensor | None, None, None, None]:
        order, exp_a, tail_terms, exact_mask, exact_a, exact_terms = ctx.saved_tensors
        N = order.shape[0]
        scale = grad_loss / (N * (N - 1))

        # exp(a_q) * sum over group ends r >= q of size[r] / den[r]: a reverse cumsum
        grad_sorted = tail_terms.flip(1).cumsum_(dim=1).flip(1).mul_(exp_a)  # (N, N)
        exact_tail = torch.logcumsumexp(exact_terms.flip(1), dim=1).flip(1)  # (R, N)
        grad_sorted[exact_mask] = exact_tail.add_(exact_a).exp_()
        grad_sorted.mul_(scale)
        grad_sorted[:, :-1] -= scale  # the numerator s_ij of every j != i

        # back to the batch order; every position is written, the anchor's with 0
        grad_logits = torch.empty_like(grad_sorted).scatter_(1, order, grad_sorted)  # (N, N)
        return grad_logits, None, None, None
