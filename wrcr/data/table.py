"""Reader of a generic posts table (CSV, Parquet or JSON lines) -> the posts table.

For imbalanced regression data other than SMPD. The table has one row per post:

- `post_id` (required, unique);
- `label`, or the raw counts `views` and `days`, turned into the popularity label
  log2(views / days) + 1 (DESIGN s.1); both counts must be positive;
- a text column (`tags`, or e.g. a caption), stored as `tags`; a JSON list of tags is joined
  by spaces; missing text is an empty string;
- optionally an image path column, relative to the table's directory, which is the data
  root; a listed file that is not on disk gets a null path and is counted;
- optionally `user_id` and `title`;
- dense columns named by the caller (float64, NaN where missing); `postdate` and other date
  columns may hold unix seconds or "YYYY-mm-dd HH:MM:SS", and `postdate` must be complete
  (int64 unix seconds).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wrcr.data.schema import (
    DATE_COLUMNS,
    check_unique_ids,
    to_float,
    to_int_seconds,
    to_label,
    to_optional_text,
    to_text,
    to_timestamp,
)
from wrcr.data.smpd import check_images
from wrcr.errors import DataError

logger = logging.getLogger(__name__)

SUFFIXES = (".csv", ".parquet", ".jsonl", ".ndjson")


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(
                    f"malformed JSON at line {lineno}, column {err.colno}: {err.msg}",
                    file=path,
                    row=len(records),
                ) from err
            if not isinstance(rec, dict):
                raise DataError(
                    f"line {lineno}: expected a JSON object", file=path, row=len(records)
                )
            records.append(rec)
    return pd.DataFrame.from_records(records)


def load_table(path: str | Path) -> pd.DataFrame:
    """Load a CSV, Parquet or JSON lines file as it is (ids and text kept as strings)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(
            f"unknown table format {path.suffix!r}; allowed: {', '.join(SUFFIXES)}", file=path
        )
    if not path.is_file():
        raise DataError("table file not found", file=path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            # object dtype: ids like "007" stay strings; numbers are converted per column later
            return pd.read_csv(path, dtype=object, keep_default_na=False, na_values=[""])
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as err:
        raise DataError(f"cannot read table: {err}", file=path) from err
    return _read_jsonl(path)


def _column(df: pd.DataFrame, name: str, path: Path, what: str) -> list[Any]:
    if name not in df.columns:
        raise DataError(
            f"missing {what} column (the table has: {', '.join(map(str, df.columns))})",
            file=path,
            field=name,
        )
    return df[name].tolist()


def _label(df: pd.DataFrame, path: Path, label_column: str) -> tuple[np.ndarray, str]:
    if label_column in df.columns:
        return to_label(df[label_column].tolist(), file=path, field=label_column), label_column
    if {"views", "days"} <= set(df.columns):
        views = to_float(df["views"].tolist(), file=path, field="views", allow_missing=False)
        days = to_float(df["days"].tolist(), file=path, field="days", allow_missing=False)
        for name, values in (("views", views), ("days", days)):
            bad = np.flatnonzero(values <= 0)
            if bad.size:
                row = int(bad[0])
                raise DataError(
                    f"must be positive to compute log2(views / days) + 1, got {values[row]}",
                    file=path,
                    row=row,
                    field=name,
                )
        return np.log2(views / days) + 1.0, "log2(views / days) + 1"
    raise DataError(
        f"missing label: the table needs '{label_column}' or both 'views' and 'days' "
        f"(it has: {', '.join(map(str, df.columns))})",
        file=path,
        field=label_column,
    )


def _image_paths(values: list[Any], root: Path) -> list[str | None]:
    # relative paths stay as written (the table's directory is the data root)
    out: list[str | None] = []
    for v in to_optional_text(values):
        if v is None:
            out.append(None)
            continue
        p = Path(v)
        # NOTE: an absolute path outside the data root is kept absolute; joining it to the
        # root still gives the file
        if p.is_absolute() and p.is_relative_to(root.resolve()):
            p = p.relative_to(root.resolve())
        out.append(p.as_posix())
    return out


def read_table(
    path: str | Path,
    *,
    text_column: str = "tags",
    image_column: str | None = "image_path",
    dense_columns: Sequence[str] = ("ispro", "photo_count", "photo_firstdatetaken", "postdate"),
    id_column: str = "post_id",
    label_column: str = "label",
    user_column: str = "user_id",
    title_column: str = "title",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a posts table file; the data root (for `image_path`) is the file's directory.

    `image_column=None` means the data has no images. Returns the posts table (its
    `attrs["data_root"]` set) and a report (rows, label source, images, empty text).
    """
    path = Path(path)
    root = path.parent
    raw = load_table(path)
    n = len(raw)

    # ids: present, non-empty, unique
    ids = to_optional_text(_column(raw, id_column, path, "post id"))
    if None in ids:
        raise DataError("missing post id", file=path, row=ids.index(None), field=id_column)
    check_unique_ids(ids, file=path, field=id_column)

    label, label_source = _label(raw, path, label_column)
    tags = to_text(_column(raw, text_column, path, "text"), join_lists=True)

    # images: none when the caller says so; a named column must exist
    if image_column is None:
        listed: list[str | None] = [None] * n
    else:
        listed = _image_paths(_column(raw, image_column, path, "image"), root)
    image_path, images = check_images(root, listed)

    users = raw[user_column].tolist() if user_column in raw.columns else [None] * n
    titles = raw[title_column].tolist() if title_column in raw.columns else [None] * n
    df = pd.DataFrame(
        {
            "post_id": ids,
            "user_id": to_optional_text(users),
            "label": label,
            "tags": tags,
            "title": to_text(titles),
            "image_path": image_path,
        }
    )

    # dense columns: float64 with NaN for missing; postdate complete int64 seconds
    for name in dense_columns:
        values = _column(raw, name, path, "dense")
        if name == "postdate":
            df[name] = to_int_seconds(values, file=path, field=name)
        elif name in DATE_COLUMNS:
            df[name] = to_timestamp(values, file=path, field=name)
        else:
            df[name] = to_float(values, file=path, field=name)
    df.attrs["data_root"] = str(root)

    report = {
        "layout": "table",
        "root": str(root),
        "files": {path.name: n},
        "rows": n,
        "labels": True,
        "label_source": label_source,
        "text_column": text_column,
        "images": images,
        "has_images": images["found"] > 0,
        "empty_tags": int((df["tags"] == "").sum()),
        "missing_values": {c: int(df[c].isna().sum()) for c in dense_columns},
    }
    logger.info(
        "table %s: %d posts, label from %s, %d empty %s, images %d listed / %d found",
        path.name,
        n,
        label_source,
        report["empty_tags"],
        text_column,
        images["listed"],
        images["found"],
    )
    return df, report


def table_rows(path: str | Path) -> int:
    """Number of rows of a table file (Parquet from its metadata)."""
    path = Path(path)
    if path.suffix.lower() == ".parquet" and path.is_file():
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return len(load_table(path))
