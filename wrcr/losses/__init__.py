"""Contrastive regularisers for regression: Rank-N-Contrast and its weighted form WRCR.

wrcr_loss(features, labels, temperature, similarity, weighting, alpha) / WRCRLoss
rnc_loss(features, labels, temperature, similarity) / RnCLoss
label_weights, log_label_weights: the weightings g(d) of WRCR
check_loss_args: the argument check the losses run, for failing before heavy work
"""

from wrcr.losses.rank_contrast import (
    SIMILARITIES,
    RnCLoss,
    WRCRLoss,
    check_loss_args,
    rnc_loss,
    wrcr_loss,
)
from wrcr.losses.weighting import WEIGHTINGS, label_weights, log_label_weights

__all__ = [
    "SIMILARITIES",
    "WEIGHTINGS",
    "RnCLoss",
    "WRCRLoss",
    "check_loss_args",
    "label_weights",
    "log_label_weights",
    "rnc_loss",
    "wrcr_loss",
]
