"""Stages `embed_image` and `embed_text`: posts table -> sharded embedding caches.

    wrcr embed image --posts data/prepared/posts.parquet --out data/features/image \\
        --report reports/stage/embed_image.json [--root DIR] [--params params.yaml]
    wrcr embed text  --posts data/prepared/posts.parquet --out data/features/text \\
        --report reports/stage/embed_text.json

Both read the `embed` section of params.yaml. A run over a complete cache loads no model;
a killed run resumes where it stopped. `--part RANK/WORLD` lets several processes fill one
cache, each taking every WORLD-th chunk of the posts table.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import typer

from pipeline.params import DEFAULT_PARAMS, ParamsError, load_section
from wrcr.data.schema import DATA_ROOT_KEY
from wrcr.features.encoders import DEVICES, POOLINGS, PRECISIONS

log = logging.getLogger(__name__)

app = typer.Typer(no_args_is_help=True, help="Frozen image / text encoders -> embedding caches.")


@dataclasses.dataclass(frozen=True)
class EmbedParams:
    """The `embed` section of params.yaml."""

    image_model: str
    text_model: str
    image_pooling: str = "cls"
    device: str = "auto"
    precision: str = "fp32"
    batch_size: int = 64
    num_workers: int = 2
    shard_size: int = 4096

    def __post_init__(self) -> None:
        for name, allowed in [
            ("device", DEVICES),
            ("precision", PRECISIONS),
            ("image_pooling", POOLINGS),
        ]:
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} = {value!r} is not allowed; one of {', '.join(allowed)}")
        if self.device == "cpu" and self.precision != "fp32":
            raise ValueError(
                f"precision = {self.precision!r} needs a GPU; with device 'cpu' "
                "use fp32 (or device auto, which falls back to fp32 on CPU)"
            )
        for name, low in [("batch_size", 1), ("num_workers", 0), ("shard_size", 1)]:
            if getattr(self, name) < low:
                raise ValueError(f"{name} = {getattr(self, name)} must be >= {low}")


def _part(value: str) -> tuple[int, int]:
    try:
        rank, world = (int(v) for v in value.split("/"))
    except ValueError:
        raise ParamsError(f"--part {value!r}: expected RANK/WORLD, e.g. 0/4") from None
    if not 0 <= rank < world:
        raise ParamsError(f"--part {value!r}: need 0 <= RANK < WORLD")
    return rank, world


def _settings(params: EmbedParams) -> Any:
    from wrcr.features.extract import ExtractSettings

    return ExtractSettings(
        device=params.device,
        precision=params.precision,
        batch_size=params.batch_size,
        num_workers=params.num_workers,
        shard_size=params.shard_size,
        pooling=params.image_pooling,
    )


def _resolve(name: str, modality: str, param: str) -> Any:
    from wrcr.features.resolve import ModelResolutionError, resolve_model

    try:
        return resolve_model(name, modality=modality, param=param)
    except ModelResolutionError as err:
        raise ParamsError(str(err)) from err


def _read_posts(posts: Path, column: str) -> tuple[Any, dict[bytes, bytes]]:
    import pyarrow.parquet as pq

    from wrcr.errors import DataError

    if not posts.is_file():
        raise DataError("posts table not found", file=posts)
    schema = pq.read_schema(posts)
    for needed in ("post_id", column):
        if needed not in schema.names:
            raise DataError(f"missing column '{needed}'", file=posts)
    table = pq.read_table(posts, columns=["post_id", column]).to_pandas()
    return table, schema.metadata or {}


def _run(modality: str, fn: Any, report: Path | None, params: EmbedParams, **kw: Any) -> None:
    from wrcr.features.encoders import EncoderSettingsError
    from wrcr.io import write_json

    try:
        result = fn(settings=_settings(params), **kw)
    except EncoderSettingsError as err:
        # device / precision / pooling that cannot work on this machine or with this model
        name = "image_pooling" if err.setting == "pooling" else err.setting
        value = getattr(params, name)
        raise ParamsError(f"embed.{name} = {value!r}: {str(err).split(': ', 1)[1]}") from err
    result["params"] = dataclasses.asdict(params)
    if report is not None:
        write_json(report, result)
        log.info("embed %s: report in %s", modality, report)


@app.command("image")
def image(
    posts: Path = typer.Option(..., "--posts", help="Posts table (parquet)."),
    out: Path = typer.Option(..., "--out", help="Image embedding cache directory."),
    report: Path = typer.Option(None, "--report", help="Stage report (JSON)."),
    root: Path = typer.Option(
        None,
        "--root",
        help="Data root of image_path (default: the posts table's wrcr.data_root metadata).",
    ),
    params_file: Path = typer.Option(DEFAULT_PARAMS, "--params", help="params.yaml"),
    part: str = typer.Option("0/1", "--part", help="RANK/WORLD: this process's share."),
) -> None:
    """Embed each post's image with the frozen image encoder (embed.image_model)."""
    from wrcr.errors import DataError
    from wrcr.features.extract import embed_images

    params = load_section(EmbedParams, "embed", params_file)
    share = _part(part)
    table, meta = _read_posts(posts, "image_path")
    model = _resolve(params.image_model, "image", "embed.image_model")

    # image paths are relative to the data root recorded by prepare (or --root)
    paths = table["image_path"].to_numpy(dtype=object)
    has_mask = table["image_path"].notna().to_numpy()
    if root is None and DATA_ROOT_KEY.encode() in meta:
        root = Path(meta[DATA_ROOT_KEY.encode()].decode())
    if root is None and has_mask.any():
        raise DataError(
            "image_path is relative but the table has no wrcr.data_root metadata; pass --root DIR",
            file=posts,
            field="image_path",
        )
    abs_paths = [str(root / p) if ok else None for p, ok in zip(paths, has_mask, strict=True)]

    _run(
        "image",
        embed_images,
        report,
        params,
        post_ids=table["post_id"].tolist(),
        image_paths=abs_paths,
        cache_dir=out,
        model=model,
        part=share,
    )


@app.command("text")
def text(
    posts: Path = typer.Option(..., "--posts", help="Posts table (parquet)."),
    out: Path = typer.Option(..., "--out", help="Text embedding cache directory."),
    report: Path = typer.Option(None, "--report", help="Stage report (JSON)."),
    params_file: Path = typer.Option(DEFAULT_PARAMS, "--params", help="params.yaml"),
    part: str = typer.Option("0/1", "--part", help="RANK/WORLD: this process's share."),
) -> None:
    """Embed each post's tags, joined by spaces, with the text encoder (embed.text_model)."""
    from wrcr.features.extract import embed_texts

    params = load_section(EmbedParams, "embed", params_file)
    share = _part(part)
    table, _ = _read_posts(posts, "tags")
    model = _resolve(params.text_model, "text", "embed.text_model")
    _run(
        "text",
        embed_texts,
        report,
        params,
        post_ids=table["post_id"].tolist(),
        tags=table["tags"].tolist(),
        cache_dir=out,
        model=model,
        part=share,
    )


if __name__ == "__main__":
    # `python -m pipeline.embed image|text ...`: the same commands without the whole CLI
    import sys

    from pipeline.cli import _setup_logging
    from wrcr.errors import DataError

    _setup_logging()
    try:
        app(standalone_mode=False)
    except (DataError, ParamsError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
