"""Registers the project's own trackers.

The OpenCV and dlib peers are cheap to import; the deep trackers pull in torch and torchvision, so they are
imported only when a name is not found among the light ones (or the full list is asked for). Every
tracker family is a package of its own under ``metatrack/trackers/`` whose ``__init__`` registers
its trackers (and its trainable model): importing the packages found there registers them all, so
that a new family needs its folder and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

LIGHT = (
    "metatrack.trackers.opencv",  # opencv-kcf, opencv-csrt, ...
    "metatrack.trackers.dlib_peer",  # dlib-correlation (dlib is imported when the tracker is built)
)


def load_light() -> None:
    for module in LIGHT:
        importlib.import_module(module)


def family_packages() -> list[str]:
    """Module names of the tracker family packages (every package under metatrack.trackers)."""
    from .. import trackers

    return sorted(f"{trackers.__name__}.{m.name}" for m in pkgutil.iter_modules(trackers.__path__) if m.ispkg)


def load_heavy() -> None:
    for module in family_packages():
        importlib.import_module(module)
