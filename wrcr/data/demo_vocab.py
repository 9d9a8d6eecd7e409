"""Word lists of the synthetic demo dataset (see `wrcr.data.demo`).

`LEVEL_WORDS[k]` are tags of popularity level k, from dull snapshots (0) to acclaimed work (7):
real English words, graded in meaning, so a sentence encoder places posts of similar
popularity near each other. `CATEGORIES` follows the eleven SMPD categories; its words carry
no popularity signal beyond a small per-category offset.
"""

from __future__ import annotations

LEVEL_WORDS: tuple[tuple[str, ...], ...] = (
    ("blurry", "screenshot", "receipt", "untitled", "test", "scan", "document", "misc",
     "backup", "upload", "junk", "draft", "copy", "file", "unsorted"),
    ("phone", "snapshot", "selfie", "office", "desk", "lunch", "parking", "errand", "kitchen",
     "laundry", "homework", "commute", "grocery", "hallway", "bored"),
    ("family", "friends", "weekend", "birthday", "party", "dinner", "school", "kids", "garden",
     "vacation", "home", "puppy", "kitten", "picnic", "holiday"),
    ("city", "street", "park", "beach", "travel", "summer", "flowers", "river", "bridge",
     "autumn", "winter", "spring", "lake", "market", "museum"),
    ("landscape", "portrait", "sunset", "architecture", "nature", "wildlife", "mountains",
     "skyline", "reflection", "macro", "bokeh", "night", "clouds", "forest", "ocean"),
    ("canon", "nikon", "sony", "longexposure", "hdr", "goldenhour", "composition", "lens",
     "tripod", "fujifilm", "dslr", "aperture", "wideangle", "telephoto", "silhouette"),
    ("stunning", "beautiful", "dramatic", "majestic", "breathtaking", "vibrant", "magical",
     "spectacular", "gorgeous", "serene", "epic", "amazing", "brilliant", "striking", "radiant"),
    ("masterpiece", "award", "explore", "featured", "gallery", "exhibition", "professional",
     "artistic", "iconic", "legendary", "acclaimed", "winner", "excellence", "perfection",
     "magnificent"),
)  # fmt: skip

# label edges between the levels above
LEVEL_EDGES: tuple[float, ...] = (3.0, 4.5, 5.5, 6.5, 7.5, 9.0, 11.0)

# category -> (label offset, base colour RGB in [0, 1], {subcategory: concepts})
CATEGORIES: dict[str, tuple[float, tuple[float, float, float], dict[str, tuple[str, ...]]]] = {
    "Fashion": (0.2, (0.85, 0.35, 0.55), {
        "Fashion": ("glam", "dress", "model"),
        "Beauty": ("makeup", "hair", "nails"),
    }),
    "Travel&Active&Sports": (0.4, (0.25, 0.6, 0.85), {
        "Travel": ("mountain", "island", "desert"),
        "Sports": ("football", "cycling", "surfing"),
    }),
    "Holiday&Celebrations": (0.0, (0.9, 0.75, 0.2), {
        "Christmas": ("tree", "lights", "santa"),
        "Wedding": ("bride", "cake", "ceremony"),
    }),
    "Weather&Season": (0.3, (0.55, 0.75, 0.95), {
        "Winter": ("snow", "ice", "frost"),
        "Weather": ("rain", "storm", "fog"),
    }),
    "Animal": (0.3, (0.55, 0.45, 0.3), {
        "Pets": ("dog", "cat", "rabbit"),
        "Birds": ("eagle", "owl", "heron"),
    }),
    "Food": (-0.3, (0.9, 0.5, 0.2), {
        "Meal": ("pizza", "sushi", "burger"),
        "Drink": ("coffee", "wine", "tea"),
    }),
    "Urban": (0.2, (0.5, 0.5, 0.55), {
        "Architecture": ("tower", "cathedral", "facade"),
        "Street": ("graffiti", "alley", "traffic"),
    }),
    "Entertainment": (0.0, (0.6, 0.3, 0.8), {
        "Music": ("concert", "guitar", "festival"),
        "Movie": ("cinema", "actor", "premiere"),
    }),
    "Family": (-0.4, (0.95, 0.6, 0.6), {
        "Baby": ("newborn", "toddler", "crib"),
        "Home": ("sofa", "garden", "backyard"),
    }),
    "Social&People": (-0.1, (0.7, 0.55, 0.45), {
        "People": ("crowd", "smile", "couple"),
        "Event": ("meeting", "parade", "protest"),
    }),
    "Electronics": (-0.5, (0.3, 0.35, 0.4), {
        "Gadgets": ("laptop", "camera", "headphones"),
        "Phones": ("smartphone", "tablet", "charger"),
    }),
}  # fmt: skip

TIMEZONES: tuple[str, ...] = ("-08:00", "-05:00", "+00:00", "+01:00", "+02:00", "+08:00", "+09:00")
