"""`wrcr.predict`: reading and checking posts, and scores equal to the training run's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from predict_helpers import Project, write_jsonl

from wrcr.errors import DataError
from wrcr.predict_input import check_posts, read_post_records, records_from

DENSE = ("ispro", "photo_count", "photo_firstdatetaken", "postdate")
POST = {
    "post_id": "a",
    "tags": "sky  city",
    "image_path": "a.jpg",
    "ispro": 1,
    "photo_count": 12,
    "photo_firstdatetaken": None,
    "postdate": 1_400_000_000,
}
TOL = 1e-5


def _check(records, text=True, image=True):
    return check_posts(records, text=text, image=image, dense_columns=DENSE)


# ---------------------------------------------------------------------------------------------
# reading and checking (no model)


def test_jsonl_failures_carry_file_line_numbers(tmp_path: Path) -> None:
    """Blank lines count, a malformed line fails alone, the others are read."""
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(POST) + "\n\n{oops\n[1, 2]\n" + json.dumps({**POST, "post_id": "b"}))
    posts = read_post_records(path)
    assert posts.lines == [1, 5]
    assert [(f.line, f.reason.split(" ")[0]) for f in posts.failures] == [
        (3, "malformed"),
        (4, "expected"),
    ]


def test_csv_header_is_line_one_and_quoted_breaks_keep_counting(tmp_path: Path) -> None:
    """Posts start on line 2; a record with a quoted line break starts on its first line."""
    path = tmp_path / "p.csv"
    pd.DataFrame([{**POST, "title": "two\nlines"}, {**POST, "post_id": "b"}]).to_csv(
        path, index=False
    )
    posts = read_post_records(path)
    assert posts.lines == [2, 4]
    frame, failures = _check(posts)
    assert failures == []
    assert frame["photo_firstdatetaken"].isna().all()  # an empty cell is a missing value
    assert frame["tags"].tolist() == ["sky city", "sky city"]


def test_bad_rows_fail_alone_with_their_reasons() -> None:
    """Missing field, word for a number, bad date, duplicate id: each row gets its reason."""
    rows = [
        POST,
        {k: v for k, v in POST.items() if k != "image_path"} | {"post_id": "b"},
        {**POST, "post_id": "c", "photo_count": "many"},
        {**POST, "post_id": "d", "postdate": "yesterday"},
        {**POST, "post_id": "e", "postdate": None},
        POST,
        {**POST, "post_id": "f", "tags": ["x", "y"], "image_path": None, "ispro": True},
    ]
    frame, failures = _check(records_from(rows))
    assert frame["post_id"].tolist() == ["a", "f"]
    assert frame["tags"].tolist()[1] == "x y" and frame["image_path"].tolist()[1] is None
    reasons = {f.line: f.reason for f in failures}
    assert reasons[2] == "missing field(s) image_path"
    assert reasons[3] == "field 'photo_count': 'many' is not a finite number"
    assert reasons[4].startswith("field 'postdate': 'yesterday' is not a date")
    assert reasons[5] == "field 'postdate' is missing (null)"
    assert reasons[6] == "duplicate post_id 'a' (first at line 1)"


def test_field_absent_from_every_row_is_fatal() -> None:
    """A table lacking a needed column is the wrong file, not one failure per row."""
    rows = [{k: v for k, v in POST.items() if k != "tags"}]
    with pytest.raises(DataError, match="no post has field.*tags.*this model needs"):
        _check(records_from(rows))


def test_text_only_model_needs_no_image_path() -> None:
    """Only the fields the bundle uses are required."""
    rows = [{k: v for k, v in POST.items() if k != "image_path"}]
    frame, failures = _check(records_from(rows), image=False)
    assert failures == [] and "image_path" not in frame


def test_empty_or_unknown_posts_file_is_fatal(tmp_path: Path) -> None:
    """No rows at all, an unknown suffix, a missing file: DataError naming the file."""
    (tmp_path / "e.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match="holds no posts"):
        read_post_records(tmp_path / "e.jsonl")
    (tmp_path / "h.csv").write_text("post_id,tags\n")
    with pytest.raises(DataError, match="holds no posts"):
        read_post_records(tmp_path / "h.csv")
    with pytest.raises(DataError, match="unknown posts file format '.txt'"):
        read_post_records(tmp_path / "p.txt")
    with pytest.raises(DataError, match="not found"):
        read_post_records(tmp_path / "missing.jsonl")


# ---------------------------------------------------------------------------------------------
# end to end: a trained bundle


@pytest.fixture(scope="module")
def predictor(proj: Project):
    from wrcr.predict import Predictor

    return Predictor.load(proj.bundle, batch_size=16)


def _assert_matches(scores: pd.DataFrame, expected: pd.DataFrame) -> None:
    merged = expected.merge(scores, on="post_id", suffixes=("_run", "_predict"))
    assert len(merged) == len(expected) == len(scores)
    diff = np.abs(merged["pred_run"] - merged["pred_predict"]).max()
    assert diff < TOL, f"max |pred - run pred| = {diff:.3g}"


@pytest.mark.slow
def test_scores_equal_the_runs_held_out_predictions(proj: Project, predictor) -> None:
    """List of dicts and DataFrame inputs give the evaluate stage's numbers."""
    assert proj.predictions()["pred"].std() > 1e-2, "a constant model would make this vacuous"
    posts = proj.held_out_posts()
    records = json.loads(posts.to_json(orient="records"))
    result = predictor.predict(records, root=proj.raw)
    assert result.ok, result.failures
    assert result.scores["post_id"].tolist() == posts["post_id"].tolist()
    _assert_matches(result.scores, proj.predictions())

    frame_result = predictor.predict(posts, root=proj.raw)
    np.testing.assert_array_equal(frame_result.scores["pred"], result.scores["pred"])


@pytest.mark.slow
def test_posts_table_file_uses_its_data_root(proj: Project, predictor) -> None:
    """A Parquet posts table is read with its wrcr.data_root; no --root needed."""
    result = predictor.predict(proj.posts)
    assert result.ok and len(result.scores) == 120
    _assert_matches(
        result.scores[result.scores["post_id"].isin(proj.predictions()["post_id"])],
        proj.predictions(),
    )


@pytest.mark.slow
def test_no_image_and_empty_tags_get_zero_vectors_as_in_training(proj: Project, predictor) -> None:
    """A post without image and tags is scored from zero vectors and its dense features."""
    from wrcr.training import TensorData, predict

    post = proj.held_out_posts().iloc[[0]].assign(image_path=None, tags="")
    result = predictor.predict(post, root=proj.raw)
    assert result.ok

    bundle = predictor.bundle
    dense = pd.read_parquet(proj.features / "dense.parquet").set_index("post_id")
    data = TensorData(
        inputs={m: np.zeros((1, 384), np.float32) for m in ("image", "text")},
        dense=bundle.scaler.transform(dense.loc[post["post_id"]]),
    )
    expected, _ = predict(bundle.model, data)
    diff = abs(float(result.scores["pred"][0]) - float(expected[0]))
    assert diff < TOL, f"|pred - zero-vector pred| = {diff:.3g}"


@pytest.mark.slow
def test_unusable_images_fail_their_rows_only(proj: Project, predictor, tmp_path: Path) -> None:
    """A missing and an undecodable image are failures; the other posts are scored."""
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg at all")
    posts = proj.held_out_posts().iloc[:3].copy()
    posts.loc[1, "image_path"] = str(tmp_path / "broken.jpg")
    posts.loc[2, "image_path"] = "nowhere/none.jpg"
    path = write_jsonl(tmp_path / "p.jsonl", json.loads(posts.to_json(orient="records")))
    result = predictor.predict(path, root=proj.raw)
    assert result.scores["post_id"].tolist() == [posts["post_id"][0]]
    reasons = result.failures.set_index("line")["reason"]
    assert reasons[2].startswith("unreadable image")
    assert reasons[3].startswith("image file not found")


@pytest.mark.slow
def test_copied_bundle_is_self_contained(proj: Project, tmp_path: Path) -> None:
    """A bundle copied away from its run still gives the same scores."""
    from wrcr.predict import Predictor

    copy = shutil.copytree(proj.bundle, tmp_path / "elsewhere" / "bundle")
    posts = proj.held_out_posts(("test",))
    result = Predictor.load(copy).predict(posts, root=proj.raw)
    _assert_matches(result.scores, proj.predictions(("test",)))


@pytest.mark.slow
def test_tampered_encoder_hash_is_refused(proj: Project, tmp_path: Path) -> None:
    """An encoder whose weights hash differs from the bundle's is refused, naming both."""
    from wrcr.predict import EncoderMismatchError, Predictor

    copy = shutil.copytree(proj.bundle, tmp_path / "tampered")
    meta = json.loads((copy / "bundle.json").read_text())
    real = meta["encoders"]["image"]["weights_sha256"]
    meta["encoders"]["image"]["weights_sha256"] = "0" * 64
    (copy / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(
        EncoderMismatchError, match=rf"image encoder 'wrcr/tiny-vit'.*{real}.*0{{64}}"
    ):
        Predictor.load(copy)
