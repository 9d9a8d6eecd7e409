"""The `data` section of params.yaml, read by the stages `download` and `prepare`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SOURCES = ("demo", "smpd", "table")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class DataParams:
    """Where the raw data comes from and how a generic table is read.

    source: demo (generated), smpd (the SMP Challenge release) or table (one posts file).
    path: dataset root (demo, smpd) or the table file (table).
    smpd_urls / smpd_sha256: SMPD file or archive name -> URL / expected sha256; a `.zip` is
    extracted into `path` after download.
    table_*: the text column, the image path column (null: no images) and the dense columns.
    """

    source: str
    path: str
    demo_posts: int
    demo_seed: int
    smpd_urls: dict[str, str] = field(default_factory=dict)
    smpd_sha256: dict[str, str] = field(default_factory=dict)
    table_text_column: str = "tags"
    table_image_column: str | None = "image_path"
    table_dense_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source = {self.source!r}; allowed: {', '.join(SOURCES)}")
        if not self.path:
            raise ValueError("path is empty; set the dataset root or table file")
        if self.demo_posts < 1:
            raise ValueError(f"demo_posts = {self.demo_posts}; allowed: an integer >= 1")
        for name, value in self.smpd_sha256.items():
            if not isinstance(value, str) or not _SHA256.match(value):
                raise ValueError(f"smpd_sha256[{name!r}] = {value!r}; allowed: 64 hex digits")
        unknown = sorted(set(self.smpd_sha256) - set(self.smpd_urls))
        if unknown:
            raise ValueError(
                f"smpd_sha256 names {', '.join(unknown)} that are not in smpd_urls "
                f"({', '.join(sorted(self.smpd_urls)) or 'empty'})"
            )
        for name in self.smpd_urls:
            if "/" in name or "\\" in name or name in ("", ".", ".."):
                raise ValueError(f"smpd_urls key {name!r} must be a plain file name")
