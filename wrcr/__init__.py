"""wrcr: Weighted-Rank Contrastive Regression for imbalanced (popularity) regression."""

__version__ = "0.1.0"
