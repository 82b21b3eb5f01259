"""Which boxes are drawn where: pyMDNet's sampling rules, written once for tracking and meta-training.

Every rule calls :func:`metatrack.geometry.sample_boxes` (pyMDNet's SampleGenerator). Two changes
keep it sane on a crop-based tracker: boxes are drawn in the crop's scale when the target is small
(pyMDNet's 10-pixel minimum box would otherwise swamp a 6-pixel target), and pyMDNet's
``whole``-image negatives are drawn over the part of the frame that the crop covers, since the
features of boxes outside the crop do not exist.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ...geometry import clip_box, sample_boxes
from .config import SDNetConfig
from .features import CropWindow

Kind = Literal["gaussian", "uniform", "whole"]


def draw(
    box: np.ndarray,
    n: int,
    kind: Kind,
    window: CropWindow,
    rng: np.random.Generator,
    *,
    trans: float = 1.0,
    scale: float = 1.0,
    aspect: float | None = None,
    iou_range: tuple[float, float] | None = None,
    within_crop: bool = False,
) -> np.ndarray:
    """``n`` boxes (or fewer) around ``box`` in image pixels, drawn by ``sample_boxes``.

    With ``within_crop`` the frame is replaced by the part of the crop inside it (for ``whole``).
    """
    if n <= 0:
        return np.zeros((0, 4))
    w_img, h_img = window.image_size
    x1, y1, x2, y2 = window.region() if within_crop else (0.0, 0.0, float(w_img), float(h_img))
    f = max(1.0, window.scale)  # draw small targets in the crop's scale
    b = np.asarray(box, dtype=np.float64).reshape(4).copy()
    b[:2] -= (x1, y1)
    size = (max((x2 - x1) * f, 1.0), max((y2 - y1) * f, 1.0))
    out = sample_boxes(b * f, n, kind, size, trans=trans, scale=scale, aspect=aspect, iou_range=iou_range,
                       rng=rng)
    out = out / f
    out[:, :2] += (x1, y1)
    return out


def _with_target(pos: np.ndarray, box: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """At least one positive: the target itself when no jittered box passes the IoU test."""
    if len(pos):
        return pos
    return clip_box(box, image_size)[None, :]


def positives(box, n: int, window: CropWindow, cfg: SDNetConfig, rng, iou_range=None) -> np.ndarray:
    """pyMDNet's positives: gaussian (trans_pos, scale_pos), IoU in ``overlap_pos_init``."""
    lo_hi = cfg.overlap_pos_init if iou_range is None else iou_range
    pos = draw(box, n, "gaussian", window, rng, trans=cfg.trans_pos, scale=cfg.scale_pos, iou_range=lo_hi)
    return _with_target(pos, np.asarray(box, dtype=np.float64), window.image_size)


def first_frame_negatives(box, n: int, window: CropWindow, cfg: SDNetConfig, rng) -> np.ndarray:
    """pyMDNet's initial negatives: half uniform (trans_neg_init, scale_neg_init), half whole image."""
    half = n // 2
    uni = draw(box, n - half, "uniform", window, rng, trans=cfg.trans_neg_init, scale=cfg.scale_neg_init,
               iou_range=cfg.overlap_neg_init)
    whole = draw(box, half, "whole", window, rng, scale=cfg.scale_neg_init, iou_range=cfg.overlap_neg_init,
                 within_crop=True)
    return np.concatenate([uni, whole])


def update_negatives(box, n: int, window: CropWindow, cfg: SDNetConfig, rng) -> np.ndarray:
    """pyMDNet's update negatives: uniform (trans_neg, scale_neg), IoU in ``overlap_neg_update``."""
    return draw(box, n, "uniform", window, rng, trans=cfg.trans_neg, scale=cfg.scale_neg,
                iou_range=cfg.overlap_neg_update)


def update_samples(box, window: CropWindow, cfg: SDNetConfig, rng) -> tuple[np.ndarray, int]:
    """pyMDNet's update samples around ``box``, positives then negatives, and the positives' count:
    the tracker's rule, and that of meta-training's tracked frames."""
    pos = positives(box, cfg.n_pos_update, window, cfg, rng, cfg.overlap_pos_update)
    neg = update_negatives(box, cfg.n_neg_update, window, cfg, rng)
    return np.concatenate([pos, neg]), len(pos)


def labelled_set(box, n_pos: int, n_neg: int, window: CropWindow, cfg: SDNetConfig,
                 rng) -> tuple[np.ndarray, np.ndarray]:
    """A first-frame training set (boxes, labels 1/0): the rule of MetaSDNet's first frame, of
    meta-training episodes and of the first-frame analysis."""
    pos = positives(box, n_pos, window, cfg, rng)
    neg = first_frame_negatives(box, n_neg, window, cfg, rng)
    labels = np.concatenate([np.ones(len(pos), dtype=np.int64), np.zeros(len(neg), dtype=np.int64)])
    return np.concatenate([pos, neg]), labels


def candidates(box, window: CropWindow, cfg: SDNetConfig, trans: float, rng) -> np.ndarray:
    """pyMDNet's candidates: ``n_samples`` gaussian boxes (trans, scale), no IoU test."""
    return draw(box, cfg.n_samples, "gaussian", window, rng, trans=trans, scale=cfg.scale)


def bbreg_samples(box, window: CropWindow, cfg: SDNetConfig, rng) -> np.ndarray:
    """pyMDNet's bounding-box regression samples: uniform with aspect jitter, IoU in overlap_bbreg."""
    return draw(box, cfg.n_bbreg, "uniform", window, rng, trans=cfg.trans_bbreg, scale=cfg.scale_bbreg,
                aspect=cfg.aspect_bbreg, iou_range=cfg.overlap_bbreg)
