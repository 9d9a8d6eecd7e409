"""Stage `curate`: the posts table -> one split file per scenario."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import typer

from pipeline.params import DEFAULT_PARAMS, load_section, save_resolved
from wrcr.curate import SCENARIOS, CurateConfig, base_split, make_scenario, split_summary
from wrcr.io import atomic_dir, write_json

logger = logging.getLogger(__name__)


def main(
    posts: Path = typer.Option(..., help="Posts table (parquet) written by `wrcr prepare`."),
    out: Path = typer.Option(..., help="Directory for <scenario>.parquet split files."),
    params: Path = typer.Option(DEFAULT_PARAMS, help="Params file; reads section `curate`."),
) -> None:
    cfg = load_section(CurateConfig, "curate", params)
    table = pd.read_parquet(posts, columns=["post_id", "label", "postdate"])
    base = base_split(table, cfg)

    report = {}
    with atomic_dir(out) as tmp:
        for scenario in SCENARIOS:
            split = make_scenario(table, base, scenario, cfg)
            split.to_parquet(tmp / f"{scenario}.parquet", index=False)
            report[scenario] = split_summary(table, split, cfg.bin_width)
            counts = report[scenario]["counts"]
            logger.info(
                "curate %s: %s",
                scenario,
                ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            )
        write_json(tmp / "report.json", report)
        save_resolved(tmp / "config.json", curate=cfg)
