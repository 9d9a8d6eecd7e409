"""Score new posts with a trained bundle, exactly as the evaluate stage scores held-out posts.

    predictor = Predictor.load("models/headline")
    result = predictor.predict("new_posts.jsonl")  # or a DataFrame, or a list of dicts
    result.scores    # post_id, pred
    result.failures  # line, post_id, reason

Each post goes the way the training posts went: the encoder recorded in the bundle (resolved
again by name and refused if its weights hash differs), the embed stage's image decoding and
tag joining, `wrcr.features.dense.dense_features`, the bundle's fitted DenseScaler, then the
model. As in training, a post with no image (`image_path` null) or with empty tags keeps a
zero vector for that modality and is scored. A post whose image file is missing or does not
decode is not scored: training never saw such a post with a zero vector standing for an image
it has (prepare nulls the paths of missing files), so it becomes a failure instead.

Image paths are relative to `root`: by default the posts file's directory (a Parquet posts
table's `wrcr.data_root` when it has one), and for a DataFrame its `attrs["data_root"]`, else
the working directory. Absolute image paths are used as they are.

Shapes: N posts, n posts of a chunk, D embedding dim, C dense columns.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wrcr.errors import DataError
from wrcr.predict_input import (
    Failure,
    check_posts,
    failures_frame,
    read_post_records,
    records_from,
)

log = logging.getLogger(__name__)

CHUNK = 2048  # posts embedded and scored together; bounds memory on long inputs
IMAGE_FAILURES = {"missing_file": "image file not found", "unreadable": "unreadable image"}


class EncoderMismatchError(DataError):
    """The encoder found here is not the one the bundle was trained on."""


@dataclass
class PredictionResult:
    """Scores of the posts that could be scored, and why the others could not."""

    scores: pd.DataFrame  # post_id (str), pred (float32), in input order
    failures: pd.DataFrame  # line (1-based), post_id (str or None), reason

    @property
    def ok(self) -> bool:
        """True when every post was scored."""
        return self.failures.empty


def _canonical(value: Any) -> Any:
    # JSON round trip: tuples become lists, as in the stored bundle
    return json.loads(json.dumps(value, sort_keys=True))


def _resolve(modality: str, record: Mapping[str, Any], override: str | None) -> Any:
    """The encoder of `record`, found again by name (or `override`); hash and prep checked."""
    from wrcr.features import encoders as enc
    from wrcr.features.resolve import ModelResolutionError, resolve_model

    model = record.get("model") or {}
    if not isinstance(model, Mapping):
        model = {"name": str(model)}
    name = model.get("name")
    expected = record.get("weights_sha256") or model.get("weights_sha256")
    if not name or not expected:
        raise DataError(f"the bundle does not record the {modality} encoder's name and hash")
    param = f"{modality} encoder"
    # by name first; then the recorded directory (a local model named relative to another
    # working directory); the hash check below guards either way
    candidates = [override] if override else [name, model.get("path")]
    errors = []
    for candidate in candidates:
        if not candidate or (candidate != name and not Path(candidate).is_dir()):
            continue
        try:
            resolved = resolve_model(candidate, modality=modality, param=param)
            break
        except ModelResolutionError as err:
            errors.append(str(err))
    else:
        raise DataError("; ".join(errors) or f"{param} {name!r} not found")

    # a different model would give silently different scores
    if resolved.weights_sha256 != expected:
        raise EncoderMismatchError(
            f"{modality} encoder {name!r} resolves to {resolved.path} with weights sha256 "
            f"{resolved.weights_sha256}, but the bundle was trained with weights sha256 "
            f"{expected}; refusing to score with another model (pass the original model "
            f"directory, e.g. --encoder {modality}=DIR)",
            field=f"encoders.{modality}",
        )
    try:
        describe = enc.image_preprocessing if modality == "image" else enc.text_preprocessing
        prep = describe(resolved)
    except ValueError as err:
        raise DataError(f"{param} {name!r}: {err}") from err
    if "preprocessing" in record and _canonical(prep) != _canonical(record["preprocessing"]):
        raise EncoderMismatchError(
            f"{modality} encoder {name!r}: same weights, but its preprocessing differs from "
            f"the bundle's ({_canonical(prep)} vs {_canonical(record['preprocessing'])})",
            field=f"encoders.{modality}",
        )
    return resolved


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {"post_id": pd.Series([], dtype=object), "pred": pd.Series([], dtype=np.float32)}
    )


class Predictor:
    """A loaded bundle and its encoders; build it with `Predictor.load`."""

    def __init__(
        self, bundle: Any, encoders: dict[str, Any], batch_size: int, num_workers: int
    ) -> None:
        self.bundle, self.encoders = bundle, encoders
        self.batch_size, self.num_workers = batch_size, num_workers

    @classmethod
    def load(
        cls,
        bundle_dir: str | Path,
        device: str = "cpu",
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        encoder_paths: Mapping[str, str] | None = None,
    ) -> Predictor:
        """Load the bundle at `bundle_dir` and check its encoders (models load on first use).

        `batch_size` is the encoders' batch; `num_workers` the image decode processes;
        `encoder_paths` maps a modality to a model name or directory replacing the recorded
        name (its weights must still hash as recorded).
        """
        from wrcr.bundle import load_bundle
        from wrcr.features import encoders as enc

        if batch_size < 1 or num_workers < 0:
            raise ValueError(f"batch_size={batch_size} must be >= 1, num_workers >= 0")
        overrides = dict(encoder_paths or {})
        try:
            dev = enc.pick_device(device)
        except enc.EncoderSettingsError as err:
            raise DataError(str(err), field="device") from err
        unknown = sorted(set(overrides) - {"image", "text"})
        if unknown:
            raise DataError(f"unknown encoder modality {unknown}; allowed: image, text")
        bundle = load_bundle(bundle_dir, device=dev)

        encoders: dict[str, Any] = {}
        for m in bundle.model_config.modalities:
            record = bundle.encoders[m]
            resolved = _resolve(m, record, overrides.get(m))
            try:
                precision = enc.effective_precision(record.get("precision") or "fp32", device, dev)
                if m == "image":
                    encoders[m] = enc.ImageEncoder(
                        resolved, record.get("pooling") or "cls", dev, precision
                    )
                else:
                    encoders[m] = enc.TextEncoder(resolved, dev, precision, batch_size)
            except enc.EncoderSettingsError as err:
                raise DataError(f"{m} encoder: {err}", field=f"encoders.{m}") from err
        log.info(
            "predict: bundle %s (input %s, loss %s) on %s",
            bundle_dir,
            bundle.input_name,
            bundle.loss_config.name,
            dev,
        )
        return cls(bundle, encoders, batch_size, num_workers)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.bundle.model_config.modalities)

    def predict(
        self,
        posts: pd.DataFrame | Sequence[Mapping[str, Any]] | str | Path,
        root: str | Path | None = None,
        progress: bool | None = None,
    ) -> PredictionResult:
        """Score `posts` (a posts file, a DataFrame or a list of dicts, label not needed).

        `progress`: None shows a bar only when stderr is a terminal.
        """
        from tqdm.auto import tqdm

        # read, then check every row: bad rows become failures, the others go on
        if isinstance(posts, (str, Path)):
            records = read_post_records(posts)
            default_root = records.data_root or Path(posts).parent
        else:
            records = records_from(posts)
            default_root = records.data_root or Path.cwd()
        data_root = Path(root if root is not None else default_root)
        scaler = self.bundle.scaler
        frame, failures = check_posts(
            records,
            text="text" in self.modalities,
            image="image" in self.modalities,
            dense_columns=() if scaler is None else scaler.columns,
        )

        # embed and score in chunks of consecutive rows
        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(total=len(frame), desc="predict", unit="post", disable=not show)
        scores = []
        for start in range(0, len(frame), CHUNK):
            chunk = frame.iloc[start : start + CHUNK].reset_index(drop=True)
            scored, bad = self._score(chunk, data_root)
            scores.append(scored)
            failures += bad
            bar.update(len(chunk))
        bar.close()

        scores_frame = pd.concat([_empty_scores(), *scores], ignore_index=True)
        result = PredictionResult(scores_frame, failures_frame(failures))
        log.info(
            "predict: %d of %d posts scored, %d failed",
            len(result.scores),
            len(records.records) + len(records.failures),
            len(result.failures),
        )
        return result

    def _score(self, chunk: pd.DataFrame, root: Path) -> tuple[pd.DataFrame, list[Failure]]:
        """Scores of one chunk's posts and failures of those whose image is unusable."""
        from wrcr.features.dense import DENSE_COLUMNS, dense_features
        from wrcr.training import TensorData, predict

        n = len(chunk)
        inputs: dict[str, np.ndarray] = {}
        failures: list[Failure] = []
        ok_mask = np.ones(n, dtype=bool)  # (n,)
        if "image" in self.modalities:
            inputs["image"], reasons = self._embed_images(chunk["image_path"].tolist(), root)
            for i, why in reasons.items():
                ok_mask[i] = False
                failures.append(Failure(int(chunk["line"][i]), chunk["post_id"][i], why))
        if not ok_mask.all():
            chunk = chunk[ok_mask].reset_index(drop=True)
            inputs = {m: x[ok_mask] for m, x in inputs.items()}
        if not len(chunk):
            return _empty_scores(), failures
        if "text" in self.modalities:
            inputs["text"] = self._embed_texts(chunk["tags"].tolist())

        # dense: the raw columns as the dense stage derives them, then the training scaler
        dense = None
        if self.bundle.scaler is not None:
            table = pd.DataFrame({"post_id": chunk["post_id"]})
            for column in DENSE_COLUMNS:
                table[column] = chunk.get(column, np.nan)
            dense = self.bundle.scaler.transform(dense_features(table))  # (n, 2C)

        pred, _ = predict(self.bundle.model, TensorData(inputs=inputs, dense=dense))  # (n,)
        scored = pd.DataFrame({"post_id": chunk["post_id"].astype(object), "pred": pred})
        return scored, failures

    def _embed_images(
        self, image_paths: list[str | None], root: Path
    ) -> tuple[np.ndarray, dict[int, str]]:
        """Vectors (n, D), zero where a post has no image; reasons of the unusable images."""
        from wrcr.features.images import image_batches

        encoder = self.encoders["image"]
        paths = [str(root / p) if isinstance(p, str) else None for p in image_paths]
        vectors = np.zeros((len(paths), encoder.dim), np.float32)  # (n, D)
        B = self.batch_size
        batches = [list(range(s, min(s + B, len(paths)))) for s in range(0, len(paths), B)]
        reasons: dict[int, str] = {}
        for batch in image_batches(encoder, paths, batches, self.num_workers):
            if batch["ok_rows"]:
                vectors[batch["ok_rows"]] = batch["vectors"]  # (B_ok, D)
            for i, why, detail in batch["bad"]:
                if why in IMAGE_FAILURES:
                    reasons[i] = f"{IMAGE_FAILURES[why]}: {detail}"
        return vectors, reasons

    def _embed_texts(self, tags: list[str]) -> np.ndarray:
        """Vectors (n, D) of the tags joined as the embed stage joins them; zero when empty."""
        from wrcr.features.extract import normalise_tags

        encoder = self.encoders["text"]
        texts = [normalise_tags(t) for t in tags]
        valid_mask = np.array([bool(t) for t in texts], dtype=bool)  # (n,)
        vectors = np.zeros((len(texts), encoder.dim), np.float32)  # (n, D)
        if valid_mask.any():
            vectors[valid_mask] = encoder.encode([t for t in texts if t])  # (n_valid, D)
        return vectors
