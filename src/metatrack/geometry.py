"""Box geometry: boxes are ``x, y, w, h`` floats (top-left corner, width, height).

Definitions follow the community's toolkits (got10k ``utils/metrics.py``, see docs/evaluation.md):
continuous IoU ``inter / (union + eps)`` clipped to [0, 1], and centres at ``x + (w - 1) / 2``.
Sampling around a box follows pyMDNet's ``SampleGenerator`` (gaussian, uniform, whole-image).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .errors import DataError

_EPS = np.finfo(float).eps


def as_boxes(boxes) -> np.ndarray:
    """Return ``boxes`` as a float64 array of shape (N, 4) (a single box becomes N = 1)."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) or (4,), got {arr.shape}")
    return arr


def iou(a, b) -> np.ndarray:
    """Intersection over union of boxes ``a`` and ``b`` (broadcast row by row), as got10k does.

    Returns an array of shape (N,); NaN boxes give NaN.
    """
    a, b = as_boxes(a), as_boxes(b)
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore"):
        return np.clip(inter / (union + _EPS), 0.0, 1.0)


def iou_matrix(a, b) -> np.ndarray:
    """IoU of every box of ``a`` (N) with every box of ``b`` (M): shape (N, M)."""
    a, b = as_boxes(a), as_boxes(b)
    n, m = len(a), len(b)
    return iou(np.repeat(a, m, axis=0), np.tile(b, (n, 1))).reshape(n, m)


def centers(boxes) -> np.ndarray:
    """Box centres ``x + (w - 1) / 2, y + (h - 1) / 2`` (got10k's convention), shape (N, 2)."""
    b = as_boxes(boxes)
    return np.stack([b[:, 0] + (b[:, 2] - 1) / 2, b[:, 1] + (b[:, 3] - 1) / 2], axis=1)


def resized_box(box, size) -> np.ndarray:
    """``box`` (x, y, w, h; or boxes, (N, 4)) given the width and height ``size`` (one, or (N, 2)),
    about the same centre."""
    b = np.asarray(box, dtype=np.float64)
    wh = np.broadcast_to(np.asarray(size, dtype=np.float64), b[..., 2:].shape)
    return np.concatenate([b[..., :2] + (b[..., 2:] - wh) / 2, wh], axis=-1)


def center_error(a, b) -> np.ndarray:
    """Euclidean distance between the centres of ``a`` and ``b``, shape (N,)."""
    return np.linalg.norm(centers(a) - centers(b), axis=1)


def polygon_to_box(polygon) -> np.ndarray:
    """Axis-aligned box with the same centre and area as a VOT polygon ``x1 y1 ... x4 y4``.

    The centre is the mean of the corners; the box keeps the aspect ratio of the polygon's
    bounding rectangle and is scaled so that its area equals the polygon's (shoelace) area,
    the rule used by VOT trackers that output boxes.
    """
    p = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(p) < 3:
        raise ValueError(f"a polygon needs at least 3 corners, got {len(p)}")
    with np.errstate(over="ignore", invalid="ignore"):  # absurd coordinates give NaN, checked by callers
        cx, cy = p.mean(axis=0)
        x1, y1 = p.min(axis=0)
        x2, y2 = p.max(axis=0)
        xs, ys = p[:, 0], p[:, 1]
        area = 0.5 * abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1)))
        rect = (x2 - x1) * (y2 - y1)
        s = np.sqrt(area / rect) if rect > 0 else 0.0
        w, h = s * (x2 - x1), s * (y2 - y1)
    return np.array([cx - w / 2, cy - h / 2, w, h])


def is_valid_box(box) -> bool:
    """True when ``box`` is finite with positive width and height."""
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    return b.shape == (4,) and bool(np.all(np.isfinite(b))) and b[2] > 0 and b[3] > 0


def check_first_box(box, image_size: tuple[int, int] | None = None, source: str = "box") -> np.ndarray:
    """Validate a user-given initial box; raise :class:`DataError` naming ``source`` if it is bad.

    A box must be finite, of positive size, and overlap the image when ``image_size`` (w, h) is known.
    """
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (4,):
        raise DataError(f"a box needs 4 values x,y,w,h, got {b.size}", source)
    if not np.all(np.isfinite(b)):
        raise DataError(f"the first box {b.tolist()} is not finite (NaN or inf)", source)
    if b[2] <= 0 or b[3] <= 0:
        raise DataError(f"the first box {b.tolist()} has zero or negative size", source)
    if image_size is not None:
        w, h = image_size
        if b[0] >= w or b[1] >= h or b[0] + b[2] <= 0 or b[1] + b[3] <= 0:
            raise DataError(f"the first box {b.tolist()} lies outside the {w}x{h} image", source)
    return b


def clip_box(box, image_size: tuple[int, int], min_size: float = 1.0) -> np.ndarray:
    """Clip boxes to the image ``(width, height)``, keeping at least ``min_size`` pixels a side.

    Always returns a box inside the image, even for a NaN or degenerate input (then the image
    centre), so that a tracker can always report something.
    """
    w_img, h_img = float(image_size[0]), float(image_size[1])
    b = as_boxes(box).copy()
    bad = ~np.all(np.isfinite(b), axis=1)
    b[bad] = [w_img / 4, h_img / 4, w_img / 2, h_img / 2]
    min_w, min_h = min(min_size, w_img), min(min_size, h_img)
    x1 = np.clip(b[:, 0], 0, w_img - min_w)
    y1 = np.clip(b[:, 1], 0, h_img - min_h)
    x2 = np.clip(b[:, 0] + b[:, 2], x1 + min_w, w_img)
    y2 = np.clip(b[:, 1] + b[:, 3], y1 + min_h, h_img)
    out = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    return out[0] if np.asarray(box).ndim == 1 else out


SampleKind = Literal["gaussian", "uniform", "whole"]


def _draw(
    box: np.ndarray,
    n: int,
    kind: SampleKind,
    image_size: tuple[int, int],
    trans: float,
    scale: float,
    aspect: float | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """One draw of ``n`` boxes, pyMDNet's SampleGenerator ``_gen_samples`` in centre form."""
    img = np.array(image_size, dtype=np.float64)
    cwh = np.array([box[0] + box[2] / 2, box[1] + box[3] / 2, box[2], box[3]])
    s = np.tile(cwh, (n, 1))
    if aspect is not None:
        ratio = rng.random((n, 1)) * 2 - 1
        s[:, 2:] *= aspect ** np.concatenate([ratio, -ratio], axis=1)
    if kind == "gaussian":
        s[:, :2] += trans * cwh[2:].mean() * np.clip(0.5 * rng.standard_normal((n, 2)), -1, 1)
        s[:, 2:] *= scale ** np.clip(0.5 * rng.standard_normal((n, 1)), -1, 1)
    elif kind == "uniform":
        s[:, :2] += trans * cwh[2:].mean() * (rng.random((n, 2)) * 2 - 1)
        s[:, 2:] *= scale ** (rng.random((n, 1)) * 2 - 1)
    elif kind == "whole":
        m = int(2 * np.sqrt(n)) + 1
        grid = np.dstack(np.meshgrid(np.linspace(0, 1, m), np.linspace(0, 1, m))).reshape(-1, 2)
        xy = grid[rng.permutation(len(grid))[:n]]
        s[:, :2] = cwh[2:] / 2 + xy * (img - cwh[2:] / 2 - 1)
        s[:, 2:] *= scale ** (rng.random((n, 1)) * 2 - 1)
    else:
        raise ValueError(f"unknown sampling kind {kind!r}: use gaussian, uniform or whole")
    s[:, 2:] = np.clip(s[:, 2:], np.minimum(10, img / 2), np.maximum(img - 10, 1))
    s[:, :2] = np.clip(s[:, :2], s[:, 2:] / 2, img - s[:, 2:] / 2 - 1)
    s[:, :2] -= s[:, 2:] / 2
    return s


def sample_boxes(
    box,
    n: int,
    kind: SampleKind,
    image_size: tuple[int, int],
    *,
    trans: float = 1.0,
    scale: float = 1.0,
    aspect: float | None = None,
    iou_range: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
    max_tries: int = 20,
) -> np.ndarray:
    """Sample ``n`` boxes around ``box`` as MDNet does; shape (n', 4) with n' <= n.

    ``kind``: ``gaussian`` (positives: centre offsets of ``trans`` times the mean side, clipped
    gaussian), ``uniform`` (negatives near the target) or ``whole`` (negatives over the whole image).
    ``scale`` is the base of the log-scale jitter, ``aspect`` that of the aspect-ratio jitter.
    With ``iou_range = (lo, hi)`` only boxes whose IoU with ``box`` lies in ``[lo, hi]`` are kept,
    drawing again until ``n`` are found or ``max_tries`` draws were made (then fewer are returned).
    """
    rng = rng if rng is not None else np.random.default_rng()
    b = as_boxes(box)[0]
    if not is_valid_box(b):
        raise ValueError(f"cannot sample around an invalid box {b.tolist()}")
    if iou_range is None:
        return _draw(b, n, kind, image_size, trans, scale, aspect, rng)
    lo, hi = iou_range
    kept: list[np.ndarray] = []
    found = 0
    for _ in range(max_tries):
        s = _draw(b, max(n * 2, 16), kind, image_size, trans, scale, aspect, rng)
        r = iou(s, b[None, :].repeat(len(s), 0))
        s = s[(r >= lo) & (r <= hi)]
        kept.append(s[: n - found])
        found += len(kept[-1])
        if found >= n:
            break
    return np.concatenate(kept, axis=0) if kept else np.zeros((0, 4))
