"""The `wrcr embed` stage: its params section, the data root and the report."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub.constants
import pytest

from pipeline.embed import EmbedParams, app
from pipeline.params import ParamsError, from_dict

BASE = {"image_model": "wrcr/tiny-vit", "text_model": "all-MiniLM-L6-v2"}


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("device", "tpu", "auto, cpu, cuda"),
        ("precision", "fp8", "fp32, fp16, bf16"),
        ("image_pooling", "mean", "cls, pooler"),
    ],
)
def test_unknown_choice_names_parameter_value_and_allowed(key: str, value: str, allowed: str):
    """An unknown device, precision or pooling fails naming all three."""
    with pytest.raises(ParamsError, match=rf"embed: {key} = '{value}' .*one of {allowed}"):
        from_dict(EmbedParams, {**BASE, key: value}, "embed")


def test_half_precision_with_cpu_device_is_refused() -> None:
    """precision fp16 with device cpu contradicts itself."""
    with pytest.raises(ParamsError, match="needs a GPU"):
        from_dict(EmbedParams, {**BASE, "device": "cpu", "precision": "fp16"}, "embed")


def test_repo_params_load() -> None:
    """The embed section of the repository's params.yaml is valid."""
    from pipeline.params import load_section

    repo = Path(__file__).resolve().parents[2]
    params = load_section(EmbedParams, "embed", repo / "params.yaml")
    assert params.image_pooling in ("cls", "pooler")


def _setup(tmp_path: Path, image_model: str, metadata: bool) -> list[str]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    (tmp_path / "root").mkdir()
    Image.new("RGB", (20, 30), (200, 10, 10)).save(tmp_path / "root" / "a.jpg")
    table = pa.Table.from_pandas(
        pd.DataFrame({"post_id": ["a", "b"], "tags": ["red", ""], "image_path": ["a.jpg", None]}),
        preserve_index=False,
    )
    if metadata:
        meta = {**(table.schema.metadata or {}), b"wrcr.data_root": str(tmp_path / "root").encode()}
        table = table.replace_schema_metadata(meta)
    pq.write_table(table, tmp_path / "posts.parquet")
    (tmp_path / "params.yaml").write_text(
        f"embed:\n  image_model: {image_model}\n  text_model: all-MiniLM-L6-v2\n"
        "  device: cpu\n  num_workers: 0\n"
    )
    return [
        "image",
        "--posts",
        str(tmp_path / "posts.parquet"),
        "--out",
        str(tmp_path / "c"),
        "--report",
        str(tmp_path / "r.json"),
        "--params",
        str(tmp_path / "params.yaml"),
    ]


def test_image_command_writes_cache_and_report(tmp_path: Path, monkeypatch) -> None:
    """The image command follows wrcr.data_root and reports the invalid post."""
    from typer.testing import CliRunner

    monkeypatch.setenv("WRCR_CACHE", str(tmp_path / "models"))
    result = CliRunner().invoke(app, _setup(tmp_path, "wrcr/tiny-vit", metadata=True))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["counts"]["valid"] == 1 and report["invalid_reasons_computed"] == {"no_image": 1}
    assert report["params"]["image_model"] == "wrcr/tiny-vit"


def test_relative_paths_without_root_fail(tmp_path: Path) -> None:
    """Image paths with no data root recorded and no --root: a DataError, no guess."""
    from typer.testing import CliRunner

    from wrcr.errors import DataError

    result = CliRunner().invoke(app, _setup(tmp_path, "wrcr/tiny-vit", metadata=False))
    assert isinstance(result.exception, DataError)
    assert "pass --root" in str(result.exception)


def test_unavailable_model_is_a_params_error(tmp_path: Path, monkeypatch) -> None:
    """A hub model that is not here fails as a ParamsError naming embed.image_model."""
    from typer.testing import CliRunner

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    result = CliRunner().invoke(app, _setup(tmp_path, "WinKawaks/vit-small-patch16-224", True))
    assert isinstance(result.exception, ParamsError)
    assert "embed.image_model" in str(result.exception)
