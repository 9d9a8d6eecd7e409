"""Small posts tables and images for the feature tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def write_images(root: Path, n: int, seed: int = 0, size: int = 24) -> list[str]:
    """n small random JPEGs under root/img/; their paths relative to root."""
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    rel = []
    for i in range(n):
        h, w = size + i % 7, size + (3 * i) % 11
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "img" / f"{i}.jpg", quality=90)
        rel.append(f"img/{i}.jpg")
    return rel


def write_posts(path: Path, frame: pd.DataFrame, data_root: Path | None) -> Path:
    """A posts table as prepare writes it, with the wrcr.data_root schema metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if data_root is not None:
        meta = {**(table.schema.metadata or {}), b"wrcr.data_root": str(data_root).encode()}
        table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def posts_frame(image_paths: list[str | None], tags: list[str] | None = None) -> pd.DataFrame:
    n = len(image_paths)
    return pd.DataFrame(
        {
            "post_id": [f"p{i:04d}" for i in range(n)],
            "tags": tags if tags is not None else [f"tag{i % 13} city night" for i in range(n)],
            "image_path": image_paths,
            "postdate": np.arange(n, dtype=np.int64) + 1_400_000_000,
            "ispro": np.arange(n) % 2,
            "photo_count": np.arange(n, dtype=np.float64),
            "photo_firstdatetaken": np.full(n, 1.3e9),
        }
    )
