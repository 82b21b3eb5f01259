"""Another library's tracker behind metatrack's protocol: the harness every peer shares.

A peer (OpenCV's trackers, dlib's) must never bring a benchmark down, whatever the library does:
a frame it cannot convert, a failure, an exception or a nonsense answer gives back the last box with
confidence 0; a frame of another size restarts the library's tracker there from the last box;
boxes under a peer's smallest side are enlarged around their centre for the library and its answer
shrunk back; every returned box lies inside the image. A peer supplies the library-specific parts:
how frames are converted, how its tracker starts, and one step of it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import DataError
from ..geometry import check_first_box, clip_box, is_valid_box
from ..image import image_size
from .base import Tracker


def enlarged(box: np.ndarray, size: tuple[int, int], min_side: float) -> np.ndarray:
    """``box`` grown around its centre to at least ``min_side`` a side, kept inside the frame."""
    x, y, w, h = box
    new_w, new_h = max(w, min(min_side, size[0])), max(h, min(min_side, size[1]))
    nx = min(max(x + w / 2 - new_w / 2, 0.0), size[0] - new_w)
    ny = min(max(y + h / 2 - new_h / 2, 0.0), size[1] - new_h)
    return np.array([nx, ny, new_w, new_h])


class PeerTracker(Tracker):
    """Base of the peers: the harness above; subclasses implement ``_convert``, ``_new`` and ``_step``."""

    #: the library gets boxes at least this many pixels a side
    min_side: ClassVar[float] = 1.0

    def __init__(self) -> None:
        self._native: Any = None  # the library's tracker, None until (re)started
        self._frame_size: tuple[int, int] | None = None  # size of the frame it was started on
        self._shrink = (1.0, 1.0)  # true box size / size handed to the library
        self._box = np.full(4, np.nan)  # last box reported
        self.confidence = float("nan")

    # ------------------------------------------------------------------ a peer's parts
    def _convert(self, image: np.ndarray) -> np.ndarray:
        """The frame as the library wants it; ValueError when it cannot be converted."""
        raise NotImplementedError

    def _new(self, frame: np.ndarray, box: np.ndarray) -> tuple[Any, np.ndarray]:
        """(the library's tracker started at ``box``, or None if it refuses; the box it was handed)."""
        raise NotImplementedError

    def _step(self, frame: np.ndarray) -> tuple[np.ndarray | None, float]:
        """One frame: (the library's raw box, or None on a failure; the confidence)."""
        raise NotImplementedError

    def _before_init(self) -> None:
        """Anything to do before the first frame (e.g. seeding the library)."""

    # ------------------------------------------------------------------ the protocol
    def init(self, image: np.ndarray, box) -> None:
        try:
            frame = self._convert(image)
        except ValueError as exc:
            raise DataError(f"first frame: {exc}") from None
        if frame.size == 0:
            raise DataError(f"first frame is empty (shape {np.shape(image)})")
        size = image_size(frame)
        first = check_first_box(box, size, source="first box")
        self._before_init()
        self._box = clip_box(first, size)
        self._start(frame, self._box)
        self.confidence = self._started_confidence()

    def update(self, image: np.ndarray) -> np.ndarray:
        try:
            frame = self._convert(image)
        except ValueError:
            return self._held(None)
        if frame.size == 0:
            return self._held(None)
        size = image_size(frame)
        if self._native is None or size != self._frame_size:
            # no working tracker (a failure earlier) or a frame of another size: start afresh here
            self._start(frame, clip_box(self._box, size))
            return self._held(size)
        raw, confidence = self._step(frame)
        if raw is None or not is_valid_box(raw):
            return self._held(size)
        fx, fy = self._shrink
        if fx != 1.0 or fy != 1.0:
            cx, cy = raw[0] + raw[2] / 2, raw[1] + raw[3] / 2
            raw = np.array([cx - raw[2] * fx / 2, cy - raw[3] * fy / 2, raw[2] * fx, raw[3] * fy])
        self._box = clip_box(raw, size)
        self.confidence = confidence
        return self._box.copy()

    # ------------------------------------------------------------------ helpers
    def _started_confidence(self) -> float:
        """The confidence after ``init``: 1 when the library's tracker started, else 0."""
        return 1.0 if self._native is not None else 0.0

    def _held(self, size: tuple[int, int] | None) -> np.ndarray:
        """The last box (clipped to ``size`` when known) with zero confidence."""
        self.confidence = 0.0
        if size is not None:
            self._box = clip_box(self._box, size)
        return self._box.copy()

    def _start(self, frame: np.ndarray, box: np.ndarray) -> None:
        """Start a fresh library tracker on ``frame`` at ``box``; leave none if the library refuses."""
        size = image_size(frame)
        self._native, self._frame_size = None, size
        native, handed = self._new(frame, enlarged(box, size, self.min_side))
        if native is not None:
            self._native = native
            self._shrink = (box[2] / handed[2], box[3] / handed[3])
