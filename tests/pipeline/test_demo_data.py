"""`wrcr demo-data`: the command writes the demo and checks its arguments."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from pipeline import demo_data
from pipeline.params import ParamsError


def _invoke(*args: str):
    app = typer.Typer()
    app.command()(demo_data.main)
    return CliRunner().invoke(app, list(args))


def test_demo_data_writes_dataset(tmp_path: Path) -> None:
    """--out --posts --seed write a demo of that size."""
    result = _invoke("--out", str(tmp_path / "d"), "--posts", "9", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "d" / "train_label.txt").read_text().splitlines()) == 9


def test_demo_data_refuses_zero_posts(tmp_path: Path) -> None:
    """--posts 0 is refused, naming the option and what is allowed, and writes nothing."""
    result = _invoke("--out", str(tmp_path / "d"), "--posts", "0")
    assert isinstance(result.exception, ParamsError)
    assert "--posts 0; allowed: an integer >= 1" in str(result.exception)
    assert not (tmp_path / "d").exists()
