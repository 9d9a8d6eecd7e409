"""Stage `prepare`: the posts table and its report, and bad input that stops the stage."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
import yaml
from typer.testing import CliRunner

from pipeline import prepare
from pipeline.params import ParamsError
from wrcr.data.demo import write_demo
from wrcr.errors import DataError

REPO = Path(__file__).resolve().parents[2]
N = 15


def _invoke(*args: str):
    app = typer.Typer()
    app.command()(prepare.main)
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "raw"
    write_demo(path, posts=N, seed=2, image_size=16)
    return path


def _outs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "prepared" / "posts.parquet", tmp_path / "stage" / "prepare.json"


def test_root_writes_posts_table_and_report(tmp_path: Path, root: Path) -> None:
    """--root reads the SMPD layout; the table carries the data root, the report the counts."""
    out, report = _outs(tmp_path)
    result = _invoke("--root", str(root), "--out", str(out), "--report", str(report))
    assert result.exit_code == 0, result.output
    assert pq.read_schema(out).metadata[b"wrcr.data_root"] == str(root).encode()
    assert len(pd.read_parquet(out)) == N
    payload = json.loads(report.read_text())
    assert payload["source"] == "smpd" and payload["rows_read"] == payload["rows_kept"] == N
    assert payload["dropped"] == {} and payload["has_images"] is True
    assert payload["images"]["missing"] == 0


def test_source_and_input_as_dvc_writes_them(tmp_path: Path, root: Path) -> None:
    """--source demo --input DIR (the dvc.yaml form) reads the SMPD layout too."""
    out, report = _outs(tmp_path)
    result = _invoke("--source", "demo", "--input", str(root), "--out", str(out),
                     "--report", str(report))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["source"] == "demo"


def test_table_uses_params_options(tmp_path: Path) -> None:
    """--table reads the text, image and dense columns named in data.table_*."""
    table = tmp_path / "t.csv"
    table.write_text("post_id,label,caption,views\na,1.5,red sky,3\nb,2.5,,4\n")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {
        "source": "table", "path": str(table), "demo_posts": 1, "demo_seed": 0,
        "table_text_column": "caption", "table_image_column": None,
        "table_dense_columns": ["views"],
    }}))  # fmt: skip
    out, report = _outs(tmp_path)
    result = _invoke("--table", str(table), "--out", str(out), "--report", str(report),
                     "--params", str(params))  # fmt: skip
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    assert df["tags"].tolist() == ["red sky", ""] and df["views"].tolist() == [3.0, 4.0]
    assert json.loads(report.read_text())["table_options"]["text_column"] == "caption"


def test_dataset_without_images_is_reported(
    tmp_path: Path, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No images on disk: the report says so and a warning is logged."""
    for p in (root / "train").rglob("*.jpg"):
        p.unlink()
    out, report = _outs(tmp_path)
    with caplog.at_level(logging.WARNING):
        result = _invoke("--root", str(root), "--out", str(out), "--report", str(report))
    assert result.exit_code == 0, result.output
    payload = json.loads(report.read_text())
    assert payload["has_images"] is False and payload["images"]["missing"] == N
    assert "the dataset has no images" in caplog.text
    assert pd.read_parquet(out)["image_path"].isna().all()


def _malformed_json(root: Path) -> None:
    path = root / "train_text.json"
    path.write_text(path.read_text().replace('"Title":', '"Title"', 1))


def _short_file(root: Path) -> None:
    path = root / "train_category.json"
    path.write_text(json.dumps(json.loads(path.read_text())[:-2]))


def _missing_field(root: Path) -> None:
    path = root / "train_temporalspatial_information.json"
    data = json.loads(path.read_text())
    del data[4]["Postdate"]
    path.write_text(json.dumps(data))


def _nan_label(root: Path) -> None:
    lines = (root / "train_label.txt").read_text().splitlines()
    lines[3] = "NaN"
    (root / "train_label.txt").write_text("\n".join(lines) + "\n")


def _duplicate_id(root: Path) -> None:
    for name in ("train_text.json", "train_temporalspatial_information.json",
                 "train_category.json", "train_additional_information.json"):  # fmt: skip
        data = json.loads((root / name).read_text())
        data[9]["Pid"] = data[0]["Pid"]
        (root / name).write_text(json.dumps(data))
    cols = json.loads((root / "train_user_data.json").read_text())
    cols["Pid"]["9"] = cols["Pid"]["0"]
    (root / "train_user_data.json").write_text(json.dumps(cols))


def _uid_mismatch(root: Path) -> None:
    cols = json.loads((root / "train_user_data.json").read_text())
    cols["Uid"]["6"] = "1@N00"
    (root / "train_user_data.json").write_text(json.dumps(cols))


BAD_INPUT: dict[str, tuple[Callable[[Path], None], str]] = {
    "malformed_json": (_malformed_json, r"train_text\.json: malformed JSON at line 2, column"),
    "misaligned": (_short_file, rf"train_category\.json: {N - 2} rows, but .*has {N}"),
    "missing_field": (_missing_field, r"information\.json, row 4, field 'Postdate': missing"),
    "nan_label": (_nan_label, r"train_label\.txt, row 3, field 'label': label is missing or NaN"),
    "duplicate_id": (_duplicate_id, r"row 9, field 'Pid': duplicate post id '\w+' in rows 0 and 9"),
    "uid_mismatch": (_uid_mismatch, r"user_data\.json, row 6, field 'Uid': '1@N00' does not"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_stops_and_writes_nothing(tmp_path: Path, root: Path, case: str) -> None:
    """Each fatal bad input fails naming file, row and field, and writes no output."""
    corrupt, pattern = BAD_INPUT[case]
    corrupt(root)
    out, report = _outs(tmp_path)
    result = _invoke("--root", str(root), "--out", str(out), "--report", str(report))
    assert result.exit_code != 0
    assert isinstance(result.exception, DataError)
    message = str(result.exception)
    assert re.search(pattern, message), message
    assert not out.exists() and not report.exists() and not out.parent.exists()


def test_real_main_exits_2_with_message(tmp_path: Path, root: Path) -> None:
    """Through the console entry point: exit status 2, one error line, no output."""
    _nan_label(root)
    out, report = _outs(tmp_path)
    # only the data commands: the entry point is the real pipeline.cli.main
    code = (
        "import pipeline.cli as c; "
        "c.COMMANDS = [x for x in c.COMMANDS if x[0] in ('prepare', 'download', 'demo-data')]; "
        "c.main()"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "prepare",
            "--root",
            str(root),
            "--out",
            str(out),
            "--report",
            str(report),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "error: " in proc.stderr and "train_label.txt, row 3, field 'label'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not report.exists()


def test_two_inputs_are_refused(tmp_path: Path, root: Path) -> None:
    """--root and --table together are refused before anything is read."""
    out, report = _outs(tmp_path)
    result = _invoke("--root", str(root), "--table", "t.csv", "--out", str(out),
                     "--report", str(report))  # fmt: skip
    assert isinstance(result.exception, ParamsError)
    assert "exactly one of --input, --root, --table" in str(result.exception)


def test_unknown_source_lists_allowed(tmp_path: Path, root: Path) -> None:
    """An unknown --source names the allowed ones."""
    out, report = _outs(tmp_path)
    result = _invoke("--source", "csv", "--input", str(root), "--out", str(out),
                     "--report", str(report))  # fmt: skip
    assert isinstance(result.exception, ParamsError)
    assert "--source 'csv'; allowed: demo, smpd, table" in str(result.exception)
