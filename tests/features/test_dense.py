"""Dense features: raw float64 columns, NaN for sentinels and non-finite, missing flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wrcr.errors import DataError
from wrcr.features import DENSE_COLUMNS, dense_features


def _posts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "post_id": ["a", "b", "c", "d"],
            "ispro": [1, 0, 7, None],
            "photo_count": [10, -1, np.inf, 3],
            "photo_firstdatetaken": [1.2e9, np.nan, 1.3e9, -np.inf],
            "postdate": np.array([1_400_000_000, 1_400_000_001, 1_400_000_002, 1_400_000_003]),
            "tags": ["x", "", "y", "z"],
        }
    )


def test_columns_values_and_flags() -> None:
    """post_id, four float64 columns with NaN where missing, and a bool flag per column."""
    out = dense_features(_posts())
    assert list(out.columns) == [
        "post_id",
        *DENSE_COLUMNS,
        *(f"{c}_missing" for c in DENSE_COLUMNS),
    ]
    assert all(out[c].dtype == np.float64 for c in DENSE_COLUMNS)
    assert all(out[f"{c}_missing"].dtype == bool for c in DENSE_COLUMNS)
    np.testing.assert_array_equal(out["ispro"], [1.0, 0.0, np.nan, np.nan])
    np.testing.assert_array_equal(out["photo_count"], [10.0, np.nan, np.nan, 3.0])
    np.testing.assert_array_equal(out["photo_firstdatetaken_missing"], [False, True, False, True])
    assert out["postdate"].iloc[3] == 1_400_000_003.0


def test_missing_column_is_named() -> None:
    """A posts table without a dense column fails naming the file and the column."""
    with pytest.raises(DataError, match=r"posts\.parquet: missing column\(s\) photo_count"):
        dense_features(_posts().drop(columns="photo_count"), source="posts.parquet")


def test_text_in_a_numeric_column() -> None:
    """A value that is no number names the row and the field."""
    posts = _posts().astype({"postdate": object})
    posts.loc[2, "postdate"] = "yesterday"
    with pytest.raises(DataError, match=r"row 2, field 'postdate': not a number: 'yesterday'"):
        dense_features(posts)


def test_dense_command(tmp_path: Path) -> None:
    """`wrcr dense --posts --out` writes the parquet file."""
    import typer
    from typer.testing import CliRunner

    from pipeline.dense import main

    _posts().to_parquet(tmp_path / "posts.parquet")
    app = typer.Typer()
    app.command()(main)
    out = tmp_path / "features" / "dense.parquet"
    result = CliRunner().invoke(
        app, ["--posts", str(tmp_path / "posts.parquet"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert len(table) == 4 and table["photo_count_missing"].sum() == 2
