"""Downloads with resume and checksum, and zip extraction, against a local HTTP server."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from range_server import RangeServer

import wrcr.data.download as dl
from wrcr.data.demo import write_demo
from wrcr.data.download import extract_zip, fetch
from wrcr.data.smpd import read_smpd
from wrcr.errors import DataError

PAYLOAD = bytes(range(256)) * 400  # 100 kB


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "BACKOFF", 0.0)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip_dir(root: Path, top: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, f"{top}/{p.relative_to(root).as_posix()}")
    return buf.getvalue()


def test_fetch_downloads_whole_file(tmp_path: Path) -> None:
    """A plain download writes the file and leaves no part file."""
    with RangeServer({"/f.bin": PAYLOAD}) as server:
        fetch(server.url("/f.bin"), tmp_path / "f.bin", sha256=_sha(PAYLOAD))
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()


def test_fetch_resumes_after_dropped_connection(tmp_path: Path) -> None:
    """A transfer cut after N bytes is resumed with Range: bytes=N- and completes."""
    with RangeServer({"/f.bin": PAYLOAD}, drop_after=30_000) as server:
        fetch(server.url("/f.bin"), tmp_path / "f.bin", sha256=_sha(PAYLOAD))
        requests = list(server.requests)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert requests == [("/f.bin", None), ("/f.bin", "bytes=30000-")]


def test_fetch_continues_part_file_of_earlier_run(tmp_path: Path) -> None:
    """A .part file left by an earlier run is continued, not started again."""
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:1234])
    with RangeServer({"/f.bin": PAYLOAD}) as server:
        fetch(server.url("/f.bin"), tmp_path / "f.bin")
        assert server.requests == [("/f.bin", "bytes=1234-")]
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_fetch_restarts_when_server_ignores_range(tmp_path: Path) -> None:
    """A server answering 200 to a range request: the part file is restarted."""
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes")
    with RangeServer({"/f.bin": PAYLOAD}, ignore_range=True) as server:
        fetch(server.url("/f.bin"), tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_fetch_checksum_mismatch_removes_download(tmp_path: Path) -> None:
    """A wrong sha256 raises, naming both digests, and leaves neither file nor part."""
    with (
        RangeServer({"/f.bin": PAYLOAD}) as server,
        pytest.raises(DataError, match=rf"f\.bin: sha256 mismatch .*expected {'0' * 64}, got"),
    ):
        fetch(server.url("/f.bin"), tmp_path / "f.bin", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_fetch_not_found_is_an_error(tmp_path: Path) -> None:
    """HTTP 404 is an error naming the status and the URL, without retries."""
    with RangeServer({}) as server, pytest.raises(DataError, match=r"HTTP 404 .*/nothing"):
        fetch(server.url("/nothing"), tmp_path / "x")
    assert len(server.requests) == 1


def test_fetch_gives_up_after_retries(tmp_path: Path) -> None:
    """A server that is gone: the error says how many attempts were made."""
    with RangeServer({}) as server:
        url = server.url("/f.bin")
    with pytest.raises(DataError, match=r"failed after 2 attempts"):
        fetch(url, tmp_path / "f.bin", retries=1, timeout=2)


def test_zipped_demo_downloads_resumes_and_reads(tmp_path: Path) -> None:
    """A zipped demo dataset, fetched through a dropped connection and unzipped, reads."""
    write_demo(tmp_path / "src", posts=10, seed=4, image_size=16)
    archive = _zip_dir(tmp_path / "src", "smpd_demo")
    with RangeServer({"/smpd.zip": archive}, drop_after=len(archive) // 3) as server:
        path = fetch(server.url("/smpd.zip"), tmp_path / "dl" / "smpd.zip", sha256=_sha(archive))
        assert server.requests[1][1] == f"bytes={len(archive) // 3}-"
    extract_zip(path, tmp_path / "dl", keep_dirs=("train",))
    df, report = read_smpd(tmp_path / "dl")
    assert len(df) == 10 and report["images"]["found"] == 10


def test_extract_keeps_image_folder(tmp_path: Path) -> None:
    """An archive holding only train/ keeps that folder (the image paths start with it)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("train/u/1.jpg", b"x")
    (tmp_path / "a.zip").write_bytes(buf.getvalue())
    extract_zip(tmp_path / "a.zip", tmp_path / "out", keep_dirs=("train",))
    assert (tmp_path / "out" / "train" / "u" / "1.jpg").read_bytes() == b"x"


def test_extract_refuses_paths_outside_target(tmp_path: Path) -> None:
    """An archive entry with '..' is refused before anything is written."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.txt", b"x")
        zf.writestr("../evil.txt", b"x")
    (tmp_path / "a.zip").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match=r"a\.zip: unsafe path '\.\./evil\.txt'"):
        extract_zip(tmp_path / "a.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()
