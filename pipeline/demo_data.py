"""`wrcr demo-data`: write the synthetic demo dataset in the SMPD layout."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.params import ParamsError


def main(
    out: Path = typer.Option(..., "--out", help="Dataset root to write (replaced whole)."),
    posts: int = typer.Option(3000, "--posts", help="Number of posts (>= 1)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same files."),
    image_size: int = typer.Option(64, "--image-size", help="Image side in pixels (>= 8)."),
) -> None:
    """Write `posts` synthetic posts (JSON files, labels, JPEG images) at OUT."""
    from wrcr.data.demo import write_demo

    # checked here, not by typer, so the CLI reports them like every other bad parameter
    if posts < 1:
        raise ParamsError(f"--posts {posts}; allowed: an integer >= 1")
    if image_size < 8:
        raise ParamsError(f"--image-size {image_size}; allowed: an integer >= 8")
    write_demo(out, posts=posts, seed=seed, image_size=image_size)
