"""Posts to score: read a JSON lines / CSV / Parquet file or take records, check every row.

A bad row never stops the others: reading and checking return the rows that can be scored
together with a failure per bad row (its line number, post id when known, and the reason).

Line numbers are 1-based lines of the file: a JSON lines record is on its own line (blank
lines count as lines); a CSV header is line 1, so the first post is on line 2, and a record
holding a quoted line break starts on its first line. Parquet rows, DataFrames and lists of
dicts have no lines: their `line` is the 1-based row position.

Values are converted with the posts table readers' own conversions (`wrcr.data.schema`), so a
post given here gets the numbers it would have got from `wrcr prepare --table`.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wrcr.data.schema import (
    DATE_COLUMNS,
    is_sentinel,
    to_float,
    to_int_seconds,
    to_optional_text,
    to_text,
    to_timestamp,
)
from wrcr.errors import DataError

log = logging.getLogger(__name__)

SUFFIXES = (".jsonl", ".ndjson", ".csv", ".parquet")
FAILURE_COLUMNS = ["line", "post_id", "reason"]


@dataclass
class Failure:
    """A row that cannot be scored."""

    line: int
    post_id: str | None
    reason: str


@dataclass
class PostRecords:
    """Raw records (one dict per post, values as read) and where each came from."""

    records: list[dict[str, Any]]
    lines: list[int]
    failures: list[Failure] = field(default_factory=list)  # rows not even readable
    source: Path | None = None
    data_root: str | None = None  # a Parquet posts table's wrcr.data_root, when it has one


def failures_frame(failures: Sequence[Failure]) -> pd.DataFrame:
    """line, post_id, reason; sorted by line."""
    frame = pd.DataFrame(
        {
            "line": pd.Series([f.line for f in failures], dtype=np.int64),
            # object dtype: an unknown post id stays None (a string dtype would make it NaN)
            "post_id": pd.Series([f.post_id for f in failures], dtype=object),
            "reason": pd.Series([f.reason for f in failures], dtype=object),
        }
    )
    return frame.sort_values("line", kind="stable", ignore_index=True)


# ---------------------------------------------------------------------------------------------
# reading


def _read_jsonl(path: Path) -> PostRecords:
    out = PostRecords([], [], source=path)
    with path.open(encoding="utf-8-sig") as f:
        for lineno, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as err:
                out.failures.append(
                    Failure(lineno, None, f"malformed JSON (column {err.colno}): {err.msg}")
                )
                continue
            if not isinstance(rec, dict):
                out.failures.append(
                    Failure(lineno, None, f"expected a JSON object, got {type(rec).__name__}")
                )
                continue
            out.records.append(rec)
            out.lines.append(lineno)
    return out


def _read_csv(path: Path) -> PostRecords:
    out = PostRecords([], [], source=path)
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header: list[str] | None = None
        end = 0  # physical line the previous record ended on
        try:
            for row in reader:
                start, end = end + 1, reader.line_num
                if not row or all(not v.strip() for v in row):
                    continue
                if header is None:
                    header = [h.strip() for h in row]
                    continue
                if len(row) != len(header):
                    out.failures.append(
                        Failure(start, None, f"expected {len(header)} fields, got {len(row)}")
                    )
                    continue
                # an empty CSV cell means "no value", as a JSON null does
                values = [v if v != "" else None for v in row]
                out.records.append(dict(zip(header, values, strict=True)))
                out.lines.append(start)
        except csv.Error as err:
            raise DataError(
                f"unreadable CSV near line {reader.line_num}: {err}", file=path
            ) from err
    if header is None:
        raise DataError("empty CSV file (no header line)", file=path)
    return out


def _read_parquet(path: Path) -> PostRecords:
    import pyarrow.parquet as pq

    from wrcr.data.schema import DATA_ROOT_KEY

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several types for a file that is no Parquet
        raise DataError(f"unreadable Parquet file: {err}", file=path) from err
    meta = table.schema.metadata or {}
    root = meta.get(DATA_ROOT_KEY.encode())
    records = table.to_pandas().to_dict("records")
    return PostRecords(
        records,
        list(range(1, len(records) + 1)),
        source=path,
        data_root=None if root is None else root.decode(),
    )


def read_post_records(path: str | Path) -> PostRecords:
    """Read a posts file (.jsonl / .ndjson, .csv, .parquet); no rows at all is a DataError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"unknown posts file format {path.suffix!r}; allowed: {', '.join(SUFFIXES)}", file=path
        )
    if not path.is_file():
        raise DataError("posts file not found", file=path)
    try:
        if suffix == ".csv":
            out = _read_csv(path)
        elif suffix == ".parquet":
            out = _read_parquet(path)
        else:
            out = _read_jsonl(path)
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read the posts file: {err}", file=path) from err
    if not out.records and not out.failures:
        raise DataError("the posts file holds no posts", file=path)
    return out


def records_from(posts: pd.DataFrame | Sequence[Mapping[str, Any]]) -> PostRecords:
    """Records of an in-memory table or list of dicts; `line` is the 1-based position."""
    if isinstance(posts, pd.DataFrame):
        records = posts.to_dict("records")
        data_root = posts.attrs.get("data_root")
    else:
        records = [dict(r) for r in posts]
        data_root = None
    if not records:
        raise DataError("no posts to score (empty input)")
    return PostRecords(records, list(range(1, len(records) + 1)), data_root=data_root)


# ---------------------------------------------------------------------------------------------
# checking


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _convert(
    values: list[Any], column: str, convert: Callable[..., np.ndarray], what: str
) -> tuple[np.ndarray, dict[int, str]]:
    """The column converted as the readers convert it; per-row reasons where it fails."""
    try:
        return convert(values, file="posts", field=column), {}
    except DataError:
        pass
    # slow path, only for a column with a bad value: find every bad row
    out, bad = [], {}
    for i, v in enumerate(values):
        try:
            out.append(convert([v], file="posts", field=column)[0])
        except DataError:
            out.append(np.nan)
            if is_sentinel(v):
                bad[i] = f"field '{column}' is missing (null)"
            else:
                bad[i] = f"field '{column}': {v!r} is not {what}"
    return np.asarray(out), bad


def _dense_rule(column: str) -> tuple[Callable[..., np.ndarray], str]:
    # the conversions of wrcr.data.table.read_table: postdate complete, dates parsed
    if column == "postdate":
        return to_int_seconds, "a date (unix seconds or YYYY-mm-dd HH:MM:SS)"
    if column in DATE_COLUMNS:
        return to_timestamp, "a date (unix seconds or YYYY-mm-dd HH:MM:SS)"
    return to_float, "a finite number"


def check_posts(
    posts: PostRecords, *, text: bool, image: bool, dense_columns: Sequence[str]
) -> tuple[pd.DataFrame, list[Failure]]:
    """The rows that can be scored, converted, and a failure for every other row.

    The frame has `line`, `post_id` (str), `tags` (str, when `text`), `image_path` (str or
    None, when `image`) and the dense columns, in input order. A required field missing from
    every row is a DataError (a file of the wrong kind), not one failure per row.
    """
    records, lines = posts.records, posts.lines
    failures = list(posts.failures)
    required = ["post_id"] + ["tags"] * text + ["image_path"] * image + list(dense_columns)
    present = set().union(*(r.keys() for r in records)) if records else set()
    absent_everywhere = [c for c in required if c not in present]
    if records and absent_everywhere:
        raise DataError(
            f"no post has field(s) {', '.join(absent_everywhere)}, which this model needs "
            f"(the posts have: {', '.join(sorted(map(str, present)))})",
            file=posts.source,
            field=absent_everywhere[0],
        )

    # per-row reasons, gathered over every field before the row is dropped
    reasons: dict[int, list[str]] = {}
    for i, rec in enumerate(records):
        missing = [c for c in required if c not in rec]
        if missing:
            reasons.setdefault(i, []).append(f"missing field(s) {', '.join(missing)}")

    # post ids: present, non-empty, unique
    ids = to_optional_text([r.get("post_id") for r in records])
    first_line: dict[str, int] = {}
    for i, pid in enumerate(ids):
        if pid is None:
            if "post_id" in records[i]:
                reasons.setdefault(i, []).append("post_id is empty")
        elif pid in first_line:
            reasons.setdefault(i, []).append(
                f"duplicate post_id {pid!r} (first at line {first_line[pid]})"
            )
        else:
            first_line[pid] = lines[i]

    frame = pd.DataFrame({"line": np.asarray(lines, dtype=np.int64), "post_id": ids})
    if text:
        tags = [None if _is_null(r.get("tags")) else r.get("tags") for r in records]
        frame["tags"] = to_text(tags, join_lists=True)
    if image:
        paths = [None if _is_null(r.get("image_path")) else r.get("image_path") for r in records]
        # object dtype: None stays None (a string dtype would turn it into NaN)
        frame["image_path"] = pd.Series(to_optional_text(paths), dtype=object)

    # dense columns, converted whole; a bad value fails its row only
    for column in dense_columns:
        convert, what = _dense_rule(column)
        values = [r.get(column) for r in records]
        values = [None if _is_null(v) else v for v in values]
        converted, bad = _convert(values, column, convert, what)
        frame[column] = converted
        for i, why in bad.items():
            if column in records[i]:
                reasons.setdefault(i, []).append(why)

    failures += [Failure(lines[i], ids[i], "; ".join(why)) for i, why in reasons.items()]
    keep_mask = np.ones(len(records), dtype=bool)
    keep_mask[list(reasons)] = False
    return frame[keep_mask].reset_index(drop=True), failures
