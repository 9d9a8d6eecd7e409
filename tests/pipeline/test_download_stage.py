"""Stage `download`: demo generation, SMPD check or fetch, table check, and its report."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

import wrcr.data.download as dl
from pipeline import download
from pipeline.params import ParamsError
from wrcr.data.demo import write_demo
from wrcr.errors import DataError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from range_server import RangeServer  # noqa: E402

DATA = {
    "source": "demo",
    "path": "",
    "demo_posts": 20,
    "demo_seed": 0,
    "smpd_urls": {},
    "smpd_sha256": {},
    "table_text_column": "tags",
    "table_image_column": "image_path",
    "table_dense_columns": ["ispro", "photo_count", "photo_firstdatetaken", "postdate"],
}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "BACKOFF", 0.0)


def _run(tmp_path: Path, **data: object):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {**DATA, **data}}))
    app = typer.Typer()
    app.command()(download.main)
    report = tmp_path / "raw" / "download.json"
    result = CliRunner().invoke(app, ["--report", str(report), "--params", str(params)])
    payload = json.loads(report.read_text()) if report.exists() else None
    return result, payload


def _zipped_demo(tmp_path: Path, posts: int) -> bytes:
    src = tmp_path / "src"
    write_demo(src, posts=posts, seed=5, image_size=16)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, f"SMPD_demo/{p.relative_to(src).as_posix()}")
    return buf.getvalue()


def test_demo_is_generated_then_reused(tmp_path: Path) -> None:
    """The first run generates the demo; a second run with the same params reuses it."""
    root = tmp_path / "raw" / "demo"
    result, first = _run(tmp_path, path=str(root))
    assert result.exit_code == 0, result.output
    assert first["action"] == "generated" and first["counts"] == {"posts": 20}
    stamp = (root / "train_label.txt").stat().st_mtime_ns
    _, second = _run(tmp_path, path=str(root))
    assert second["action"] == "reused"
    assert (root / "train_label.txt").stat().st_mtime_ns == stamp


def test_demo_is_regenerated_when_size_changes(tmp_path: Path) -> None:
    """Another demo_posts regenerates the demo."""
    root = tmp_path / "raw" / "demo"
    _run(tmp_path, path=str(root))
    _, payload = _run(tmp_path, path=str(root), demo_posts=7)
    assert payload["action"] == "generated" and payload["counts"] == {"posts": 7}


def test_smpd_copy_in_place_is_checked(tmp_path: Path) -> None:
    """An SMPD copy already at data.path is checked, and its files counted."""
    write_demo(tmp_path / "smpd", posts=9, seed=1, image_size=16)
    result, payload = _run(tmp_path, source="smpd", path=str(tmp_path / "smpd"))
    assert result.exit_code == 0, result.output
    assert payload["action"] == "checked"
    assert payload["files"]["train_text.json"] == 9 and payload["counts"] == {"posts": 9}


def test_smpd_missing_says_where_it_comes_from(tmp_path: Path) -> None:
    """Without SMPD and without URLs: an error naming the website and the parameters."""
    result, payload = _run(tmp_path, source="smpd", path=str(tmp_path / "none"))
    assert isinstance(result.exception, DataError)
    message = str(result.exception)
    assert "smp-challenge.com" in message and "data.path" in message
    assert "data.smpd_urls" in message and "train_text.json" in message
    assert payload is None


def test_smpd_fetched_from_urls_through_dropped_connection(tmp_path: Path) -> None:
    """Configured URLs are fetched (resuming a cut transfer), verified, unzipped, counted."""
    archive = _zipped_demo(tmp_path, posts=12)
    root = tmp_path / "raw" / "smpd"
    with RangeServer({"/smpd.zip": archive}, drop_after=len(archive) // 2) as server:
        result, payload = _run(
            tmp_path,
            source="smpd",
            path=str(root),
            smpd_urls={"smpd.zip": server.url("/smpd.zip")},
            smpd_sha256={"smpd.zip": hashlib.sha256(archive).hexdigest()},
        )
        ranges = [r for _, r in server.requests]
    assert result.exit_code == 0, result.output
    assert ranges == [None, f"bytes={len(archive) // 2}-"]
    assert payload["action"] == "downloaded" and payload["fetched"] == ["smpd.zip"]
    assert payload["counts"] == {"posts": 12}
    assert (root / "train").is_dir() and not (root / "smpd.zip").exists()


def test_smpd_download_is_not_repeated(tmp_path: Path) -> None:
    """A second run after a complete download fetches nothing."""
    archive = _zipped_demo(tmp_path, posts=6)
    root = tmp_path / "raw" / "smpd"
    with RangeServer({"/smpd.zip": archive}) as server:
        urls = {"smpd.zip": server.url("/smpd.zip")}
        _run(tmp_path, source="smpd", path=str(root), smpd_urls=urls)
        _, payload = _run(tmp_path, source="smpd", path=str(root), smpd_urls=urls)
        assert len(server.requests) == 1
    assert payload["action"] == "checked"


def test_smpd_checksum_mismatch_fails_and_leaves_nothing(tmp_path: Path) -> None:
    """A wrong sha256: the stage fails naming it, with no report, archive or part file."""
    archive = _zipped_demo(tmp_path, posts=6)
    root = tmp_path / "raw" / "smpd"
    with RangeServer({"/smpd.zip": archive}) as server:
        result, payload = _run(
            tmp_path,
            source="smpd",
            path=str(root),
            smpd_urls={"smpd.zip": server.url("/smpd.zip")},
            smpd_sha256={"smpd.zip": "ab" * 32},
        )
    assert isinstance(result.exception, DataError)
    assert "sha256 mismatch" in str(result.exception) and "smpd.zip" in str(result.exception)
    assert payload is None and list(root.iterdir()) == []


def test_table_source_is_checked(tmp_path: Path) -> None:
    """A table source: the file is checked and its rows counted."""
    table = tmp_path / "posts.csv"
    table.write_text("post_id,label,tags\na,1.0,x\nb,2.0,y\n")
    result, payload = _run(tmp_path, source="table", path=str(table))
    assert result.exit_code == 0, result.output
    assert payload["files"] == {"posts.csv": 2} and payload["action"] == "checked"


def test_missing_table_is_an_error(tmp_path: Path) -> None:
    """A table source whose file does not exist names the file and the parameter."""
    result, payload = _run(tmp_path, source="table", path=str(tmp_path / "nope.csv"))
    assert isinstance(result.exception, DataError)
    assert "nope.csv" in str(result.exception) and "data.path" in str(result.exception)
    assert payload is None


def test_unknown_source_lists_allowed(tmp_path: Path) -> None:
    """An unknown data.source is refused, naming the value and the allowed sources."""
    result, payload = _run(tmp_path, source="flickr", path="x")
    assert isinstance(result.exception, ParamsError)
    assert "source = 'flickr'; allowed: demo, smpd, table" in str(result.exception)
    assert payload is None


def test_checksum_for_unknown_file_is_refused(tmp_path: Path) -> None:
    """A smpd_sha256 entry without a URL is refused, naming it."""
    result, _ = _run(tmp_path, source="smpd", path="x", smpd_sha256={"a.zip": "0" * 64})
    assert isinstance(result.exception, ParamsError)
    assert "a.zip" in str(result.exception)
