"""Posts -> embedding cache: image and text extraction, batched and resumable.

The posts table is cut into chunks of `shard_size` consecutive rows; each chunk's missing
posts are computed and written as one shard. Chunks are fixed positions of the table, so a
resumed run recomputes exactly the chunks a killed run had not written, in the same batches
(the same numbers to the bit), and several processes (`part=(rank, world)`) split the chunks
among themselves without gaps or overlap. A batch never spans two chunks.

A post with no image, an unreadable image or empty tags keeps a zero vector, valid=False
and a reason (no_image, missing_file, unreadable, empty_tags), counted in the report.

Shapes: N posts, n rows of a chunk, B batch, D embedding dim.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from wrcr.errors import DataError
from wrcr.features import encoders as enc
from wrcr.features.cache import CacheWriter, cache_key
from wrcr.features.images import image_batches
from wrcr.features.resolve import ResolvedModel

log = logging.getLogger(__name__)

MAX_EXAMPLES = 20  # invalid posts listed by id in the report
# test hook: seconds to sleep after each batch, so a test can kill a run part-way
DELAY_ENV = "WRCR_EMBED_TEST_DELAY_S"


@dataclasses.dataclass(frozen=True)
class ExtractSettings:
    """How to run an encoder; of these only pooling and precision change the vectors."""

    device: str = "auto"  # auto | cpu | cuda
    precision: str = "fp32"  # fp32 | fp16 | bf16 (GPU only)
    batch_size: int = 64
    num_workers: int = 2  # image decode processes; 0 decodes in the main process
    shard_size: int = 4096
    pooling: str = "cls"  # image only: cls | pooler
    progress: bool | None = None  # None: a bar only when stderr is a terminal


def normalise_tags(tags: str | None) -> str:
    """A post's tags joined by single spaces ('' for none)."""
    return " ".join(tags.split()) if isinstance(tags, str) else ""


def _check_ids(post_ids: Sequence[str]) -> pd.Index:
    ids = pd.Index(np.asarray(post_ids, dtype=object))
    if ids.hasnans:
        raise DataError("null post_id", row=int(np.flatnonzero(ids.isna())[0]), field="post_id")
    ids = pd.Index(ids.astype(str).to_numpy(dtype=object))
    if not ids.is_unique:
        row = int(np.flatnonzero(ids.duplicated())[0])
        raise DataError(f"duplicate post_id {ids[row]!r}", row=row, field="post_id")
    return ids


class _Job:
    """One stage run: the cache for this key, the chunks to compute, counts and progress."""

    def __init__(
        self,
        modality: str,
        post_ids: Sequence[str],
        n_inputs: int,
        cache_dir: str | Path,
        model: ResolvedModel,
        prep: dict[str, Any],
        settings: ExtractSettings,
        part: tuple[int, int],
    ) -> None:
        self.modality, self.settings = modality, settings
        self.ids = _check_ids(post_ids)
        if n_inputs != len(self.ids):
            raise ValueError(f"{n_inputs} {modality} inputs for {len(self.ids)} posts")

        # the key holds the effective precision, not the device, so a complete fp32 cache is
        # recognised without importing torch; half precision needs to know if a GPU is here
        # NOTE: fp32 vectors of CPU and GPU differ in the last bits (~1e-6); one cache filled
        # on both kinds of machine holds both, which no downstream use can tell apart.
        self.device: str | None = None
        precision = settings.precision
        if precision != "fp32":
            self.device = enc.pick_device(settings.device)
            precision = enc.effective_precision(precision, settings.device, self.device)
        self.precision = precision
        pooling = settings.pooling if modality == "image" else None
        fields = {
            "modality": modality,
            "model_files_sha256": model.files_sha256,
            "preprocessing": prep,
            "pooling": pooling,
            "precision": precision,
        }
        manifest = {
            "key": cache_key(fields),
            "modality": modality,
            "model": model.record(),
            "revision": model.revision,
            "weights_sha256": model.weights_sha256,
            "preprocessing": prep,
            "pooling": pooling,
            "precision": precision,
            "dim": None,
            "dtype": "float32",
        }
        self.writer = CacheWriter(cache_dir, manifest, rank=part[0])

        # chunk c = table rows [c * S, (c + 1) * S); this writer owns c % world == rank
        todo_mask = ~self.writer.present(self.ids.to_numpy())  # (N,)
        self.n_done = int((~todo_mask).sum())
        rank, world = part
        S = settings.shard_size
        self.chunks = [
            start + np.flatnonzero(todo_mask[start : start + S])
            for c, start in enumerate(range(0, len(self.ids), S))
            if c % world == rank
        ]
        self.chunks = [rows for rows in self.chunks if len(rows)]
        self.n_todo = sum(map(len, self.chunks))
        self.reasons: Counter[str] = Counter()
        self.examples: list[dict[str, Any]] = []
        self.computed, self.t0, self.bar = 0, 0.0, None
        if self.n_todo:
            log.info("embed %s: %d posts cached, %d to compute", modality, self.n_done, self.n_todo)
        else:
            log.info(
                "embed %s: all %d posts cached in %s, nothing to compute",
                modality,
                self.n_done,
                cache_dir,
            )

    def runtime(self) -> tuple[str, str]:
        """(device, precision) to run on; resolved only when there is work."""
        if self.device is None:
            self.device = enc.pick_device(self.settings.device)
        return self.device, self.precision

    def start(self) -> None:
        """Start the clock and the progress bar, once the model is loaded."""
        progress = self.settings.progress
        disable = not sys.stderr.isatty() if progress is None else not progress
        self.bar = tqdm(
            total=self.n_todo, desc=f"embed {self.modality}", unit="post", disable=disable
        )
        self.delay = float(os.environ.get(DELAY_ENV, "0") or 0)
        self.t0 = time.perf_counter()

    def bad(self, post_id: str, reason: str, detail: str | None) -> None:
        self.reasons[reason] += 1
        log.debug("embed %s: %s invalid (%s) %s", self.modality, post_id, reason, detail or "")
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"post_id": post_id, "reason": reason, "detail": detail})

    def step(self, n: int) -> None:
        self.computed += n
        if self.bar is not None:
            self.bar.update(n)
        if self.delay:
            time.sleep(self.delay)

    def finish(self, dim: int) -> dict[str, Any]:
        """Log the throughput, write the manifest and return the stage report."""
        secs = time.perf_counter() - self.t0 if self.computed else 0.0
        rate = self.computed / secs if secs > 0 else 0.0
        invalid = sum(self.reasons.values())
        if self.bar is not None:
            self.bar.close()
        if self.computed:
            log.info(
                "embed %s: %d posts in %.1f s (%.0f posts/s), %d invalid",
                self.modality,
                self.computed,
                secs,
                rate,
                invalid,
            )
        if invalid:
            detail = ", ".join(f"{k} {v}" for k, v in sorted(self.reasons.items()))
            log.warning(
                "embed %s: %d of %d computed posts invalid (%s): zero vectors, valid=False",
                self.modality,
                invalid,
                self.computed,
                detail,
            )
        manifest = self.writer.finalise(self.ids, dim)
        counts = manifest["counts"]
        if counts["posts"] and counts["invalid"] == counts["posts"]:
            log.warning(
                "embed %s: no post has a usable %s input; every row is invalid",
                self.modality,
                self.modality,
            )
        keep = ("modality", "model", "key", "precision", "pooling", "complete", "counts")
        return {
            **{k: manifest[k] for k in keep},
            "cache_dir": str(self.writer.dir),
            "dim": dim,
            "device": self.device,
            "already_cached": self.n_done,
            "discarded_shards": self.writer.discarded,
            "computed": self.computed,
            "seconds": round(secs, 3),
            "posts_per_s": round(rate, 1),
            "invalid_computed": invalid,
            "invalid_reasons_computed": dict(self.reasons),
            "invalid_examples": self.examples,
        }


def embed_images(
    post_ids: Sequence[str],
    image_paths: Sequence[str | None],
    cache_dir: str | Path,
    model: ResolvedModel,
    settings: ExtractSettings = ExtractSettings(),
    part: tuple[int, int] = (0, 1),
) -> dict[str, Any]:
    """Fill the image cache of these posts (absolute paths, None: no image); the report."""
    job = _Job(
        "image",
        post_ids,
        len(image_paths),
        cache_dir,
        model,
        enc.image_preprocessing(model),
        settings,
        part,
    )
    if not job.chunks:
        return job.finish(enc.image_dim(model))
    encoder = enc.ImageEncoder(model, settings.pooling, *job.runtime())

    # positions into the list of paths to compute; batches never span a chunk
    paths = [image_paths[i] for rows in job.chunks for i in rows]
    batches, offset = [], 0
    for rows in job.chunks:
        B = settings.batch_size
        batches += [
            list(range(offset + s, offset + min(s + B, len(rows)))) for s in range(0, len(rows), B)
        ]
        offset += len(rows)
    if any(p is not None for p in paths):
        encoder.load()  # before the clock starts, and before the decode workers fork
    batch_iter = image_batches(encoder, paths, batches, settings.num_workers)

    # assemble each chunk from its batches, then write it as one shard
    job.start()
    offset = 0
    for rows in job.chunks:
        n, chunk_ids = len(rows), job.ids[rows]
        vectors = np.zeros((n, encoder.dim), np.float32)  # (n, D)
        valid = np.zeros(n, bool)  # (n,)
        reason: list[str | None] = [None] * n
        filled = 0
        while filled < n:
            batch = next(batch_iter)
            local = np.asarray(batch["ok_rows"], dtype=np.int64) - offset
            if len(local):
                vectors[local] = batch["vectors"]  # (B_ok, D)
                valid[local] = True
            for i, why, detail in batch["bad"]:
                reason[i - offset] = why
                job.bad(chunk_ids[i - offset], why, detail)
            filled += len(batch["rows"])
            job.step(len(batch["rows"]))
        job.writer.write_shard(chunk_ids, vectors, valid, reason)
        offset += n
    return job.finish(encoder.dim)


def embed_texts(
    post_ids: Sequence[str],
    tags: Sequence[str | None],
    cache_dir: str | Path,
    model: ResolvedModel,
    settings: ExtractSettings = ExtractSettings(),
    part: tuple[int, int] = (0, 1),
) -> dict[str, Any]:
    """Fill the text cache of these posts (space-separated tags, may be empty); the report."""
    job = _Job(
        "text", post_ids, len(tags), cache_dir, model, enc.text_preprocessing(model), settings, part
    )
    if not job.chunks:
        return job.finish(job.writer.manifest_dim() or 0)
    encoder = enc.TextEncoder(model, *job.runtime(), settings.batch_size)
    encoder.load()

    # one encode call per chunk: sentence-transformers sorts by length inside a call, so the
    # batches (and the padded results) depend only on the chunk
    job.start()
    for rows in job.chunks:
        n, chunk_ids = len(rows), job.ids[rows]
        texts = [normalise_tags(tags[i]) for i in rows]
        valid = np.array([bool(t) for t in texts], dtype=bool)  # (n,)
        vectors = np.zeros((n, encoder.dim), np.float32)  # (n, D)
        if valid.any():
            vectors[valid] = encoder.encode([t for t in texts if t])  # (n_valid, D)
        for j in np.flatnonzero(~valid):
            job.bad(chunk_ids[j], "empty_tags", None)
        job.writer.write_shard(
            chunk_ids, vectors, valid, [None if v else "empty_tags" for v in valid]
        )
        job.step(n)
    return job.finish(encoder.dim)
