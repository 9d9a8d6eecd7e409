"""The popularity model: projection heads, post feature, contrastive head and regressor.

Shape letters: B batch, E encoder embedding dim (384), F post feature dim (128 per modality),
Dc contrastive head output dim (64), Dd dense feature dim.

    image (B, E) -> proj -> (B, 128) --\
                                        +-> f_p (B, F) -> contrast head -> (B, Dc)   (L_CR)
    text  (B, E) -> proj -> (B, 128) --/        \
                                                 +-> concat(f_p, dense) -> regressor -> (B,)
    dense (B, Dd) ------------------------------/

The contrastive loss acts on the contrastive head's output, the regressor reads f_p itself,
so the head is the usual SimCLR-style buffer between the regulariser and the features that
the regressor and the feature analysis use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

# f_p concatenates modalities in this order, whatever order a config lists them in
MODALITY_ORDER = ("image", "text")

# pipeline input names -> model modalities ("tags" is the text embedding of the tags)
INPUT_MODALITIES: dict[str, tuple[str, ...]] = {
    "tags": ("text",),
    "image": ("image",),
    "tags+image": ("image", "text"),
}


def modalities_for_input(input_name: str) -> tuple[str, ...]:
    """The modalities a pipeline input name ('tags', 'image', 'tags+image') uses."""
    if input_name not in INPUT_MODALITIES:
        raise ValueError(f"input must be one of {sorted(INPUT_MODALITIES)}, got {input_name!r}")
    return INPUT_MODALITIES[input_name]


def input_for_modalities(modalities: tuple[str, ...]) -> str:
    """The pipeline input name of a set of modalities (inverse of `modalities_for_input`)."""
    for name, mods in INPUT_MODALITIES.items():
        if set(mods) == set(modalities):
            return name
    raise ValueError(f"no input name for modalities {modalities!r}")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the popularity model; defaults are the thesis model on tags+image.

    `embed_dims[i]` is the encoder dim of `modalities[i]`. Modalities are stored in the
    order of `MODALITY_ORDER` (image, text), so f_p = concat(image, text) as in the thesis.

    The thesis writes the contrastive head as "256 -> ReLU -> 64". We read it as a two-layer
    MLP Linear(F, contrast_hidden=256) -> ReLU -> Linear(256, contrast_dim=64): 256 is the
    hidden width (equal to F in the two-modality model), so a one-modality model (F = 128)
    keeps the same head. The thesis does not give the regressor's layers; the default is one
    hidden layer, Linear(F + Dd, 256) -> LeakyReLU -> Linear(256, 1), matching the
    projection heads' activation. `regressor_hidden=()` gives a linear regressor.
    """

    modalities: tuple[str, ...] = ("image", "text")
    embed_dims: tuple[int, ...] = (384, 384)
    proj_hidden: int = 1536
    proj_dim: int = 128
    contrast_hidden: int = 256
    contrast_dim: int = 64
    dense_dim: int = 0
    regressor_hidden: tuple[int, ...] = (256,)

    def __post_init__(self) -> None:
        modalities, embed_dims = tuple(self.modalities), tuple(self.embed_dims)
        if not modalities:
            raise ValueError("modalities must name at least one of ('image', 'text'), got ()")
        unknown = [m for m in modalities if m not in MODALITY_ORDER]
        if unknown or len(set(modalities)) != len(modalities):
            raise ValueError(
                f"modalities must be distinct names from {MODALITY_ORDER}, got {modalities!r}"
            )
        if len(embed_dims) != len(modalities):
            raise ValueError(
                f"embed_dims must give one dim per modality {modalities!r}, got {embed_dims!r}"
            )

        # canonical order, so equal models have equal configs and the same f_p layout
        dims = dict(zip(modalities, embed_dims, strict=True))
        ordered = tuple(m for m in MODALITY_ORDER if m in dims)
        object.__setattr__(self, "modalities", ordered)
        object.__setattr__(self, "embed_dims", tuple(int(dims[m]) for m in ordered))
        object.__setattr__(self, "regressor_hidden", tuple(int(h) for h in self.regressor_hidden))

        for name in ("proj_hidden", "proj_dim", "contrast_hidden", "contrast_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if any(d < 1 for d in self.embed_dims):
            raise ValueError(f"embed_dims must be >= 1, got {self.embed_dims!r}")
        if any(h < 1 for h in self.regressor_hidden):
            raise ValueError(f"regressor_hidden sizes must be >= 1, got {self.regressor_hidden!r}")
        if self.dense_dim < 0:
            raise ValueError(f"dense_dim must be >= 0, got {self.dense_dim}")

    @property
    def feature_dim(self) -> int:
        """F, the width of the post feature f_p."""
        return self.proj_dim * len(self.modalities)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys are an error, missing keys take the defaults."""
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown ModelConfig key(s) {unknown}; allowed: {sorted(allowed)}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)


class ModelOutput(NamedTuple):
    """What `PopularityModel.forward` returns."""

    pred: Tensor  # (B,) predicted label
    features: Tensor  # (B, F) post feature f_p
    contrast: Tensor  # (B, Dc) contrastive head output, the input of L_CR


def projection_head(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """Linear -> LeakyReLU -> Linear, the per-modality projection of the thesis."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, out_dim))


def regressor_mlp(in_dim: int, hidden: tuple[int, ...]) -> nn.Sequential:
    """Linear layers with LeakyReLU between them, ending in one output."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.LeakyReLU()]
        in_dim = width
    layers.append(nn.Linear(in_dim, 1))
    return nn.Sequential(*layers)


class PopularityModel(nn.Module):
    """Projection heads per modality, a contrastive head on f_p, a regressor on (f_p, dense)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.proj = nn.ModuleDict(
            {
                m: projection_head(dim, config.proj_hidden, config.proj_dim)
                for m, dim in zip(config.modalities, config.embed_dims, strict=True)
            }
        )
        F = config.feature_dim
        self.contrast_head = nn.Sequential(
            nn.Linear(F, config.contrast_hidden),
            nn.ReLU(),
            nn.Linear(config.contrast_hidden, config.contrast_dim),
        )
        self.regressor = regressor_mlp(F + config.dense_dim, config.regressor_hidden)

    def forward(self, inputs: Mapping[str, Tensor], dense: Tensor | None = None) -> ModelOutput:
        """`inputs` maps each modality ("image", "text") to its (B, E) embeddings."""
        missing = [m for m in self.config.modalities if m not in inputs]
        if missing:
            expected = list(self.config.modalities)
            raise ValueError(f"model inputs lack modality {missing}; expected keys {expected}")
        if self.config.dense_dim and dense is None:
            raise ValueError(f"model expects dense features of dim {self.config.dense_dim}")
        if not self.config.dense_dim and dense is not None:
            raise ValueError("model was built with dense_dim=0 but dense features were given")

        # post feature
        parts = [self.proj[m](inputs[m]) for m in self.config.modalities]
        features = torch.cat(parts, dim=1)  # (B, F)

        contrast = self.contrast_head(features)  # (B, Dc)
        reg_in = features if dense is None else torch.cat([features, dense], dim=1)  # (B, F + Dd)
        pred = self.regressor(reg_in).squeeze(1)  # (B,)
        return ModelOutput(pred=pred, features=features, contrast=contrast)

    @torch.no_grad()
    def init_output_bias(self, value: float) -> None:
        """Start the regressor at a constant prediction `value` (the training label median).

        Labels sit around 6 to 7, far from the zero that a fresh regressor predicts; at the
        thesis learning rate the first hundreds of steps would go into learning that offset.
        """
        self.regressor[-1].bias.fill_(float(value))

    def extra_repr(self) -> str:
        c = self.config
        return f"modalities={c.modalities}, feature_dim={c.feature_dim}, dense_dim={c.dense_dim}"
