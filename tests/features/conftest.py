"""Fixtures of the feature tests: offline hub, a private model cache, small posts tables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def wrcr_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private WRCR_CACHE, so the tiny ViT is built once per session and never shared."""
    path = tmp_path_factory.mktemp("wrcr-cache")
    old = os.environ.get("WRCR_CACHE")
    os.environ["WRCR_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("WRCR_CACHE", None)
    else:
        os.environ["WRCR_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_vit(wrcr_cache: Path):
    from wrcr.features.resolve import resolve_model

    return resolve_model("wrcr/tiny-vit", "image", "embed.image_model")


@pytest.fixture(scope="session")
def minilm():
    from wrcr.features.resolve import resolve_model

    return resolve_model("sentence-transformers/all-MiniLM-L6-v2", "text", "embed.text_model")
