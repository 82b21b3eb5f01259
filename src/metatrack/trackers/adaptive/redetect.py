"""Re-detection after a loss: one mechanism for every adaptive family (MetaSDNet, MetaCREST, their baselines).

Why: on the validation composites the target leaves the frame (or hides) and comes back elsewhere, at
another size; a tracker that searches only a crop around its last box (MDNet's candidates, CREST's
window) never finds it again (docs/results.md, "Where the meta-trackers fail on real footage").

How: a family says per frame whether it found the target (:attr:`AdaptiveTracker.target_found`: its own
success test, MDNet's score > 0, CREST's peak against its running peak). After ``redetect_after`` frames
without it, every ``redetect_interval`` frames the template searches ``redetect_crops`` more windows of
the family's own kind (same crop size, same head) at each scale of ``redetect_scales``: windows on a
grid over the whole frame (``redetect_stride`` x the window's side apart), the nearest to the last
position first and the next ones on the next try, so that a long loss sweeps the frame. The best
candidate over them is taken only if it passes the family's own success test; else the family keeps
what it did. The windows go through the backbone in one batched call, on lost frames only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError


@dataclass
class RedetectSettings:
    """The re-detection settings a family's config dataclass inherits (all ours, none in the paper;
    docs/results.md says where the defaults were chosen)."""

    # frames without the target before the wider search starts; 0 turns re-detection off
    redetect_after: int = 0
    # while lost: search on every this many-th frame (the search costs redetect_crops x scales backbone passes)
    redetect_interval: int = 1
    # windows searched per try (the nearest grid windows not yet searched in this loss)
    redetect_crops: int = 9
    # grid spacing of the windows, as a fraction of the window's side (0.5: every point of the frame
    # lies in the central half of some window)
    redetect_stride: float = 0.5
    # target sizes tried, as factors of the current size (a target that comes back larger or smaller)
    redetect_scales: tuple[float, ...] = (1.0,)
    # a re-detected candidate must also score at least this share of the running score of the frames
    # where the target was found (0: the family's success test alone); a search over the whole frame
    # meets far more look-alikes than the tracker's own window does
    redetect_ratio: float = 0.0

    def validate_redetect(self) -> None:
        """Raise :class:`ConfigError` naming the first re-detection setting out of range."""
        if self.redetect_after < 0 or self.redetect_interval < 1 or self.redetect_crops < 1:
            raise ConfigError("tracker: redetect_after must be >= 0, redetect_interval and redetect_crops >= 1")
        if not 0.0 < self.redetect_stride <= 1.0:
            raise ConfigError(f"tracker.redetect_stride: in (0, 1], got {self.redetect_stride}")
        if not 0.0 <= self.redetect_ratio <= 1.0:
            raise ConfigError(f"tracker.redetect_ratio: in [0, 1], got {self.redetect_ratio}")
        if not self.redetect_scales or any(not s > 0 for s in self.redetect_scales):
            raise ConfigError(f"tracker.redetect_scales: positive factors, got {self.redetect_scales}")


def grid_centres(centre: np.ndarray, side: float, image_size: tuple[int, int], stride: float) -> np.ndarray:
    """Centres of windows of ``side`` pixels covering the frame on a grid ``stride * side`` apart,
    anchored at ``centre`` (the last position), nearest first: (N, 2) as x, y.

    The window at ``centre`` itself is left out: the family has just searched it.
    """
    w, h = image_size
    step = max(stride * side, 1.0)
    cx, cy = float(centre[0]), float(centre[1])
    xs = cx + step * np.arange(-np.ceil(cx / step), np.ceil((w - cx) / step) + 1)
    ys = cy + step * np.arange(-np.ceil(cy / step), np.ceil((h - cy) / step) + 1)
    # keep the windows whose centre lies within half a step of the frame
    xs = xs[(xs >= -step / 2) & (xs <= w + step / 2)]
    ys = ys[(ys >= -step / 2) & (ys <= h + step / 2)]
    gx, gy = np.meshgrid(xs, ys)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    d = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy)
    order = np.argsort(d, kind="stable")
    pts, d = pts[order], d[order]
    return pts[d > 1e-6]


class LossCounter:
    """Counts a loss's frames and tries, and says when to search and which grid windows come next."""

    def __init__(self, settings: RedetectSettings):
        self.settings = settings
        self.frames = 0
        self.tries = 0
        #: running score of the frames where the target was found (exponential average, rate 0.1)
        self.reference: float | None = None

    def found(self, score: float = float("nan")) -> None:
        """The target was found (with ``score``): the loss (if any) is over."""
        self.frames = 0
        self.tries = 0
        if np.isfinite(score):
            self.reference = score if self.reference is None else self.reference + 0.1 * (score - self.reference)

    def passes(self, score: float) -> bool:
        """Whether a re-detected candidate's ``score`` reaches ``redetect_ratio`` of the running score."""
        ratio = self.settings.redetect_ratio
        return not ratio or self.reference is None or score >= ratio * self.reference

    def lost(self) -> bool:
        """One more frame without the target; whether to search wider on it."""
        s = self.settings
        self.frames += 1
        k = self.frames - s.redetect_after
        return s.redetect_after > 0 and k >= 0 and k % s.redetect_interval == 0

    def next_centres(self, centres: np.ndarray) -> np.ndarray:
        """This try's ``redetect_crops`` of ``centres`` (nearest first): try ``tries`` takes the next ones,
        going round the grid (the caller counts a try, ``tries += 1``, once per searched frame)."""
        n = len(centres)
        if n == 0:
            return centres
        take = min(self.settings.redetect_crops, n)
        start = (self.tries * take) % n
        return centres[(start + np.arange(take)) % n]
