"""Registers the project's own trackers (imported lazily by the registry)."""

from __future__ import annotations

from . import opencv  # noqa: F401  (registers opencv-kcf, opencv-csrt, ...)
from .crest import tracker as _crest  # noqa: F401
from .sdnet import tracker as _sdnet  # noqa: F401
