"""A self-contained model bundle: everything `wrcr predict` needs to score new posts.

Layout of a bundle directory:

- `model.safetensors`: the model's state dict.
- `bundle.json`: format and version, the model / loss / train configs, the fitted dense
  scaler (or null), the dense column names, the input name ('tags' | 'image' | 'tags+image'),
  the encoder of each modality (name, revision or hash, dim, pooling, ... as the caller gives
  them) and a free-form `extra` dict.

The directory is written atomically, so a bundle that exists is complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from wrcr.errors import DataError
from wrcr.io import atomic_dir, write_json
from wrcr.models import ModelConfig, PopularityModel, modalities_for_input
from wrcr.training import DenseScaler, LossConfig, TrainConfig

FORMAT = "wrcr-bundle"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "bundle.json"


@dataclass
class Bundle:
    """A loaded bundle; `model` is in eval mode."""

    model: PopularityModel
    model_config: ModelConfig
    loss_config: LossConfig
    train_config: TrainConfig
    scaler: DenseScaler | None
    dense_columns: list[str]
    input_name: str
    encoders: dict[str, dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def _wrcr_version() -> str:
    # from the installed metadata: the package's __init__ may not be the one imported
    try:
        return version("wrcr")
    except PackageNotFoundError:
        return "unknown"


def _check_parts(
    model_config: ModelConfig,
    scaler: DenseScaler | None,
    input_name: str,
    encoders: dict[str, Any],
) -> None:
    """The parts of a bundle must describe one model; raise ValueError naming the mismatch."""
    modalities = modalities_for_input(input_name)
    if set(modalities) != set(model_config.modalities):
        raise ValueError(
            f"input {input_name!r} uses modalities {list(modalities)}, but the model config "
            f"has {list(model_config.modalities)}"
        )
    dense_dim = 0 if scaler is None else scaler.output_dim
    if dense_dim != model_config.dense_dim:
        raise ValueError(
            f"dense scaler gives {dense_dim} features, the model expects "
            f"dense_dim={model_config.dense_dim}"
        )
    if set(encoders) != set(model_config.modalities):
        raise ValueError(
            f"encoders must describe exactly the modalities {list(model_config.modalities)}, "
            f"got {sorted(encoders)}"
        )


def save_bundle(
    out_dir: str | Path,
    model: torch.nn.Module,
    *,
    model_config: ModelConfig,
    scaler: DenseScaler | None,
    loss_config: LossConfig,
    train_config: TrainConfig,
    input_name: str,
    encoders: dict[str, dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the bundle directory `out_dir` atomically (replacing an old one) and return it."""
    _check_parts(model_config, scaler, input_name, encoders)
    if isinstance(model, PopularityModel) and model.config != model_config:
        raise ValueError(
            f"model was built with {model.config}, not with model_config {model_config}"
        )
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "wrcr_version": _wrcr_version(),
        "model_config": model_config.to_dict(),
        "loss_config": loss_config.to_dict(),
        "train_config": train_config.to_dict(),
        "scaler": None if scaler is None else scaler.to_dict(),
        "dense_columns": [] if scaler is None else list(scaler.columns),
        "input_name": input_name,
        "encoders": encoders,
        "extra": extra or {},
    }

    # contiguous CPU copies: safetensors refuses shared or strided storage
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        write_json(tmp / META_FILE, meta)
    return out_dir


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError("bundle file is missing", file=path)
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"not valid JSON: {err}", file=path) from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"not a wrcr bundle (expected format {FORMAT!r})", file=path)
    found = meta.get("format_version")
    if found != FORMAT_VERSION:
        raise DataError(
            f"unknown bundle format_version {found!r}; this wrcr reads version {FORMAT_VERSION}",
            file=path,
            field="format_version",
        )
    required = ["model_config", "loss_config", "train_config", "scaler", "input_name", "encoders"]
    for key in required:
        if key not in meta:
            raise DataError("missing key", file=path, field=key)
    return meta


def load_bundle(bundle_dir: str | Path, device: str | torch.device = "cpu") -> Bundle:
    """Read a bundle written by `save_bundle`; the model is on `device`, in eval mode."""
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise DataError("bundle directory not found", file=bundle_dir)
    meta_path, weights_path = bundle_dir / META_FILE, bundle_dir / WEIGHTS_FILE
    meta = _read_meta(meta_path)

    # configs
    try:
        model_config = ModelConfig.from_dict(meta["model_config"])
        loss_config = LossConfig.from_dict(meta["loss_config"])
        train_config = TrainConfig.from_dict(meta["train_config"])
        scaler = None if meta["scaler"] is None else DenseScaler.from_dict(meta["scaler"])
        _check_parts(model_config, scaler, meta["input_name"], meta["encoders"])
    except (TypeError, ValueError) as err:
        raise DataError(f"inconsistent bundle: {err}", file=meta_path) from err

    # weights
    if not weights_path.is_file():
        raise DataError("bundle file is missing", file=weights_path)
    try:
        state = load_file(str(weights_path), device=str(device))
    except (SafetensorError, OSError) as err:
        raise DataError(f"unreadable weights: {err}", file=weights_path) from err
    model = PopularityModel(model_config).to(device)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise DataError(f"weights do not fit the model config: {err}", file=weights_path) from err
    model.eval()

    return Bundle(
        model=model,
        model_config=model_config,
        loss_config=loss_config,
        train_config=train_config,
        scaler=scaler,
        dense_columns=list(meta.get("dense_columns", [])),
        input_name=meta["input_name"],
        encoders=meta["encoders"],
        extra=meta.get("extra") or {},
        path=bundle_dir,
    )
