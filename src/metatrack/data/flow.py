"""A pseudo ground truth for real video: a box followed by dense optical flow.

Real video carries what composites lack (real deformation, lighting, camera motion), but no boxes.
Following a textured region with dense optical flow (OpenCV's DIS or Farneback) gives one: the box
moves by the median flow of the points inside it and scales by the median ratio of their pairwise
distances (MedianFlow's estimate, Kalal et al. 2010, on dense flow), and the track stops, never
guesses, once the points stop agreeing with the backward flow (forward-backward consistency), which
is what drift, occlusion and leaving the frame look like. How close such a box stays to a hand
annotation is measured on the annotated real clips by ``bench/flow_pseudo_gt.py``
(docs/data.md#a-pseudo-ground-truth-from-optical-flow).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError
from ..geometry import check_first_box

METHODS = ("dis", "farneback")


@dataclass(frozen=True)
class FlowFollowerConfig:
    """How a box is followed. Ours, chosen on the real clips of the validation role only.

    ``grid``: points per box side whose flow is read (inside ``inner`` of the box's extent, so that
    the border's background counts less); ``fb_pixels``: a point is consistent when the backward
    flow brings it back within ``fb_pixels`` plus ``fb_share`` of the box's geometric-mean side;
    ``min_consistent``: the share of consistent points below which the track stops;
    ``max_scale_step``: the largest size change accepted between two frames (beyond it: stop);
    ``margin``: flow is computed on a crop of ``margin`` times the box's size around it (speed).
    """

    method: str = "dis"
    grid: int = 15
    inner: float = 0.8
    fb_pixels: float = 1.0
    fb_share: float = 0.02
    min_consistent: float = 0.5
    max_scale_step: float = 1.15
    min_side: float = 8.0
    margin: float = 3.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"flow follower: method {self.method!r}; expected one of {', '.join(METHODS)}")
        if self.grid < 3 or not 0 < self.inner <= 1 or not 0 < self.min_consistent <= 1:
            raise ConfigError("flow follower: need grid >= 3, 0 < inner <= 1 and 0 < min_consistent <= 1")
        if self.max_scale_step <= 1 or self.margin < 1:
            raise ConfigError("flow follower: need max_scale_step > 1 and margin >= 1")


@dataclass
class FlowTrack:
    """The followed boxes (N, 4; NaN from ``stopped_at`` on) and each frame's consistent share."""

    boxes: np.ndarray
    consistent: np.ndarray
    stopped_at: int | None
    reason: str | None


def _grey(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _flow(method: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow from grey image ``a`` to ``b`` (H, W, 2)."""
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(a, b, None)
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.2, 0)


def _sample(field: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear values of a flow field at points ``pts`` (K, 2), border replicated."""
    maps = pts.astype(np.float32).reshape(-1, 1, 2)
    out = cv2.remap(field, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 2).astype(np.float64)


def _crop_rect(box: np.ndarray, margin: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    half_w, half_h = margin * w / 2 + 8, margin * h / 2 + 8
    x0, y0 = max(0, int(np.floor(cx - half_w))), max(0, int(np.floor(cy - half_h)))
    x1, y1 = min(size[0], int(np.ceil(cx + half_w))), min(size[1], int(np.ceil(cy + half_h)))
    return x0, y0, x1, y1


def step(
    prev: np.ndarray, cur: np.ndarray, box: np.ndarray, config: FlowFollowerConfig
) -> tuple[np.ndarray | None, float, str | None]:
    """Move ``box`` from grey frame ``prev`` to grey frame ``cur``.

    Returns the new box (None when the track must stop), the share of consistent points and why it
    stopped.
    """
    h_img, w_img = prev.shape[:2]
    x0, y0, x1, y1 = _crop_rect(box, config.margin, (w_img, h_img))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None, 0.0, "left the frame"
    a = np.ascontiguousarray(prev[y0:y1, x0:x1])
    b = np.ascontiguousarray(cur[y0:y1, x0:x1])
    fwd = _flow(config.method, a, b)
    bwd = _flow(config.method, b, a)
    x, y, w, h = box
    g = config.grid
    us = (np.arange(g) + 0.5) / g - 0.5
    px = x + w / 2 + config.inner * w * us
    py = y + h / 2 + config.inner * h * us
    pts = np.stack(np.meshgrid(px, py), axis=-1).reshape(-1, 2) - [x0, y0]
    inside = (pts[:, 0] >= 0) & (pts[:, 0] <= x1 - x0 - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= y1 - y0 - 1)
    if inside.mean() < config.min_consistent:
        return None, float(inside.mean()), "left the frame"
    pts = pts[inside]
    moved = pts + _sample(fwd, pts)
    back = moved + _sample(bwd, moved)
    err = np.hypot(*(back - pts).T)
    tol = config.fb_pixels + config.fb_share * float(np.sqrt(w * h))
    ok = err < tol
    share = float(ok.sum()) / (g * g)
    if share < config.min_consistent:
        return None, share, "forward-backward inconsistent"
    p, q = pts[ok], moved[ok]
    shift = np.median(q - p, axis=0)
    # scale: median ratio of pairwise distances (a fixed subset of pairs, deterministic)
    n = len(p)
    i, j = np.triu_indices(n, k=1)
    if len(i) > 2000:
        keep = np.linspace(0, len(i) - 1, 2000).astype(int)
        i, j = i[keep], j[keep]
    d0 = np.hypot(*(p[i] - p[j]).T)
    d1 = np.hypot(*(q[i] - q[j]).T)
    valid = d0 > 1e-6
    scale = float(np.median(d1[valid] / d0[valid])) if valid.any() else 1.0
    if not 1 / config.max_scale_step <= scale <= config.max_scale_step:
        return None, share, "implausible scale change"
    cx, cy = x + w / 2 + shift[0], y + h / 2 + shift[1]
    nw, nh = w * scale, h * scale
    if min(nw, nh) < config.min_side:
        return None, share, "too small"
    if cx < 0 or cy < 0 or cx > w_img or cy > h_img:
        return None, share, "left the frame"
    return np.array([cx - nw / 2, cy - nh / 2, nw, nh]), share, None


def follow(
    frames: Iterable[np.ndarray], box, config: FlowFollowerConfig | None = None, max_frames: int | None = None
) -> FlowTrack:
    """Follow ``box`` (``x, y, w, h`` on the first frame) through ``frames`` (HxWx3 RGB or grey).

    Frames after the stop are not read further than needed: the boxes there are NaN.
    """
    config = config or FlowFollowerConfig()
    boxes: list[np.ndarray] = []
    consistent: list[float] = []
    prev = None
    current = None
    stopped_at: int | None = None
    reason: str | None = None
    for t, frame in enumerate(frames):
        if max_frames is not None and t >= max_frames:
            break
        grey = _grey(np.asarray(frame))
        if t == 0:
            current = check_first_box(box, (grey.shape[1], grey.shape[0]))
            boxes.append(current.astype(np.float64))
            consistent.append(1.0)
            prev = grey
            continue
        if stopped_at is not None:
            break
        new, share, why = step(prev, grey, current, config)
        consistent.append(share)
        if new is None:
            stopped_at, reason = t, why
            boxes.append(np.full(4, np.nan))
            break
        boxes.append(new)
        current, prev = new, grey
    if not boxes:
        raise ConfigError("flow follower: no frame to follow")
    return FlowTrack(np.asarray(boxes), np.asarray(consistent), stopped_at, reason)
