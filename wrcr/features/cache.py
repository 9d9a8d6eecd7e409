"""Sharded embedding cache keyed by post_id.

Layout of a cache directory:

    manifest.json                     model, revision, weight hash, preprocessing, dim, counts
    shard-<writer>-<seq>/vectors.npy  float32 (n, D), memory-mappable
    shard-<writer>-<seq>/index.parquet  post_id (str), valid (bool), reason (str or null)

A shard is written under a hidden temporary name and renamed into place whole, so a shard
directory that is visible is complete; a killed writer leaves at most a hidden temporary that
readers ignore and later writers delete. Writer ids are unique per process, so several
processes can fill one cache. The manifest's `key` hashes everything that decides the
vectors (model files, preprocessing, pooling, precision): a different key means a different
cache, and the old shards are discarded rather than mixed with new ones.

Shapes: N requested posts, R rows in the cache, D embedding dim.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from wrcr.errors import DataError
from wrcr.io import atomic_dir, write_json

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1
SHARD_PREFIX = "shard-"
VECTORS = "vectors.npy"
INDEX = "index.parquet"
# a writer renames its shard within milliseconds of creating the temporary, so an older
# temporary belongs to a dead writer
STALE_TMP_S = 600.0


def cache_key(fields: dict[str, Any]) -> str:
    """sha256 of the JSON of the fields that decide the vectors."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def read_manifest(cache_dir: str | Path) -> dict[str, Any]:
    """The manifest of an embedding cache; DataError when there is none."""
    path = Path(cache_dir) / MANIFEST
    if not path.is_file():
        raise DataError("not an embedding cache (no manifest.json)", file=cache_dir)
    return json.loads(path.read_text())


def shard_dirs(cache_dir: Path) -> list[Path]:
    """Complete shards, sorted by name (hidden temporaries are not listed)."""
    if not cache_dir.is_dir():
        return []
    return sorted(p for p in cache_dir.iterdir() if p.name.startswith(SHARD_PREFIX) and p.is_dir())


@dataclasses.dataclass(frozen=True)
class CacheIndex:
    """Every row of every complete shard, R rows, as Arrow and numpy arrays."""

    shards: list[Path]
    post_id: pa.Array  # (R,) string
    valid: np.ndarray  # (R,) bool
    reason: pa.Array  # (R,) string, null when valid
    shard: np.ndarray  # (R,) int32, position in `shards`
    row: np.ndarray  # (R,) int32, row inside the shard

    def __len__(self) -> int:
        return len(self.post_id)

    def lookup(self, post_ids: Sequence[str]) -> np.ndarray:
        """Cache row of each post id, -1 where absent.

        A post written by two writers is found at its first row (shards sorted by name):
        both wrote the same vectors, since they shared the cache key.
        """
        pos = pc.index_in(_as_arrow(post_ids), value_set=self.post_id)  # hash lookup in C++
        return pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)  # (N,)


def _as_arrow(post_ids: Sequence[str]) -> pa.Array:
    if isinstance(post_ids, pa.ChunkedArray):
        return post_ids.combine_chunks()
    if isinstance(post_ids, pa.Array):
        return post_ids
    values = post_ids if isinstance(post_ids, (np.ndarray, pd.Index, pd.Series)) else list(post_ids)
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise DataError(f"post ids must be strings: {err}") from err


def read_index(cache_dir: str | Path) -> CacheIndex:
    """The index of a cache directory (empty when it holds no shard)."""
    shards = shard_dirs(Path(cache_dir))
    tables = [pq.read_table(s / INDEX, columns=["post_id", "valid", "reason"]) for s in shards]
    schema = pa.schema([("post_id", pa.string()), ("valid", pa.bool_()), ("reason", pa.string())])
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    sizes = np.array([t.num_rows for t in tables], dtype=np.int64)
    return CacheIndex(
        shards=shards,
        post_id=table["post_id"].combine_chunks(),
        valid=table["valid"].to_numpy().astype(bool),
        reason=table["reason"].combine_chunks(),
        shard=np.repeat(np.arange(len(tables), dtype=np.int32), sizes),  # (R,)
        row=np.concatenate(
            [np.arange(n, dtype=np.int32) for n in sizes] or [np.zeros(0, np.int32)]
        ),
    )


def load_embeddings(
    cache_dir: str | Path, post_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of `post_ids` in their order: X float32 (N, D) and valid bool (N,).

    Shards are memory-mapped and read once each, rows in file order; a post absent from the
    cache is a DataError naming the cache, the count and the first missing ids.
    """
    cache_dir = Path(cache_dir)
    manifest = read_manifest(cache_dir)
    index = read_index(cache_dir)
    want = _as_arrow(post_ids)
    N = len(want)

    # post_id -> cache row, vectorised
    pos = index.lookup(want)  # (N,)
    missing_mask = pos < 0
    if missing_mask.any():
        first = ", ".join(want.filter(pa.array(missing_mask))[:5].to_pylist())
        raise DataError(
            f"{int(missing_mask.sum())} of {N} post ids are not in the embedding cache "
            f"(first: {first}); re-run the embed stage on a posts table that holds them",
            file=cache_dir,
        )
    shard, row, valid = index.shard[pos], index.row[pos], index.valid[pos]  # (N,) each

    # group by shard, rows ascending inside a shard, then one fancy-index read per shard
    D = int(manifest["dim"]) if manifest.get("dim") else _shard_dim(index.shards)
    X = np.empty((N, D), dtype=np.float32)
    order = np.lexsort((row, shard))  # (N,)
    bounds = np.searchsorted(shard[order], np.arange(len(index.shards) + 1))
    for s, path in enumerate(index.shards):
        sel = order[bounds[s] : bounds[s + 1]]
        if len(sel):
            X[sel] = np.load(path / VECTORS, mmap_mode="r")[row[sel]]  # (n_s, D)
    return X, valid


def _shard_dim(shards: list[Path]) -> int:
    if not shards:
        return 0
    return int(np.load(shards[0] / VECTORS, mmap_mode="r").shape[1])


class CacheWriter:
    """Opens a cache for one key, discarding a cache of another key; writes shards."""

    def __init__(self, cache_dir: str | Path, manifest: dict[str, Any], rank: int = 0) -> None:
        self.dir = Path(cache_dir)
        self.manifest = {"format": FORMAT, **manifest}
        self.key = manifest["key"]
        self.writer = f"{rank:03d}-{uuid.uuid4().hex[:8]}"
        self.seq = 0
        self.discarded = 0
        self._old_dim: int | None = None
        self.dir.mkdir(parents=True, exist_ok=True)
        self._clean_stale_tmp()
        self._open()

    def _clean_stale_tmp(self) -> None:
        now = time.time()
        for p in self.dir.iterdir():
            if p.name.startswith("." + SHARD_PREFIX) and now - p.stat().st_mtime > STALE_TMP_S:
                shutil.rmtree(p, ignore_errors=True)
                log.info("removed a stale temporary shard of a killed writer: %s", p.name)

    def _open(self) -> None:
        shards = shard_dirs(self.dir)
        old = None
        if (self.dir / MANIFEST).is_file():
            old = json.loads((self.dir / MANIFEST).read_text())
        if old is not None and old.get("key") == self.key and old.get("format") == FORMAT:
            self._old_dim = old.get("dim")
            return
        if old is not None or shards:
            # NOTE: a writer with another key discards the cache even while a writer of the old
            # key is still running; fill one cache with one configuration at a time.
            was = (old or {}).get("model", {}).get("name", "unknown model")
            log.warning(
                "%s: cache of another model or preprocessing (%s, key %s); discarding %d shards",
                self.dir,
                was,
                str((old or {}).get("key"))[:12],
                len(shards),
            )
            for s in shards:
                shutil.rmtree(s)
            self.discarded = len(shards)
        write_json(self.dir / MANIFEST, {**self.manifest, "complete": False})

    def manifest_dim(self) -> int | None:
        """Embedding dim of what is already cached (None for an empty cache)."""
        return self._old_dim or _shard_dim(shard_dirs(self.dir)) or None

    def present(self, post_ids: Sequence[str]) -> np.ndarray:
        """(N,) bool: which posts are already in a complete shard."""
        return read_index(self.dir).lookup(post_ids) >= 0

    def write_shard(
        self, post_ids: Sequence[str], X: np.ndarray, valid: np.ndarray, reason: Sequence[Any]
    ) -> Path:
        """Write one shard whole: vectors (n, D) float32, valid (n,), reason (n,) str | None."""
        n = len(post_ids)
        assert X.shape[0] == n == len(valid) == len(reason), (X.shape, n, len(valid))
        path = self.dir / f"{SHARD_PREFIX}{self.writer}-{self.seq:05d}"
        self.seq += 1
        table = pa.table(
            {
                "post_id": pa.array(list(post_ids), pa.string()),
                "valid": pa.array(np.asarray(valid, dtype=bool)),
                "reason": pa.array(list(reason), pa.string()),
            }
        )
        with atomic_dir(path) as tmp:
            np.save(tmp / VECTORS, np.ascontiguousarray(X, dtype=np.float32))
            pq.write_table(table, tmp / INDEX)
            os.chmod(tmp, 0o755)  # mkdtemp makes it private
        return path

    def finalise(self, post_ids: Sequence[str], dim: int) -> dict[str, Any]:
        """Write the manifest with the counts over `post_ids` (the posts of this run)."""
        index = read_index(self.dir)
        pos = index.lookup(post_ids)  # (N,)
        pos = pos[pos >= 0]
        valid = index.valid[pos]
        reasons = pc.value_counts(index.reason.take(pa.array(pos)).drop_null()).to_pylist()
        counts = {
            "posts": len(post_ids),
            "cached": len(pos),
            "valid": int(valid.sum()),
            "invalid": int((~valid).sum()),
            "invalid_reasons": {r["values"]: r["counts"] for r in reasons},
            "rows_in_cache": len(index),
            "shards": len(index.shards),
        }
        manifest = {
            **self.manifest,
            "dim": dim,
            "dtype": "float32",
            "counts": counts,
            "complete": counts["cached"] == counts["posts"],
        }
        write_json(self.dir / MANIFEST, manifest)
        return manifest
