"""Speed of the embed stages against the bare models, and of reading one split from a cache.

    .venv/bin/python benchmarks/extract_speed.py [--images 128] [--texts 4000] [--rows 500000]

Image: the whole stage (decode + preprocess in DataLoader workers, forward, shard writes)
against a pure forward of the same model on already-preprocessed tensors at the same batch
size, with a ViT-small-sized model (12 layers, hidden 384, 6 heads, patch 16, 224 x 224;
random weights, built from its config). Text: the stage against `SentenceTransformer.encode`
on the same strings (packaged all-MiniLM-L6-v2). Model loading is outside both clocks.
Cache: `load_embeddings` of a random 70% of the post ids in shuffled order, and of all of
them, from a cache of `--rows` x 384 float32 vectors (warm page cache).

The variants run in interleaved rounds; the table shows each one's best and median round
and the ratios of the best rounds (the least disturbed ones on a shared machine).
Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from wrcr.features import encoders as enc  # noqa: E402
from wrcr.features import load_embeddings  # noqa: E402
from wrcr.features.cache import CacheWriter  # noqa: E402
from wrcr.features.extract import ExtractSettings, embed_images, embed_texts  # noqa: E402
from wrcr.features.resolve import resolve_model  # noqa: E402


def build_vit_small(out: Path) -> Path:
    """ViT-small/16 shape, random weights, with a mean = std = 0.5 processor."""
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    torch.manual_seed(0)
    config = ViTConfig(
        hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
        image_size=224, patch_size=16,
    )  # fmt: skip
    ViTModel(config).save_pretrained(out)
    processor = ViTImageProcessorPil(
        size={"height": 224, "width": 224}, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    processor.save_pretrained(out)
    return out


def write_jpegs(root: Path, n: int) -> list[str]:
    """n photo-like JPEGs (smooth colour fields plus noise), 500 x 375 like Flickr 'medium'."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:375, 0:500]
    paths = []
    for i in range(n):
        waves = [np.sin(xx / (20 + i % 17) + c) * np.cos(yy / (15 + i % 11)) for c in range(3)]
        base = np.stack(waves, axis=-1)  # (375, 500, 3)
        pixels = np.clip(127 + 90 * base + rng.normal(0, 12, base.shape), 0, 255)
        path = root / f"{i}.jpg"
        Image.fromarray(pixels.astype(np.uint8)).save(path, quality=88)
        paths.append(str(path))
    return paths


def pure_forward(encoder: enc.ImageEncoder, pixels: torch.Tensor, batch_size: int) -> float:
    """Images per second of the bare forward on preprocessed tensors (N, 3, 224, 224)."""
    t0 = time.perf_counter()
    for s in range(0, len(pixels), batch_size):
        encoder.encode(pixels[s : s + batch_size])
    return len(pixels) / (time.perf_counter() - t0)


def image_bench(work: Path, n: int, batch_size: int, rounds: int) -> list[tuple]:
    model = resolve_model(str(build_vit_small(work / "vit-small")), "image")
    paths = write_jpegs(work / "jpg", n)
    ids = [f"p{i}" for i in range(n)]
    encoder = enc.ImageEncoder(model, "cls", "cpu", "fp32")
    processor = encoder.processor()
    encoder.load()
    decoded = [Image.open(p).convert("RGB") for p in paths]
    pixels = torch.from_numpy(
        np.stack([processor(images=im, return_tensors="np")["pixel_values"][0] for im in decoded])
    )  # (N, 3, 224, 224)
    encoder.encode(pixels[:batch_size])  # warm-up

    samples: dict[str, list[float]] = {"forward": [], 0: [], 1: [], 2: []}
    for _ in range(rounds):
        samples["forward"].append(pure_forward(encoder, pixels, batch_size))
        for workers in (0, 1, 2):
            settings = ExtractSettings(
                device="cpu", batch_size=batch_size, num_workers=workers, shard_size=4096
            )
            cache = work / f"img-cache-{workers}"
            samples[workers].append(embed_images(ids, paths, cache, model, settings)["posts_per_s"])
            shutil.rmtree(cache)

    threads = torch.get_num_threads()
    ref = samples.pop("forward")
    rows = [("image forward, preprocessed", f"B={batch_size}, {threads} threads", ref, ref)]
    for workers, rates in samples.items():
        rows.append(("image stage", f"B={batch_size}, {workers} decode workers", rates, ref))
    return rows


def text_bench(work: Path, n: int, batch_size: int, rounds: int) -> list[tuple]:
    from sentence_transformers import SentenceTransformer

    rng = np.random.default_rng(0)
    vocab = [f"tag{i}" for i in range(2000)] + ["sunset", "beach", "city", "night", "portrait"]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(1, 25))) for _ in range(n)]
    ids = [f"t{i}" for i in range(n)]
    model = resolve_model("all-MiniLM-L6-v2", "text")
    st = SentenceTransformer(str(model.path), device="cpu")
    st.encode(texts[:batch_size], batch_size=batch_size)  # warm-up
    settings = ExtractSettings(device="cpu", batch_size=batch_size, shard_size=4096)

    ref, stage = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        st.encode(texts, batch_size=batch_size)
        ref.append(n / (time.perf_counter() - t0))
        stage.append(embed_texts(ids, texts, work / "txt-cache", model, settings)["posts_per_s"])
        shutil.rmtree(work / "txt-cache")
    return [
        ("text encode, bare", f"B={batch_size}", ref, ref),
        ("text stage", f"B={batch_size}, shard 4096", stage, ref),
    ]


def read_bench(work: Path, n_rows: int, rounds: int, dim: int = 384) -> list[tuple]:
    cache = work / "read-cache"
    ids = np.array([f"{i:08d}" for i in range(n_rows)], dtype=object)
    writer = CacheWriter(cache, {"key": "bench", "model": {"name": "random"}, "dim": dim})
    rng = np.random.default_rng(0)
    for s in range(0, n_rows, 4096):
        n = min(4096, n_rows - s)
        X = rng.standard_normal((n, dim), dtype=np.float32)
        writer.write_shard(ids[s : s + n], X, np.ones(n, bool), [None] * n)
    writer.finalise(ids, dim)

    rows = []
    for label, frac in (("70% of ids, shuffled", 0.7), ("all ids, shuffled", 1.0)):
        want = ids[rng.permutation(n_rows)[: int(frac * n_rows)]]
        secs = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            load_embeddings(cache, want)
            secs.append(time.perf_counter() - t0)
        rows.append(
            (f"load_embeddings, {n_rows} cached", f"{label}: {len(want)} x {dim}", secs, None)
        )
    return rows


def print_table(rows: list[tuple]) -> None:
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads"
    )
    print(f"| {'what':<30} | {'setting':<34} | {'best':>10} | {'median':>10} | ratio (best) |")
    print(f"|{'-' * 32}|{'-' * 36}|{'-' * 12}|{'-' * 12}|{'-' * 14}|")
    for what, setting, samples, ref in rows:
        unit = " s" if ref is None else "/s"
        best = min(samples) if ref is None else max(samples)
        digits = 3 if ref is None else 1
        ratio = "" if ref is None else f"{best / max(ref):.2f}"
        print(
            f"| {what:<30} | {setting:<34} | {best:8.{digits}f}{unit} | "
            f"{float(np.median(samples)):8.{digits}f}{unit} | {ratio:>12} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wrcr-bench-"))
    try:
        rows = image_bench(work, args.images, args.batch_size, args.rounds)
        rows += text_bench(work, args.texts, 64, args.rounds)
        rows += read_bench(work, args.rows, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows)


if __name__ == "__main__":
    main()
