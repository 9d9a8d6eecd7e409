"""Settings of the whole test suite (no test may reach a model hub) and shared fixtures."""

import os

import pytest

# set before transformers / huggingface_hub are imported, for this process and its children
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def proj(tmp_path_factory: pytest.TempPathFactory):
    """The trained demo project of the prediction tests, built once per session."""
    from predict_helpers import project

    p = project(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WRCR_CACHE", str(p.cache))
        yield p
