"""Reader of the SMP Challenge dataset (SMPD) file layout -> the posts table.

A split `<s>` (train or test) is a set of files in one directory, aligned by row:

- `<s>_text.json`: records {Uid, Pid, Title, Mediatype, Alltags}
- `<s>_temporalspatial_information.json`: {Uid, Pid, Postdate (unix seconds), Latitude,
  Longitude, Geoaccuracy}
- `<s>_user_data.json`: {Uid, Pid, ispro, photo_count, photo_firstdate, photo_firstdatetaken,
  timezone_offset, ...}, records or column-oriented (pandas `to_json`)
- `<s>_category.json`: {Uid, Pid, Category, Subcategory, Concept}
- `<s>_additional_information.json` (optional): {Uid, Pid, Pathalias, Ispublic, Mediastatus}
- `<s>_label.txt`: one label per line (train only; the test release has no labels)
- `<s>_img_filepath.txt` (optional): one image path per line, `<s>/<Uid>/<Pid>.jpg`,
  relative to the dataset root

Numbers may be stored as strings; `photo_firstdatetaken` uses "None" and
"0000-00-00 00:00:00" for unknown dates (-> NaN). The Uid and Pid of every JSON file, and the
`<Uid>/<Pid>` of every image path, must match the text file row by row: a mismatch means the
files are not aligned and nothing read from them could be trusted.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from wrcr.data.jsonfiles import json_columns, json_length
from wrcr.data.schema import (
    check_unique_ids,
    to_float,
    to_int_seconds,
    to_label,
    to_optional_text,
    to_text,
    to_timestamp,
)
from wrcr.errors import DataError

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")

# role -> (file name after "<split>_", required fields, optional fields)
JSON_FILES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "text": ("text.json", ("Uid", "Pid", "Alltags", "Title"), ("Mediatype",)),
    "temporal": (
        "temporalspatial_information.json",
        ("Uid", "Pid", "Postdate"),
        ("Latitude", "Longitude", "Geoaccuracy"),
    ),
    "user": (
        "user_data.json",
        ("Uid", "Pid", "ispro", "photo_count", "photo_firstdatetaken"),
        ("photo_firstdate", "timezone_offset"),
    ),
    "category": ("category.json", ("Uid", "Pid", "Category", "Subcategory", "Concept"), ()),
    "additional": (
        "additional_information.json",
        ("Uid", "Pid"),
        ("Pathalias", "Ispublic", "Mediastatus"),
    ),
}
REQUIRED_JSON = ("text", "temporal", "user", "category")
LABEL_FILE = "label.txt"
IMAGES_FILE = "img_filepath.txt"


def smpd_path(root: str | Path, split: str, name: str) -> Path:
    """The path of one SMPD file, e.g. smpd_path(root, "train", "text.json")."""
    return Path(root) / f"{split}_{name}"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown SMPD split {split!r}; allowed: {', '.join(SPLITS)}")


def missing_files(root: str | Path, split: str = "train") -> list[str]:
    """Names of the required files of `split` that are not in `root`."""
    _check_split(split)
    names = [JSON_FILES[role][0] for role in REQUIRED_JSON]
    if split == "train":
        names.append(LABEL_FILE)
    return [f"{split}_{n}" for n in names if not smpd_path(root, split, n).is_file()]


def read_lines(path: str | Path) -> list[str]:
    """Lines of a text file without line endings (a final newline adds no empty line)."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        return [line.rstrip("\r\n") for line in f]


def _check_length(ref: Path, n_ref: int, other: Path, n_other: int) -> None:
    if n_ref != n_other:
        raise DataError(
            f"{n_other} rows, but {ref} has {n_ref}; the SMPD files must be aligned by row",
            file=other,
        )


def _present(root: str | Path, split: str) -> dict[str, Path]:
    # required and optional files that exist, by role (label and images included)
    missing = missing_files(root, split)
    if missing:
        raise DataError(f"missing SMPD file(s): {', '.join(missing)}", file=root)
    found = {role: smpd_path(root, split, spec[0]) for role, spec in JSON_FILES.items()}
    found["label"] = smpd_path(root, split, LABEL_FILE)
    found["images"] = smpd_path(root, split, IMAGES_FILE)
    return {role: p for role, p in found.items() if p.is_file()}


def smpd_counts(root: str | Path, split: str = "train") -> dict[str, int]:
    """Rows per file of `split`; a missing required file or unequal lengths are an error."""
    files = _present(root, split)
    counts = {}
    for path in files.values():
        counts[path.name] = len(read_lines(path)) if path.suffix == ".txt" else json_length(path)
    ref = files["text"]
    for path in files.values():
        _check_length(ref, counts[ref.name], path, counts[path.name])
    return counts


def _check_ids(ref: Path, ref_cols: dict, path: Path, cols: dict) -> None:
    # Uid and Pid of `path` must equal those of the reference file row by row
    for field in ("Uid", "Pid"):
        a = np.asarray([str(v) for v in ref_cols[field]], dtype=object)
        b = np.asarray([str(v) for v in cols[field]], dtype=object)
        diff = np.flatnonzero(a != b)
        if diff.size:
            row = int(diff[0])
            raise DataError(
                f"{b[row]!r} does not match {a[row]!r} in {ref} at the same row (files misaligned)",
                file=path,
                row=row,
                field=field,
            )


def _image_paths(
    path: Path, lines: list[str], uids: list[str], pids: list[str], ref: Path
) -> list[str | None]:
    # each non-empty line must name the post of its row: <split>/<Uid>/<Pid>.<ext>
    out: list[str | None] = []
    for row, line in enumerate(lines):
        text = line.strip().replace("\\", "/")
        if not text:
            out.append(None)
            continue
        p = PurePosixPath(text)
        if p.stem != pids[row] or p.parent.name != uids[row]:
            raise DataError(
                f"image path {text!r} does not match Uid {uids[row]!r} / Pid {pids[row]!r} "
                f"of {ref} at the same row (files misaligned)",
                file=path,
                row=row,
                field="image_path",
            )
        out.append(text[2:] if text.startswith("./") else text)
    return out


def check_images(root: str | Path, paths: list[str | None]) -> tuple[list[str | None], dict]:
    """Stat every listed image: missing files get a null path, empty files are counted.

    Images are not decoded here; the embed stage flags unreadable ones as invalid.
    """
    # NOTE: a listed image that is not on disk gets image_path = null, so the table says which
    # posts have an image; the count is in the report, the posts are kept
    root = Path(root)
    out: list[str | None] = []
    listed = found = empty = 0
    for p in paths:
        if p is None:
            out.append(None)
            continue
        listed += 1
        try:
            size = os.stat(root / p).st_size
        except (FileNotFoundError, NotADirectoryError):
            out.append(None)
            continue
        found += 1
        empty += size == 0
        out.append(p)
    stats = {"listed": listed, "found": found, "missing": listed - found, "empty": int(empty)}
    return out, stats


def read_smpd(root: str | Path, split: str = "train") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read split `split` of the SMPD layout under `root` into the posts table.

    `image_path` is relative to `root` (also stored as `df.attrs["data_root"]`). The train
    split needs `train_label.txt`; the test split may lack its label file, and its labels are
    then NaN (for `wrcr predict`; the training pipeline reads train only).
    Returns the table and a report (files and rows, images found and missing, sentinels).
    """
    root = Path(root)
    files = _present(root, split)

    # JSON files: read, check lengths and Uid / Pid against the text file
    cols: dict[str, dict[str, list]] = {}
    report: dict[str, Any] = {"layout": "smpd", "split": split, "root": str(root), "files": {}}
    ref = files["text"]
    for role, (_, fields, optional) in JSON_FILES.items():
        if role not in files:
            continue
        cols[role], layout = json_columns(files[role], fields, optional)
        n = len(cols[role]["Uid"])
        report["files"][files[role].name] = n
        if role == "user":
            report["user_data_layout"] = layout
        _check_length(ref, len(cols["text"]["Uid"]), files[role], n)
        if role != "text":
            _check_ids(ref, cols["text"], files[role], cols[role])
    n = len(cols["text"]["Uid"])
    uids = to_optional_text(cols["text"]["Uid"])
    pids = to_optional_text(cols["text"]["Pid"])
    for field, values in (("Uid", uids), ("Pid", pids)):
        if None in values:
            raise DataError("missing id", file=ref, row=values.index(None), field=field)
    check_unique_ids(pids, file=ref, field="Pid")

    # labels: one number per line, aligned with the text file
    if "label" in files:
        lines = read_lines(files["label"])
        report["files"][files["label"].name] = len(lines)
        _check_length(ref, n, files["label"], len(lines))
        label = to_label(lines, file=files["label"], field="label")
    else:
        label = np.full(n, np.nan)
    report["labels"] = "label" in files

    # image paths: optional file; checked against the posts, then on disk
    if "images" in files:
        lines = read_lines(files["images"])
        report["files"][files["images"].name] = len(lines)
        _check_length(ref, n, files["images"], len(lines))
        listed = _image_paths(files["images"], lines, uids, pids, ref)
    else:
        listed = [None] * n
    image_path, report["images"] = check_images(root, listed)

    # one column per field of the posts table
    text, temporal, user, cat = cols["text"], cols["temporal"], cols["user"], cols["category"]
    tfile, ufile = files["temporal"], files["user"]
    df = pd.DataFrame(
        {
            "post_id": pids,
            "user_id": uids,
            "label": label,
            "tags": to_text(text["Alltags"]),
            "title": to_text(text["Title"]),
            "image_path": image_path,
            "postdate": to_int_seconds(temporal["Postdate"], file=tfile, field="Postdate"),
            "ispro": to_float(user["ispro"], file=ufile, field="ispro"),
            "photo_count": to_float(user["photo_count"], file=ufile, field="photo_count"),
            "photo_firstdatetaken": to_timestamp(
                user["photo_firstdatetaken"], file=ufile, field="photo_firstdatetaken"
            ),
            "photo_firstdate": to_timestamp(
                user["photo_firstdate"], file=ufile, field="photo_firstdate"
            ),
            "timezone_offset": to_optional_text(user["timezone_offset"]),
            "category": to_optional_text(cat["Category"]),
            "subcategory": to_optional_text(cat["Subcategory"]),
            "concept": to_optional_text(cat["Concept"]),
            "mediatype": to_optional_text(text["Mediatype"]),
            "latitude": to_float(temporal["Latitude"], file=tfile, field="Latitude"),
            "longitude": to_float(temporal["Longitude"], file=tfile, field="Longitude"),
            "geoaccuracy": to_float(temporal["Geoaccuracy"], file=tfile, field="Geoaccuracy"),
        }
    )
    if "additional" in cols:
        add, afile = cols["additional"], files["additional"]
        df["pathalias"] = to_optional_text(add["Pathalias"])
        df["ispublic"] = to_float(add["Ispublic"], file=afile, field="Ispublic")
        df["mediastatus"] = to_optional_text(add["Mediastatus"])
    df.attrs["data_root"] = str(root)

    # what the reader saw: empty tags, sentinel (NaN) user fields, images
    report["rows"] = n
    report["empty_tags"] = int((df["tags"] == "").sum())
    report["missing_values"] = {
        c: int(df[c].isna().sum()) for c in ("ispro", "photo_count", "photo_firstdatetaken")
    }
    report["has_images"] = report["images"]["found"] > 0
    logger.info(
        "smpd %s: %d posts, %d empty tags, images %d listed / %d found / %d missing",
        split,
        n,
        report["empty_tags"],
        report["images"]["listed"],
        report["images"]["found"],
        report["images"]["missing"],
    )
    return df, report
