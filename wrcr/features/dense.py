"""Dense post features: the raw columns, float64, NaN where missing, plus missing flags.

Thesis names -> posts table columns: userIsPro -> `ispro`, postCount -> `photo_count`,
photoFirstDateTaken -> `photo_firstdatetaken`, postDate -> `postdate`. No scaling here:
scalers are fitted inside training on the training split only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from wrcr.errors import DataError

log = logging.getLogger(__name__)

# column -> rule that marks a value as a sentinel (besides null and non-finite)
DENSE_COLUMNS: dict[str, str] = {
    "ispro": "not 0 or 1",
    "photo_count": "negative",
    "photo_firstdatetaken": "none (prepare already wrote NaN for sentinels)",
    "postdate": "none",
}


def _as_float(posts: pd.DataFrame, column: str, source: str | Path | None) -> np.ndarray:
    values = pd.to_numeric(posts[column], errors="coerce")
    # a string that is no number is bad input, not a missing value
    bad_mask = values.isna().to_numpy() & posts[column].notna().to_numpy()
    if bad_mask.any():
        row = int(np.flatnonzero(bad_mask)[0])
        raise DataError(
            f"not a number: {posts[column].iloc[row]!r}", file=source, row=row, field=column
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def dense_features(posts: pd.DataFrame, source: str | Path | None = None) -> pd.DataFrame:
    """post_id + one float64 column per dense feature + `<column>_missing` bool flags."""
    absent = [c for c in ["post_id", *DENSE_COLUMNS] if c not in posts.columns]
    if absent:
        raise DataError(f"missing column(s) {', '.join(absent)}", file=source)

    out = pd.DataFrame({"post_id": posts["post_id"].astype(str).to_numpy()})
    for column in DENSE_COLUMNS:
        x = _as_float(posts, column, source)  # (N,)
        x[~np.isfinite(x)] = np.nan
        if column == "ispro":
            x[(x != 0) & (x != 1)] = np.nan
        elif column == "photo_count":
            x[x < 0] = np.nan
        out[column] = x
    for column in DENSE_COLUMNS:
        out[f"{column}_missing"] = out[column].isna().to_numpy()

    missing = {c: int(out[f"{c}_missing"].sum()) for c in DENSE_COLUMNS}
    log.info(
        "dense: %d posts, missing %s", len(out), ", ".join(f"{c} {n}" for c, n in missing.items())
    )
    return out
