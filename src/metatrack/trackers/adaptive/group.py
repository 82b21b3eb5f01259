"""Several targets in one video: targets whose crops overlap share one crop and one backbone pass;
the others can share one batched backbone call.

Each target keeps its own tracker: its own head, online state, random generator and search window.
Only the frozen backbone's work is pooled, in two ways:

- **Shared crop** (``merge``). On a CPU the backbone's cost is proportional to the pixels it reads,
  so batching cannot save there; reading fewer pixels can. Per frame every tracker names the square
  of the frame its crop covers (:meth:`AdaptiveTracker.crop_square`). Targets of the same
  :meth:`AdaptiveTracker.feature_key` whose squares overlap (:attr:`SharedCropConfig.min_overlap`)
  and whose crop scales agree (:attr:`SharedCropConfig.scale_tolerance`) are merged, pair by pair
  while a merge reads fewer pixels than its parts. A merged set is cut once, as one rectangle
  covering every member's square at the geometric mean of their scales (each member's scale is then
  off by at most the square root of the tolerance, half what the largest target's or the smallest's
  scale would cost the others; the mean's cost in pixels is in between), and goes through the
  backbone once; each member then reads its own window out of that map (:meth:`_from_shared`:
  MetaSDNet pools its candidates by RoIAlign, MetaCREST samples its correlation window bilinearly,
  before its own normalisation). A member's scale and the pixels at its window's border change, so
  its boxes can differ from a single run's; where the merge changes nothing (all members' squares
  equal) they are the same to the bit. The ONNX runtime's graph ends in the family's whole-map
  normalisation (MetaCREST), so trackers on ``runtime='onnx'`` are never merged.
- **Batching** (``batch``). The crops of the other trackers with the same key go through the backbone
  in one batched call; boxes are those of each tracker alone, up to the rounding of a batched
  convolution. Batching pays where a call costs more than its arithmetic (a GPU); on this project's
  CPU it does not (a tie to 15-20 % slower, ``bench/multi_target.py``).

- **Heads together** (``heads``). After the backbone, the trackers of one
  :meth:`AdaptiveTracker.head_batch_key` run the rest of the frame through their family's
  :meth:`AdaptiveTracker._finish_many`: MetaSDNet's and SDNet-N's pool every target's candidates in
  one RoIAlign call, score them with each target's own head in one batched product and run the
  online updates due on the same frame as one optimisation (``sdnet/batched.py``); each target's
  boxes, state and random draws are its own, to the bit on this CPU. A family without the hook
  (MetaCREST, the peers) runs as alone.

Defaults (``None``): merge as :data:`SHARED_CROP` and each family's ``shared_crop_on_cpu`` say for
the device (on a CPU: MetaSDNet's and MetaCREST's families), batch on an accelerator only, heads
together everywhere (on this CPU the same boxes, faster: docs/results.md#several-targets-shared-crops;
unmeasured on a GPU). Trackers that cannot share (the peers, a family that overrides ``_track``
whole) run as alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from ...image import as_rgb
from ..base import Tracker
from .tracker import AdaptiveTracker, CropRequest, CropSquare, SharedCrop


@dataclass(frozen=True)
class SharedCropConfig:
    """When targets share one crop. All values are ours (the paper tracks one target), checked on
    validation data (``bench/multi_target.py --accuracy``: ``embedded:eval`` and ``real:validation``;
    docs/results.md#several-targets-shared-crops): the thresholds are the only ones tried, the
    per-family CPU default was chosen there."""

    #: least overlap of two squares (their intersection over the smaller one's area) to merge them
    min_overlap: float = 0.5
    #: largest over smallest crop scale of a merged set at most ``1 + scale_tolerance``
    scale_tolerance: float = 0.25
    #: merge by default (``merge=None``) on a CPU, where a backbone's cost is its pixels: the
    #: families whose ``shared_crop_on_cpu`` says so (MetaSDNet's and MetaCREST's: a tie in
    #: accuracy on validation, faster); on an accelerator: none (not measured)
    on_cpu: bool = True
    on_accelerator: bool = False


#: the defaults of every :class:`TrackerGroup`
SHARED_CROP = SharedCropConfig()


def _static_head_key(tracker: AdaptiveTracker) -> Hashable | None:
    """Whether a tracker not started yet will have a head key: its family defines the hook."""
    has_hook = type(tracker).head_batch_key is not AdaptiveTracker.head_batch_key
    return (type(tracker)._finish_many.__func__, str(getattr(tracker, "device", ""))) if has_hook else None


def _extent(squares: Sequence[CropSquare]) -> tuple[float, float, float, float]:
    return (min(q.x0 for q in squares), min(q.y0 for q in squares),
            max(q.x0 + q.side for q in squares), max(q.y0 + q.side for q in squares))


def shared_crop(squares: Sequence[CropSquare]) -> SharedCrop:
    """The one crop covering every square: the squares' own crop where they are all the same, else
    their bounding rectangle at the geometric mean of their scales."""
    first = squares[0]
    if all(q == first for q in squares):
        return SharedCrop.of_square(first)
    scale = math.exp(sum(math.log(q.scale) for q in squares) / len(squares))
    x0, y0, x1, y1 = _extent(squares)
    width = max(1, math.ceil((x1 - x0) * scale - 1e-6))
    height = max(1, math.ceil((y1 - y0) * scale - 1e-6))
    side_w, side_h = width / scale, height / scale
    return SharedCrop(x0, y0, x0 + side_w / 2, y0 + side_h / 2, side_w, side_h, width, height)


def _pixels(squares: Sequence[CropSquare]) -> float:
    crop = shared_crop(squares)
    return float(crop.width * crop.height)


def _overlap(a: Sequence[CropSquare], b: Sequence[CropSquare]) -> float:
    """Intersection of the two sets' extents over the smaller extent's area."""
    ax0, ay0, ax1, ay1 = _extent(a)
    bx0, by0, bx1, by1 = _extent(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return inter / smaller if smaller > 0 else 0.0


def merge_squares(squares: Sequence[CropSquare], config: SharedCropConfig = SHARED_CROP) -> list[list[int]]:
    """Which squares share a crop: index lists (one per crop, singletons included), in order.

    Greedy: the pair of sets whose merge saves the most pixels is merged first, as long as the two
    overlap by ``min_overlap``, the merged scales agree within ``scale_tolerance`` and the merged
    crop has fewer pixels than the two crops it replaces.
    """
    sets = [[k] for k in range(len(squares))]
    known: dict[tuple[int, ...], float] = {}

    def pixels(members: list[int]) -> float:  # each union's pixels once, however many rounds ask
        key = tuple(sorted(members))
        if key not in known:
            known[key] = _pixels([squares[k] for k in key])
        return known[key]

    while True:
        best, pair = 0.0, None
        for i in range(len(sets)):
            for j in range(i + 1, len(sets)):
                a, b = [squares[k] for k in sets[i]], [squares[k] for k in sets[j]]
                scales = [q.scale for q in a + b]
                if max(scales) > (1.0 + config.scale_tolerance) * min(scales):
                    continue
                if _overlap(a, b) < config.min_overlap:
                    continue
                saved = pixels(sets[i]) + pixels(sets[j]) - pixels(sets[i] + sets[j])
                if saved > best:
                    best, pair = saved, (i, j)
        if pair is None:
            return sorted((sorted(s) for s in sets), key=lambda s: s[0])
        i, j = pair
        sets[i] = sets[i] + sets[j]
        del sets[j]


class TrackerGroup:
    """The trackers of several targets, stepped together so that they share crops and backbone passes.

    ``profile`` adds up the seconds of the shared parts (``crop``: every crop cut, ``features``: the
    shared and batched backbone calls and the windows read out of shared maps) and counts
    ``frames``, ``batches`` (batched calls), ``shared`` (shared-crop passes), ``merged`` (targets
    served by them), ``together`` (calls of a family's :meth:`AdaptiveTracker._finish_many`) and
    ``heads`` (targets served by them); each tracker's own ``profile`` holds its ``finish`` (head,
    localisation, update) and ``update`` (online learning) seconds.
    """

    def __init__(self, trackers: Sequence[Tracker], batch: bool | None = None, merge: bool | None = None,
                 config: SharedCropConfig = SHARED_CROP, heads: bool | None = None):
        self.trackers = list(trackers)
        devices = {getattr(t, "device", None) for t in self.trackers if isinstance(t, AdaptiveTracker)}
        accelerated = any(d is not None and d.type != "cpu" for d in devices)
        if batch is None:
            batch = accelerated
        #: whether crops are batched (else every tracker not merged updates on its own, as if alone)
        self.batch = bool(batch)
        #: the trackers whose targets may share a crop when theirs overlap: all (``merge=True``),
        #: none (False), or by default those of the families that share on this device
        self.mergeable = [t for t in self.trackers if isinstance(t, AdaptiveTracker) and (
            merge or (merge is None and (config.on_accelerator if accelerated
                                         else config.on_cpu and t.shared_crop_on_cpu)))]
        #: whether any targets may share one crop
        self.merge = len(self.mergeable) > 1
        self.config = config
        #: the trackers that run the work after the backbone together, by :meth:`AdaptiveTracker.head_batch_key`
        #: (``heads=False``: none; each key's trackers once they have started, two or more)
        self.heads = bool(heads is None or heads)
        self.profile: dict[str, float] = {"crop": 0.0, "features": 0.0, "frames": 0, "batches": 0, "shared": 0,
                                          "merged": 0, "together": 0, "heads": 0}
        #: the last frame's shared crops: each one's members as indices into ``trackers``
        self.last_sets: list[list[int]] = []

    @property
    def active(self) -> bool:
        """Whether the group does anything that the trackers alone would not."""
        return self.batch or self.merge or (self.heads and any(len(m) > 1 for m in self._head_sets(started=False)))

    def _head_sets(self, started: bool = True) -> list[list[int]]:
        """Indices of the trackers of each :meth:`AdaptiveTracker.head_batch_key` (only those that have
        started, unless ``started`` is False)."""
        sets: dict[Hashable, list[int]] = {}
        for k, tracker in enumerate(self.trackers):
            if not isinstance(tracker, AdaptiveTracker) or (started and tracker.first_frame is None):
                continue
            key = tracker.head_batch_key() if tracker.first_frame is not None else _static_head_key(tracker)
            if key is not None:
                sets.setdefault(key, []).append(k)
        return list(sets.values())

    def init(self, image: np.ndarray, boxes: Sequence[np.ndarray]) -> None:
        """Every tracker's first frame (one target each, in order)."""
        for tracker, box in zip(self.trackers, boxes, strict=True):
            tracker.init(image, box)

    def update(self, image: np.ndarray) -> list[np.ndarray]:
        """Every tracker's box on the next frame, in order."""
        if not self.active:
            return [tracker.update(image) for tracker in self.trackers]
        image = as_rgb(image)
        self.last_sets = []
        alike: dict[Hashable, list[AdaptiveTracker]] = {}
        for tracker in self.trackers:
            if isinstance(tracker, AdaptiveTracker) and tracker.shares_features and tracker.first_frame is not None:
                alike.setdefault(tracker.feature_key(), []).append(tracker)
        for group in alike.values():
            if len(group) < 2:
                continue  # a tracker alone with its key is left to its own update, exactly as a single target
            rest = self._merge(image, group) if self.merge else group
            if self.batch and len(rest) > 1:
                self._batch(image, rest)
        self.profile["frames"] += 1
        boxes: list[np.ndarray | None] = [None] * len(self.trackers)
        if self.heads:
            for members in self._head_sets():
                if len(members) < 2:
                    continue
                together = [self.trackers[k] for k in members]
                found = type(together[0]).update_together(image, together)
                for k, box in zip(members, found, strict=True):
                    boxes[k] = box
                self.profile["together"] += 1
                self.profile["heads"] += len(members)
        return [box if box is not None else tracker.update(image)
                for tracker, box in zip(self.trackers, boxes, strict=True)]

    def _merge(self, image: np.ndarray, group: list[AdaptiveTracker]) -> list[AdaptiveTracker]:
        """Share a crop among the trackers whose squares merge; return the others."""
        start = time.perf_counter()
        able = [t for t in group if t.runtime is None and t in self.mergeable]
        squares = [t.crop_square(image) for t in able]
        able = [t for t, q in zip(able, squares, strict=True) if q is not None]
        squares = [q for q in squares if q is not None]
        sets = [s for s in merge_squares(squares, self.config) if len(s) > 1]
        merged: list[AdaptiveTracker] = []
        for members in sets:
            crop = shared_crop([squares[k] for k in members])
            first = able[members[0]]
            pixels = first.cut_shared(image, crop)
            cropped = time.perf_counter()
            self.profile["crop"] += cropped - start
            fmap = first.shared_features([pixels])
            for k in members:
                able[k]._prefetch(*able[k]._from_shared(image, crop, fmap))
                merged.append(able[k])
            self.last_sets.append(sorted(self.trackers.index(able[k]) for k in members))
            start = time.perf_counter()
            self.profile["features"] += start - cropped
            self.profile["shared"] += 1
            self.profile["merged"] += len(members)
        self.profile["crop"] += time.perf_counter() - start
        return [t for t in group if t not in merged]

    def _batch(self, image: np.ndarray, members: list[AdaptiveTracker]) -> None:
        """One batched backbone call for the crops of ``members`` (same feature key)."""
        start = time.perf_counter()
        requests: list[tuple[AdaptiveTracker, CropRequest]] = [(t, t._crop_request(image)) for t in members]
        cropped = time.perf_counter()
        features = members[0].crop_features([request.crop for _, request in requests])
        for k, (tracker, request) in enumerate(requests):
            tracker._prefetch(request, features[k:k + 1])
        self.profile["batches"] += 1
        self.profile["crop"] += cropped - start
        self.profile["features"] += time.perf_counter() - cropped
