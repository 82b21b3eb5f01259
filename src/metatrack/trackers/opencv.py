"""OpenCV's own trackers as peers, behind the project's :class:`~metatrack.trackers.base.Tracker`.

OpenCV offers most trackers twice: the new API (``cv2.TrackerKCF_create``) takes and returns
integer boxes, the legacy API (``cv2.legacy.TrackerKCF_create``) float boxes. The legacy one is
preferred where both exist, so that sub-pixel results are not rounded away; MOSSE, MedianFlow and
TLD exist only there. OpenCV wants BGR frames, the project hands out RGB.

A peer must never bring a benchmark down: a frame on which OpenCV fails (``ok=False``), raises, or
returns nonsense gives back the last box with confidence 0, and a frame of another size restarts
the tracker there from the last box. Every returned box lies inside the image.

Some of OpenCV's trackers hang or crash the process instead of raising (OpenCV 5.0, measured):
MIL loops forever on boxes of 4x4 pixels or less, and TLD loops forever, or reads out of
bounds, when no window of its detector's scan grid overlaps the box by less than 0.2 (a box that
fills most of a small frame, a very thin box) and crawls through millions of windows for boxes of
one or two pixels. So OpenCV is never handed a box under :data:`MIN_OPENCV_SIDE` pixels a side (a
smaller one is enlarged around its centre and the answer shrunk back), and TLD is started only where
:func:`tld_can_start` finds enough negative windows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import cv2
import numpy as np

from ..errors import ConfigError, DataError
from ..geometry import check_first_box, clip_box, is_valid_box
from ..image import image_size, to_bgr
from .base import Tracker, register_tracker

#: registry name -> OpenCV's algorithm name (``cv2[.legacy].Tracker<NAME>_create``)
OPENCV_PEERS: dict[str, str] = {
    "opencv-kcf": "KCF",
    "opencv-csrt": "CSRT",
    "opencv-mosse": "MOSSE",
    "opencv-medianflow": "MedianFlow",
    "opencv-mil": "MIL",
    "opencv-tld": "TLD",
}

ApiChoice = Literal["auto", "legacy", "new"]

#: OpenCV gets boxes at least this many pixels a side (MIL hangs on 4x4 boxes, TLD crawls on 2x2)
MIN_OPENCV_SIDE = 8.0

# OpenCV's KCF learns its model in the first update() instead of in init(), so that it never looks
# for the target in the second frame and trails it by that frame's motion ever after (OpenCV 5.0,
# both APIs): such trackers are shown the first frame once more right after init().
_LEARNS_ON_FIRST_UPDATE = frozenset({"KCF"})

# MIL and TLD draw random samples from state that OpenCV keeps between trackers: two runs in one
# process differ, even after cv2.setRNGSeed (which makes MIL, not TLD, repeat in a fresh process).
_STOCHASTIC = frozenset({"MIL", "TLD"})

# TLD's constants (opencv_contrib tracking/src/tldTracker.cpp, tldDetector.cpp, tldModel.cpp)
_TLD_MIN_SIDE = 20.0  # the detector's smallest window side, in the (possibly up-scaled) frame
_TLD_SCALE_STEP = 1.2
_TLD_NEGATIVE_IOU = 0.2  # NExpertThreshold: negatives overlap the target less than this
_TLD_MAX_WINDOWS = 5_000_000  # beyond this TLD takes many seconds a frame


def tld_can_start(frame_size: tuple[int, int], box) -> bool:
    """Whether OpenCV's TLD can be initialised on a frame of ``frame_size`` (w, h) at ``box``.

    TLD's model draws 300 negative windows from its scan grid by rejection sampling, with no end
    when no window overlaps the box by less than 0.2, and indexes an empty grid when the box's
    aspect ratio makes every window too big. This rebuilds the grid as ``generateScanGrid`` does
    (frame up-scaled so that the box's short side is 20 px) and checks both cases.
    """
    x, y, w, h = (float(v) for v in box)
    cols, rows = float(frame_size[0]), float(frame_size[1])
    if not (w > 0 and h > 0 and cols > 0 and rows > 0):
        return False
    min_dim = min(w, h)
    scale = _TLD_MIN_SIDE / min_dim
    min_w, min_h = int(w * _TLD_MIN_SIDE / min_dim), int(h * _TLD_MIN_SIDE / min_dim)
    if scale > 1.0:
        cols, rows = float(round(cols * scale)), float(round(rows * scale))
        x, y, w, h = x * scale, y * scale, w * scale, h * scale
    negatives = total = 0
    first_scale = True
    ww, hh = float(min_w), float(min_h)
    while hh < cols and ww < rows:  # sic: OpenCV compares the height with the columns
        xs = np.arange(0.0, cols - ww - 1.0 + 1e-9, 0.1 * ww)
        ys = np.arange(0.0, rows - hh - 1.0 + 1e-9, 0.1 * hh)
        if first_scale and (len(xs) == 0 or len(ys) == 0):
            return False  # no window of the box's own size: no positive examples either
        total += len(xs) * len(ys)
        if total > _TLD_MAX_WINDOWS:
            return False
        ix = np.maximum(np.minimum(xs + ww, x + w) - np.maximum(xs, x), 0.0)
        iy = np.maximum(np.minimum(ys + hh, y + h) - np.maximum(ys, y), 0.0)
        inter = np.outer(iy, ix)
        overlap = inter / (ww * hh + w * h - inter)
        negatives += int(np.count_nonzero(overlap < _TLD_NEGATIVE_IOU))
        first_scale = False
        if hh <= min_h:
            hh, ww = hh / _TLD_SCALE_STEP, ww / _TLD_SCALE_STEP
            if hh < _TLD_MIN_SIDE or ww < _TLD_MIN_SIDE:
                hh, ww = min_h * _TLD_SCALE_STEP, min_w * _TLD_SCALE_STEP
        else:
            hh, ww = hh * _TLD_SCALE_STEP, ww * _TLD_SCALE_STEP
    if first_scale:
        return False
    # rejection sampling needs on average 300 * total / negatives draws: keep that small
    return negatives > 0 and total <= 1000 * negatives


def opencv_constructor(algorithm: str, api: ApiChoice = "auto") -> tuple[Callable[[], Any], bool]:
    """OpenCV's constructor for ``algorithm`` and whether it works in float boxes (legacy API).

    ``api="auto"`` takes the legacy API where this OpenCV build has it, else the new one.
    Raises :class:`ConfigError` when the build has neither (or not the one asked for).
    """
    if api not in ("auto", "legacy", "new"):
        raise ConfigError(f"api={api!r}: use 'auto', 'legacy' or 'new'")
    attr = f"Tracker{algorithm}_create"
    legacy = getattr(getattr(cv2, "legacy", None), attr, None)
    new = getattr(cv2, attr, None)
    if api in ("auto", "legacy") and legacy is not None:
        return legacy, True
    if api in ("auto", "new") and new is not None:
        return new, False
    where = {"auto": "cv2 or cv2.legacy", "legacy": "cv2.legacy", "new": "cv2"}[api]
    raise ConfigError(
        f"OpenCV {cv2.__version__} has no {attr} in {where} "
        "(the OpenCV trackers need opencv-contrib-python or opencv-contrib-python-headless)"
    )


def _enlarged(box: np.ndarray, size: tuple[int, int], min_side: float) -> np.ndarray:
    """``box`` grown around its centre to at least ``min_side`` a side, kept inside the frame."""
    x, y, w, h = box
    new_w, new_h = max(w, min(min_side, size[0])), max(h, min(min_side, size[1]))
    nx = min(max(x + w / 2 - new_w / 2, 0.0), size[0] - new_w)
    ny = min(max(y + h / 2 - new_h / 2, 0.0), size[1] - new_h)
    return np.array([nx, ny, new_w, new_h])


class OpenCVTracker(Tracker):
    """One of OpenCV's trackers (``algorithm`` = KCF, CSRT, MOSSE, MedianFlow, MIL, TLD, ...).

    ``confidence`` is OpenCV's own tracking score where the build has a meaningful one
    (``getTrackingScore`` >= 0; OpenCV 5.0's KCF, CSRT and MIL answer -1, meaning none), else 1.0
    when OpenCV reports success and 0.0 when it does not or when the last box was held.
    """

    def __init__(self, algorithm: str = "KCF", api: ApiChoice = "auto"):
        self.algorithm = algorithm
        self.stochastic = algorithm in _STOCHASTIC
        self._create, self.float_boxes = opencv_constructor(algorithm, api)
        self._cv: Any = None  # the OpenCV tracker, None until (re)started
        self._frame_size: tuple[int, int] | None = None  # size of the frame it was started on
        self._shrink = (1.0, 1.0)  # true box size / size handed to OpenCV
        self._refused: tuple | None = None  # (frame size, box) of the last start TLD could not take
        self._box = np.full(4, np.nan)  # last box reported
        self._seed: int | None = None
        self.confidence = float("nan")

    def seed(self, seed: int) -> None:
        """Seed OpenCV's global RNG before ``init`` (MIL draws from it; see ``_STOCHASTIC``)."""
        self._seed = int(seed)

    def init(self, image: np.ndarray, box) -> None:
        try:
            bgr = to_bgr(image)
        except ValueError as exc:
            raise DataError(f"first frame: {exc}") from None
        if bgr.size == 0:
            raise DataError(f"first frame is empty (shape {np.shape(image)})")
        size = image_size(bgr)
        first = check_first_box(box, size, source="first box")
        if self._seed is not None:
            cv2.setRNGSeed(self._seed)
        self._refused = None
        self._box = clip_box(first, size)
        self._start(bgr, self._box)
        self.confidence = 1.0

    def update(self, image: np.ndarray) -> np.ndarray:
        try:
            bgr = to_bgr(image)
        except ValueError:
            return self._held(None)
        if bgr.size == 0:
            return self._held(None)
        size = image_size(bgr)
        if self._cv is None or size != self._frame_size:
            # no working model (OpenCV refused earlier) or a frame of another size: start afresh here
            self._start(bgr, clip_box(self._box, size))
            return self._held(size)
        try:
            ok, raw = self._cv.update(bgr)
        except cv2.error:
            self._start(bgr, clip_box(self._box, size))
            return self._held(size)
        box = np.asarray(raw, dtype=np.float64).reshape(-1)
        if not ok or not is_valid_box(box):
            return self._held(size)
        fx, fy = self._shrink
        if fx != 1.0 or fy != 1.0:
            cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
            box = np.array([cx - box[2] * fx / 2, cy - box[3] * fy / 2, box[2] * fx, box[3] * fy])
        self._box = clip_box(box, size)
        self.confidence = self._score()
        return self._box.copy()

    def _held(self, size: tuple[int, int] | None) -> np.ndarray:
        """The last box (clipped to ``size`` when known) with zero confidence."""
        self.confidence = 0.0
        if size is not None:
            self._box = clip_box(self._box, size)
        return self._box.copy()

    def _start(self, bgr: np.ndarray, box: np.ndarray) -> None:
        """Create a fresh OpenCV tracker on ``bgr`` at ``box``; leave none if OpenCV refuses."""
        size = image_size(bgr)
        self._cv, self._frame_size = None, size
        cv_box = _enlarged(box, size, MIN_OPENCV_SIDE)
        if not self.float_boxes:
            x, y = round(cv_box[0]), round(cv_box[1])
            x2, y2 = round(cv_box[0] + cv_box[2]), round(cv_box[1] + cv_box[3])
            cv_box = np.array([x, y, max(1, x2 - x), max(1, y2 - y)], dtype=np.float64)
        if self.algorithm == "TLD":
            key = (size, tuple(cv_box.round(3)))
            if key == self._refused:  # the check is not free on big frames: do not repeat it
                return
            if not tld_can_start(size, cv_box):
                self._refused = key
                return
        cv_arg = tuple(float(v) for v in cv_box) if self.float_boxes else tuple(int(v) for v in cv_box)
        try:
            tracker = self._create()
            ok = tracker.init(bgr, cv_arg)
            if ok is not False and self.algorithm in _LEARNS_ON_FIRST_UPDATE:
                tracker.update(bgr)
        except cv2.error:
            return
        if ok is None or ok:  # the new API returns None, the legacy one a bool
            self._cv = tracker
            self._shrink = (box[2] / cv_box[2], box[3] / cv_box[3])

    def _score(self) -> float:
        get = getattr(self._cv, "getTrackingScore", None)
        if get is not None:
            try:
                score = float(get())
            except cv2.error:
                score = -1.0
            if math.isfinite(score) and score >= 0:
                return score
        return 1.0


def _register(name: str, algorithm: str) -> None:
    def factory(api: ApiChoice = "auto") -> OpenCVTracker:
        return OpenCVTracker(algorithm, api=api)

    factory.__name__ = f"opencv_{algorithm.lower()}"
    factory.__doc__ = f"OpenCV's {algorithm} tracker (cv2.legacy where available, else cv2)."
    register_tracker(name, factory)


for _name, _algorithm in OPENCV_PEERS.items():
    _register(_name, _algorithm)
