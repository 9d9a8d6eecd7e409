"""DVC plot data: per-bin MAE records and training curves of every run.

`reports/plots/bin_mae.json` is a list of records (x: `bin`, y: `mae`); `training.csv` stacks the
`history.csv` of every run (x: `step`, y: `val_mae`). Both carry a `run` field, and `setting`
(`<scenario>-<input>`) and `method` (the run's loss directory), that the templates group by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from wrcr.errors import DataError

HISTORY_COLUMNS = (
    "seed",
    "epoch",
    "step",
    "train_loss",
    "train_l1",
    "train_contrast",
    "val_mae",
    "val_src",
)
RUN_COLUMNS = ("run", "setting", "method")


def bin_mae_records(details: Mapping[str, Any]) -> list[dict]:
    """One record per (run, label bin with test posts): bin left edge, MAE and its spread."""
    edges = details["bin_edges"]
    records = []
    for name, run in sorted(details.get("runs", {}).items()):
        means = run.get("bin_mae_mean")
        if not means:  # a skipped run has no bins
            continue
        stds = run.get("bin_mae_std") or [None] * len(means)
        counts = run.get("bin_count") or [None] * len(means)
        setting, _, method = name.partition("/")
        for b, (mae, std, count) in enumerate(zip(means, stds, counts, strict=True)):
            if mae is None:  # no test post in this bin: nothing to draw
                continue
            records.append(
                {
                    "bin": edges[b],
                    "mae": mae,
                    "mae_std": std,
                    "count": count,
                    "run": name,
                    "setting": setting,
                    "method": method,
                }
            )
    return records


def training_curves(models: Path, names: Iterable[str]) -> pd.DataFrame:
    """The `history.csv` of every named run that has one, stacked, with the run columns first."""
    frames = []
    for name in names:
        path = Path(models) / name / "history.csv"
        if not path.is_file():
            continue
        frame = pd.read_csv(path)
        absent = [c for c in HISTORY_COLUMNS if c not in frame.columns]
        if absent:
            raise DataError(f"missing column(s) {', '.join(absent)}", file=path)
        setting, _, method = name.partition("/")
        frame = frame.loc[:, list(HISTORY_COLUMNS)].assign(run=name, setting=setting, method=method)
        frames.append(frame)
    columns = [*RUN_COLUMNS, *HISTORY_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).loc[:, columns]
