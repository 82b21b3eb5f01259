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

from ..errors import ConfigError, DataError
from ..geometry import check_first_box, clip_box, is_valid_box
from ..image import as_rgb, image_size
from .base import Tracker, register_tracker

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


def _enlarged(box: np.ndarray, size: tuple[int, int], min_side: float) -> np.ndarray:
    """``box`` grown around its centre to at least ``min_side`` a side, kept inside the frame."""
    x, y, w, h = box
    new_w, new_h = max(w, min(min_side, size[0])), max(h, min(min_side, size[1]))
    nx = min(max(x + w / 2 - new_w / 2, 0.0), size[0] - new_w)
    ny = min(max(y + h / 2 - new_h / 2, 0.0), size[1] - new_h)
    return np.array([nx, ny, new_w, new_h])


def _is_flat(rgb: np.ndarray) -> bool:
    """A frame of one colour (black, white, constant): nothing to learn a filter from."""
    return bool(rgb.min() == rgb.max())


class DlibCorrelationTracker(Tracker):
    """dlib's ``correlation_tracker`` (DSST: translation and scale filters); deterministic."""

    stochastic = False

    def __init__(self) -> None:
        self._dlib = import_dlib()
        self._dl: Any = None  # the dlib tracker, None until (re)started
        self._frame_size: tuple[int, int] | None = None  # size of the frame it was started on
        self._shrink = (1.0, 1.0)  # true box size / size handed to dlib
        self._box = np.full(4, np.nan)  # last box reported
        self.confidence = float("nan")

    def seed(self, seed: int) -> None:
        """No-op: dlib's correlation tracker draws no random numbers."""

    def init(self, image: np.ndarray, box) -> None:
        try:
            rgb = as_rgb(image)
        except ValueError as exc:
            raise DataError(f"first frame: {exc}") from None
        size = image_size(rgb)
        first = check_first_box(box, size, source="first box")
        self._box = clip_box(first, size)
        self._start(rgb, self._box)
        self.confidence = 1.0 if self._dl is not None else 0.0

    def update(self, image: np.ndarray) -> np.ndarray:
        try:
            rgb = as_rgb(image)
        except ValueError:
            return self._held(None)
        size = image_size(rgb)
        if self._dl is None or size != self._frame_size:
            # no working filter (a failure earlier) or a frame of another size: start afresh here
            self._start(rgb, clip_box(self._box, size))
            return self._held(size)
        try:
            psr = float(self._dl.update(rgb))
            pos = self._dl.get_position()
            raw = np.array([pos.left(), pos.top(), pos.width(), pos.height()], dtype=np.float64)
        except (RuntimeError, ValueError, TypeError):
            self._dl = None
            return self._held(size)
        if not math.isfinite(psr) or not is_valid_box(raw):
            self._dl = None  # its filter may hold NaN now: restart on the next frame with content
            return self._held(size)
        fx, fy = self._shrink
        if fx != 1.0 or fy != 1.0:
            cx, cy = raw[0] + raw[2] / 2, raw[1] + raw[3] / 2
            raw = np.array([cx - raw[2] * fx / 2, cy - raw[3] * fy / 2, raw[2] * fx, raw[3] * fy])
        self._box = clip_box(raw, size)
        self.confidence = max(psr, 0.0)
        return self._box.copy()

    def _held(self, size: tuple[int, int] | None) -> np.ndarray:
        """The last box (clipped to ``size`` when known) with zero confidence."""
        self.confidence = 0.0
        if size is not None:
            self._box = clip_box(self._box, size)
        return self._box.copy()

    def _start(self, rgb: np.ndarray, box: np.ndarray) -> None:
        """Start a fresh dlib tracker on ``rgb`` at ``box``; leave none if the frame is flat or dlib refuses."""
        size = image_size(rgb)
        self._dl, self._frame_size = None, size
        if _is_flat(rgb):
            return
        x, y, w, h = _enlarged(box, size, MIN_DLIB_SIDE)
        try:
            tracker = self._dlib.correlation_tracker()
            tracker.start_track(rgb, self._dlib.drectangle(x, y, x + w - 1.0, y + h - 1.0))
        except (RuntimeError, ValueError, TypeError):
            return
        self._dl = tracker
        self._shrink = (box[2] / w, box[3] / h)


register_tracker(NAME, DlibCorrelationTracker)
