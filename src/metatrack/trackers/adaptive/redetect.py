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

Departed or hidden: a loss that starts with the last found box at the frame's border (or moved out
of it by its velocity) is a target that LEFT the view (:func:`loss_kind`): the wide search starts
after ``redetect_after`` frames. A loss that starts in the interior is a target HIDDEN by an occluder:
the family keeps its own local search (MDNet widens its candidate spread, CREST holds) and the wide
search waits ``redetect_hidden_after`` frames, so that it does not jump to a look-alike elsewhere
while the occluder is still in front of the target (the failure of the first, indiscriminate version
on the validation composites).

Constant velocity: after every found frame the search centre can move on by the damped mean
displacement of the last few found frames (:meth:`LossCounter.search_offset`), so that a fast target
(a head crossing at 13-34 px a frame) stays inside the family's window and near the middle of its
candidates or its motion prior; the history restarts after a loss.
"""

from __future__ import annotations

from collections import deque
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
    # a loss that starts in the frame's interior (the target hidden, not gone: loss_kind) searches wide
    # only after this many frames; 0: never (the family's own local search alone). Equal to
    # redetect_after: no difference between the two kinds (the first version's behaviour)
    redetect_hidden_after: int = 0
    # "at the border": the last found box, as it is or moved on by its velocity for redetect_after
    # frames, comes within this share of its own width (height) of the left or right (top or bottom)
    # edge. Ours, chosen on validation: every out-of-view loss of embedded:eval starts with the box on
    # the edge; 0.25 also named the 130 px cyclist of bikes-cyclist-behind-van, 30 px below the top, departed
    redetect_border: float = 0.1
    # a target that LEFT the view comes back through an edge: during a departed loss the wide search
    # takes only candidates within this many times their own size (the square root of the box's area)
    # of the frame's edge, and the family's own search waits where the target left instead of
    # wandering inwards; a candidate in the interior is a look-alike that stayed in view. 0: anywhere
    # (the first version)
    redetect_entry: float = 0.0
    # a lost target is still near where it was last found: the wide search takes only candidates
    # within this many times (its size + the distance it covered at its speed before the loss) of the
    # last found box's centre, and searches only windows that can hold one; a look-alike further away
    # is not the target coming out from behind an occluder. 0: anywhere (the first version)
    redetect_reach: float = 0.0
    # a hidden target walks on behind its occluder: every wide search of a hidden loss also searches a
    # window centred where the velocity it had when lost takes it (the last found centre plus that
    # velocity times the frames lost; no velocity over coast_speed_limit), where the family's own
    # window, held where the target went in, weighs it down. False: the grid alone (the first version)
    redetect_predict: bool = False
    # the search centre moves on by this share of the mean displacement of the last found frames
    # after each found frame (0: off, centred on the last box as pyMDNet and CREST do)
    velocity_damping: float = 0.0
    # found frames the velocity is the mean displacement over (consecutive found frames only)
    velocity_frames: int = 3
    # a hidden target keeps walking behind its occluder: for up to this many frames of a hidden loss the
    # search centre moves on by the velocity the target had when it was lost (0: off, it stays where the
    # target was last found)
    coast_frames: int = 0
    # coast only when the velocity is at most this share of the last found box's size (the square
    # root of its area) a frame: a walker behind a pole moves a fraction of its size a frame, a
    # larger "velocity" is more often the tracker's own jump (onto an occluder) than the target's
    # walk; 0: no limit
    coast_speed_limit: float = 0.0

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
        if self.redetect_hidden_after < 0:
            raise ConfigError(f"tracker.redetect_hidden_after: >= 0, got {self.redetect_hidden_after}")
        if not self.redetect_entry >= 0.0:
            raise ConfigError(f"tracker.redetect_entry: >= 0, got {self.redetect_entry}")
        if not self.redetect_reach >= 0.0:
            raise ConfigError(f"tracker.redetect_reach: >= 0, got {self.redetect_reach}")
        if not self.redetect_border >= 0.0:
            raise ConfigError(f"tracker.redetect_border: >= 0, got {self.redetect_border}")
        if not 0.0 <= self.velocity_damping <= 1.0:
            raise ConfigError(f"tracker.velocity_damping: in [0, 1], got {self.velocity_damping}")
        if self.velocity_frames < 1:
            raise ConfigError(f"tracker.velocity_frames: >= 1, got {self.velocity_frames}")
        if self.coast_frames < 0:
            raise ConfigError(f"tracker.coast_frames: >= 0, got {self.coast_frames}")
        if not self.coast_speed_limit >= 0.0:
            raise ConfigError(f"tracker.coast_speed_limit: >= 0, got {self.coast_speed_limit}")


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


DEPARTED, HIDDEN = "departed", "hidden"


def box_size(box: np.ndarray) -> float:
    """A box's size as the speed limit and the entry band read it: the square root of its area."""
    return float(np.sqrt(max(float(box[2]) * float(box[3]), 0.0)))


def loss_kind(box: np.ndarray, velocity: np.ndarray, image_size: tuple[int, int], border: float,
              frames: int) -> str:
    """Whether a loss whose last found box is ``box`` (x, y, w, h) is a target that left the view
    (:data:`DEPARTED`) or one hidden in the frame's interior (:data:`HIDDEN`).

    Departed: ``box``, or ``box`` moved on by ``velocity`` (px a frame) for ``frames`` frames, comes
    within ``border`` times its own width (height) of the left or right (top or bottom) edge, or crosses it.
    """
    w_img, h_img = image_size
    x, y, w, h = (float(v) for v in box)

    def near(x: float, y: float) -> bool:
        return x < border * w or x + w > w_img - border * w or y < border * h or y + h > h_img - border * h

    moved = near(x + float(velocity[0]) * frames, y + float(velocity[1]) * frames)
    return DEPARTED if near(x, y) or moved else HIDDEN


class LossCounter:
    """Counts a loss's frames and tries, says when to search and which grid windows come next, and
    keeps the found frames' centres for the velocity (:meth:`search_offset`) and the loss's kind."""

    def __init__(self, settings: RedetectSettings):
        self.settings = settings
        self.frames = 0
        self.tries = 0
        #: running score of the frames where the target was found (exponential average, rate 0.1)
        self.reference: float | None = None
        #: the last found box (x, y, w, h), and the centres of the last consecutive found frames
        self.last_box: np.ndarray | None = None
        self.centres: deque[np.ndarray] = deque(maxlen=settings.velocity_frames + 1)
        #: the current loss's kind (:func:`loss_kind`), set on its first frame; None while found
        self.kind: str | None = None
        #: a hidden loss's velocity when it began (px a frame), for :meth:`coast_centre`
        self.coast = np.zeros(2)
        #: the target's speed (px a frame) when the current loss began, for :meth:`reach`
        self.speed = 0.0
        #: what this run did, for benchmarks: losses by kind and frames searched wide
        self.losses = {DEPARTED: 0, HIDDEN: 0}
        self.searched = 0

    def found(self, score: float = float("nan"), box: np.ndarray | None = None) -> None:
        """The target was found (with ``score``, the family's own raw score, at ``box``): the loss (if
        any) is over. Without a box (a re-detection's jump) the velocity's history starts again."""
        self.frames = 0
        self.tries = 0
        self.kind = None
        if np.isfinite(score):
            self.reference = score if self.reference is None else self.reference + 0.1 * (score - self.reference)
        if box is None or not np.all(np.isfinite(box)):
            self.centres.clear()
            return
        box = np.asarray(box, dtype=np.float64)
        self.last_box = box.copy()
        self.centres.append(box[:2] + box[2:] / 2)

    def velocity(self) -> np.ndarray:
        """Mean displacement (x, y) per frame over the kept consecutive found frames; zero without two."""
        if len(self.centres) < 2:
            return np.zeros(2)
        return (self.centres[-1] - self.centres[0]) / (len(self.centres) - 1)

    def search_offset(self) -> np.ndarray:
        """How far to move the search centre for the next frame: ``velocity_damping`` x the velocity."""
        d = self.settings.velocity_damping
        return d * self.velocity() if d else np.zeros(2)

    def coast_centre(self) -> np.ndarray | None:
        """Where the next frame's search belongs during the first ``coast_frames`` frames of a hidden
        loss: the last found centre moved on by the velocity it had, one step a frame (the target walks
        on behind the occluder); None otherwise (also when it had no velocity)."""
        if self.kind != HIDDEN or self.frames > self.settings.coast_frames or not self.coast.any():
            return None
        return self.last_centre() + self.coast * (self.frames + 1)

    def _steady(self, velocity: np.ndarray) -> bool:
        """Whether ``velocity`` is slow enough against the last found box to coast on
        (``coast_speed_limit``; always without a limit or a box)."""
        limit = self.settings.coast_speed_limit
        if not limit or self.last_box is None:
            return True
        return float(np.hypot(*velocity)) <= limit * box_size(self.last_box)

    def passes(self, score: float) -> bool:
        """Whether a re-detected candidate's ``score`` reaches ``redetect_ratio`` of the running score."""
        ratio = self.settings.redetect_ratio
        return not ratio or self.reference is None or score >= ratio * self.reference

    def exit_centre(self) -> np.ndarray | None:
        """Where the family's own search waits during a departed loss (``redetect_entry``): the last
        found box's centre, where the target left; None otherwise."""
        if not self.settings.redetect_entry or self.kind != DEPARTED:
            return None
        return self.last_centre()

    def search_centre(self) -> np.ndarray | None:
        """Where the family's own search belongs on the next frame of this loss: walking on with a
        hidden target (:meth:`coast_centre`) or waiting where a departed one left (:meth:`exit_centre`);
        None to leave it where it is. The two are exclusive: a loss has one kind."""
        coast = self.coast_centre()
        return coast if coast is not None else self.exit_centre()

    def predicted_centre(self) -> np.ndarray | None:
        """Where a hidden target has walked by now at the velocity it had when lost (``redetect_predict``);
        None for a departed loss, without the setting or without a last found box."""
        if not self.settings.redetect_predict or self.kind != HIDDEN or self.last_box is None:
            return None
        return self.last_centre() + self.coast * self.frames

    def reach(self) -> float | None:
        """How far (px) from the last found centre a candidate may be on this frame of the loss
        (``redetect_reach``): that many times the last found box's size plus the distance the target
        covers in the loss's frames at the speed it had; None: anywhere."""
        if not self.settings.redetect_reach or self.last_box is None:
            return None
        return self.settings.redetect_reach * (box_size(self.last_box) + self.speed * self.frames)

    def last_centre(self) -> np.ndarray | None:
        """The last found box's centre (x, y), or None before the first."""
        return None if self.last_box is None else self.last_box[:2] + self.last_box[2:] / 2

    def _within_reach(self, points: np.ndarray, margin: float) -> np.ndarray:
        """Which ``points`` (N, 2) lie within :meth:`reach` + ``margin`` px of the last found centre (all
        of them without a reach)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        reach = self.reach()
        if reach is None:
            return np.ones(len(points), dtype=bool)
        return np.hypot(*(points - self.last_centre()).T) <= reach + margin

    def reachable(self, centres: np.ndarray, side: float) -> np.ndarray:
        """The window ``centres`` (N, 2) whose windows of ``side`` px can hold a candidate within
        :meth:`reach` (all of them without a reach)."""
        return centres[self._within_reach(centres, side / np.sqrt(2.0))]

    def admits(self, box: np.ndarray, image_size: tuple[int, int]) -> bool:
        """Whether a re-detected candidate ``box`` (x, y, w, h) may be the target: within
        :meth:`reach` of the last found centre; and during a departed loss, only within
        ``redetect_entry`` of its size of the frame's edge (always when that is 0, or for a hidden loss)."""
        box = np.asarray(box, dtype=np.float64)
        if not self._within_reach(box[:2] + box[2:] / 2, 0.0)[0]:
            return False
        entry = self.settings.redetect_entry
        if not entry or self.kind != DEPARTED:
            return True
        x, y, w, h = (float(v) for v in box)
        return min(x, y, image_size[0] - (x + w), image_size[1] - (y + h)) <= entry * box_size(box)

    def lost(self, image_size: tuple[int, int] | None = None) -> bool:
        """One more frame without the target; whether to search wider on it. The loss's first frame
        names its kind from the last found box and the velocity (without ``image_size``: departed). The
        kind stays for the whole loss: the family's boxes while lost wander (MDNet widens its spread) and
        reach the border of a frame where a large target hides in the interior."""
        s = self.settings
        self.frames += 1
        if self.frames == 1:
            velocity = self.velocity()
            if image_size is None or self.last_box is None:
                self.kind = DEPARTED
            else:
                self.kind = loss_kind(self.last_box, velocity, image_size, s.redetect_border, s.redetect_after)
            self.coast = velocity if self.kind == HIDDEN and self._steady(velocity) else np.zeros(2)
            self.speed = float(np.hypot(*velocity))
            self.centres.clear()  # the velocity restarts after a loss
            self.losses[self.kind] += 1
        after = s.redetect_after if self.kind == DEPARTED else s.redetect_hidden_after
        k = self.frames - after
        search = s.redetect_after > 0 and after > 0 and k >= 0 and k % s.redetect_interval == 0
        self.searched += search
        return search

    def next_centres(self, centres: np.ndarray) -> np.ndarray:
        """This try's ``redetect_crops`` of ``centres`` (nearest first): try ``tries`` takes the next ones,
        going round the grid (the caller counts a try, ``tries += 1``, once per searched frame)."""
        n = len(centres)
        if n == 0:
            return centres
        take = min(self.settings.redetect_crops, n)
        start = (self.tries * take) % n
        return centres[(start + np.arange(take)) % n]
