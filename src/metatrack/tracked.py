"""The per-frame answer of :func:`metatrack.track` and :func:`metatrack.track_many`.

A plain tuple, so that ``for index, box, confidence in metatrack.track(...)`` works as it always
did, that also carries whether the tracker says the target is in view (``present``) and its raw
score (``raw_confidence``), read as attributes.
"""

from __future__ import annotations

import math
from typing import Any


class Tracked(tuple):
    """``(a, b, confidence)`` with ``.present`` and ``.raw_confidence``: ``(frame_index, box, confidence)``
    from :func:`metatrack.track`, ``(target_id, box, confidence)`` in :func:`metatrack.track_many`'s lists.

    ``confidence`` is the calibrated probability that the box overlaps the target (NaN on the first
    frame and for trackers without one); ``present`` the tracker's verdict from the threshold chosen on
    the validation split (True on the first frame and for trackers without a calibration).
    """

    present: bool
    raw_confidence: float

    def __new__(cls, first: Any, box: Any, confidence: float, present: bool = True,
                raw_confidence: float = math.nan) -> Tracked:
        self = super().__new__(cls, (first, box, confidence))
        self.present = bool(present)
        self.raw_confidence = float(raw_confidence)
        return self

    @property
    def box(self) -> Any:
        return self[1]

    @property
    def confidence(self) -> float:
        return self[2]

    def __getnewargs__(self) -> tuple:
        return (*self, self.present, self.raw_confidence)


def tracker_answer(target: Any, box: Any, tracker: Any) -> Tracked:
    """A tracker's answer after ``update``, read from its ``confidence``, ``present`` and ``raw_confidence``."""
    confidence = float(getattr(tracker, "confidence", math.nan))
    return Tracked(target, box, confidence, bool(getattr(tracker, "present", True)),
                   float(getattr(tracker, "raw_confidence", confidence)))
