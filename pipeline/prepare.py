"""Stage `prepare`: raw files -> one clean posts table and a report of what was read.

`--source demo|smpd --input DIR` (or the shorthand `--root DIR`) reads the SMPD layout;
`--source table --input FILE` (or `--table FILE`) reads a CSV, Parquet or JSON lines table
with the options `data.table_*` of the params file. Bad rows stop the stage with the file,
row and field (DESIGN s.7), so nothing is dropped silently; `dropped` in the report lists
what a reader left out on purpose, by reason.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer

from pipeline.data_params import SOURCES, DataParams
from pipeline.params import DEFAULT_PARAMS, ParamsError, load_section

logger = logging.getLogger(__name__)


def resolve_input(
    source: str | None, input_: Path | None, root: Path | None, table: Path | None
) -> tuple[str, Path]:
    """(source, path) from --source/--input or one of the shorthands --root, --table."""
    given = [(n, v) for n, v in (("--input", input_), ("--root", root), ("--table", table)) if v]
    if len(given) != 1:
        raise ParamsError(
            "give exactly one of --input, --root, --table"
            + (f" (got {', '.join(n for n, _ in given)})" if given else "")
        )
    flag, path = given[0]
    if source is not None and source not in SOURCES:
        raise ParamsError(f"--source {source!r}; allowed: {', '.join(SOURCES)}")
    if flag == "--root":
        source = source or "smpd"
        if source == "table":
            raise ParamsError("--root reads the SMPD layout (source demo or smpd), not a table")
    elif flag == "--table":
        source = source or "table"
        if source != "table":
            raise ParamsError(f"--table reads a posts table; --source {source!r} contradicts it")
    elif source is None:
        raise ParamsError(f"--input needs --source ({', '.join(SOURCES)})")
    return source, Path(path)


def _table_options(params: Path | None) -> dict[str, Any]:
    # the data.table_* knobs; defaults of read_table when there is no params file at all
    path = params if params is not None else DEFAULT_PARAMS
    if params is None and not path.is_file():
        logger.info("prepare: no %s; table options at their defaults", path)
        return {}
    cfg = load_section(DataParams, "data", path)
    return {
        "text_column": cfg.table_text_column,
        "image_column": cfg.table_image_column,
        "dense_columns": cfg.table_dense_columns,
    }


def label_summary(label: pd.Series) -> dict[str, float]:
    """min / max / mean / median / std of the labels (NaN-free by contract)."""
    y = label.to_numpy(dtype=np.float64)
    if y.size == 0:
        return {}
    return {
        "min": float(y.min()),
        "max": float(y.max()),
        "mean": round(float(y.mean()), 6),
        "median": float(np.median(y)),
        "std": round(float(y.std()), 6),
    }


def main(
    out: Path = typer.Option(..., "--out", help="Posts table to write (parquet)."),
    report: Path = typer.Option(..., "--report", help="Report JSON: rows read, kept, dropped."),
    source: str | None = typer.Option(None, "--source", help="demo | smpd | table."),
    input_: Path | None = typer.Option(
        None, "--input", help="Dataset root (demo, smpd) or table file."
    ),
    root: Path | None = typer.Option(None, "--root", help="Shorthand: SMPD layout at DIR."),
    table: Path | None = typer.Option(None, "--table", help="Shorthand: posts table FILE."),
    params: Path | None = typer.Option(
        None, "--params", help="Params file for data.table_* (default: params.yaml if present)."
    ),
) -> None:
    """Read the raw dataset into data/prepared/posts.parquet and write the stage report."""
    from wrcr.data.posts import write_posts
    from wrcr.data.smpd import read_smpd
    from wrcr.data.table import read_table
    from wrcr.io import write_json

    source, path = resolve_input(source, input_, root, table)

    # read (every bad row is fatal here, before anything is written)
    options: dict[str, Any] = {}
    if source == "table":
        options = _table_options(params)
        df, read_report = read_table(path, **options)
    else:
        df, read_report = read_smpd(path, split="train")
    rows_read = read_report["rows"]
    dropped: dict[str, int] = {}

    # write the table, then the report
    write_posts(df, out, data_root=df.attrs["data_root"])
    images = read_report["images"]
    payload = {
        "source": source,
        "input": str(path),
        "out": str(out),
        "data_root": df.attrs["data_root"],
        "rows_read": rows_read,
        "rows_kept": len(df),
        "dropped": dropped,
        "has_images": read_report["has_images"],
        "images": images,
        "empty_tags": read_report["empty_tags"],
        "missing_values": read_report["missing_values"],
        "label": label_summary(df["label"]),
        "columns": list(df.columns),
        "files": read_report["files"],
        "table_options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
    }
    write_json(report, payload)

    logger.info(
        "prepare %s: %d rows read, %d kept, %d dropped; images %d listed, %d found, %d missing",
        source,
        rows_read,
        len(df),
        sum(dropped.values()),
        images["listed"],
        images["found"],
        images["missing"],
    )
    if not read_report["has_images"]:
        logger.warning(
            "prepare: the dataset has no images (%d listed, none found); "
            "only the text inputs (tags) can be trained",
            images["listed"],
        )
