"""The generic posts table reader, and writing / reading the posts table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from wrcr.data.posts import read_posts, write_posts
from wrcr.data.table import read_table
from wrcr.errors import DataError

DENSE = ("ispro", "photo_count", "postdate")


def _table(tmp_path: Path, rows: list[dict], name: str = "posts.csv") -> Path:
    path = tmp_path / name
    df = pd.DataFrame(rows)
    if name.endswith(".csv"):
        df.to_csv(path, index=False)
    elif name.endswith(".parquet"):
        df.to_parquet(path, index=False)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(n: int = 4) -> list[dict]:
    return [
        {
            "post_id": f"p{i}",
            "user_id": f"u{i % 2}",
            "label": 2.0 + i,
            "tags": f"sunset beach {i}",
            "image_path": f"img/{i}.jpg",
            "ispro": i % 2,
            "photo_count": 10 * (i + 1),
            "postdate": 1_450_000_000 + i,
        }
        for i in range(n)
    ]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    for i in range(4):
        (tmp_path / "img" / f"{i}.jpg").write_bytes(b"\xff\xd8fake")
    return tmp_path


def test_csv_gives_posts_table(images: Path) -> None:
    """A CSV with label, tags, images and dense columns gives the posts table."""
    df, report = read_table(_table(images, _rows()), dense_columns=DENSE)
    assert df["post_id"].tolist() == ["p0", "p1", "p2", "p3"]
    assert df["label"].tolist() == [2.0, 3.0, 4.0, 5.0]
    assert df["tags"][0] == "sunset beach 0"
    assert df["postdate"].dtype == np.int64 and df["photo_count"].dtype == np.float64
    assert report["images"]["found"] == 4 and df.attrs["data_root"] == str(images)


def test_image_paths_stay_relative_to_table_dir(images: Path) -> None:
    """image_path is stored relative to the table's directory (the data root)."""
    df, _ = read_table(_table(images, _rows()), dense_columns=())
    assert df["image_path"].tolist() == [f"img/{i}.jpg" for i in range(4)]


def test_missing_image_is_null_and_counted(images: Path) -> None:
    """A listed image missing on disk gets a null path and is counted."""
    (images / "img" / "2.jpg").unlink()
    df, report = read_table(_table(images, _rows()), dense_columns=())
    assert df["image_path"].isna().tolist() == [False, False, True, False]
    assert report["images"]["missing"] == 1


def test_views_and_days_give_log_label(tmp_path: Path) -> None:
    """Without a label column, label = log2(views / days) + 1."""
    rows = [{"post_id": "a", "views": 64, "days": 2, "tags": "x"},
            {"post_id": "b", "views": 3, "days": 3, "tags": "y"}]  # fmt: skip
    df, report = read_table(_table(tmp_path, rows), image_column=None, dense_columns=())
    assert df["label"].tolist() == [6.0, 1.0]
    assert report["label_source"] == "log2(views / days) + 1"


@pytest.mark.parametrize("field", ["views", "days"])
def test_non_positive_counts_name_row(tmp_path: Path, field: str) -> None:
    """Zero views or days is an error naming the row and the field."""
    rows = [{"post_id": "a", "views": 5, "days": 2, "tags": "x"},
            {"post_id": "b", "views": 5, "days": 2, "tags": "y"}]  # fmt: skip
    rows[1][field] = 0
    with pytest.raises(DataError, match=rf"posts\.csv, row 1, field '{field}': must be positive"):
        read_table(_table(tmp_path, rows), image_column=None, dense_columns=())


@pytest.mark.parametrize("name", ["posts.parquet", "posts.jsonl"])
def test_parquet_and_jsonl_read_like_csv(images: Path, name: str) -> None:
    """Parquet and JSON lines give the same table as CSV."""
    csv, _ = read_table(_table(images, _rows()), dense_columns=DENSE)
    other, _ = read_table(_table(images, _rows(), name), dense_columns=DENSE)
    pd.testing.assert_frame_equal(csv, other)


def test_jsonl_tag_lists_are_joined(tmp_path: Path) -> None:
    """A JSON list of tags becomes a space-separated string."""
    rows = [{"post_id": "a", "label": 1.0, "tags": ["red", "sky"]}]
    df, _ = read_table(_table(tmp_path, rows, "t.jsonl"), image_column=None, dense_columns=())
    assert df["tags"].tolist() == ["red sky"]


def test_caption_column_is_the_text(tmp_path: Path) -> None:
    """The text column may be a caption; it is stored as `tags`, missing text as ""."""
    rows = [{"post_id": "a", "label": 1.0, "caption": "A red  sky"},
            {"post_id": "b", "label": 2.0, "caption": None}]  # fmt: skip
    df, report = read_table(
        _table(tmp_path, rows), text_column="caption", image_column=None, dense_columns=()
    )
    assert df["tags"].tolist() == ["A red sky", ""] and report["empty_tags"] == 1


def test_date_strings_in_dense_columns(tmp_path: Path) -> None:
    """postdate and photo_firstdatetaken accept date strings; sentinels of the latter are NaN."""
    rows = [{"post_id": "a", "label": 1.0, "tags": "", "postdate": "2016-01-01 00:00:00",
             "photo_firstdatetaken": "0000-00-00 00:00:00"}]  # fmt: skip
    df, _ = read_table(
        _table(tmp_path, rows),
        image_column=None,
        dense_columns=("postdate", "photo_firstdatetaken"),
    )
    assert df["postdate"].tolist() == [1451606400]
    assert np.isnan(df["photo_firstdatetaken"][0])


def test_missing_dense_column_names_field(images: Path) -> None:
    """A dense column named by the caller but absent is an error naming it."""
    with pytest.raises(DataError, match=r"field 'photo_firstdatetaken': missing dense column"):
        read_table(_table(images, _rows()), dense_columns=("photo_firstdatetaken",))


def test_missing_label_column(tmp_path: Path) -> None:
    """Neither label nor views/days: an error naming what is needed."""
    rows = [{"post_id": "a", "tags": "x"}]
    with pytest.raises(DataError, match=r"field 'label': missing label.*'views' and 'days'"):
        read_table(_table(tmp_path, rows), image_column=None, dense_columns=())


def test_named_image_column_must_exist(tmp_path: Path) -> None:
    """An image column that the table lacks is an error (None means: no images)."""
    rows = [{"post_id": "a", "label": 1.0, "tags": "x"}]
    with pytest.raises(DataError, match=r"field 'image_path': missing image column"):
        read_table(_table(tmp_path, rows), dense_columns=())


def test_nan_label_names_row(images: Path) -> None:
    """A NaN label names the file, the row and the field."""
    rows = _rows()
    rows[2]["label"] = float("nan")
    with pytest.raises(DataError, match=r"posts\.csv, row 2, field 'label'"):
        read_table(_table(images, rows), dense_columns=())


def test_duplicate_post_id_names_both_rows(images: Path) -> None:
    """A duplicate post id names both rows."""
    rows = _rows()
    rows[3]["post_id"] = "p1"
    with pytest.raises(
        DataError, match=r"row 3, field 'post_id': duplicate post id 'p1' in rows 1"
    ):
        read_table(_table(images, rows), dense_columns=())


def test_malformed_jsonl_names_line(tmp_path: Path) -> None:
    """A broken JSON line names the file and the line."""
    path = tmp_path / "t.jsonl"
    path.write_text('{"post_id": "a", "label": 1, "tags": ""}\n{"post_id": "b", \n')
    with pytest.raises(DataError, match=r"t\.jsonl, row 1: malformed JSON at line 2"):
        read_table(path, image_column=None, dense_columns=())


def test_unknown_format_lists_allowed(tmp_path: Path) -> None:
    """An unknown file suffix lists the allowed formats."""
    with pytest.raises(DataError, match=r"unknown table format '\.xlsx'; allowed: \.csv"):
        read_table(tmp_path / "t.xlsx")


def test_write_and_read_posts_keep_data_root(images: Path, tmp_path: Path) -> None:
    """write_posts stores the data root in the Parquet metadata; read_posts returns it."""
    df, _ = read_table(_table(images, _rows()), dense_columns=DENSE)
    out = tmp_path / "prepared" / "posts.parquet"
    write_posts(df, out, data_root="data/raw/x")
    assert pq.read_schema(out).metadata[b"wrcr.data_root"] == b"data/raw/x"
    back = read_posts(out)
    assert back.attrs["data_root"] == "data/raw/x"
    pd.testing.assert_frame_equal(back, df)


def test_write_posts_refuses_bad_table_and_writes_nothing(tmp_path: Path) -> None:
    """A table breaking the contract (infinite label) is refused and no file is left."""
    df = pd.DataFrame({"post_id": ["a"], "user_id": ["u"], "label": [np.inf], "tags": [""],
                       "title": [""], "image_path": [None]})  # fmt: skip
    out = tmp_path / "posts.parquet"
    with pytest.raises(DataError, match=r"posts\.parquet, row 0, field 'label'"):
        write_posts(df, out, data_root=".")
    assert list(tmp_path.iterdir()) == []
