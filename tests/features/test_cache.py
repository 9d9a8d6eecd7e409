"""The sharded cache: order of load_embeddings, missing ids, atomic shards, stale keys."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest

from wrcr.errors import DataError
from wrcr.features import load_embeddings, read_manifest
from wrcr.features.cache import CacheWriter, read_index


def _writer(path: Path, key: str = "k1", model: str = "m1") -> CacheWriter:
    return CacheWriter(path, {"key": key, "model": {"name": model}, "dim": None})


def _fill(path: Path, n: int = 50, shard: int = 16, D: int = 8, seed: int = 0):
    """A cache of n posts in shards of `shard`; returns ids, X (n, D), valid (n,)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"id{i}" for i in range(n)], dtype=object)
    X = rng.standard_normal((n, D)).astype(np.float32)
    valid = rng.random(n) > 0.2
    w = _writer(path)
    for s in range(0, n, shard):
        rows = slice(s, s + shard)
        w.write_shard(ids[rows], X[rows], valid[rows], [None if v else "x" for v in valid[rows]])
    w.finalise(ids, D)
    return ids, X, valid


def test_load_follows_the_order_of_post_ids(tmp_path: Path) -> None:
    """Rows come back in the requested order, across shards, subsets and repeats."""
    ids, X, valid = _fill(tmp_path)
    order = np.random.default_rng(1).permutation(len(ids))[:30]
    want = list(ids[order]) + [ids[3], ids[3]]
    got_X, got_valid = load_embeddings(tmp_path, want)
    ref = np.concatenate([order, [3, 3]])
    assert got_X.dtype == np.float32 and got_X.shape == (32, 8)
    np.testing.assert_array_equal(got_X, X[ref])
    np.testing.assert_array_equal(got_valid, valid[ref])


def test_missing_ids_name_cache_count_and_first(tmp_path: Path) -> None:
    """A post absent from the cache is a DataError with the cache, the count and the ids."""
    ids, _, _ = _fill(tmp_path)
    with pytest.raises(
        DataError, match=r"cache.*: 2 of 4 post ids are not in .*first: nope1, nope2"
    ):
        load_embeddings(tmp_path, [ids[0], "nope1", ids[1], "nope2"])


def test_not_a_cache(tmp_path: Path) -> None:
    """A directory without a manifest is no cache."""
    with pytest.raises(DataError, match="no manifest.json"):
        load_embeddings(tmp_path, ["a"])


def test_manifest_counts(tmp_path: Path) -> None:
    """The finalised manifest counts posts, valid rows and shards."""
    _, _, valid = _fill(tmp_path)
    manifest = read_manifest(tmp_path)
    assert manifest["complete"] and manifest["dim"] == 8
    assert manifest["counts"]["valid"] == int(valid.sum())
    assert manifest["counts"]["shards"] == 4


def test_half_written_shards_are_invisible(tmp_path: Path) -> None:
    """A temporary shard left by a killed writer is ignored, and removed once stale."""
    ids, X, _ = _fill(tmp_path)
    tmp = tmp_path / ".shard-000-dead-00000.abc.tmp"
    tmp.mkdir()
    np.save(tmp / "vectors.npy", np.ones((3, 8), np.float32))
    assert len(read_index(tmp_path)) == len(ids)

    old = time.time() - 3600
    import os

    os.utime(tmp, (old, old))
    _writer(tmp_path)
    assert not tmp.exists()


def test_two_writers_of_one_post(tmp_path: Path) -> None:
    """A post written by two writers (same key) is read once, without error."""
    ids, X, valid = _fill(tmp_path, n=10, shard=10)
    _writer(tmp_path).write_shard(ids[:4], X[:4], valid[:4], [None] * 4)
    got, _ = load_embeddings(tmp_path, list(ids))
    np.testing.assert_array_equal(got, X)


def test_other_key_discards_old_shards(tmp_path: Path, caplog) -> None:
    """Opening a cache with another key drops its shards and says so."""
    _fill(tmp_path)
    with caplog.at_level(logging.WARNING):
        w = _writer(tmp_path, key="k2", model="m2")
    assert w.discarded == 4 and "discarding 4 shards" in caplog.text
    assert len(read_index(tmp_path)) == 0
    assert json.loads((tmp_path / "manifest.json").read_text())["key"] == "k2"
