"""Write and read the posts table (`data/prepared/posts.parquet`).

The Parquet schema metadata key `wrcr.data_root` holds the directory that `image_path` is
relative to, exactly as the caller gave it. A relative root is relative to the working
directory of the pipeline (the repository root, where `dvc repro` runs every stage), so the
table stays valid on another clone of the repository.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from wrcr.data.schema import DATA_ROOT_KEY, validate_posts
from wrcr.errors import DataError
from wrcr.io import atomic_path


def write_posts(
    df: pd.DataFrame, path: str | Path, data_root: str | Path, *, allow_missing_label: bool = False
) -> None:
    """Validate `df` against the posts table contract and write it atomically as Parquet."""
    path = Path(path)
    validate_posts(df, file=path, allow_missing_label=allow_missing_label)
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[DATA_ROOT_KEY.encode()] = Path(data_root).as_posix().encode()
    table = table.replace_schema_metadata(metadata)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def posts_data_root(path: str | Path) -> str:
    """The data root stored in a posts table file."""
    metadata = pq.read_schema(path).metadata or {}
    key = DATA_ROOT_KEY.encode()
    if key not in metadata:
        raise DataError(f"no '{DATA_ROOT_KEY}' in the Parquet metadata", file=path)
    return metadata[key].decode()


def read_posts(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a posts table; `attrs["data_root"]` holds the root that image paths are relative to."""
    path = Path(path)
    if not path.is_file():
        raise DataError("posts table not found", file=path)
    df = pd.read_parquet(path, columns=columns)
    df.attrs["data_root"] = posts_data_root(path)
    return df
