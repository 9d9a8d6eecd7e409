"""Report tables: means with spread, change against a baseline and its flags, missing runs."""

from __future__ import annotations

from wrcr import tables


def _entry(mae: float, std: float, n_seeds: int = 3) -> dict:
    return {"n_seeds": n_seeds, "mae": {"mean": mae, "std": std}, "few": None}


def test_change_outside_spread_is_a_result() -> None:
    """A change larger than the combined spread is formatted without a flag."""
    ch = tables.change({"mean": 2.0, "std": 0.03}, {"mean": 1.8, "std": 0.04}, 3, 3)
    assert ch.format() == "-0.200 (-10.0%)"


def test_change_within_spread_is_flagged() -> None:
    """A change smaller than sqrt(std_b^2 + std_m^2) carries the not-a-result mark."""
    ch = tables.change({"mean": 2.0, "std": 0.03}, {"mean": 1.96, "std": 0.04}, 3, 3)
    assert ch.flag == tables.NOT_A_RESULT  # |0.04| < 0.05


def test_single_seed_change_is_flagged() -> None:
    """With one seed the spread is unknown, so the change carries the one-seed mark."""
    ch = tables.change({"mean": 2.0, "std": 0.0}, {"mean": 1.0, "std": 0.0}, 1, 3)
    assert ch.flag == tables.ONE_SEED


def test_table_row_of_missing_and_skipped_runs() -> None:
    """A run absent from the metrics, or skipped, gets a row that says so."""
    runs = {"full-tags": {"l1": _entry(2.0, 0.1), "rnc": {"skipped": "no tags"}}}
    rows = [(loss, f"full-tags/{loss}", "full-tags/l1") for loss in ("l1", "rnc", "wrcr")]
    text = tables.comparison_table(runs, rows, [tables.Column("mae", "MAE")], missing={})
    lines = text.splitlines()
    assert "| 2.000 ± 0.100 | – | 3 |" in lines[2]
    assert "missing (skipped: no tags)" in lines[3]
    assert "missing (absent from the metrics)" in lines[4]


def test_empty_shot_region_is_dash() -> None:
    """A null shot region shows as the dash in the shot table."""
    text = tables.shot_table({"full-tags": {"l1": _entry(2.0, 0.1)}}, [("l1", "full-tags/l1")], {})
    assert text.splitlines()[2].split("|")[5].strip() == tables.DASH
