"""The wrcr application: one module per DVC stage, gathered by the `wrcr` console script."""
