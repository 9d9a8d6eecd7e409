"""The SMPD layout reader: the posts table, the release's quirks, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from wrcr.data.demo import write_demo
from wrcr.data.smpd import read_smpd, smpd_counts
from wrcr.errors import DataError

N = 12


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "smpd"
    write_demo(path, posts=N, seed=3, image_size=16)
    return path


def _load(root: Path, name: str):
    return json.loads((root / name).read_text())


def _dump(root: Path, name: str, data: object) -> None:
    (root / name).write_text(json.dumps(data))


def _user_records(root: Path) -> list[dict]:
    cols = _load(root, "train_user_data.json")
    return [{k: cols[k][str(i)] for k in cols} for i in range(N)]


def test_reads_posts_table_columns(root: Path) -> None:
    """The table has the contract's columns with their dtypes, one row per post."""
    df, report = read_smpd(root)
    assert len(df) == N and report["rows"] == N
    assert df["post_id"].is_unique
    assert df["label"].dtype == np.float64 and df["postdate"].dtype == np.int64
    assert df["photo_firstdatetaken"].dtype == np.float64
    for col in ("user_id", "tags", "title", "image_path", "category", "subcategory", "concept"):
        assert col in df.columns
    assert {"latitude", "longitude", "geoaccuracy", "ispro", "photo_count"} <= set(df.columns)


def test_post_id_and_labels_follow_the_files(root: Path) -> None:
    """post_id is the Pid, user_id the Uid, label the line of train_label.txt."""
    df, _ = read_smpd(root)
    text = _load(root, "train_text.json")
    labels = [float(v) for v in (root / "train_label.txt").read_text().split()]
    assert df["post_id"].tolist() == [r["Pid"] for r in text]
    assert df["user_id"].tolist() == [r["Uid"] for r in text]
    assert df["label"].tolist() == labels


def test_image_paths_relative_to_root(root: Path) -> None:
    """image_path is the file-list line, relative to the data root, and the file exists."""
    df, report = read_smpd(root)
    assert df.attrs["data_root"] == str(root)
    assert all((root / p).is_file() for p in df["image_path"])
    assert report["images"] == {"listed": N, "found": N, "missing": 0, "empty": 0}


def test_user_data_as_records_reads_the_same(root: Path) -> None:
    """User data as a list of records gives the same table as the column-oriented file."""
    before, _ = read_smpd(root)
    _dump(root, "train_user_data.json", _user_records(root))
    after, report = read_smpd(root)
    assert report["user_data_layout"] == "records"
    assert after.equals(before)


def test_numbers_stored_as_strings(root: Path) -> None:
    """photo_count and ispro given as strings are read as numbers."""
    recs = _user_records(root)
    for r in recs:
        r["photo_count"], r["ispro"] = f" {r['photo_count']} ", str(r["ispro"])
    _dump(root, "train_user_data.json", recs)
    df, _ = read_smpd(root)
    assert df["photo_count"].tolist() == [float(r["photo_count"]) for r in recs]
    assert df["ispro"].tolist() == [float(r["ispro"]) for r in recs]


def test_sentinel_dates_become_nan(root: Path) -> None:
    """photo_firstdatetaken "None", "0000-00-00 00:00:00", null and "" are NaN; dates parse."""
    recs = _user_records(root)
    for r, value in zip(recs, ["None", "0000-00-00 00:00:00", None, ""], strict=False):
        r["photo_firstdatetaken"] = value
    recs[4]["photo_firstdatetaken"] = "2008-03-01 00:00:00"
    _dump(root, "train_user_data.json", recs)
    df, report = read_smpd(root)
    assert df["photo_firstdatetaken"][:4].isna().all()
    assert df["photo_firstdatetaken"][4] == 1204329600.0
    assert report["missing_values"]["photo_firstdatetaken"] >= 4


def test_empty_alltags_is_empty_string(root: Path) -> None:
    """An empty or null Alltags gives tags ""."""
    text = _load(root, "train_text.json")
    text[0]["Alltags"], text[1]["Alltags"] = "", None
    _dump(root, "train_text.json", text)
    df, report = read_smpd(root)
    assert df["tags"][0] == "" and df["tags"][1] == ""
    assert report["empty_tags"] >= 2


def test_missing_image_file_nulls_path_and_is_counted(root: Path) -> None:
    """A listed image that is not on disk: null path, counted; an empty file is counted."""
    df, _ = read_smpd(root)
    (root / df["image_path"][0]).unlink()
    (root / df["image_path"][1]).write_bytes(b"")
    df, report = read_smpd(root)
    assert df["image_path"].isna().tolist() == [True] + [False] * (N - 1)
    assert report["images"] == {"listed": N, "found": N - 1, "missing": 1, "empty": 1}


def test_without_file_list_there_are_no_images(root: Path) -> None:
    """Without train_img_filepath.txt every image_path is null and the report says so."""
    (root / "train_img_filepath.txt").unlink()
    df, report = read_smpd(root)
    assert df["image_path"].isna().all() and report["has_images"] is False


def test_test_split_without_labels_has_nan_labels(root: Path) -> None:
    """The test split may lack its label file; its labels are NaN."""
    for p in root.glob("train_*"):
        if p.name != "train_label.txt":
            p.rename(root / p.name.replace("train_", "test_"))
    df, report = read_smpd(root, split="test")
    assert df["label"].isna().all() and report["labels"] is False


def test_train_split_needs_labels(root: Path) -> None:
    """Without train_label.txt the train split is refused, naming the file."""
    (root / "train_label.txt").unlink()
    with pytest.raises(DataError, match=r"missing SMPD file\(s\): train_label\.txt"):
        read_smpd(root)


def test_unknown_split_lists_allowed(root: Path) -> None:
    """An unknown split names the allowed ones."""
    with pytest.raises(DataError, match=r"'val'; allowed: train, test"):
        read_smpd(root, split="val")


def test_malformed_json_names_file_and_line(root: Path) -> None:
    """Malformed JSON names the file, the line and the column."""
    path = root / "train_category.json"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace('"Category":', '"Category"')
    path.write_text("\n".join(lines))
    with pytest.raises(DataError, match=r"train_category\.json: malformed JSON at line 4, col"):
        read_smpd(root)


def test_files_of_different_lengths_name_both(root: Path) -> None:
    """Files of different lengths: both files and both counts are named."""
    data = _load(root, "train_temporalspatial_information.json")
    _dump(root, "train_temporalspatial_information.json", data[:-1])
    with pytest.raises(
        DataError,
        match=rf"temporalspatial_information\.json: {N - 1} rows, but .*text\.json has {N}",
    ):
        read_smpd(root)


def test_label_file_of_other_length(root: Path) -> None:
    """A label file with an extra line is misaligned."""
    with (root / "train_label.txt").open("a") as f:
        f.write("5.0\n")
    with pytest.raises(DataError, match=rf"train_label\.txt: {N + 1} rows, but"):
        read_smpd(root)


def test_missing_field_names_file_row_field(root: Path) -> None:
    """A record without a required field names the file, the row and the field."""
    text = _load(root, "train_text.json")
    del text[5]["Alltags"]
    _dump(root, "train_text.json", text)
    with pytest.raises(DataError, match=r"train_text\.json, row 5, field 'Alltags': missing field"):
        read_smpd(root)


def test_missing_column_in_user_data(root: Path) -> None:
    """Column-oriented user data without a required column names the field."""
    cols = _load(root, "train_user_data.json")
    del cols["ispro"]
    _dump(root, "train_user_data.json", cols)
    with pytest.raises(DataError, match=r"train_user_data\.json, field 'ispro': missing field"):
        read_smpd(root)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "abc", ""])
def test_bad_label_names_file_row_field(root: Path, value: str) -> None:
    """A NaN, infinite, non-numeric or empty label names the file, the row and the field."""
    lines = (root / "train_label.txt").read_text().splitlines()
    lines[2] = value
    (root / "train_label.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train_label\.txt, row 2, field 'label'"):
        read_smpd(root)


def test_duplicate_post_id_names_both_rows(root: Path) -> None:
    """A duplicate Pid names both rows."""
    dup = _load(root, "train_text.json")[1]["Pid"]
    for name in ("train_text.json", "train_temporalspatial_information.json",
                 "train_category.json", "train_additional_information.json"):  # fmt: skip
        data = _load(root, name)
        data[7]["Pid"] = dup
        _dump(root, name, data)
    cols = _load(root, "train_user_data.json")
    cols["Pid"]["7"] = dup
    _dump(root, "train_user_data.json", cols)
    with pytest.raises(
        DataError, match=rf"row 7, field 'Pid': duplicate post id '{dup}' in rows 1 and 7"
    ):
        read_smpd(root)


def test_uid_pid_mismatch_names_file_row_field(root: Path) -> None:
    """Rows of two files that name different posts: file, row and field are named."""
    data = _load(root, "train_category.json")
    data[3]["Pid"], data[4]["Pid"] = data[4]["Pid"], data[3]["Pid"]
    _dump(root, "train_category.json", data)
    with pytest.raises(DataError, match=r"train_category\.json, row 3, field 'Pid'.*misaligned"):
        read_smpd(root)


def test_image_path_of_other_post_is_misaligned(root: Path) -> None:
    """An image path whose <Uid>/<Pid> is another post's is a misalignment."""
    path = root / "train_img_filepath.txt"
    lines = path.read_text().splitlines()
    lines[0], lines[1] = lines[1], lines[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train_img_filepath\.txt, row 0, field 'image_path'"):
        read_smpd(root)


def test_non_numeric_user_field_names_row(root: Path) -> None:
    """A photo_count that is not a number names the file, row and field."""
    cols = _load(root, "train_user_data.json")
    cols["photo_count"]["6"] = "many"
    _dump(root, "train_user_data.json", cols)
    with pytest.raises(DataError, match=r"user_data\.json, row 6, field 'photo_count'.*'many'"):
        read_smpd(root)


def test_counts_check_alignment(root: Path) -> None:
    """smpd_counts gives rows per file and refuses unequal lengths."""
    assert set(smpd_counts(root).values()) == {N}
    (root / "train_label.txt").write_text("1.0\n")
    with pytest.raises(DataError, match="must be aligned"):
        smpd_counts(root)


def test_postdate_string_is_int_seconds(root: Path) -> None:
    """Postdate stored as a string is int64 unix seconds."""
    data = _load(root, "train_temporalspatial_information.json")
    df, _ = read_smpd(root)
    assert df["postdate"].tolist() == [int(r["Postdate"]) for r in data]
    assert not any(math.isnan(v) for v in df["latitude"])
