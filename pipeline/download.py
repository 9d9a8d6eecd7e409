"""Stage `download`: make the raw dataset of `data.source` available at `data.path`.

- demo: generate it (kept when a complete demo of the same size and seed is already there);
- smpd: check a copy in place, or fetch `data.smpd_urls` (resume, sha256, unzip); otherwise
  stop with where SMPD comes from and which parameter to set;
- table: check the table file.

The report says what was found: source, path, action, rows per file, post count.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

from pipeline.data_params import DataParams
from pipeline.params import DEFAULT_PARAMS, load_section
from wrcr.errors import DataError
from wrcr.io import write_json

logger = logging.getLogger(__name__)

SMPD_HELP = (
    "SMPD is released by the SMP Challenge (https://smp-challenge.com) to registered "
    "participants: put its train files (train_*.json, train_label.txt, train_img_filepath.txt "
    "and the train/ image folder) in that directory, or point data.path at your copy, or set "
    "data.smpd_urls to file name -> URL (and data.smpd_sha256) for `wrcr download` to fetch"
)


def ensure_demo(params: DataParams) -> dict[str, Any]:
    """Generate the demo at `params.path` unless the same demo is already complete there."""
    from wrcr.data.demo import DEMO_IMAGE_SIZE, DEMO_VERSION, demo_marker, write_demo
    from wrcr.data.smpd import smpd_counts

    root = Path(params.path)
    marker = demo_marker(root) or {}
    wanted = (DEMO_VERSION, params.demo_posts, params.demo_seed, DEMO_IMAGE_SIZE)
    same = tuple(marker.get(k) for k in ("version", "posts", "seed", "image_size")) == wanted
    if same:
        action = "reused"
        logger.info("download: demo with %d posts, seed %d already at %s", params.demo_posts,
                    params.demo_seed, root)  # fmt: skip
    else:
        action = "generated"
        write_demo(root, posts=params.demo_posts, seed=params.demo_seed)
    files = smpd_counts(root)
    return {"action": action, "posts": params.demo_posts, "seed": params.demo_seed,
            "files": files}  # fmt: skip


def _fetch_all(params: DataParams, root: Path) -> list[str]:
    # every configured file not yet marked done: fetch, verify, extract archives
    from wrcr.data.download import extract_zip, fetch, sha256_file

    fetched = []
    for name, url in sorted(params.smpd_urls.items()):
        done = root / f".{name}.done"
        if done.exists():
            continue
        dest, sha = root / name, params.smpd_sha256.get(name)
        if not dest.exists():
            fetch(url, dest, sha256=sha)
        elif sha and sha256_file(dest) != sha.lower():
            raise DataError(f"sha256 differs from data.smpd_sha256[{name!r}]", file=dest)
        if name.lower().endswith(".zip"):
            extract_zip(dest, root, keep_dirs=("train", "test"))
            # NOTE: the archive is removed once extracted (SMPD images are large); the .done
            # marker, written last, stops a later run from fetching it again
            dest.unlink()
        done.write_text(json.dumps({"url": url, "sha256": sha}) + "\n")
        fetched.append(name)
    return fetched


def ensure_smpd(params: DataParams) -> dict[str, Any]:
    """Check SMPD at `params.path`; fetch the configured URLs when it is incomplete."""
    from wrcr.data.smpd import missing_files, smpd_counts

    root = Path(params.path)
    missing = missing_files(root)
    started = any(root.glob(".*.done"))
    fetched: list[str] = []

    # a copy in place is used as it is; a download started earlier is completed
    if params.smpd_urls and (missing or started):
        root.mkdir(parents=True, exist_ok=True)
        fetched = _fetch_all(params, root)
        missing = missing_files(root)
        if missing:
            raise DataError(
                f"still missing {', '.join(missing)} after fetching data.smpd_urls "
                f"({', '.join(sorted(params.smpd_urls))}); check the URLs",
                file=root,
            )
    if missing:
        raise DataError(f"SMPD not found: missing {', '.join(missing)}. {SMPD_HELP}", file=root)

    files = smpd_counts(root)
    return {"action": "downloaded" if fetched else "checked", "fetched": fetched, "files": files}


def check_table(params: DataParams) -> dict[str, Any]:
    """Check that the table file exists and can be read."""
    from wrcr.data.table import table_rows

    path = Path(params.path)
    if not path.is_file():
        raise DataError("table file not found (set data.path to the posts table)", file=path)
    return {"action": "checked", "files": {path.name: table_rows(path)}}


def main(
    report: Path = typer.Option(..., "--report", help="Report JSON of what was found."),
    params: Path = typer.Option(DEFAULT_PARAMS, "--params", help="Params file; reads `data`."),
) -> None:
    """Generate, check or fetch the raw dataset of data.source at data.path."""
    cfg = load_section(DataParams, "data", params)
    steps = {"demo": ensure_demo, "smpd": ensure_smpd, "table": check_table}
    result = steps[cfg.source](cfg)

    posts = next(iter(result["files"].values()))
    payload = {"source": cfg.source, "path": cfg.path, **result, "counts": {"posts": posts}}
    write_json(report, payload)
    logger.info("download %s: %s, %d posts at %s", cfg.source, result["action"], posts, cfg.path)
