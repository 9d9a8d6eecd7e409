"""The synthetic demo dataset, written in the SMPD file layout (DESIGN s.6).

Every post has a user latent (shared by the user's posts) and a post latent; the label is a
skewed mix of both, clipped to [1, 16.5], so it resembles SMPD's log-views: a broad middle
around 6-7 and thin tails. Each input sees the label through its own noise:

- tags: English words graded from dull snapshots to acclaimed work (`demo_vocab`), drawn at
  a noisy popularity level, mixed with neutral category words; more tags on popular posts;
  some posts have none (more often at the low end);
- image: brightness, saturation and stripe frequency rise with a noisy label, pixel noise
  falls; the hue comes from the category;
- user fields: `ispro`, `photo_count` and an earlier `photo_firstdatetaken` follow the user
  latent; a few users have the sentinel dates of the real release.

So a model beats the mean predictor, and the few posts at the ends are the hard ones. The
same `posts` and `seed` give byte-identical files, JPEGs included.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from wrcr.data.demo_vocab import CATEGORIES, LEVEL_EDGES, LEVEL_WORDS, TIMEZONES
from wrcr.errors import DataError
from wrcr.io import atomic_dir

logger = logging.getLogger(__name__)

DEMO_MARKER = ".wrcr-demo.json"
DEMO_VERSION = 1
DEMO_IMAGE_SIZE = 64
SPLIT = "train"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_POSTS_FROM, _POSTS_TO = 1420070400, 1459382400  # 2015-01-01 .. 2016-03-31, as in SMPD
_USERS_UNTIL = datetime(2015, 1, 1, tzinfo=timezone.utc)


def demo_marker(root: str | Path) -> dict[str, Any] | None:
    """The marker of a complete demo dataset at `root` (written last), or None."""
    path = Path(root) / DEMO_MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def _users(rng: np.random.Generator, n_users: int) -> dict[str, Any]:
    u = rng.standard_normal(n_users)
    uids: list[str] = []
    seen: set[str] = set()
    while len(uids) < n_users:
        uid = f"{rng.integers(1, 100000)}@N{rng.integers(0, 100):02d}"
        if uid not in seen:
            seen.add(uid)
            uids.append(uid)

    # user fields follow the latent u, with noise
    ispro = (rng.random(n_users) < 1.0 / (1.0 + np.exp(-(1.3 * u - 1.4)))).astype(int)
    count = np.clip(np.rint(np.exp(5.5 + 1.1 * u + 0.7 * rng.standard_normal(n_users))), 1, 2e5)
    years = np.clip(4.0 + 2.5 * u + 2.0 * rng.standard_normal(n_users), 0.2, 14.0)
    taken = [_USERS_UNTIL - timedelta(days=365.25 * y) for y in years]
    firstdate = [int((t - _EPOCH).total_seconds() + rng.uniform(0, 180) * 86400) for t in taken]
    # sentinels of the real release for ~6% of users
    sentinel = rng.random(n_users) < 0.06
    kinds = (None, "None", "0000-00-00 00:00:00")
    taken_text = [
        kinds[rng.integers(0, 3)] if s else t.strftime("%Y-%m-%d %H:%M:%S")
        for s, t in zip(sentinel, taken, strict=True)
    ]
    return {
        "u": u,
        "uid": uids,
        "ispro": ispro,
        "photo_count": count.astype(int),
        "photo_firstdatetaken": taken_text,
        "photo_firstdate": [str(d) for d in firstdate],
        "timezone_offset": [TIMEZONES[i] for i in rng.integers(0, len(TIMEZONES), n_users)],
    }


def _tags(rng: np.random.Generator, label: float, concepts: tuple[str, ...]) -> str:
    # empty tags: about 5% in the middle, up to a third at the low end
    if rng.random() < 0.04 + 0.3 / (1.0 + np.exp(label - 4.0)):
        return ""
    noisy = label + 1.5 * rng.standard_normal()
    level = int(np.digitize(noisy, LEVEL_EDGES))
    n = min(25, 1 + rng.poisson(max(0.3, 0.9 * (noisy - 2.0))))
    words: list[str] = []
    for _ in range(n):
        if rng.random() < 0.6:
            k = int(np.clip(level + np.rint(0.6 * rng.standard_normal()), 0, len(LEVEL_WORDS) - 1))
            word = LEVEL_WORDS[k][rng.integers(0, len(LEVEL_WORDS[k]))]
        else:
            word = concepts[rng.integers(0, len(concepts))]
        if word not in words:
            words.append(word)
    return " ".join(words)


def _title(rng: np.random.Generator, label: float, concept: str) -> str:
    if rng.random() < 0.15:
        return ""
    level = int(np.digitize(label + 2.0 * rng.standard_normal(), LEVEL_EDGES))
    if level <= 1 and rng.random() < 0.5:
        return f"IMG_{rng.integers(1000, 10000)}"
    word = LEVEL_WORDS[level][rng.integers(0, len(LEVEL_WORDS[level]))]
    return f"{word.capitalize()} {concept}"


def _image(rng: np.random.Generator, label: float, rgb: tuple, size: int) -> bytes:
    # a noisy label drives brightness, saturation, stripe frequency and pixel noise
    t = float(np.clip((label + 2.0 * rng.standard_normal() - 2.0) / 11.0, 0.0, 1.0))
    value, sat, freq = 0.25 + 0.6 * t, 0.15 + 0.75 * t, 1.0 + 7.0 * t
    theta, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:size, 0:size] / size  # (S, S) each
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (x * np.cos(theta) + y * np.sin(theta)) + phase)
    colour = (1.0 - sat) + sat * np.asarray(rgb)  # (3,)
    img = value * (0.65 + 0.35 * wave)[..., None] * colour  # (S, S, 3)
    img = img + (0.03 + 0.12 * (1.0 - t)) * rng.standard_normal(img.shape)
    pixels = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _records(rows: list[dict[str, Any]]) -> str:
    # one record per line, like a list of records (and JSON errors point at a row)
    return "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n"


def write_demo(
    out: str | Path, posts: int = 3000, seed: int = 0, image_size: int = DEMO_IMAGE_SIZE
) -> dict:
    """Write `posts` synthetic posts in the SMPD layout at `out`, atomically; returns a summary.

    An existing demo at `out` is replaced; any other non-empty directory is refused.
    """
    out = Path(out)
    if posts < 1 or image_size < 8:
        raise ValueError(f"posts must be >= 1 and image_size >= 8, got {posts}, {image_size}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and demo_marker(out) is None:
        raise DataError(
            f"exists and is not a wrcr demo dataset (no {DEMO_MARKER}); refusing to replace it",
            file=out,
        )
    rng = np.random.default_rng(seed)

    # users, then posts: category, label from the user and post latents
    users = _users(rng, max(1, posts // 6))
    n_users = len(users["uid"])
    weight = 1.0 / np.arange(1, n_users + 1) ** 0.8
    owner = rng.choice(n_users, size=posts, p=weight / weight.sum())
    names = list(CATEGORIES)
    cat = rng.integers(0, len(names), posts)
    e = rng.standard_t(5, posts) * np.sqrt(3.0 / 5.0)
    z = 0.55 * users["u"][owner] + 0.8 * e
    offset = np.array([CATEGORIES[names[c]][0] for c in cat])
    label = np.round(np.clip(6.6 + offset + 2.1 * z + 0.12 * (z**2 - 1.0), 1.0, 16.5), 2)
    pids = (rng.choice(posts * 10, size=posts, replace=False) + 100).astype(str)
    postdate = rng.integers(_POSTS_FROM, _POSTS_TO, posts)

    text, temporal, category, additional, images = [], [], [], [], []
    for i in tqdm(range(posts), desc="demo posts", disable=not sys.stderr.isatty()):
        uid, pid = users["uid"][owner[i]], str(pids[i])
        name = names[cat[i]]
        _, rgb, subcats = CATEGORIES[name]
        sub = list(subcats)[rng.integers(0, len(subcats))]
        concept = subcats[sub][rng.integers(0, len(subcats[sub]))]
        neutral = (*subcats[sub], sub.lower())
        text.append(
            {
                "Uid": uid,
                "Pid": pid,
                "Title": _title(rng, label[i], concept),
                "Mediatype": "photo",
                "Alltags": _tags(rng, label[i], neutral),
            }
        )
        geo = rng.random() < 0.3
        temporal.append(
            {
                "Uid": uid,
                "Pid": pid,
                "Postdate": str(postdate[i]),
                "Latitude": f"{rng.uniform(-50, 65):.6f}" if geo else "0",
                "Longitude": f"{rng.uniform(-125, 145):.6f}" if geo else "0",
                "Geoaccuracy": str(rng.choice([11, 13, 16])) if geo else "0",
            }
        )
        category.append(
            {"Uid": uid, "Pid": pid, "Category": name, "Subcategory": sub, "Concept": concept}
        )
        alias = f"user{owner[i]}" if rng.random() < 0.7 else "None"
        additional.append(
            {"Uid": uid, "Pid": pid, "Pathalias": alias, "Ispublic": 1, "Mediastatus": "ready"}
        )
        images.append(_image(rng, label[i], rgb, image_size))

    # user data column-oriented, as the release has it (pandas to_json layout)
    index = [str(i) for i in range(posts)]
    user_cols = {
        "Uid": [users["uid"][o] for o in owner],
        "Pid": [str(p) for p in pids],
        "photo_firstdate": [users["photo_firstdate"][o] for o in owner],
        "photo_count": [int(users["photo_count"][o]) for o in owner],
        "ispro": [int(users["ispro"][o]) for o in owner],
        "timezone_offset": [users["timezone_offset"][o] for o in owner],
        "photo_firstdatetaken": [users["photo_firstdatetaken"][o] for o in owner],
        "canbuypro": [1 - int(users["ispro"][o]) for o in owner],
    }
    user_data = {k: dict(zip(index, v, strict=True)) for k, v in user_cols.items()}

    marker = {"generator": "wrcr.data.demo", "version": DEMO_VERSION, "posts": posts,
              "seed": seed, "image_size": image_size}  # fmt: skip
    with atomic_dir(out) as tmp:
        (tmp / f"{SPLIT}_text.json").write_text(_records(text))
        (tmp / f"{SPLIT}_temporalspatial_information.json").write_text(_records(temporal))
        (tmp / f"{SPLIT}_category.json").write_text(_records(category))
        (tmp / f"{SPLIT}_additional_information.json").write_text(_records(additional))
        (tmp / f"{SPLIT}_user_data.json").write_text(json.dumps(user_data) + "\n")
        (tmp / f"{SPLIT}_label.txt").write_text("".join(f"{v:.2f}\n" for v in label))
        paths = [f"{SPLIT}/{r['Uid']}/{r['Pid']}.jpg" for r in text]
        (tmp / f"{SPLIT}_img_filepath.txt").write_text("".join(f"{p}\n" for p in paths))
        for path, data in zip(paths, images, strict=True):
            (tmp / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp / path).write_bytes(data)
        # the marker last: its presence means the dataset is complete
        (tmp / DEMO_MARKER).write_text(json.dumps(marker, sort_keys=True) + "\n")

    summary = {
        **marker,
        "users": n_users,
        "label_min": float(label.min()),
        "label_max": float(label.max()),
        "label_mean": round(float(label.mean()), 4),
        "empty_tags": sum(not r["Alltags"] for r in text),
    }
    logger.info(
        "demo: %d posts, %d users, label %.2f..%.2f (mean %.2f), %d empty tags -> %s",
        posts,
        n_users,
        summary["label_min"],
        summary["label_max"],
        summary["label_mean"],
        summary["empty_tags"],
        out,
    )
    return summary
