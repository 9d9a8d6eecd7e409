"""Frozen encoders: a ViT image encoder and a sentence-transformers text encoder.

Both load from a local directory (see `wrcr.features.resolve`) with the libraries' own
loaders, run batched under `torch.inference_mode`, and return float32 numpy vectors.
Their preprocessing is described from the model's own config files, without loading any
weights, so a cache can be checked for staleness before any model work.

Shapes: B batch, C channels (3), H x W the model's input size, D embedding dim.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from wrcr.features.resolve import ResolvedModel, quiet_transformers

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "fp16", "bf16")
POOLINGS = ("cls", "pooler")
# the image processor runs on PIL in the decode workers, whatever else is installed, so the
# pixels (and the cache key) do not depend on whether torchvision happens to be present
IMAGE_BACKEND = "pil"
TEXT_JOIN = "tags joined by single spaces"


class EncoderSettingsError(ValueError):
    """A device, precision or pooling that cannot work; `setting` names which."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}")


def pick_device(device: str) -> str:
    """auto -> cuda when available, else cpu; cuda without a GPU is an error."""
    import torch

    if device not in DEVICES:
        raise EncoderSettingsError("device", f"{device!r} is not one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise EncoderSettingsError("device", "'cuda' was asked for but torch sees no GPU")
    return device


def effective_precision(precision: str, requested_device: str, device: str) -> str:
    """The precision actually used on `device`.

    Half precision is a GPU option. Asked for explicitly on the CPU it is an error (the
    settings contradict each other); reached through device `auto` on a machine without a GPU
    it falls back to fp32 with a warning, so one params.yaml serves GPU and CPU machines. The
    cache key holds the effective precision, so the two never mix.
    """
    if precision not in PRECISIONS:
        raise EncoderSettingsError(
            "precision", f"{precision!r} is not one of {', '.join(PRECISIONS)}"
        )
    if precision == "fp32" or device == "cuda":
        return precision
    if requested_device == "cpu":
        raise EncoderSettingsError(
            "precision", f"{precision} needs a GPU; with device cpu use fp32"
        )
    warnings.warn(f"precision {precision} needs a GPU; no GPU here, using fp32", stacklevel=2)
    log.warning("precision %s needs a GPU; no GPU here, using fp32", precision)
    return "fp32"


def torch_dtype(precision: str) -> Any:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def image_preprocessing(model: ResolvedModel) -> dict[str, Any]:
    """What turns a file into pixels for this model: its processor config, RGB, the backend."""
    config = _read_json(model.path / "preprocessor_config.json")
    if not config:
        raise ValueError(f"{model.path}: no preprocessor_config.json; an image model needs one")
    return {"mode": "RGB", "backend": IMAGE_BACKEND, "processor": config}


def image_dim(model: ResolvedModel) -> int:
    """Embedding width of a ViT directory, from config.json (no weights loaded)."""
    return int(_read_json(model.path / "config.json")["hidden_size"])


def text_preprocessing(model: ResolvedModel) -> dict[str, Any]:
    """What turns a post into model input: the tag join and the sentence-transformers config."""
    return {
        "text": TEXT_JOIN,
        "sentence_bert_config": _read_json(model.path / "sentence_bert_config.json"),
        "modules": _read_json(model.path / "modules.json"),
    }


class ImageEncoder:
    """ViT backbone -> one vector per image: the CLS token of the last hidden state, or the
    pooler output (dense + tanh over CLS) when the checkpoint holds trained pooler weights."""

    def __init__(self, model: ResolvedModel, pooling: str, device: str, precision: str) -> None:
        if pooling not in POOLINGS:
            raise EncoderSettingsError(
                "pooling", f"{pooling!r} is not one of {', '.join(POOLINGS)}"
            )
        self.model_ref, self.pooling, self.device = model, pooling, device
        self.dtype = torch_dtype(precision)
        self.dim = image_dim(model)
        self._net: Any = None

    def processor(self) -> Any:
        """The model's own image processor (resize, rescale, normalise), PIL backend."""
        from transformers import AutoImageProcessor

        return AutoImageProcessor.from_pretrained(self.model_ref.path, backend=IMAGE_BACKEND)

    def load(self) -> None:
        from transformers import ViTModel

        if self._net is not None:
            return
        # the pooler is built only when used: image-classification checkpoints have none
        with quiet_transformers():
            net, info = ViTModel.from_pretrained(
                self.model_ref.path,
                add_pooling_layer=self.pooling == "pooler",
                output_loading_info=True,
            )
        missing = sorted(info["missing_keys"])
        if any(k.startswith("pooler.") for k in missing):
            raise EncoderSettingsError(
                "pooling",
                f"'pooler' needs trained pooler weights, but {self.model_ref.name} has none "
                "(they would be random); use cls",
            )
        if missing:
            raise ValueError(f"{self.model_ref.path}: weights missing for {missing[:5]}")
        self._net = net.to(self.device, self.dtype).eval()
        log.info(
            "image encoder: %s on %s (%s), pooling %s",
            self.model_ref.name,
            self.device,
            str(self.dtype).removeprefix("torch."),
            self.pooling,
        )

    @property
    def loaded(self) -> bool:
        return self._net is not None

    def encode(self, pixels: Any) -> np.ndarray:
        """(B, C, H, W) float tensor -> (B, D) float32 numpy."""
        import torch

        if self._net is None:
            self.load()
        with torch.inference_mode():
            x = pixels.to(self.device, self.dtype, non_blocking=True)  # (B, C, H, W)
            out = self._net(pixel_values=x)
            # CLS token of the last layer, or the pooler (dense + tanh) over it
            emb = out.last_hidden_state[:, 0] if self.pooling == "cls" else out.pooler_output
            return emb.float().cpu().numpy()


class TextEncoder:
    """sentence-transformers model -> one vector per text, exactly as `encode` returns it."""

    def __init__(self, model: ResolvedModel, device: str, precision: str, batch_size: int) -> None:
        self.model_ref, self.device, self.batch_size = model, device, batch_size
        self.precision = precision
        self._st: Any = None

    def load(self) -> None:
        from sentence_transformers import SentenceTransformer

        if self._st is not None:
            return
        with quiet_transformers():
            st = SentenceTransformer(str(self.model_ref.path), device=self.device)
        if self.precision != "fp32":
            st = st.to(torch_dtype(self.precision))
        self._st = st.eval()
        log.info("text encoder: %s on %s (%s)", self.model_ref.name, self.device, self.precision)

    @property
    def loaded(self) -> bool:
        return self._st is not None

    @property
    def dim(self) -> int:
        if self._st is None:
            self.load()
        return int(self._st.get_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        """B strings -> (B, D) float32 numpy."""
        if self._st is None:
            self.load()
        emb = self._st.encode(
            texts, batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False
        )  # (B, D)
        return emb.float().cpu().numpy()
