"""Several targets in one video: one batched backbone call per frame for the trackers that can share it.

Each target keeps its own tracker: its own crop, head, online state and random generator. Only the
frozen backbone's work is pooled. Per frame every tracker names the crop it needs
(:meth:`AdaptiveTracker._crop_request`, which changes nothing); the crops of trackers with the same
:meth:`AdaptiveTracker.feature_key` (same backbone, crop size, device and runtime) go through the
backbone in one batched call; then each tracker's own ``update`` finishes its frame with its crop's
features (:meth:`AdaptiveTracker._prefetch`). A target's boxes are therefore those of its tracker run
alone, up to the rounding of a batched convolution. Trackers that cannot share (the peers, a family
that overrides ``_track`` whole) and a key with one tracker run exactly as they would alone.

Batching pays where a call costs more than its arithmetic (a GPU). On this project's CPU it does
not: batched frames were a tie to 20 % slower, in torch and onnxruntime alike (larger activations
leave the cache; ``bench/multi_target.py``, docs/tracking.md), so by default
(``batch=None``) a group batches on an accelerator and leaves CPU trackers to update one by one.
Crops are not merged where targets overlap: a merged crop would change each target's crop scale
and so its boxes; batching keeps them.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence

import numpy as np

from ...image import as_rgb
from ..base import Tracker
from .tracker import AdaptiveTracker, CropRequest


class TrackerGroup:
    """The trackers of several targets, stepped together so that their backbone passes are batched.

    ``profile`` adds up the seconds of the shared parts (``crop``: every crop cut, ``features``: the
    batched backbone calls) and counts ``frames`` and ``batches``; each tracker's own ``profile``
    holds its ``finish`` (head, localisation, update) and ``update`` (online learning) seconds.
    """

    def __init__(self, trackers: Sequence[Tracker], batch: bool | None = None):
        self.trackers = list(trackers)
        if batch is None:
            devices = {getattr(t, "device", None) for t in self.trackers if isinstance(t, AdaptiveTracker)}
            batch = any(d is not None and d.type != "cpu" for d in devices)
        #: whether crops are batched (else every tracker updates on its own, as if alone)
        self.batch = bool(batch)
        self.profile: dict[str, float] = {"crop": 0.0, "features": 0.0, "frames": 0, "batches": 0}

    def init(self, image: np.ndarray, boxes: Sequence[np.ndarray]) -> None:
        """Every tracker's first frame (one target each, in order)."""
        for tracker, box in zip(self.trackers, boxes, strict=True):
            tracker.init(image, box)

    def update(self, image: np.ndarray) -> list[np.ndarray]:
        """Every tracker's box on the next frame, in order."""
        if not self.batch:
            return [tracker.update(image) for tracker in self.trackers]
        image = as_rgb(image)
        start = time.perf_counter()
        alike: dict[Hashable, list[AdaptiveTracker]] = {}
        for tracker in self.trackers:
            if isinstance(tracker, AdaptiveTracker) and tracker.shares_features and tracker.first_frame is not None:
                alike.setdefault(tracker.feature_key(), []).append(tracker)
        # a tracker alone with its key is left to its own update, exactly as a single target
        shared: list[list[tuple[AdaptiveTracker, CropRequest]]] = [
            [(tracker, tracker._crop_request(image)) for tracker in group]
            for group in alike.values() if len(group) > 1]
        cropped = time.perf_counter()
        for members in shared:
            features = members[0][0].crop_features([request.crop for _, request in members])
            for k, (tracker, request) in enumerate(members):
                tracker._prefetch(request, features[k:k + 1])
            self.profile["batches"] += 1
        self.profile["crop"] += cropped - start
        self.profile["features"] += time.perf_counter() - cropped
        self.profile["frames"] += 1
        return [tracker.update(image) for tracker in self.trackers]
