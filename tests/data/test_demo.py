"""The synthetic demo dataset: SMPD layout, determinism, label distribution, learnable signal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr

from wrcr.data.demo import DEMO_MARKER, write_demo
from wrcr.data.smpd import read_smpd
from wrcr.errors import DataError

JSON_FILES = [
    "train_text.json",
    "train_temporalspatial_information.json",
    "train_user_data.json",
    "train_category.json",
    "train_additional_information.json",
]


@pytest.fixture(scope="module")
def big_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("demo") / "raw"
    write_demo(root, posts=1500, seed=0)
    df, _ = read_smpd(root)
    return root, df


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_demo_writes_every_smpd_file(tmp_path: Path) -> None:
    """All train_* files, the label and path lists, and the marker are written."""
    write_demo(tmp_path / "d", posts=12, seed=1)
    names = {p.name for p in (tmp_path / "d").iterdir()}
    expected = {*JSON_FILES, "train_label.txt", "train_img_filepath.txt", "train", DEMO_MARKER}
    assert names == expected


def test_demo_files_carry_aligned_uid_pid(tmp_path: Path) -> None:
    """Every JSON file carries Uid and Pid, equal row by row to the text file."""
    root = tmp_path / "d"
    write_demo(root, posts=15, seed=1)
    text = json.loads((root / "train_text.json").read_text())
    ref = [(r["Uid"], r["Pid"]) for r in text]
    for name in JSON_FILES[1:]:
        data = json.loads((root / name).read_text())
        if isinstance(data, dict):  # the column-oriented user data
            rows = [(data["Uid"][str(i)], data["Pid"][str(i)]) for i in range(len(ref))]
        else:
            rows = [(r["Uid"], r["Pid"]) for r in data]
        assert rows == ref, name


def test_demo_images_are_jpegs_at_uid_pid(tmp_path: Path) -> None:
    """Each post's image is a decodable JPEG at train/<Uid>/<Pid>.jpg of the requested size."""
    root = tmp_path / "d"
    write_demo(root, posts=8, seed=2, image_size=32)
    text = json.loads((root / "train_text.json").read_text())
    lines = (root / "train_img_filepath.txt").read_text().splitlines()
    for rec, line in zip(text, lines, strict=True):
        assert line == f"train/{rec['Uid']}/{rec['Pid']}.jpg"
        img = Image.open(io.BytesIO((root / line).read_bytes()))
        assert (img.format, img.size, img.mode) == ("JPEG", (32, 32), "RGB")


def test_demo_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    """Two runs with the same size and seed write byte-identical files, JPEGs included."""
    write_demo(tmp_path / "a", posts=40, seed=7)
    write_demo(tmp_path / "b", posts=40, seed=7)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_demo_other_seed_gives_other_labels(tmp_path: Path) -> None:
    """A different seed gives different labels."""
    write_demo(tmp_path / "a", posts=40, seed=7)
    write_demo(tmp_path / "b", posts=40, seed=8)
    a = (tmp_path / "a" / "train_label.txt").read_text()
    assert a != (tmp_path / "b" / "train_label.txt").read_text()


def test_demo_size_follows_parameter(tmp_path: Path) -> None:
    """The number of posts is the `posts` argument."""
    write_demo(tmp_path / "d", posts=33, seed=0)
    assert len((tmp_path / "d" / "train_label.txt").read_text().splitlines()) == 33


def test_demo_labels_resemble_smpd(big_demo: tuple[Path, object]) -> None:
    """Labels lie in [1, 16.5] with a broad middle around 6-7 and thin tails."""
    y = big_demo[1]["label"].to_numpy()
    q05, q50, q95 = np.quantile(y, [0.05, 0.5, 0.95])
    assert y.min() >= 1.0 and y.max() <= 16.5, (y.min(), y.max())
    assert 6.0 <= q50 <= 7.2, q50
    assert 3.0 <= q05 <= 4.8 and 8.5 <= q95 <= 10.5, (q05, q95)
    tails = np.mean(y < 3.0), np.mean(y > 11.0)
    assert 0.0 < tails[0] < 0.05 and 0.0 < tails[1] < 0.05, tails


def test_demo_tags_carry_signal(big_demo: tuple[Path, object]) -> None:
    """A bag-of-words ridge on the tags beats the mean predictor on held-out posts."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import Ridge

    df = big_demo[1]
    y = df["label"].to_numpy()
    X = CountVectorizer().fit_transform(df["tags"])
    pred = Ridge(alpha=1.0).fit(X[:1200], y[:1200]).predict(X[1200:])
    mae, mean_mae = np.abs(pred - y[1200:]).mean(), np.abs(y[:1200].mean() - y[1200:]).mean()
    assert mae < 0.9 * mean_mae, (mae, mean_mae)


def test_demo_images_carry_signal(big_demo: tuple[Path, object]) -> None:
    """Image brightness rises with the label (noisily)."""
    root, df = big_demo
    bright = [np.asarray(Image.open(root / p)).mean() for p in df["image_path"][:400]]
    rho = spearmanr(bright, df["label"][:400]).statistic
    assert 0.3 < rho < 0.9, rho


def test_demo_user_fields_carry_signal(big_demo: tuple[Path, object]) -> None:
    """photo_count and ispro rise with the label, photo_firstdatetaken falls."""
    df = big_demo[1]
    y = df["label"]
    assert spearmanr(df["photo_count"], y).statistic > 0.2
    assert spearmanr(df["ispro"], y).statistic > 0.05
    taken = df["photo_firstdatetaken"].notna()
    assert spearmanr(df["photo_firstdatetaken"][taken], y[taken]).statistic < -0.1


def test_demo_has_empty_tags_and_sentinel_dates(big_demo: tuple[Path, object]) -> None:
    """Some posts have no tags and some users the sentinel first-date-taken (-> NaN)."""
    df = big_demo[1]
    assert 0.02 < (df["tags"] == "").mean() < 0.2
    assert 0.01 < df["photo_firstdatetaken"].isna().mean() < 0.15


def test_demo_refuses_to_replace_other_directory(tmp_path: Path) -> None:
    """A non-empty directory that is not a demo is not replaced."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"mine.*not a wrcr demo dataset"):
        write_demo(tmp_path / "mine", posts=5)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_demo_replaces_older_demo_without_leftovers(tmp_path: Path) -> None:
    """Writing over a demo replaces it whole and leaves no temporary directory."""
    write_demo(tmp_path / "d", posts=30, seed=0)
    write_demo(tmp_path / "d", posts=10, seed=0)
    assert len((tmp_path / "d" / "train_label.txt").read_text().splitlines()) == 10
    assert [p.name for p in tmp_path.iterdir()] == ["d"]
