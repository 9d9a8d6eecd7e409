"""Tests of wrcr.losses: parity with a loop written from the formula, invariances, edge cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from wrcr.losses import (
    WEIGHTINGS,
    RnCLoss,
    WRCRLoss,
    check_loss_args,
    label_weights,
    log_label_weights,
    rnc_loss,
    wrcr_loss,
)
from wrcr.losses._ranked import _shifts

TOL = 1e-6  # relative error allowed against the float64 loop


def g(d: float, weighting: str, alpha: float) -> float:
    """The weight g(d) as the method states it."""
    return {
        "exp": (1 + alpha) ** d,
        "quadratic": d**2 + 1,
        "linear": d + 1,
        "log": math.log(d + 1) + 1,
        "none": 1.0,
    }[weighting]


def loop_loss(features, labels, temperature, similarity, weighting, alpha):
    """The loss by plain loops over i, j and the set S_ij, straight from the formula."""
    if features.ndim == 3:
        B, V, D = features.shape
        x, y = features.reshape(B * V, D), labels.reshape(-1).repeat_interleave(V)
    else:
        x, y = features, labels.reshape(-1)
    N = x.shape[0]
    if similarity == "cosine":
        sim = F.cosine_similarity(x[:, None], x[None, :], dim=-1)  # (N, N)
    else:
        sim = -(x[:, None] - x[None, :]).norm(dim=-1)  # (N, N)
    s = sim / temperature
    d = [[abs(float(y[i]) - float(y[k])) for k in range(N)] for i in range(N)]

    total = 0.0
    for i in range(N):
        L_i = 0.0
        for j in range(N):
            if j == i:
                continue
            S_ij = [k for k in range(N) if k != i and d[i][k] >= d[i][j]]
            log_w = torch.tensor([math.log(g(d[i][k], weighting, alpha)) for k in S_ij])
            log_den = torch.logsumexp(log_w.to(s) + s[i, S_ij], dim=0)
            L_i = L_i - (s[i, j] - log_den)
        total = total + L_i / (N - 1)
    return total / N


def batch(case: str, seed: int = 0):
    """Features (float64, requires grad) and labels for one named batch shape."""
    gen = torch.Generator().manual_seed(seed)
    if case == "ties":
        labels = torch.randint(0, 4, (10,), generator=gen).double()
    elif case == "repeated":
        # symmetric around 2.0 too: d = 1 is a tie between a label below and one above
        labels = torch.tensor([1.0, 2.0, 3.0, 2.0, 1.0, 0.5, 3.5, 2.0, 3.0])
    elif case == "all_equal":
        labels = torch.full((7,), 3.25)
    elif case == "two":
        labels = torch.tensor([0.0, 1.5])
    elif case == "views":
        labels = torch.tensor([0.0, 1.0, 1.0, 2.5, 4.0]).double()
        features = torch.randn(5, 2, 3, generator=gen, dtype=torch.float64)
        return features.requires_grad_(), labels
    else:
        raise AssertionError(case)
    features = torch.randn(len(labels), 3, generator=gen, dtype=torch.float64)
    return features.requires_grad_(), labels.double()


def loss_and_grad(fn, features, labels, **kwargs):
    features = features.detach().clone().requires_grad_()
    loss = fn(features, labels, **kwargs)
    (grad,) = torch.autograd.grad(loss, features)
    return loss.detach(), grad


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("case", ["ties", "repeated", "all_equal", "two", "views"])
@pytest.mark.parametrize("similarity", ["cosine", "l2"])
@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_matches_loop(case, similarity, weighting):
    """wrcr_loss and its gradient equal the loop from the formula (float64)."""
    features, labels = batch(case)
    kwargs = dict(temperature=0.5, similarity=similarity, weighting=weighting, alpha=0.4)
    loss, grad = loss_and_grad(wrcr_loss, features, labels, **kwargs)
    ref_loss, ref_grad = loss_and_grad(loop_loss, features, labels, **kwargs)
    assert rel_err(loss, ref_loss) < TOL, f"loss rel err {rel_err(loss, ref_loss):.2e}"
    assert rel_err(grad, ref_grad) < TOL, f"grad rel err {rel_err(grad, ref_grad):.2e}"


@pytest.mark.parametrize("similarity", ["cosine", "l2"])
def test_matches_loop_at_low_temperature(similarity):
    """At tau 0.01, where wide rows take logcumsumexp, loss and gradient still equal the loop."""
    features, labels = batch("ties", seed=10)
    kwargs = dict(temperature=0.01, similarity=similarity, weighting="exp", alpha=2.0)
    loss, grad = loss_and_grad(wrcr_loss, features, labels, **kwargs)
    ref_loss, ref_grad = loss_and_grad(loop_loss, features, labels, **kwargs)
    assert rel_err(loss, ref_loss) < TOL, f"loss rel err {rel_err(loss, ref_loss):.2e}"
    assert rel_err(grad, ref_grad) < TOL, f"grad rel err {rel_err(grad, ref_grad):.2e}"


def test_wide_rows_take_exact_path():
    """Rows whose values span more than the shifted sums allow are marked for logcumsumexp."""
    gen = torch.Generator().manual_seed(11)
    scale = torch.tensor([[1.0], [10.0], [300.0], [1000.0]])
    a = torch.randn(4, 50, generator=gen, dtype=torch.float64) * scale  # (4, 50)
    _, exact_mask = _shifts(a)
    assert exact_mask.tolist() == [False, False, True, True]


@pytest.mark.parametrize("similarity", ["cosine", "l2"])
def test_none_weighting_is_rnc(similarity):
    """weighting 'none' gives rnc_loss, value and gradient."""
    features, labels = batch("ties", seed=1)
    loss, grad = loss_and_grad(wrcr_loss, features, labels, similarity=similarity, weighting="none")
    rnc, rnc_grad = loss_and_grad(rnc_loss, features, labels, similarity=similarity)
    assert rel_err(loss, rnc) < TOL, f"loss rel err {rel_err(loss, rnc):.2e}"
    assert rel_err(grad, rnc_grad) < TOL, f"grad rel err {rel_err(grad, rnc_grad):.2e}"


@pytest.mark.parametrize("case", ["ties", "views"])
def test_permutation_invariant(case):
    """Permuting the batch leaves the loss unchanged and permutes the gradient."""
    features, labels = batch(case, seed=2)
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(3))
    loss, grad = loss_and_grad(wrcr_loss, features, labels)
    p_loss, p_grad = loss_and_grad(wrcr_loss, features[perm], labels[perm])
    assert rel_err(p_loss, loss) < TOL, f"loss rel err {rel_err(p_loss, loss):.2e}"
    assert rel_err(p_grad, grad[perm]) < TOL, f"grad rel err {rel_err(p_grad, grad[perm]):.2e}"


@pytest.mark.parametrize("similarity", ["cosine", "l2"])
def test_extreme_settings_finite(similarity):
    """alpha 10, tau 0.01 and labels over 0..20 give a finite loss and gradient in float32."""
    gen = torch.Generator().manual_seed(4)
    features = torch.randn(64, 16, generator=gen).requires_grad_()
    labels = torch.linspace(0, 20, 64)[torch.randperm(64, generator=gen)]
    loss = wrcr_loss(features, labels, temperature=0.01, similarity=similarity, alpha=10.0)
    loss.backward()
    assert torch.isfinite(loss), f"loss {loss.item()}"
    assert torch.isfinite(features.grad).all(), f"{(~features.grad.isfinite()).sum()} bad grads"


@pytest.mark.parametrize("similarity", ["cosine", "l2"])
def test_extreme_settings_float32_close_to_float64(similarity):
    """At alpha 10, tau 0.01 and labels over 0..20, float32 agrees with float64 to 1e-4."""
    gen = torch.Generator().manual_seed(12)
    features = torch.randn(64, 16, generator=gen, dtype=torch.float64).float().double()
    # quarters: exact in both precisions, so the tie groups are the same
    labels = torch.randint(0, 81, (64,), generator=gen).double() / 4
    kwargs = dict(temperature=0.01, similarity=similarity, alpha=10.0)
    loss64, grad64 = loss_and_grad(wrcr_loss, features, labels, **kwargs)
    loss32, grad32 = loss_and_grad(wrcr_loss, features.float(), labels.float(), **kwargs)
    assert rel_err(loss32.double(), loss64) < 1e-4, f"loss rel err {rel_err(loss32, loss64):.2e}"
    err = rel_err(grad32.double(), grad64)
    assert err < 1e-4, f"grad rel err {err:.2e}"


@pytest.mark.parametrize("similarity", ["cosine", "l2"])
def test_float32_close_to_float64(similarity):
    """At B = 300 (cdist's matmul path for l2), float32 agrees with float64 to 1e-4."""
    gen = torch.Generator().manual_seed(5)
    features = torch.randn(300, 8, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 40, (300,), generator=gen).double() / 4
    kwargs = dict(temperature=0.1, similarity=similarity, alpha=1.0)
    loss64, grad64 = loss_and_grad(wrcr_loss, features, labels, **kwargs)
    loss32, grad32 = loss_and_grad(wrcr_loss, features.float(), labels.float(), **kwargs)
    assert loss32.dtype == torch.float32
    assert rel_err(loss32.double(), loss64) < 1e-4, f"loss rel err {rel_err(loss32, loss64):.2e}"
    err = rel_err(grad32.double(), grad64)
    assert err < 1e-4, f"grad rel err {err:.2e}"


def test_half_precision_computed_in_float32():
    """bfloat16 features give a float32 loss equal to that of the same values in float32."""
    features, labels = batch("ties", seed=6)
    half = features.detach().bfloat16()
    loss = wrcr_loss(half, labels.float())
    ref = wrcr_loss(half.float(), labels.float())
    assert loss.dtype == torch.float32
    assert rel_err(loss, ref) < 1e-6, f"loss rel err {rel_err(loss, ref):.2e}"


def test_column_labels_same_as_flat():
    """Labels of shape (B, 1) give the same loss as (B,)."""
    features, labels = batch("ties", seed=7)
    assert wrcr_loss(features, labels[:, None]).item() == wrcr_loss(features, labels).item()


def test_integer_labels_same_as_float():
    """Integer labels give the same loss as the same values in float."""
    features, labels = batch("ties", seed=7)
    assert wrcr_loss(features, labels.long()).item() == wrcr_loss(features, labels).item()


@pytest.mark.parametrize("shape", [(1, 4), (0, 4), (1, 1, 4)])
def test_fewer_than_two_samples_is_connected_zero(shape):
    """With N * V < 2 the loss is a zero that backpropagates zero gradients."""
    features = torch.randn(shape, requires_grad=True)
    loss = wrcr_loss(features, torch.zeros(shape[0]))
    loss.backward()
    assert loss.item() == 0.0
    assert features.grad is not None and (features.grad == 0).all()


def test_one_sample_two_views_is_a_pair():
    """A single sample with two views is a valid batch: the views are each other's positive."""
    features = torch.randn(1, 2, 4, generator=torch.Generator().manual_seed(8))
    loss = wrcr_loss(features, torch.tensor([1.0]), temperature=1.0)
    # N = 2: L_i = -log(e^s / e^s) = 0 for both views
    assert abs(loss.item()) < 1e-6, f"loss {loss.item()}"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 0.0}, r"temperature must be a finite number > 0, got 0\.0"),
        ({"temperature": -1.0}, r"temperature .* got -1\.0"),
        ({"temperature": float("inf")}, r"temperature .* got inf"),
        ({"alpha": -1.0}, r"alpha must be a finite number > -1, got -1\.0"),
        ({"alpha": -3}, r"alpha .* got -3"),
        ({"weighting": "cubic"}, r"weighting must be one of \['exp', .*'none'\], got 'cubic'"),
        ({"similarity": "dot"}, r"similarity must be one of \['cosine', 'l2'\], got 'dot'"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    """Bad temperature, alpha, weighting or similarity raise ValueError naming them."""
    features, labels = batch("two")
    with pytest.raises(ValueError, match=match):
        wrcr_loss(features, labels, **kwargs)


@pytest.mark.parametrize(
    ("features_shape", "labels_shape", "match"),
    [
        ((4,), (4,), r"features must have shape \(B, D\) or \(B, V, D\), got \(4,\)"),
        ((4, 2, 3, 5), (4,), r"features must have shape .* got \(4, 2, 3, 5\)"),
        ((4, 3), (5,), r"labels must have shape \(B,\) or \(B, 1\) with B = 4 .* got \(5,\)"),
        ((4, 2, 3), (8,), r"labels must .* B = 4 .* got \(8,\)"),
        ((4, 3), (4, 2), r"labels must .* got \(4, 2\)"),
    ],
)
def test_bad_shapes_raise(features_shape, labels_shape, match):
    """Wrong feature ndim or labels that do not match the batch raise ValueError."""
    with pytest.raises(ValueError, match=match):
        wrcr_loss(torch.randn(features_shape), torch.zeros(labels_shape))


def test_bad_types_raise():
    """Integer features or labels that are not a tensor raise ValueError naming them."""
    with pytest.raises(
        ValueError, match=r"features must be a floating point tensor, got torch.int64"
    ):
        wrcr_loss(torch.ones(4, 3, dtype=torch.long), torch.zeros(4))
    with pytest.raises(ValueError, match=r"labels must be a tensor, got list"):
        wrcr_loss(torch.randn(4, 3), [0.0, 1.0, 2.0, 3.0])


def test_modules_match_functions():
    """WRCRLoss and RnCLoss return what the functions return for their settings."""
    features, labels = batch("ties", seed=9)
    module = WRCRLoss(temperature=0.2, similarity="l2", weighting="quadratic", alpha=1.0)
    expected = wrcr_loss(features, labels, 0.2, "l2", "quadratic", 1.0)
    assert module(features, labels).item() == expected.item()
    assert RnCLoss(0.2)(features, labels).item() == rnc_loss(features, labels, 0.2).item()


def test_module_repr_shows_settings():
    """extra_repr names every setting of the module."""
    assert "temperature=0.1, similarity='cosine', weighting='log', alpha=0.4" in repr(
        WRCRLoss(temperature=0.1, weighting="log")
    )
    assert "temperature=0.05, similarity='l2'" in repr(RnCLoss(similarity="l2"))


def test_module_checks_arguments():
    """A module with a bad setting fails at construction, before any batch."""
    with pytest.raises(ValueError, match=r"alpha must be a finite number > -1, got -2"):
        WRCRLoss(alpha=-2)
    with pytest.raises(ValueError, match=r"temperature .* got 0"):
        RnCLoss(temperature=0)


def test_check_loss_args_accepts_defaults():
    """check_loss_args passes on the defaults and raises on an unknown weighting."""
    check_loss_args(0.05, "cosine", "exp", 0.4)
    with pytest.raises(ValueError, match="weighting"):
        check_loss_args(0.05, "cosine", "square", 0.4)


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_label_weights_follow_formula(weighting):
    """label_weights equals g(d) of the method at a few distances, and log_label_weights its log."""
    d = torch.tensor([0.0, 0.5, 2.0, 7.0], dtype=torch.float64)
    expected = torch.tensor([g(float(v), weighting, 0.4) for v in d], dtype=torch.float64)
    err = rel_err(label_weights(d, weighting, 0.4), expected)
    assert err < 1e-12, f"rel err {err:.2e}"
    assert rel_err(log_label_weights(d, weighting, 0.4).exp(), expected) < 1e-12


def test_log_label_weights_finite_where_weights_overflow():
    """log_label_weights stays finite at alpha 10, d 40 where (1 + alpha)^d overflows float32."""
    d = torch.tensor([40.0])
    assert torch.isinf(label_weights(d, "exp", 10.0)).all()
    log_w = log_label_weights(d, "exp", 10.0)
    assert abs(log_w.item() - 40 * math.log(11)) < 1e-4, f"log w {log_w.item()}"
