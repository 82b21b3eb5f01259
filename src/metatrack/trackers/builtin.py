"""Registers the project's own trackers.

The OpenCV peers are cheap to import; the deep trackers pull in torch and torchvision, so they are
imported only when a name is not found among the light ones (or the full list is asked for).
"""

from __future__ import annotations

import importlib

LIGHT = ("metatrack.trackers.opencv",)  # opencv-kcf, opencv-csrt, ...
HEAVY = ("metatrack.trackers.sdnet.tracker", "metatrack.trackers.crest.tracker")  # metasdnet, sdnet-N, ...


def load_light() -> None:
    for module in LIGHT:
        importlib.import_module(module)


def load_heavy() -> None:
    for module in HEAVY:
        importlib.import_module(module)
