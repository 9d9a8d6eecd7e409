"""Stage `train`: one (scenario, input, loss) run, trained once per seed.

The run directory holds one bundle per seed, the validation and test predictions of every seed,
the training curves and the test post features of the first seed (docs/architecture.md).
Everything that could be wrong with the parameters is checked before any data is read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from pipeline.params import DEFAULT_PARAMS, ParamsError, load_section
from wrcr.curate import SCENARIOS
from wrcr.errors import DataError
from wrcr.io import atomic_dir, write_json
from wrcr.models import INPUT_MODALITIES
from wrcr.training import LOSS_NAMES, LossConfig

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class TrainParams:
    seeds: tuple[int, ...] = (3407, 3408, 3409)
    epochs: int = 5
    batch_size: int = 128
    lr: float = 3e-4
    weight_decay: float = 0.0
    proj_hidden: int = 1536
    proj_dim: int = 128
    contrast_hidden: int = 256
    contrast_dim: int = 64
    regressor_hidden: tuple[int, ...] = (256,)
    dense_columns: tuple[str, ...] = ("ispro", "photo_count", "photo_firstdatetaken", "postdate")
    dense_log1p: tuple[str, ...] = ("photo_count",)
    device: str = "cpu"
    num_threads: int = 0

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds={list(self.seeds)} must be distinct")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(
                f"epochs={self.epochs} must be >= 1 and batch_size={self.batch_size} >= 2"
            )
        if self.lr <= 0:
            raise ValueError(f"lr={self.lr} must be > 0")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"device={self.device!r} is not one of auto, cpu, cuda")


def check_run(scenario: str, input_name: str, loss: str) -> None:
    """Reject an unknown scenario, input or loss, naming the allowed values."""
    for what, value, allowed in (
        ("--scenario", scenario, SCENARIOS),
        ("--input", input_name, tuple(INPUT_MODALITIES)),
        ("--loss", loss, LOSS_NAMES),
    ):
        if value not in allowed:
            raise ParamsError(f"{what} {value!r} is not one of {', '.join(allowed)}")


def _split_ids(splits: Path, scenario: str) -> dict[str, np.ndarray]:
    path = splits / f"{scenario}.parquet"
    if not path.is_file():
        raise DataError(f"no split file for scenario '{scenario}'", file=path)
    table = pd.read_parquet(path)
    return {s: table.loc[table["split"] == s, "post_id"].to_numpy() for s in SPLITS}


def main(
    scenario: str = typer.Option(..., help=f"One of {', '.join(SCENARIOS)}."),
    input: str = typer.Option(..., "--input", help="tags | image | tags+image."),
    loss: str = typer.Option(..., help="l1 | rnc | wrcr."),
    weighting: str = typer.Option(None, help="WRCR weighting; default: loss.weighting."),
    posts: Path = typer.Option(..., help="Posts table (labels)."),
    splits: Path = typer.Option(..., help="Directory of <scenario>.parquet split files."),
    image_cache: Path = typer.Option(..., help="Image embedding cache."),
    text_cache: Path = typer.Option(..., help="Text embedding cache."),
    dense: Path = typer.Option(..., help="Dense features (parquet)."),
    out: Path = typer.Option(..., help="Run directory to write."),
    params: Path = typer.Option(DEFAULT_PARAMS, help="Params file; reads `train` and `loss`."),
    progress: bool = typer.Option(False, help="Progress bar over batches."),
) -> None:
    import torch

    from wrcr.bundle import save_bundle
    from wrcr.features import load_embeddings, read_manifest
    from wrcr.models import ModelConfig, PopularityModel
    from wrcr.training import DenseScaler, TensorData, TrainConfig, fit, predict

    # parameters first: nothing heavy happens before they are known to be valid
    check_run(scenario, input, loss)
    train_params = load_section(TrainParams, "train", params)
    if loss == "l1":
        # l1 reads no `loss` key, so that changing one never re-runs (or breaks) l1 runs
        loss_cfg = LossConfig(name="l1")
    else:
        # the `loss` section is a LossConfig; the command line picks the loss and weighting
        section = load_section(LossConfig, "loss", params)
        try:
            loss_cfg = replace(
                section,
                name=loss,
                weighting="none" if loss == "rnc" else (weighting or section.weighting),
            )
        except ValueError as err:
            raise ParamsError(f"--weighting: {err}") from err
    if train_params.num_threads:
        torch.set_num_threads(train_params.num_threads)
    device = train_params.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"

    # inputs of every split, gathered once for all seeds
    ids = _split_ids(splits, scenario)
    labels = pd.read_parquet(posts, columns=["post_id", "label"]).set_index("post_id")["label"]
    dense_table = pd.read_parquet(dense).set_index("post_id")
    missing_cols = [c for c in train_params.dense_columns if c not in dense_table.columns]
    if missing_cols:
        raise DataError(f"dense column(s) {missing_cols} not found", file=dense, field="columns")
    caches = {"image": image_cache, "text": text_cache}
    modalities = INPUT_MODALITIES[input]

    embeddings = {s: {} for s in SPLITS}
    encoders = {}
    for m in modalities:
        manifest = read_manifest(caches[m])
        # what `wrcr predict` needs to embed new posts exactly as the training posts were
        encoders[m] = {k: v for k, v in manifest.items() if k != "counts"}
        for s in SPLITS:
            X, valid = load_embeddings(caches[m], ids[s])
            embeddings[s][m] = X
            if s == "train" and not valid.any():
                return _write_skipped(
                    out,
                    scenario,
                    input,
                    loss,
                    loss_cfg,
                    train_params,
                    f"no valid {m} features in the training split",
                )

    scaler = DenseScaler.fit(
        dense_table.loc[ids["train"]], train_params.dense_columns, log1p=train_params.dense_log1p
    )
    data = {
        s: TensorData(
            inputs=embeddings[s],
            dense=scaler.transform(dense_table.loc[ids[s]]),
            labels=labels.loc[ids[s]].to_numpy(np.float32),
        )
        for s in SPLITS
    }
    logger.info(
        "train %s-%s/%s: %d train, %d val, %d test posts, dense dim %d",
        scenario,
        input,
        loss,
        *(len(ids[s]) for s in SPLITS),
        data["train"].dense.shape[1],
    )

    model_cfg = ModelConfig(
        modalities=modalities,
        embed_dims=tuple(int(embeddings["train"][m].shape[1]) for m in modalities),
        proj_hidden=train_params.proj_hidden,
        proj_dim=train_params.proj_dim,
        contrast_hidden=train_params.contrast_hidden,
        contrast_dim=train_params.contrast_dim,
        dense_dim=int(data["train"].dense.shape[1]),
        regressor_hidden=train_params.regressor_hidden,
    )

    predictions, history, features = [], [], None
    with atomic_dir(out) as tmp:
        for seed in train_params.seeds:
            t0 = time.perf_counter()
            torch.manual_seed(seed)
            model = PopularityModel(model_cfg)
            train_cfg = TrainConfig(
                epochs=train_params.epochs,
                batch_size=train_params.batch_size,
                lr=train_params.lr,
                weight_decay=train_params.weight_decay,
                seed=seed,
                device=device,
            )
            result = fit(model, data["train"], data["val"], loss_cfg, train_cfg, progress=progress)
            history.extend(result.history)

            for s in ("val", "test"):
                pred, feats = predict(result.model, data[s])
                predictions.append(
                    pd.DataFrame(
                        {
                            "post_id": ids[s],
                            "seed": seed,
                            "split": s,
                            "label": data[s].labels,
                            "pred": pred,
                        }
                    )
                )
                if s == "test" and features is None:
                    features = feats
            save_bundle(
                tmp / f"seed{seed}",
                result.model,
                model_config=model_cfg,
                scaler=scaler,
                loss_config=loss_cfg,
                train_config=train_cfg,
                input_name=input,
                encoders=encoders,
                extra={"scenario": scenario, "best_epoch": result.best_epoch},
            )
            logger.info(
                "train seed %d: best epoch %d, %.1f s",
                seed,
                result.best_epoch,
                time.perf_counter() - t0,
            )

        pd.concat(predictions, ignore_index=True).to_parquet(tmp / "predictions.parquet")
        pd.DataFrame(history).to_csv(tmp / "history.csv", index=False)
        np.savez(tmp / "test_features.npz", post_id=ids["test"].astype(str), features=features)
        write_json(tmp / "run.json", _describe(scenario, input, loss, loss_cfg, train_params))


def _describe(scenario, input_name, loss, loss_cfg, train_params) -> dict:
    return {
        "scenario": scenario,
        "input": input_name,
        "loss": loss,
        "weighting": None if loss == "l1" else loss_cfg.weighting,
        "seeds": list(train_params.seeds),
        "train": asdict(train_params),
        "loss_config": asdict(loss_cfg),
    }


def _write_skipped(out, scenario, input_name, loss, loss_cfg, train_params, reason) -> None:
    """A run that cannot train (no image in the dataset, say) says so instead of failing."""
    logger.warning("train %s-%s/%s skipped: %s", scenario, input_name, loss, reason)
    with atomic_dir(out) as tmp:
        info = _describe(scenario, input_name, loss, loss_cfg, train_params)
        write_json(tmp / "run.json", {**info, "skipped": reason})
