"""Stage `dense`: posts table -> `data/features/dense.parquet` (raw dense columns)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

log = logging.getLogger(__name__)


def main(
    posts: Path = typer.Option(..., "--posts", help="Posts table (parquet)."),
    out: Path = typer.Option(..., "--out", help="Dense features file to write (parquet)."),
) -> None:
    """Write post_id, the raw dense columns (float64, NaN where missing) and missing flags."""
    import pandas as pd
    import pyarrow.parquet as pq

    from wrcr.errors import DataError
    from wrcr.features.dense import DENSE_COLUMNS, dense_features
    from wrcr.io import atomic_path

    if not posts.is_file():
        raise DataError("posts table not found", file=posts)
    # only the columns used; an absent one is reported by dense_features
    names = pq.read_schema(posts).names
    table = pd.read_parquet(posts, columns=[c for c in ["post_id", *DENSE_COLUMNS] if c in names])
    features = dense_features(table, source=posts)
    with atomic_path(out) as tmp:
        features.to_parquet(tmp, index=False)
    log.info("dense: wrote %d rows x %d features to %s", len(features), len(DENSE_COLUMNS), out)
