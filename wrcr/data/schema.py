"""The posts table: its columns, and the value conversions every reader shares.

Each conversion works on a whole column and raises `DataError` naming the file, the first bad
row and the field, so a reader never turns a bad value into a silent NaN. Sentinels (the
"None" and "0000-00-00 00:00:00" of the SMPD user data, empty strings, JSON null) are the only
values that become NaN, and only in columns that allow missing values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wrcr.errors import DataError

# Parquet schema metadata key holding the directory that `image_path` is relative to
DATA_ROOT_KEY = "wrcr.data_root"

# columns every posts table has, in this order (docs/architecture.md)
CORE_COLUMNS = ("post_id", "user_id", "label", "tags", "title", "image_path")
# the dense user / post columns of DESIGN s.1, present for SMPD and where a table names them
DENSE_COLUMNS = ("postdate", "ispro", "photo_count", "photo_firstdatetaken")
# columns holding dates: unix seconds, or "YYYY-mm-dd HH:MM:SS" strings
DATE_COLUMNS = frozenset({"postdate", "photo_firstdate", "photo_firstdatetaken"})

# values that mean "not known" in the SMPD release (compared after strip + lower)
SENTINELS = frozenset({"", "none", "null", "nan", "na", "n/a"})


def is_sentinel(value: Any) -> bool:
    """True for None, float NaN, and the sentinel strings (dates of year 0000 included)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        text = value.strip().lower()
        return text in SENTINELS or text.startswith("0000-00-00")
    return False


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def to_float(
    values: Sequence[Any], *, file: str | Path, field: str, allow_missing: bool = True
) -> np.ndarray:
    """Numbers or numeric strings -> float64; sentinels -> NaN (or an error).

    A value that is not a finite number (a word, "inf") is an error.
    """
    raw = pd.Series(list(values), dtype=object)
    missing = raw.map(is_sentinel).to_numpy(dtype=bool)
    if missing.any() and not allow_missing:
        row = _first(missing)
        raise DataError(f"missing value {raw.iloc[row]!r}", file=file, row=row, field=field)

    # bools are numbers here (ispro true/false); strings are stripped first
    cleaned = raw.map(
        lambda v: int(v) if isinstance(v, bool) else v.strip() if isinstance(v, str) else v
    )
    cleaned[missing] = np.nan
    numeric = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numeric) & ~missing
    if bad.any():
        row = _first(bad)
        raise DataError(f"not a finite number: {raw.iloc[row]!r}", file=file, row=row, field=field)
    return numeric


def to_timestamp(
    values: Sequence[Any], *, file: str | Path, field: str, allow_missing: bool = True
) -> np.ndarray:
    """Dates -> float64 unix seconds: numbers pass, "YYYY-mm-dd[ HH:MM:SS]" strings are parsed.

    Sentinels (None, "None", "0000-00-00 00:00:00", ...) become NaN, or an error when
    `allow_missing` is false; any other value that is neither a number nor a date is an error.
    """
    # NOTE: dates without a zone (Flickr's "date taken" is camera local time) are read as UTC
    raw = pd.Series(list(values), dtype=object)
    missing = raw.map(is_sentinel).to_numpy(dtype=bool)
    if missing.any() and not allow_missing:
        row = _first(missing)
        raise DataError(f"missing date {raw.iloc[row]!r}", file=file, row=row, field=field)

    texts = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
    texts[missing] = np.nan
    out = pd.to_numeric(texts, errors="coerce").to_numpy(dtype=np.float64, copy=True)

    # whatever is not a number is tried as a date string
    need_date = np.isnan(out) & ~missing
    if need_date.any():
        parsed = pd.to_datetime(texts[need_date].astype(str), errors="coerce", format="ISO8601")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert(None)
        seconds = (parsed - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
        out[need_date] = seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(out) & ~missing
    if bad.any():
        row = _first(bad)
        raise DataError(
            f"not a date: {raw.iloc[row]!r} (expected unix seconds or YYYY-mm-dd HH:MM:SS)",
            file=file,
            row=row,
            field=field,
        )
    return out


def to_int_seconds(values: Sequence[Any], *, file: str | Path, field: str) -> np.ndarray:
    """A complete date column (no missing values) -> int64 unix seconds."""
    seconds = to_timestamp(values, file=file, field=field, allow_missing=False)
    return np.floor(seconds).astype(np.int64)


def to_label(values: Sequence[Any], *, file: str | Path, field: str = "label") -> np.ndarray:
    """Labels -> float64; a missing, NaN, infinite or non-numeric label is an error."""
    label = to_float(values, file=file, field=field, allow_missing=True)
    missing = np.isnan(label)
    if missing.any():
        row = _first(missing)
        raise DataError(
            f"label is missing or NaN: {list(values)[row]!r}", file=file, row=row, field=field
        )
    return label


def to_text(values: Sequence[Any], *, join_lists: bool = False) -> list[str]:
    """Strings with whitespace collapsed; sentinels -> ""; lists of tags joined by spaces."""
    out = []
    for v in values:
        if isinstance(v, (list, tuple)) and join_lists:
            v = " ".join(str(t) for t in v)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append("")
        else:
            out.append(" ".join(str(v).split()))
    return out


def to_optional_text(values: Sequence[Any]) -> list[str | None]:
    """Strings stripped; None, NaN and empty strings -> None."""
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        else:
            text = str(v).strip()
            out.append(text or None)
    return out


def check_unique_ids(ids: Sequence[str], *, file: str | Path, field: str) -> None:
    """A duplicate post id is an error naming both rows."""
    series = pd.Series(list(ids), dtype=object)
    dup = series.duplicated(keep=False).to_numpy()
    if dup.any():
        first = _first(dup)
        rows = np.flatnonzero((series == series.iloc[first]).to_numpy())
        raise DataError(
            f"duplicate post id {series.iloc[first]!r} in rows {rows[0]} and {rows[1]}",
            file=file,
            row=int(rows[1]),
            field=field,
        )


def validate_posts(
    df: pd.DataFrame, *, file: str | Path, allow_missing_label: bool = False
) -> None:
    """Check the posts table contract: core columns, unique non-empty ids, finite labels."""
    missing = [c for c in CORE_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"posts table lacks column(s) {', '.join(missing)}", file=file)
    ids = df["post_id"].to_numpy(dtype=object)
    empty = np.array([not isinstance(v, str) or not v for v in ids], dtype=bool)
    if empty.any():
        raise DataError(
            "empty or non-string post id", file=file, row=_first(empty), field="post_id"
        )
    check_unique_ids(ids, file=file, field="post_id")
    label = df["label"].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(label)
    if allow_missing_label:
        bad &= ~np.isnan(label)
    if bad.any():
        row = _first(bad)
        raise DataError(f"label is not finite: {label[row]}", file=file, row=row, field="label")
