"""The embed stage: bad inputs, reruns, stale caches, parts and a resume after SIGKILL."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from feature_helpers import posts_frame, write_images, write_posts

from wrcr.features import encoders as enc
from wrcr.features import load_embeddings, read_manifest
from wrcr.features.cache import read_index
from wrcr.features.extract import ExtractSettings, embed_images, embed_texts
from wrcr.features.resolve import build_tiny_vit, resolve_model

REPO = Path(__file__).resolve().parents[2]
CPU = ExtractSettings(device="cpu", batch_size=4, num_workers=0, shard_size=8)


def _no_model(monkeypatch) -> None:
    """Make any model or processor load fail the test."""

    def boom(*_a, **_k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(enc.ImageEncoder, "load", boom)
    monkeypatch.setattr(enc.ImageEncoder, "processor", boom)
    monkeypatch.setattr(enc.TextEncoder, "load", boom)


def test_bad_images_are_invalid_zero_and_counted(tmp_path: Path, tiny_vit) -> None:
    """No image, a missing file and a broken file: zero vector, valid False, in the report."""
    rel = write_images(tmp_path, 4)
    (tmp_path / "img" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    paths = [str(tmp_path / p) for p in rel]
    paths += [None, str(tmp_path / "img" / "gone.jpg"), str(tmp_path / "img" / "broken.jpg")]
    ids = [f"p{i}" for i in range(len(paths))]
    report = embed_images(ids, paths, tmp_path / "cache", tiny_vit, CPU)

    X, valid = load_embeddings(tmp_path / "cache", ids)
    assert valid.tolist() == [True] * 4 + [False] * 3
    assert not X[4:].any() and np.abs(X[:4]).sum(axis=1).min() > 0
    assert report["invalid_reasons_computed"] == {"no_image": 1, "missing_file": 1, "unreadable": 1}
    assert report["counts"]["invalid"] == 3
    assert [e["post_id"] for e in report["invalid_examples"]] == ["p4", "p5", "p6"]


def test_dataset_without_images(tmp_path: Path, tiny_vit, monkeypatch, caplog) -> None:
    """No post has an image: every row invalid, a warning, and no model loaded."""
    _no_model(monkeypatch)
    with caplog.at_level(logging.WARNING):
        report = embed_images(["a", "b", "c"], [None] * 3, tmp_path / "c", tiny_vit, CPU)
    X, valid = load_embeddings(tmp_path / "c", ["c", "a"])
    assert X.shape == (2, 384) and not X.any() and not valid.any()
    assert report["complete"] and "every row is invalid" in caplog.text


def test_complete_cache_does_no_model_work(tmp_path: Path, tiny_vit, monkeypatch) -> None:
    """A rerun over a complete cache loads no model and returns at once."""
    rel = write_images(tmp_path, 10)
    paths, ids = [str(tmp_path / p) for p in rel], [f"p{i}" for i in range(10)]
    embed_images(ids, paths, tmp_path / "cache", tiny_vit, CPU)
    before = sorted(p.name for p in (tmp_path / "cache").iterdir())

    _no_model(monkeypatch)
    t0 = time.perf_counter()
    report = embed_images(ids, paths, tmp_path / "cache", tiny_vit, CPU)
    secs = time.perf_counter() - t0
    assert report["computed"] == 0 and report["already_cached"] == 10
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == before
    assert secs < 2.0, f"rerun took {secs:.2f} s"


def test_other_model_is_another_cache(tmp_path: Path, tiny_vit, caplog) -> None:
    """A cache of another model is discarded and recomputed, never mixed."""
    rel = write_images(tmp_path, 6)
    paths, ids = [str(tmp_path / p) for p in rel], [f"p{i}" for i in range(6)]
    embed_images(ids, paths, tmp_path / "cache", tiny_vit, CPU)
    X1, _ = load_embeddings(tmp_path / "cache", ids)

    other = resolve_model(str(build_tiny_vit(tmp_path / "vit-seed1", seed=1)), "image")
    with caplog.at_level(logging.WARNING):
        report = embed_images(ids, paths, tmp_path / "cache", other, CPU)
    X2, _ = load_embeddings(tmp_path / "cache", ids)
    assert report["discarded_shards"] == 1 and report["computed"] == 6
    assert "discarding 1 shards" in caplog.text
    assert read_manifest(tmp_path / "cache")["weights_sha256"] == other.weights_sha256
    assert len(read_index(tmp_path / "cache")) == 6
    assert not np.allclose(X1, X2)


def test_parts_fill_one_cache(tmp_path: Path, tiny_vit) -> None:
    """Two parts together write what one run writes, each post once."""
    rel = write_images(tmp_path, 20)
    paths, ids = [str(tmp_path / p) for p in rel], [f"p{i}" for i in range(20)]
    a = embed_images(ids, paths, tmp_path / "parts", tiny_vit, CPU, part=(0, 2))
    b = embed_images(ids, paths, tmp_path / "parts", tiny_vit, CPU, part=(1, 2))
    embed_images(ids, paths, tmp_path / "whole", tiny_vit, CPU)
    assert (a["computed"], a["complete"], b["computed"], b["complete"]) == (12, False, 8, True)
    np.testing.assert_array_equal(
        load_embeddings(tmp_path / "parts", ids)[0], load_embeddings(tmp_path / "whole", ids)[0]
    )


@pytest.mark.slow
def test_empty_tags_are_invalid(tmp_path: Path, minilm) -> None:
    """Empty or missing tags: zero vector, valid False, counted."""
    tags = ["beach sunset", "", None, "   ", "cat"]
    report = embed_texts(list("abcde"), tags, tmp_path / "t", minilm, CPU)
    X, valid = load_embeddings(tmp_path / "t", list("abcde"))
    assert valid.tolist() == [True, False, False, False, True]
    assert not X[1:4].any()
    assert report["invalid_reasons_computed"] == {"empty_tags": 3}


def _embed_cmd() -> list[str]:
    """`wrcr embed` once every stage module exists, else the embed module alone."""
    from pipeline.cli import COMMANDS

    if all(importlib.util.find_spec(module) for _, module, _ in COMMANDS):
        return [str(Path(sys.executable).with_name("wrcr")), "embed"]
    return [sys.executable, "-m", "pipeline.embed"]


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path: Path, tiny_vit) -> None:
    """Killed after its first shards, a rerun computes only the rest; result as uninterrupted."""
    n = 160
    rel = write_images(tmp_path / "root", n)
    posts = write_posts(tmp_path / "posts.parquet", posts_frame(rel), tmp_path / "root")
    (tmp_path / "params.yaml").write_text(
        "embed:\n  image_model: wrcr/tiny-vit\n  text_model: all-MiniLM-L6-v2\n"
        "  device: cpu\n  batch_size: 4\n  num_workers: 1\n  shard_size: 16\n"
    )
    cache, report = tmp_path / "cache", tmp_path / "report.json"
    cmd = [
        *_embed_cmd(),
        "image",
        "--posts",
        str(posts),
        "--out",
        str(cache),
        "--report",
        str(report),
        "--params",
        str(tmp_path / "params.yaml"),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "WRCR_EMBED_TEST_DELAY_S": "0.05"}

    # start, wait for the first complete shard, kill the whole process group mid-chunk
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list(cache.glob("shard-*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no shard appeared"
        time.sleep(0.01)
    time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    done = len(read_index(cache))
    assert 0 < done < n and done % 16 == 0, f"{done} rows cached after the kill"
    assert not report.exists()

    # the rerun computes only what is missing
    env.pop("WRCR_EMBED_TEST_DELAY_S")
    rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    stats = json.loads(report.read_text())
    assert (stats["already_cached"], stats["computed"]) == (done, n - done)
    assert f"embed image: {n - done} posts in" in rerun.stderr

    # and the cache equals an uninterrupted run
    ids = [f"p{i:04d}" for i in range(n)]
    paths = [str(tmp_path / "root" / p) for p in rel]
    settings = ExtractSettings(device="cpu", batch_size=4, num_workers=1, shard_size=16)
    embed_images(ids, paths, tmp_path / "ref", tiny_vit, settings)
    X, valid = load_embeddings(cache, ids)
    X_ref, valid_ref = load_embeddings(tmp_path / "ref", ids)
    assert valid.all() and valid_ref.all()
    np.testing.assert_array_equal(X, X_ref)
