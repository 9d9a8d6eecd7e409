"""Training loop of the popularity model: dense scaling, loss and train configs, fit, predict.

Shape letters: N posts, B batch, C dense columns, F post feature dim.

The loss is L1(pred, y) + contrast_weight * L_CR(contrast head output, y), where L_CR is
RnC (`wrcr.losses.rnc_loss`) or WRCR (`wrcr.losses.wrcr_loss`); loss 'l1' trains the
regressor alone (the contrastive head is then untrained and unused).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as torch_f
from torch import Tensor, nn
from tqdm.auto import tqdm

from wrcr import metrics
from wrcr.errors import DataError
from wrcr.losses import check_loss_args, rnc_loss, wrcr_loss

logger = logging.getLogger(__name__)

LOSS_NAMES = ("l1", "rnc", "wrcr")


class TrainingError(RuntimeError):
    """A non-finite loss or prediction; the message names the epoch, the step and the batch."""


def _from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Build config dataclass `cls` from a dict, rejecting unknown keys."""
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} key(s) {unknown}; allowed: {sorted(allowed)}")
    return cls(**data)


# ---------------------------------------------------------------------------------------------
# dense features


@dataclass(frozen=True)
class DenseScaler:
    """Scale raw dense columns into model input; build it with `DenseScaler.fit` on train.

    Each column: optional log1p (for heavy-tailed non-negative counts such as photo_count),
    then (x - mean) / std with NaN-aware statistics of the training split (std 0 -> 1, a
    column all NaN in train -> mean 0), then NaN -> 0, i.e. a missing value sits at the
    training mean. A missing indicator per column (1.0 where the raw value was NaN) follows,
    so the model can tell "missing" from "average". Output: float32 (N, 2C), values first.
    """

    columns: tuple[str, ...]
    log1p: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "log1p", tuple(self.log1p))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        C = len(self.columns)
        if len(set(self.columns)) != C:
            raise ValueError(f"dense columns must be distinct, got {list(self.columns)}")
        if len(self.mean) != C or len(self.std) != C:
            raise ValueError(
                f"DenseScaler needs one mean and std per column ({C}), "
                f"got {len(self.mean)} and {len(self.std)}"
            )
        stray = sorted(set(self.log1p) - set(self.columns))
        if stray:
            raise ValueError(f"log1p column(s) {stray} are not among columns {list(self.columns)}")
        if any(not math.isfinite(s) or s <= 0 for s in self.std):
            raise ValueError(f"DenseScaler std must be finite and > 0, got {list(self.std)}")

    @property
    def output_dim(self) -> int:
        """Width of `transform`'s output, 2C."""
        return 2 * len(self.columns)

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns: the scaled values, then `<column>_missing`."""
        return list(self.columns) + [f"{c}_missing" for c in self.columns]

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, columns: Sequence[str], log1p: Sequence[str] = ()
    ) -> DenseScaler:
        """Statistics of `columns` in `frame` (the TRAINING rows only)."""
        columns, log1p = tuple(columns), tuple(log1p)
        stray = sorted(set(log1p) - set(columns))
        if stray:
            raise ValueError(f"log1p column(s) {stray} are not among columns {list(columns)}")
        raw = _raw_values(frame, columns, log1p)  # (N, C)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: handled below
            mean = np.nanmean(raw, axis=0)  # (C,)
            std = np.nanstd(raw, axis=0)  # (C,)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        return cls(columns=columns, log1p=log1p, mean=tuple(mean), std=tuple(std))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Scaled values and missing indicators, float32 (N, 2C)."""
        raw = _raw_values(frame, self.columns, self.log1p)  # (N, C)
        missing_mask = np.isnan(raw)
        scaled = (raw - np.asarray(self.mean)) / np.asarray(self.std)  # (N, C)
        scaled[missing_mask] = 0.0
        return np.concatenate([scaled, missing_mask], axis=1).astype(np.float32)  # (N, 2C)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {k: list(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DenseScaler:
        """Inverse of `to_dict`."""
        missing = sorted({"columns", "log1p", "mean", "std"} - set(data))
        if missing:
            raise ValueError(f"DenseScaler dict lacks key(s) {missing}")
        return _from_dict(cls, data)


def _raw_values(frame: pd.DataFrame, columns: Sequence[str], log1p: Sequence[str]) -> np.ndarray:
    """The named columns as float64 (N, C), log1p applied; bad values raise DataError."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise DataError(
            f"missing dense column(s) {absent}; the table has {list(frame.columns)}",
            field=absent[0],
        )
    out = np.empty((len(frame), len(columns)), dtype=np.float64)  # (N, C)
    for j, col in enumerate(columns):
        try:
            values = pd.to_numeric(frame[col], errors="raise").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        except (TypeError, ValueError) as err:
            raise DataError(f"dense column is not numeric: {err}", field=col) from err
        inf = np.flatnonzero(np.isinf(values))
        if inf.size:
            raise DataError(f"infinite value {values[inf[0]]}", row=int(inf[0]), field=col)
        if col in log1p:
            neg = np.flatnonzero(values < 0)
            if neg.size:
                raise DataError(
                    f"log1p column needs values >= 0, got {values[neg[0]]}",
                    row=int(neg[0]),
                    field=col,
                )
            values = np.log1p(values)
        out[:, j] = values
    return out


# ---------------------------------------------------------------------------------------------
# configs


@dataclass(frozen=True)
class LossConfig:
    """The training loss: L1 alone ('l1') or L1 + contrast_weight * RnC / WRCR."""

    name: str
    weighting: str = "exp"
    alpha: float = 0.4
    temperature: float = 0.05
    similarity: str = "cosine"
    contrast_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in LOSS_NAMES:
            raise ValueError(f"loss name must be one of {list(LOSS_NAMES)}, got {self.name!r}")
        # the losses' own check, so config and loss accept the same values
        check_loss_args(self.temperature, self.similarity, self.weighting, self.alpha)
        if not (math.isfinite(self.contrast_weight) and self.contrast_weight >= 0):
            raise ValueError(
                f"contrast_weight must be a finite number >= 0, got {self.contrast_weight}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LossConfig:
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (thesis defaults: Adam, lr 3e-4, batch 128, 5 epochs)."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 3e-4
    weight_decay: float = 0.0
    seed: int = 3407
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        return _from_dict(cls, data)


# ---------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True)
class TensorData:
    """Model inputs of N posts: embeddings per modality (N, E), dense (N, 2C) or None, labels.

    Arrays are turned into float32 CPU tensors (no copy when they already are float32);
    `labels` may be None for data to predict on.
    """

    inputs: Mapping[str, Any]
    dense: Any = None
    labels: Any = None

    def __post_init__(self) -> None:
        inputs = {m: _as_tensor(x) for m, x in self.inputs.items()}
        dense = None if self.dense is None else _as_tensor(self.dense)
        labels = None if self.labels is None else _as_tensor(self.labels).reshape(-1)
        if not inputs:
            raise ValueError("TensorData needs at least one modality in inputs")
        sizes = {f"inputs[{m!r}]": x.shape[0] for m, x in inputs.items()}
        if dense is not None:
            sizes["dense"] = dense.shape[0]
        if labels is not None:
            sizes["labels"] = labels.shape[0]
        if len(set(sizes.values())) != 1:
            raise ValueError(f"TensorData parts differ in length: {sizes}")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "dense", dense)
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return next(iter(self.inputs.values())).shape[0]

    def batch(self, idx: Tensor, device: torch.device) -> tuple[dict[str, Tensor], Tensor | None]:
        """Inputs and dense features of rows `idx`, on `device`."""
        inputs = {m: x[idx].to(device, non_blocking=True) for m, x in self.inputs.items()}
        dense = None if self.dense is None else self.dense[idx].to(device, non_blocking=True)
        return inputs, dense


def _as_tensor(x: Any) -> Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).float().cpu()


# ---------------------------------------------------------------------------------------------
# fit / predict


@dataclass
class FitResult:
    """The model at its best validation MAE epoch (weights restored) and the epoch history."""

    model: nn.Module
    best_epoch: int
    best_val_mae: float
    history: list[dict[str, Any]]


def contrastive_loss(loss_cfg: LossConfig, contrast: Tensor, labels: Tensor) -> Tensor:
    """L_CR of `loss_cfg` on the contrastive head output (B, Dc) and labels (B,)."""
    if loss_cfg.name == "rnc":
        return rnc_loss(
            contrast, labels, temperature=loss_cfg.temperature, similarity=loss_cfg.similarity
        )
    return wrcr_loss(
        contrast,
        labels,
        temperature=loss_cfg.temperature,
        similarity=loss_cfg.similarity,
        weighting=loss_cfg.weighting,
        alpha=loss_cfg.alpha,
    )


def _preview(idx: Tensor, n: int = 8) -> str:
    """The first `n` row indices of a batch, for error messages."""
    head = idx[:n].tolist()
    return f"{head}" if len(idx) <= n else f"{head} and {len(idx) - n} more"


def _batches(N: int, batch_size: int, generator: torch.Generator, min_size: int) -> list[Tensor]:
    """A shuffled split of range(N); a last batch smaller than `min_size` is dropped."""
    perm = torch.randperm(N, generator=generator)
    batches = list(perm.split(batch_size))
    if batches and len(batches[-1]) < min_size:
        batches.pop()  # NOTE: a contrastive loss needs >= 2 posts; one post per epoch is lost
    return batches


def fit(
    model: nn.Module,
    train: TensorData,
    val: TensorData,
    loss_cfg: LossConfig,
    train_cfg: TrainConfig,
    progress: bool = False,
) -> FitResult:
    """Train `model` with Adam; keep the weights of the epoch with the lowest val MAE.

    The model's output bias starts at the median training label (`init_output_bias`).

    Loss per batch: L1(pred, y) + contrast_weight * L_CR(contrast, y) (L1 alone for 'l1').
    Batches are a fresh shuffle each epoch from a generator seeded with `train_cfg.seed`, and
    torch's global RNG is seeded with it too; with the model built after the same
    `torch.manual_seed`, two runs on CPU give identical weights. For contrastive losses a
    last batch of one post is dropped (a pair is needed). The history has one row per epoch:
    `step` counts optimizer steps so far, train_* are per-post means over the epoch (None
    for `train_contrast` under 'l1'), val_* are measured after the epoch. A non-finite loss
    or validation prediction raises TrainingError.
    """
    contrastive = loss_cfg.name != "l1"
    min_batch = 2 if contrastive else 1
    for name, data in (("train", train), ("val", val)):
        if data.labels is None:
            raise ValueError(f"{name} data has no labels")
    if len(val) == 0:
        raise ValueError("val data is empty; fit selects the epoch by val MAE")
    if len(train) < min_batch or train_cfg.batch_size < min_batch:
        raise ValueError(
            f"loss {loss_cfg.name!r} needs >= {min_batch} posts per batch, got "
            f"{len(train)} training posts and batch_size {train_cfg.batch_size}"
        )

    # seeds: torch's global RNG for anything stochastic in the model, a private one for shuffling
    torch.manual_seed(train_cfg.seed)
    generator = torch.Generator().manual_seed(train_cfg.seed)
    device = torch.device(train_cfg.device)
    if hasattr(model, "init_output_bias"):
        # L1 is minimised by the median: the best constant prediction is where training starts
        model.init_output_bias(float(train.labels.median()))
    model.to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay
    )
    show = progress and sys.stderr.isatty()

    history: list[dict[str, Any]] = []
    best_mae, best_epoch, best_state = math.inf, 0, None
    step = 0
    for epoch in range(1, train_cfg.epochs + 1):
        model.train()
        sums = {"loss": 0.0, "l1": 0.0, "contrast": 0.0}
        seen = 0
        batches = _batches(len(train), train_cfg.batch_size, generator, min_batch)
        for idx in tqdm(batches, desc=f"epoch {epoch}", disable=not show, leave=False):
            inputs, dense = train.batch(idx, device)
            y = train.labels[idx].to(device, non_blocking=True)  # (B,)
            out = model(inputs, dense)

            l1 = torch_f.l1_loss(out.pred, y)
            contrast = contrastive_loss(loss_cfg, out.contrast, y) if contrastive else None
            loss = l1 if contrast is None else l1 + loss_cfg.contrast_weight * contrast
            step += 1
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"non-finite loss {loss.item()} (l1 {l1.item()}, contrast "
                    f"{None if contrast is None else contrast.item()}) at epoch {epoch}, "
                    f"step {step}: batch of {len(idx)} posts, rows {_preview(idx)}, "
                    f"labels in [{y.min().item():.4g}, {y.max().item():.4g}]"
                )

            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

            # running sums, weighted by batch size so the epoch mean is per post
            B = len(idx)
            seen += B
            sums["loss"] += loss.item() * B
            sums["l1"] += l1.item() * B
            sums["contrast"] += 0.0 if contrast is None else contrast.item() * B

        # validation
        val_pred, _ = predict(model, val)
        bad = np.flatnonzero(~np.isfinite(val_pred))
        if bad.size:
            raise TrainingError(
                f"non-finite validation prediction at epoch {epoch} (after step {step}), "
                f"val row {bad[0]} and {bad.size - 1} more: diverged weights or a bad input"
            )
        val_y = val.labels.numpy()
        val_mae, val_src = metrics.mae(val_y, val_pred), metrics.spearman(val_y, val_pred)
        row = {
            "seed": train_cfg.seed,
            "epoch": epoch,
            "step": step,
            "train_loss": sums["loss"] / seen,
            "train_l1": sums["l1"] / seen,
            "train_contrast": sums["contrast"] / seen if contrastive else None,
            "val_mae": val_mae,
            "val_src": val_src,
        }
        history.append(row)
        src_text = "n/a" if val_src is None else f"{val_src:.3f}"
        logger.info(
            "epoch %d: train loss %.4f, val mae %.3f, val src %s",
            epoch,
            row["train_loss"],
            val_mae,
            src_text,
        )

        # keep the best epoch's weights (first one on ties)
        if val_mae < best_mae:
            best_mae, best_epoch = val_mae, epoch
            best_state = copy.deepcopy(model.state_dict())

    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    logger.info("best epoch %d: val mae %.3f", best_epoch, best_mae)
    return FitResult(model=model, best_epoch=best_epoch, best_val_mae=best_mae, history=history)


@torch.no_grad()
def predict(
    model: nn.Module, data: TensorData, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions (N,) and post features f_p (N, F), float32, in eval mode without grad."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    preds, feats = [], []
    try:
        for idx in torch.arange(len(data)).split(batch_size):
            inputs, dense = data.batch(idx, device)
            out = model(inputs, dense)
            preds.append(out.pred.float().cpu())
            feats.append(out.features.float().cpu())
    finally:
        model.train(was_training)
    if not preds:
        F = model.config.feature_dim if hasattr(model, "config") else 0
        return np.zeros(0, np.float32), np.zeros((0, F), np.float32)
    pred = torch.cat(preds).numpy()  # (N,)
    features = torch.cat(feats).numpy()  # (N, F)
    return pred, features
