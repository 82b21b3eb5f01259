"""Through a look-alike's crossing: the correlation filter's track kept by where the target was going.

A copy of the target that passes in front of it (two people in one crowd, a second coin) takes the
response's peak with it: while the two overlap there is one peak, and once they part the copy, seen
whole, answers the filter better than the half-hidden target (seen frame by frame on the crossing
split; docs/results.md). What tells them apart then is where each is going. So, on the response map of
each found frame:

- approaching: a second local maximum, more than the target's size from the chosen peak and at most
  ``crossing_distance`` sizes, reaching ``crossing_ratio`` of it (above the map's median) on
  ``crossing_frames`` consecutive frames, first seen at least ``crossing_approach`` sizes away (a
  look-alike comes from further off; the target's own side lobes and the texture next to it show
  just beyond its edge from the start), on each frame within ``crossing_step`` sizes of where it was
  on the one before (one object moving, not the map's maximum hopping between spots of texture), and
  having moved in the frame by ``crossing_motion`` sizes since it was first seen (a look-alike walks;
  a spot of the background's texture stays where it is), is a look-alike near; the target's track is
  anchored on the chosen peak, with the velocity it has;
- merged: the second peak is gone after it was last seen within ``crossing_merge`` sizes (it went into
  the target, not away): the track is extrapolated at that velocity for up to ``crossing_hold``
  frames, and the tracker learns nothing (the buffer would get the copy's looks);
- parting: once the followed peak leaves the extrapolated track by more than half a size, the local
  maximum of the map that lies on the track (within half a size, reaching ``crossing_ratio``) is the
  target, if there is one.

Sizes are the target's extent in cells, at least two cells. Only found frames step it (a held frame
neither moves nor extrapolates the track), and a re-detection ends it. Every end of a crossing counts
the frames of a look-alike near from zero again (carried over, one frame of a side lobe restarted
it). Ours, beyond CREST and the paper.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

IDLE, APPROACHING, MERGED = "idle", "approaching", "merged"


def local_maxima(base: np.ndarray) -> np.ndarray:
    """Cells that are the maximum of their 3 x 3 neighbourhood."""
    return base >= cv2.dilate(base.astype(np.float32), np.ones((3, 3), np.uint8))


def sizes_away(shape: tuple[int, ...], cell: tuple[int, int], reach: np.ndarray) -> np.ndarray:
    """Every cell's distance from ``cell`` in target sizes: the larger of its row and column offsets
    over the target's extent ``reach`` (h, w) in cells."""
    rows, cols = np.indices(shape)
    return np.maximum(np.abs(rows - cell[0]) / reach[0], np.abs(cols - cell[1]) / reach[1])


def sizes_apart(a: np.ndarray, b: np.ndarray, size: np.ndarray) -> float:
    """How far apart two frame positions (x, y) are in target sizes ``size`` (w, h): the larger of the
    two offsets over the target's extent, as :func:`sizes_away` measures cells."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / size))


class CrossingGuard:
    """The state of one tracker's look-alike crossing (module docstring); :meth:`step` once a found frame."""

    def __init__(self, ratio: float, distance: float, frames: int, merge: float, hold: int, motion: float = 0.0,
                 approach: float = 1.0, step_limit: float = 0.0):
        self.ratio, self.distance, self.frames, self.merge, self.hold = ratio, distance, frames, merge, hold
        self.motion, self.approach, self.step_limit = motion, approach, step_limit
        self.reset()

    def reset(self) -> None:
        """No crossing under way (the start, the end of one, and after a re-detection moved the box
        elsewhere): the next one needs its own ``frames`` frames of a look-alike near."""
        self.state = IDLE
        self.seen = 0  # consecutive frames with a look-alike near
        self.first_seen = np.zeros(2)  # where it was on the first of them (frame pixels)
        self.last_seen = np.zeros(2)  # ... and on the last
        self.track = np.zeros(2)  # where the target is, anchored or extrapolated (frame pixels)
        self.velocity = np.zeros(2)
        self.gap = np.inf  # the look-alike's last distance from the target, in sizes
        self.left = 0  # frames of the merge still allowed

    @property
    def learning(self) -> bool:
        """Whether the tracker may learn from this frame (not while the two are one peak)."""
        return self.state != MERGED

    def step(self, r1: np.ndarray, chosen: tuple[int, int], cells: np.ndarray, cell_px: float,
             to_frame: Callable[[tuple[float, float]], np.ndarray], velocity: np.ndarray) -> np.ndarray | None:
        """One found frame's response ``r1`` with its ``chosen`` peak (row, col); ``cells`` the target's
        (h, w) in cells of ``cell_px`` frame pixels, ``to_frame(cell)`` a cell's (x, y) in the frame,
        ``velocity`` the target's (px a frame). Returns the frame position to move to instead of the
        chosen peak, or None."""
        reach = np.maximum(np.asarray(cells, dtype=float), 2.0)
        base = r1 - np.median(r1)
        top = float(base[chosen])
        far = sizes_away(r1.shape, chosen, reach)
        peaks = local_maxima(base)
        near = peaks & (far > 1.0) & (far <= self.distance)
        second = None
        if top > 0 and near.any():
            q = np.unravel_index(int(np.argmax(np.where(near, base, -np.inf))), r1.shape)
            second = q if base[q] >= self.ratio * top else None
        gap = float(far[second]) if second is not None else np.inf
        size = reach[::-1] * cell_px  # (w, h) in frame pixels

        if self.state == IDLE:
            if second is None:
                self.seen = 0
                return None
            here = to_frame(second)
            if self.seen and self.step_limit and sizes_apart(here, self.last_seen, size) > self.step_limit:
                self.seen = 0  # another spot: one look-alike's peak moves little from frame to frame
            if self.seen == 0:
                if gap < self.approach:  # appeared beside the target: no look-alike coming
                    return None
                self.first_seen = here
            self.seen += 1
            self.last_seen = here
            if self.seen >= self.frames and sizes_apart(here, self.first_seen, size) >= self.motion:
                self.state, self.track, self.velocity, self.gap = APPROACHING, to_frame(chosen), velocity.copy(), gap
                self.left = self.hold
            return None
        self.track = self.track + self.velocity
        if self.state == APPROACHING:
            if second is not None:
                self.track, self.gap = to_frame(chosen), gap
            else:  # gone: into the target if it was last seen close, else away
                if self.gap <= self.merge:
                    self.state = MERGED
                else:
                    self.reset()
            return None
        self.left -= 1  # merged

        def off(cell) -> float:
            return sizes_apart(to_frame(cell), self.track, size)

        if top > 0 and off(chosen) > 0.5:
            on_track = [c for c in zip(*np.nonzero(peaks & (base >= self.ratio * top)), strict=True)
                        if off(c) <= 0.5]
            if on_track:
                target = to_frame(min(on_track, key=off))
                self.reset()
                return target
        if self.left <= 0:
            self.reset()
        return None
