"""Image decoding for the image encoder: a dataset of files, run in DataLoader workers.

Each worker opens a file, converts it to RGB and applies the model's own image processor
(resize to its input size, rescale, normalise), so the main process only stacks tensors and
runs the forward pass. A file that is absent or does not decode becomes a reason, not an
exception: the post keeps a zero vector and valid=False.

Shapes: B batch, C channels (3), H x W the model's input size, D embedding dim.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

Item = tuple[int, Any, str | None, str | None]  # row, pixels (C, H, W) or None, reason, detail


class ImageFiles:
    """Map-style dataset: row i -> (i, pixels (C, H, W) float32 or None, reason, detail)."""

    def __init__(self, paths: Sequence[str | None], processor: Any) -> None:
        self.paths, self.processor = list(paths), processor

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Item:
        from PIL import Image

        path = self.paths[i]
        if path is None:
            return i, None, "no_image", None
        if not os.path.isfile(path):
            return i, None, "missing_file", path
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB")  # decodes the whole file: a truncated one fails here
            pixels = self.processor(images=rgb, return_tensors="np")["pixel_values"][0]
        except Exception as err:  # PIL raises many types for bad files; all mean unreadable
            return i, None, "unreadable", f"{path}: {type(err).__name__}: {err}"
        return i, pixels, None, None


def collate_images(items: list[Item]) -> dict[str, Any]:
    """Stack the decodable images of a batch; keep (row, reason, detail) of the others."""
    import torch

    ok = [it for it in items if it[1] is not None]
    return {
        "rows": [it[0] for it in items],
        "ok_rows": [it[0] for it in ok],
        "pixels": torch.from_numpy(np.stack([it[1] for it in ok])) if ok else None,  # (B, C, H, W)
        "bad": [(it[0], it[2], it[3]) for it in items if it[1] is None],
    }


def image_batches(
    encoder: Any, paths: list[str | None], batches: list[list[int]], workers: int
) -> Iterator[dict[str, Any]]:
    """Decode in `workers` processes, forward here: one dict per batch, vectors (B_ok, D).

    With no image at all nothing is decoded and no model is loaded; else the model is loaded
    before the workers start (call `encoder.load()` first to keep it out of a timing).
    """
    import torch

    if all(p is None for p in paths):
        for rows in batches:
            yield {"rows": rows, "ok_rows": [], "bad": [(i, "no_image", None) for i in rows]}
        return

    encoder.load()
    loader = torch.utils.data.DataLoader(
        ImageFiles(paths, encoder.processor()),
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=collate_images,
        pin_memory=encoder.device == "cuda",
        # deep prefetch: the forward pass never waits for a slow file
        prefetch_factor=4 if workers else None,
    )
    for batch in loader:
        if batch["pixels"] is not None:
            batch["vectors"] = encoder.encode(batch["pixels"])  # (B_ok, D)
        yield batch
