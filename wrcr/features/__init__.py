"""Frozen-encoder features and dense post features.

- `resolve`: encoder name -> local model directory (local dir, packaged, built, hub).
- `encoders`: the ViT image encoder and the sentence-transformers text encoder.
- `extract`: posts -> sharded, resumable embedding cache (`embed_images`, `embed_texts`).
- `cache`: the cache format; `load_embeddings(cache_dir, post_ids) -> (X, valid)`.
- `dense`: the raw dense columns (userIsPro, postCount, photoFirstDateTaken, postDate).

Importing this package does not import torch or transformers.
"""

from wrcr.features.cache import load_embeddings, read_manifest
from wrcr.features.dense import DENSE_COLUMNS, dense_features

__all__ = ["DENSE_COLUMNS", "dense_features", "load_embeddings", "read_manifest"]
