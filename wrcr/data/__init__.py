"""Datasets and readers: the SMPD layout, generic posts tables, the synthetic demo, downloads."""

from wrcr.data.demo import write_demo
from wrcr.data.posts import posts_data_root, read_posts, write_posts
from wrcr.data.schema import DATA_ROOT_KEY
from wrcr.data.smpd import read_smpd
from wrcr.data.table import read_table

__all__ = [
    "DATA_ROOT_KEY",
    "posts_data_root",
    "read_posts",
    "read_smpd",
    "read_table",
    "write_demo",
    "write_posts",
]
