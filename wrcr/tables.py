"""Markdown tables of the report (DESIGN section 2) from the evaluation metrics.

`runs` is the content of `runs.json`: `{"<scenario>-<input>": {"<loss>": entry}}`, an entry
holding `n_seeds` and `{"mean", "std"}` per metric, overall and per shot region. A run that is
absent, skipped or has no metrics is looked up as None and shown as missing, never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DASH = "–"  # a value that does not exist (an empty shot region, the baseline's own change)
NOT_A_RESULT = "†"
ONE_SEED = "‡"

FOOTNOTES = (
    f"{NOT_A_RESULT} |change| is smaller than the seed spread of the difference, "
    "sqrt(std_baseline² + std_method²): not a result.\n"
    f"{ONE_SEED} one seed on one side: the spread is unknown, so the change is not a result."
)


def run_name(scenario: str, input_name: str, loss: str) -> str:
    """`<scenario>-<input>/<loss>`, the name of a run directory under `models/`."""
    return f"{scenario}-{input_name}/{loss}"


def lookup(runs: Mapping[str, Any], name: str) -> dict | None:
    """Metrics entry of run `name`, or None when absent, skipped or without metrics."""
    setting, _, loss = name.partition("/")
    entry = (runs.get(setting) or {}).get(loss)
    if not isinstance(entry, dict) or "mae" not in entry:
        return None
    return entry


def missing_reason(runs: Mapping[str, Any], name: str) -> str:
    """Why `lookup` found no metrics for `name`."""
    setting, _, loss = name.partition("/")
    entry = (runs.get(setting) or {}).get(loss)
    if isinstance(entry, dict) and entry.get("skipped"):
        return f"skipped: {entry['skipped']}"
    return "absent from the metrics"


def _stat(entry: Mapping[str, Any] | None, metric: str, region: str | None = None) -> dict | None:
    if entry is None:
        return None
    if region is not None:
        entry = entry.get(region)
        if entry is None:
            return None
    stat = entry.get(metric)
    if not isinstance(stat, dict) or stat.get("mean") is None:
        return None
    return stat


def fmt_mean_std(stat: Mapping[str, Any] | None, digits: int = 3) -> str:
    """`mean ± std`; the dash for a value that does not exist."""
    if stat is None:
        return DASH
    std = stat.get("std")
    if std is None or not math.isfinite(std):
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} ± {std:.{digits}f}"


@dataclass(frozen=True)
class Change:
    """Change of a method against a baseline: absolute, relative (%) and whether it counts."""

    delta: float
    percent: float | None
    flag: str  # "" (a result), NOT_A_RESULT or ONE_SEED

    def format(self, digits: int = 3) -> str:
        pct = "" if self.percent is None else f" ({self.percent:+.1f}%)"
        return f"{self.delta:+.{digits}f}{pct}{self.flag}"


def change(
    base: Mapping[str, Any] | None,
    method: Mapping[str, Any] | None,
    base_seeds: int,
    method_seeds: int,
) -> Change | None:
    """Method mean minus baseline mean, flagged when it is within the spread of seeds."""
    if base is None or method is None:
        return None
    delta = float(method["mean"]) - float(base["mean"])
    percent = 100.0 * delta / abs(base["mean"]) if base["mean"] else None
    if min(base_seeds, method_seeds) < 2:
        return Change(delta, percent, ONE_SEED)
    spread = math.hypot(float(base.get("std") or 0.0), float(method.get("std") or 0.0))
    return Change(delta, percent, NOT_A_RESULT if abs(delta) < spread else "")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table; a `|` inside a cell is escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Column:
    """A metric column of a comparison table, optionally followed by its change column."""

    metric: str
    title: str
    region: str | None = None  # many / medium / few, or None for the whole test set
    with_change: bool = True


def _seeds(entry: Mapping[str, Any] | None) -> int:
    return int(entry.get("n_seeds", 0)) if entry else 0


def _missing_row(label: str, name: str, reason: str, n_cols: int) -> list[str]:
    return [label, f"`{name}`", f"missing ({reason})", *[""] * (n_cols - 3)]


def comparison_table(
    runs: Mapping[str, Any],
    rows: Sequence[tuple[str, str, str]],
    columns: Sequence[Column],
    missing: Mapping[str, str],
) -> str:
    """Rows of (label, run name, baseline run name): each column's value and its change.

    A run in `missing`, or without metrics, is shown as missing with the reason.
    """
    header = ["", "run"]
    for col in columns:
        header += [col.title, f"Δ {col.title}"] if col.with_change else [col.title]
    header.append("seeds")

    body = []
    for label, name, base_name in rows:
        entry = None if name in missing else lookup(runs, name)
        base = None if base_name in missing else lookup(runs, base_name)
        if entry is None:
            reason = missing.get(name) or missing_reason(runs, name)
            body.append(_missing_row(label, name, reason, len(header)))
            continue
        row = [label, f"`{name}`"]
        for col in columns:
            stat = _stat(entry, col.metric, col.region)
            row.append(fmt_mean_std(stat))
            if not col.with_change:
                continue
            ch = change(_stat(base, col.metric, col.region), stat, _seeds(base), _seeds(entry))
            row.append(DASH if name == base_name or ch is None else ch.format())
        row.append(str(_seeds(entry)))
        body.append(row)
    return markdown_table(header, body)


def shot_table(
    runs: Mapping[str, Any],
    rows: Sequence[tuple[str, str]],
    missing: Mapping[str, str],
    regions: Sequence[str] = ("many", "medium", "few"),
) -> str:
    """MAE and test post count per shot region for each (label, run name); empty: the dash."""
    header = ["", "run", *[f"{r} MAE" for r in regions], *[f"{r} n" for r in regions]]
    body = []
    for label, name in rows:
        entry = None if name in missing else lookup(runs, name)
        if entry is None:
            reason = missing.get(name) or missing_reason(runs, name)
            body.append(_missing_row(label, name, reason, len(header)))
            continue
        maes = [fmt_mean_std(_stat(entry, "mae", r)) for r in regions]
        counts = [str(entry[r].get("count", DASH)) if entry.get(r) else DASH for r in regions]
        body.append([label, f"`{name}`", *maes, *counts])
    return markdown_table(header, body)


# the experiments of DESIGN section 2
SCENARIOS = ("full", "skewed", "truncated")
INPUTS = ("tags", "image", "tags+image")
LOSSES = ("l1", "rnc", "wrcr")
# the per-bin figures, the shot table and the weighting study use both modalities
FIGURE_INPUT = "tags+image"
WEIGHTINGS = (  # (row label, run directory) on skewed-tags+image
    ("none (rnc)", "rnc"),
    ("log", "wrcr-log"),
    ("linear", "wrcr-linear"),
    ("quadratic", "wrcr-quadratic"),
    ("exponential", "wrcr"),
)
MAE_SRC = (Column("mae", "MAE"), Column("src", "SRC"))


def expected_runs(headline_scenario: str, headline_input: str) -> list[str]:
    """Every run the summary and the figures read, in table order."""
    names = [run_name("full", i, loss) for i in INPUTS for loss in LOSSES]
    names += [run_name(s, FIGURE_INPUT, loss) for s in SCENARIOS for loss in LOSSES]
    names += [run_name("skewed", FIGURE_INPUT, r) for _, r in WEIGHTINGS]
    names += [run_name(headline_scenario, headline_input, loss) for loss in LOSSES]
    return list(dict.fromkeys(names))


def summary_markdown(
    runs: Mapping[str, Any],
    headline: tuple[str, str, str],
    missing: Mapping[str, str],
    figures: Sequence[tuple[str, str]],
    notes: Sequence[str],
) -> str:
    """`reports/summary.md`: headline, main, weighting and shot tables, figures, notes.

    `headline` is (scenario, input, loss); `figures` holds (title, path relative to the summary).
    """
    h_scenario, h_input, h_loss = headline
    head = [("headline", run_name(*headline), run_name(h_scenario, h_input, "l1"))]
    main = [
        (f"{i} / {loss}", run_name("full", i, loss), run_name("full", i, "l1"))
        for i in INPUTS
        for loss in LOSSES
    ]
    skewed_none = run_name("skewed", FIGURE_INPUT, "rnc")
    weighting = [(lab, run_name("skewed", FIGURE_INPUT, r), skewed_none) for lab, r in WEIGHTINGS]
    weighting_cols = (
        Column("mae", "MAE"),
        Column("src", "SRC", with_change=False),
        Column("mae", "few-shot MAE", region="few"),
    )
    shots = [
        (f"{s} / {loss}", run_name(s, FIGURE_INPUT, loss)) for s in SCENARIOS for loss in LOSSES
    ]

    out = [
        "# WRCR report",
        "",
        "Test-set metrics, mean ± sample std over seeds. Δ = method − baseline, absolute and %: "
        "lower MAE and higher SRC are better.",
        "",
        f"## Headline run: `{run_name(*headline)}` (change against l1)",
        "",
        comparison_table(runs, head, MAE_SRC, missing),
        "",
        "## Main table: scenario `full`, change against l1",
        "",
        comparison_table(runs, main, MAE_SRC, missing),
        "",
        f"## Weighting strategies: scenario `skewed`, input `{FIGURE_INPUT}`, change against none",
        "",
        comparison_table(runs, weighting, weighting_cols, missing),
        "",
        f"## Shot regions: input `{FIGURE_INPUT}`, n = test posts in the region",
        "",
        shot_table(runs, shots, missing),
        "",
        FOOTNOTES.replace("\n", "  \n"),
        "",
        "## Figures",
        "",
        *[f"- [{title}]({link})" for title, link in figures],
        "",
    ]
    if missing or notes:
        out += ["## Missing runs and notes", ""]
        out += [f"- `{name}`: {reason}" for name, reason in missing.items()]
        out += [f"- {note}" for note in notes]
        out.append("")
    return "\n".join(out)
