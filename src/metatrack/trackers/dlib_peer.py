"""dlib's correlation tracker as a peer, behind the project's :class:`~metatrack.trackers.base.Tracker`.

``dlib.correlation_tracker`` is a DSST-style correlation filter (Danelljan et al., BMVC 2014): a
translation filter on HOG-like features and a separate scale filter, so that, unlike KCF or MOSSE,
it follows a target that grows or shrinks. It is registered as ``dlib-correlation`` among the
light peers (no torch); dlib comes from the ``dlib-bin`` wheel (requirements.txt) and is imported
only when the tracker is built, so that a missing dlib costs nothing but this tracker, with a
:class:`ConfigError` naming the package.

It follows the OpenCV peers' harness (``metatrack/trackers/opencv.py``): frames go through
:func:`metatrack.image.as_rgb` (dlib takes 8-bit RGB), a peer never brings a benchmark down (a
frame on which dlib raises, answers a non-finite peak-to-sidelobe ratio or a non-finite box gives
back the last box with confidence 0, and dlib is started afresh from that box on the next frame
that is not flat), a frame of another size restarts it there from the last box, and every returned
box lies inside the image.

``confidence`` is dlib's peak-to-sidelobe ratio (PSR) of the frame: about 5-30 on a tracked
target (higher is surer), not a value in [0, 1]; 0 when the last box was held.

Boxes: dlib's rectangles count pixels inclusively (``drectangle(l, t, r, b).width() == r - l + 1``),
so the box ``x, y, w, h`` is handed over as ``drectangle(x, y, x + w - 1, y + h - 1)`` and read back
with ``width()`` and ``height()``. Boxes under :data:`MIN_DLIB_SIDE` pixels a side are enlarged
around their centre (an inclusive rectangle of less than one pixel is empty, which dlib refuses) and
the answer shrunk back.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..geometry import is_valid_box
from ..image import as_rgb
from .base import register_tracker
from .peer import PeerTracker

#: the registry name
NAME = "dlib-correlation"
#: the PyPI package that provides ``import dlib`` (a binary wheel: no compiler needed)
PACKAGE = "dlib-bin==20.0.1"
#: dlib gets boxes at least this many pixels a side
MIN_DLIB_SIDE = 2.0


def import_dlib() -> Any:
    """The ``dlib`` module; a :class:`ConfigError` naming the package to install when it is missing."""
    try:
        import dlib
    except ImportError as exc:
        raise ConfigError(
            f"tracker {NAME!r} needs dlib, which is not installed ({exc}): "
            f"pip install {PACKAGE} (it is pinned in requirements.txt)"
        ) from None
    if not hasattr(dlib, "correlation_tracker"):
        raise ConfigError(f"tracker {NAME!r}: this dlib ({getattr(dlib, '__file__', '?')}) has no "
                          f"correlation_tracker; pip install {PACKAGE}")
    return dlib


def _is_flat(rgb: np.ndarray) -> bool:
    """A frame of one colour (black, white, constant): nothing to learn a filter from."""
    return bool(rgb.min() == rgb.max())


class DlibCorrelationTracker(PeerTracker):
    """dlib's ``correlation_tracker`` (DSST: translation and scale filters); deterministic."""

    stochastic = False
    min_side = MIN_DLIB_SIDE

    def __init__(self) -> None:
        super().__init__()
        self._dlib = import_dlib()

    def seed(self, seed: int) -> None:
        """No-op: dlib's correlation tracker draws no random numbers."""

    def _convert(self, image: np.ndarray) -> np.ndarray:
        return as_rgb(image)  # dlib takes 8-bit RGB

    def _step(self, frame: np.ndarray) -> tuple[np.ndarray | None, float]:
        try:
            psr = float(self._native.update(frame))
            pos = self._native.get_position()
            raw = np.array([pos.left(), pos.top(), pos.width(), pos.height()], dtype=np.float64)
        except (RuntimeError, ValueError, TypeError):
            self._native = None
            return None, 0.0
        if not math.isfinite(psr) or not is_valid_box(raw):
            self._native = None  # its filter may hold NaN now: restart on the next frame with content
            return None, 0.0
        return raw, max(psr, 0.0)

    def _new(self, frame: np.ndarray, box: np.ndarray) -> tuple[Any, np.ndarray]:
        if _is_flat(frame):  # a frame of one colour: nothing to learn a filter from
            return None, box
        x, y, w, h = box
        try:
            tracker = self._dlib.correlation_tracker()
            tracker.start_track(frame, self._dlib.drectangle(x, y, x + w - 1.0, y + h - 1.0))
        except (RuntimeError, ValueError, TypeError):
            return None, box
        return tracker, box


register_tracker(NAME, DlibCorrelationTracker)
