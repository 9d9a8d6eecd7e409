"""A tiny trained project for the prediction tests, built once per test session.

120 demo posts -> posts table -> image and text caches -> dense -> the `full` split -> one
`wrcr train` run (one seed, one epoch), all through the library and the stage functions,
without DVC. The run's predictions.parquet is what the evaluate stage reads: `wrcr predict`
must give the same numbers for the held-out posts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

IMAGE_MODEL = "wrcr/tiny-vit"
TEXT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PARAMS = """\
train:
  seeds: [1]
  epochs: 1
  batch_size: 32
  lr: 3.0e-3
  proj_hidden: 32
loss:
  name: wrcr
"""


@dataclass(frozen=True)
class Project:
    raw: Path  # demo dataset root: image_path is relative to it
    posts: Path  # posts.parquet
    cache: Path  # WRCR_CACHE: where the tiny ViT is built
    features: Path  # image/, text/ caches and dense.parquet
    run: Path  # the training run directory
    bundle: Path  # the run's seed bundle

    def predictions(self, splits: tuple[str, ...] = ("val", "test")) -> pd.DataFrame:
        """The run's held-out predictions (post_id, split, pred)."""
        pred = pd.read_parquet(self.run / "predictions.parquet")
        return pred[pred["split"].isin(splits)].reset_index(drop=True)

    def held_out_posts(self, splits: tuple[str, ...] = ("val", "test")) -> pd.DataFrame:
        """Posts table rows of the held-out posts, label removed, in predictions order."""
        table = pd.read_parquet(self.posts).set_index("post_id")
        ids = self.predictions(splits)["post_id"]
        return table.loc[ids].drop(columns=["label"]).reset_index()


_PROJECT: Project | None = None


def _build(root: Path) -> Project:
    from pipeline.train import main as train
    from wrcr.curate import CurateConfig, base_split, make_scenario
    from wrcr.data import read_smpd, write_demo, write_posts
    from wrcr.features.dense import dense_features
    from wrcr.features.extract import ExtractSettings, embed_images, embed_texts
    from wrcr.features.resolve import resolve_model

    # data: demo files -> posts table
    raw, features = root / "raw", root / "features"
    write_demo(raw, posts=120, seed=0, image_size=32)
    df, _ = read_smpd(raw)
    posts = root / "posts.parquet"
    write_posts(df, posts, data_root=raw)

    # features: image and text caches, dense columns
    settings = ExtractSettings(device="cpu", batch_size=32, num_workers=0, progress=False)
    ids = df["post_id"].tolist()
    paths = [None if p is None else str(raw / p) for p in df["image_path"]]
    embed_images(ids, paths, features / "image", resolve_model(IMAGE_MODEL, "image"), settings)
    tags = df["tags"].tolist()
    embed_texts(ids, tags, features / "text", resolve_model(TEXT_MODEL, "text"), settings)
    dense_features(df).to_parquet(features / "dense.parquet", index=False)

    # split and train one run
    cfg = CurateConfig()
    splits = root / "splits"
    splits.mkdir()
    make_scenario(df, base_split(df, cfg), "full", cfg).to_parquet(splits / "full.parquet")
    (root / "params.yaml").write_text(PARAMS)
    run = root / "models" / "full-tags+image" / "wrcr"
    train(
        scenario="full",
        input="tags+image",
        loss="wrcr",
        weighting=None,
        posts=posts,
        splits=splits,
        image_cache=features / "image",
        text_cache=features / "text",
        dense=features / "dense.parquet",
        out=run,
        params=root / "params.yaml",
        progress=False,
    )
    return Project(raw, posts, Path(os.environ["WRCR_CACHE"]), features, run, run / "seed1")


def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The session's project, built on first use (both prediction test modules share it)."""
    global _PROJECT
    if _PROJECT is None:
        root = tmp_path_factory.mktemp("predict-project")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WRCR_CACHE", str(root / "model-cache"))
            _PROJECT = _build(root)
    return _PROJECT


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """One JSON object per line, as `wrcr predict` reads them."""
    with path.open("w") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    return path
