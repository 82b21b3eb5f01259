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

from ..errors import ConfigError
from ..geometry import clip_box
from ..image import image_size, to_bgr
from .base import register_tracker
from .peer import PeerTracker

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


class OpenCVTracker(PeerTracker):
    """One of OpenCV's trackers (``algorithm`` = KCF, CSRT, MOSSE, MedianFlow, MIL, TLD, ...).

    ``confidence`` is OpenCV's own tracking score where the build has a meaningful one
    (``getTrackingScore`` >= 0; OpenCV 5.0's KCF, CSRT and MIL answer -1, meaning none), else 1.0
    when OpenCV reports success and 0.0 when it does not or when the last box was held.
    """

    min_side = MIN_OPENCV_SIDE

    def __init__(self, algorithm: str = "KCF", api: ApiChoice = "auto"):
        super().__init__()
        self.algorithm = algorithm
        self.stochastic = algorithm in _STOCHASTIC
        self._create, self.float_boxes = opencv_constructor(algorithm, api)
        self._refused: tuple | None = None  # (frame size, box) of the last start TLD could not take
        self._seed: int | None = None

    def seed(self, seed: int) -> None:
        """Seed OpenCV's global RNG before ``init`` (MIL draws from it; see ``_STOCHASTIC``)."""
        self._seed = int(seed)

    def _convert(self, image: np.ndarray) -> np.ndarray:
        return to_bgr(image)  # OpenCV wants BGR

    def _before_init(self) -> None:
        if self._seed is not None:
            cv2.setRNGSeed(self._seed)
        self._refused = None

    def _started_confidence(self) -> float:
        return 1.0

    def _step(self, frame: np.ndarray) -> tuple[np.ndarray | None, float]:
        try:
            ok, raw = self._native.update(frame)
        except cv2.error:  # start afresh on this frame from the last box
            self._start(frame, clip_box(self._box, image_size(frame)))
            return None, 0.0
        box = np.asarray(raw, dtype=np.float64).reshape(-1)
        return (box if ok else None), self._score()

    def _new(self, frame: np.ndarray, box: np.ndarray) -> tuple[Any, np.ndarray]:
        size = image_size(frame)
        cv_box = box
        if not self.float_boxes:
            x, y = round(cv_box[0]), round(cv_box[1])
            x2, y2 = round(cv_box[0] + cv_box[2]), round(cv_box[1] + cv_box[3])
            cv_box = np.array([x, y, max(1, x2 - x), max(1, y2 - y)], dtype=np.float64)
        if self.algorithm == "TLD":
            key = (size, tuple(cv_box.round(3)))
            if key == self._refused:  # the check is not free on big frames: do not repeat it
                return None, cv_box
            if not tld_can_start(size, cv_box):
                self._refused = key
                return None, cv_box
        cv_arg = tuple(float(v) for v in cv_box) if self.float_boxes else tuple(int(v) for v in cv_box)
        try:
            tracker = self._create()
            ok = tracker.init(frame, cv_arg)
            if ok is not False and self.algorithm in _LEARNS_ON_FIRST_UPDATE:
                tracker.update(frame)
        except cv2.error:
            return None, cv_box
        return (tracker if ok is None or ok else None), cv_box  # the new API returns None, the legacy a bool

    def _score(self) -> float:
        get = getattr(self._native, "getTrackingScore", None)
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
