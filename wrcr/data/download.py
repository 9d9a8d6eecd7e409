"""HTTP download with resume and checksum, and safe zip extraction (standard library only).

`fetch` writes to `<dest>.part` and renames it to `dest` only once the file is whole and its
sha256 (when given) matches, so an interrupted download never looks complete. A later call,
or a retry after a dropped connection, asks the server for the rest (HTTP Range); a server
that ignores Range sends the whole file again and the part file is restarted.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from wrcr.errors import DataError

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
BACKOFF = 2.0  # seconds before retry k (times k)


class _ShortTransferError(Exception):
    """The transfer stopped before the announced length; retried with Range."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _transfer(url: str, part: Path, timeout: float, progress: bool, name: str) -> None:
    # one request: from the end of the part file if there is one
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "wrcr-download"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            return  # the part file already holds the whole resource
        raise

    with response:
        if offset and response.status != 206:
            logger.info("%s: the server ignored the range request; starting again", name)
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        mode = "ab" if offset else "wb"
        received = offset
        with (
            part.open(mode) as f,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                desc=name,
                disable=not progress,
            ) as bar,
        ):
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                f.write(block)
                received += len(block)
                bar.update(len(block))
    if total is not None and received < total:
        raise _ShortTransferError(f"got {received} of {total} bytes")


def fetch(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float | None = None,
    progress: bool | None = None,
) -> Path:
    """Download `url` to `dest`, resuming a previous `.part` file; verify `sha256` if given.

    Connection errors and short transfers are retried `retries` times, each resuming where
    the last stopped. A checksum mismatch removes the part file and raises `DataError`.
    `progress=None` shows a bar only when stderr is a terminal.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    show = sys.stderr.isatty() if progress is None else progress

    # transfer, resuming after each failure
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout, show, dest.name)
            break
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == retries:
                raise DataError(f"HTTP {err.code} {err.reason} for {url}", file=dest) from err
            reason = f"HTTP {err.code}"
        except (
            _ShortTransferError,
            urllib.error.URLError,
            http.client.HTTPException,
            ConnectionError,
            TimeoutError,
        ) as err:
            if attempt == retries:
                raise DataError(
                    f"download of {url} failed after {retries + 1} attempts: {err}; "
                    f"run again to resume from {part.name}",
                    file=dest,
                ) from err
            reason = str(err)
        logger.warning("%s: %s; resuming (attempt %d of %d)", dest.name, reason, attempt + 2,
                       retries + 1)  # fmt: skip
        time.sleep((BACKOFF if backoff is None else backoff) * (attempt + 1))

    # checksum, then the rename that makes the file visible
    if sha256:
        got = sha256_file(part)
        if got != sha256.lower():
            part.unlink()
            raise DataError(
                f"sha256 mismatch for {url}: expected {sha256.lower()}, got {got}; the download "
                "was removed, check data.smpd_sha256 or run again",
                file=dest,
            )
    os.replace(part, dest)
    logger.info("downloaded %s (%d bytes)", dest.name, dest.stat().st_size)
    return dest


def _member_names(zf: zipfile.ZipFile, archive: Path) -> list[tuple[zipfile.ZipInfo, str]]:
    # reject absolute paths and "..": an archive must not write outside its target
    out = []
    for info in zf.infolist():
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts:
            raise DataError(f"unsafe path {info.filename!r} in archive", file=archive)
        out.append((info, name.as_posix()))
    return out


def extract_zip(archive: str | Path, dest: str | Path, keep_dirs: tuple[str, ...] = ()) -> int:
    """Extract `archive` into `dest`; returns the number of files written.

    An archive whose entries all sit in one top-level folder (a release zipped as
    `train_allmetadata_json/train_*.json`) is extracted without that folder, unless the folder
    is in `keep_dirs` (image folders such as `train/` stay).
    """
    archive, dest = Path(archive), Path(dest)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as err:
        raise DataError(f"not a zip archive: {err}", file=archive) from err
    with zf:
        members = _member_names(zf, archive)
        tops = {PurePosixPath(n).parts[0] for _, n in members if n}
        strip = ""
        if len(tops) == 1:
            top = next(iter(tops))
            if top not in keep_dirs and all(
                n.startswith(f"{top}/") or n == top for _, n in members
            ):
                strip = f"{top}/"
        written = 0
        for info, name in members:
            rel = name[len(strip) :] if strip and name.startswith(strip) else name
            if not rel or info.is_dir():
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            written += 1
    logger.info("extracted %d files from %s%s", written, archive.name,
                f" (without its top folder {strip})" if strip else "")  # fmt: skip
    return written
