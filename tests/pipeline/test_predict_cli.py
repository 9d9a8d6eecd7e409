"""`wrcr predict`: the console script on a trained run, its output files and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from predict_helpers import Project, write_jsonl  # noqa: E402

WRCR = Path(sys.executable).parent / "wrcr"
TOL = 1e-5


def _wrcr(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [str(WRCR), "predict", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _in_process(monkeypatch: pytest.MonkeyPatch, *args: str | Path) -> int:
    """Run the CLI's main() here (cheap, for the fatal errors); its exit status."""
    from pipeline.cli import main

    monkeypatch.setattr(sys, "argv", ["wrcr", "predict", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code


def _records(posts: pd.DataFrame) -> list[dict]:
    return json.loads(posts.to_json(orient="records"))


def _read_scores(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"post_id": str})


def _assert_matches(scores: pd.DataFrame, expected: pd.DataFrame) -> None:
    merged = expected.merge(scores, on="post_id", suffixes=("_run", "_cli"))
    assert len(merged) == len(expected)
    diff = np.abs(merged["pred_run"] - merged["pred_cli"]).max()
    assert diff < TOL, f"max |pred - run pred| = {diff:.3g}"


@pytest.mark.slow
def test_cli_scores_test_posts_as_the_run_did(proj: Project, tmp_path: Path) -> None:
    """JSON lines of the test posts -> post_id,pred equal to predictions.parquet; exit 0."""
    expected = proj.predictions(("test",))
    assert expected["pred"].std() > 1e-2, "a constant model would make this test vacuous"
    posts = write_jsonl(tmp_path / "new.jsonl", _records(proj.held_out_posts(("test",))))
    out = tmp_path / "out" / "scores.csv"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "scores.errors.csv").write_text("stale\n")

    proc = _wrcr("--model", proj.bundle, "--posts", posts, "--out", out, "--root", proj.raw)
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = _read_scores(out)
    assert list(scores.columns) == ["post_id", "pred"]
    assert scores["post_id"].tolist() == expected["post_id"].tolist()
    _assert_matches(scores, expected)
    assert not (tmp_path / "out" / "scores.errors.csv").exists()
    assert f"{len(expected)} scored, 0 failed" in proc.stderr


@pytest.mark.slow
def test_cli_bad_rows_are_reported_and_the_rest_scored(proj: Project, tmp_path: Path) -> None:
    """Missing image, missing field, non-numeric photo_count: line numbers, exit 1."""
    good = _records(proj.held_out_posts(("test",)).iloc[:4])
    bad_image = {**good[0], "post_id": "bad-image", "image_path": "nowhere/none.jpg"}
    no_date = {k: v for k, v in good[0].items() if k != "postdate"} | {"post_id": "no-date"}
    bad_count = {**good[0], "post_id": "bad-count", "photo_count": "lots"}
    rows = [good[0], bad_image, good[1], no_date, good[2], bad_count, good[3]]
    posts = write_jsonl(tmp_path / "mixed.jsonl", rows)
    out = tmp_path / "scores.csv"

    proc = _wrcr("--model", proj.bundle, "--posts", posts, "--out", out, "--root", proj.raw)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert f"{posts}:2: post bad-image: image file not found" in proc.stderr
    assert f"{posts}:4: post no-date: missing field(s) postdate" in proc.stderr
    assert f"{posts}:6: post bad-count: field 'photo_count': 'lots' is not a finite number" in (
        proc.stderr
    )

    # the good rows are written, the bad ones listed beside them
    scores = _read_scores(out)
    assert scores["post_id"].tolist() == [r["post_id"] for r in good]
    _assert_matches(scores, proj.predictions(("test",)).iloc[:4])
    errors = pd.read_csv(tmp_path / "scores.errors.csv")
    assert errors["line"].tolist() == [2, 4, 6]
    assert errors["post_id"].tolist() == ["bad-image", "no-date", "bad-count"]


def test_cli_missing_bundle_is_fatal(monkeypatch, capsys, tmp_path: Path) -> None:
    """No such model directory: one error line, exit 2, nothing written."""
    posts = write_jsonl(tmp_path / "p.jsonl", [{"post_id": "a"}])
    out = tmp_path / "s.csv"
    code = _in_process(monkeypatch, "--model", tmp_path / "nope", "--posts", posts, "--out", out)
    assert code == 2
    assert "model bundle directory not found" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_cli_empty_or_unreadable_posts_file_is_fatal(
    proj: Project, monkeypatch, capsys, tmp_path: Path
) -> None:
    """A posts file with no rows, or in an unknown format: exit 2."""
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "posts.xlsx").write_text("?")
    for name, message in (("empty.jsonl", "holds no posts"), ("posts.xlsx", "unknown posts file")):
        args = ("--model", proj.bundle, "--posts", tmp_path / name, "--out", tmp_path / "s.csv")
        assert _in_process(monkeypatch, *args) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()
