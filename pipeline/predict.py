"""`wrcr predict`: score new posts with a trained bundle (`models/headline/` or a run's seed).

    wrcr predict --model models/headline --posts new.jsonl --out scores.csv [--root DIR]

The posts file is JSON lines (.jsonl, .ndjson), CSV or Parquet, with the posts table's column
names (docs/architecture.md), the label left out. `--out` gets `post_id,pred` (`pred` as in
a run's predictions.parquet) for every post that could be scored, in input order. A post that
cannot be scored (a missing field, a value that is no number or date, a missing or broken
image) is reported on stderr as `FILE:LINE: post ID: reason` and written to
`<out stem>.errors.csv` (line, post_id, reason) beside `--out`; the other posts are still
scored. Image paths are relative to `--root` (default: the posts file's directory, or a
Parquet posts table's `wrcr.data_root`). Lines are 1-based lines of the file; in a CSV the
header is line 1, so the first post is line 2. A stale errors file of an earlier run is
removed when every post is scored.

Exit status: 0 when every post was scored, 1 when some were not (the others are written),
2 for a fatal error (no such bundle, an unreadable or empty posts file, an encoder whose
weights differ from the bundle's).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

log = logging.getLogger(__name__)

MAX_REPORTED = 50  # failures printed on stderr; all of them go to the errors file


def errors_path(out: Path) -> Path:
    """Where the failed rows of `out` are written: scores.csv -> scores.errors.csv."""
    return out.with_name(f"{out.stem}.errors.csv")


def _encoder_paths(values: list[str]) -> dict[str, str]:
    from pipeline.params import ParamsError

    out = {}
    for value in values:
        modality, sep, path = value.partition("=")
        if not sep or modality not in ("image", "text") or not path:
            raise ParamsError(f"--encoder {value!r}: expected image=NAME_OR_DIR or text=...")
        out[modality] = path
    return out


def main(
    model: Path = typer.Option(..., "--model", help="Bundle directory (e.g. models/headline)."),
    posts: Path = typer.Option(..., "--posts", help="Posts to score: .jsonl, .csv or .parquet."),
    out: Path = typer.Option(..., "--out", help="CSV to write: post_id, pred."),
    root: Path = typer.Option(
        None,
        "--root",
        help="Directory image_path is relative to (default: the posts file's directory; for a "
        "Parquet posts table its wrcr.data_root).",
    ),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Encoder batch size."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | auto."),
    num_workers: int = typer.Option(0, "--num-workers", min=0, help="Image decode processes."),
    encoder: list[str] = typer.Option(
        [], "--encoder", help="MODALITY=NAME_OR_DIR: where to find an encoder (hash checked)."
    ),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="Default: on a tty."
    ),
) -> None:
    """Score the posts of POSTS with the bundle MODEL; exit 1 if any post could not be scored."""
    from wrcr.errors import DataError
    from wrcr.io import atomic_path
    from wrcr.predict import Predictor

    # the bundle first: a wrong --model fails before the posts are read
    if not model.is_dir():
        raise DataError("model bundle directory not found", file=model)
    predictor = Predictor.load(
        model,
        device=device,
        batch_size=batch_size,
        num_workers=num_workers,
        encoder_paths=_encoder_paths(encoder),
    )
    result = predictor.predict(posts, root=root, progress=progress)

    # scores (the good rows, always), then the failures
    with atomic_path(out) as tmp:
        result.scores.to_csv(tmp, index=False)
    errors = errors_path(out)
    if result.ok:
        errors.unlink(missing_ok=True)
    else:
        with atomic_path(errors) as tmp:
            result.failures.to_csv(tmp, index=False)
        for row in result.failures.head(MAX_REPORTED).itertuples(index=False):
            who = f"post {row.post_id}: " if isinstance(row.post_id, str) else ""
            print(f"{posts}:{row.line}: {who}{row.reason}", file=sys.stderr)
        if len(result.failures) > MAX_REPORTED:
            print(
                f"... and {len(result.failures) - MAX_REPORTED} more in {errors}", file=sys.stderr
            )

    n_ok, n_bad = len(result.scores), len(result.failures)
    pred = result.scores["pred"]
    spread = f", pred {pred.min():.3f}..{pred.max():.3f} (mean {pred.mean():.3f})" if n_ok else ""
    log.info("predict: %d scored, %d failed -> %s%s", n_ok, n_bad, out, spread)
    if n_bad:
        log.warning("predict: %d of %d posts not scored; see %s", n_bad, n_ok + n_bad, errors)
        raise typer.Exit(code=1)
