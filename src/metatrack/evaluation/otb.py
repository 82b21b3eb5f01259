"""One-pass evaluation (OPE): success and precision curves as got10k's ``experiments/otb.py``.

Rules (docs/evaluation.md):

- a frame succeeds at IoU threshold ``t`` when ``IoU > t`` (strict), thresholds ``linspace(0, 1, 21)``;
- a frame is precise at ``t`` pixels when ``centre error <= t``, thresholds ``0, 1, ..., 50``;
- curves are computed per sequence, then averaged over sequences (never pooled over frames);
- AUC = mean of the 21-point success curve, success rate = curve at 0.5, precision = curve at 20 px;
- frame 0 counts, with the ground truth as its prediction (got10k overwrites ``boxes[0] = anno[0]``);
- frames whose ground truth is invalid (NaN or zero size) are left out, as got10k's UAV123 experiment
  does (its OTB experiment has no such frames). A NaN *prediction* on a valid frame is a miss.
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC

import numpy as np

from ..geometry import as_boxes, center_error, iou

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
#: index of IoU 0.5 in :data:`SUCCESS_THRESHOLDS` and of 20 px in :data:`PRECISION_THRESHOLDS`
SUCCESS_RATE_INDEX = 10
PRECISION_INDEX = 20


def valid_gt_mask(gt) -> np.ndarray:
    """True for ground-truth rows that are finite with positive width and height."""
    g = as_boxes(gt)
    return np.all(np.isfinite(g), axis=1) & (g[:, 2] > 0) & (g[:, 3] > 0)


def success_curve(ious) -> np.ndarray:
    """Share of frames with ``IoU > t`` for each of the 21 thresholds; shape (21,).

    NaN IoUs count as misses (NaN > t is False), as in got10k.
    """
    v = np.asarray(ious, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("success_curve needs at least one frame")
    return np.mean(v[:, None] > SUCCESS_THRESHOLDS[None, :], axis=0)


def precision_curve(center_errors) -> np.ndarray:
    """Share of frames with ``centre error <= t`` px for t = 0..50; shape (51,)."""
    v = np.asarray(center_errors, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("precision_curve needs at least one frame")
    return np.mean(v[:, None] <= PRECISION_THRESHOLDS[None, :], axis=0)


def sequence_curves(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    """Success (21,) and precision (51,) curves of one sequence.

    ``pred`` and ``gt`` are (N, 4) in the same coordinate convention. Frame 0's prediction is
    replaced by the ground truth (got10k does so), frames with invalid ground truth are dropped.
    """
    p, g = as_boxes(pred).copy(), as_boxes(gt)
    if len(p) != len(g):
        raise ValueError(f"{len(p)} predicted boxes for {len(g)} ground-truth boxes")
    p[0] = g[0]
    keep = valid_gt_mask(g)
    return success_curve(iou(p[keep], g[keep])), precision_curve(center_error(p[keep], g[keep]))


def summary(success: np.ndarray, precision: np.ndarray) -> dict[str, float]:
    """The three scalar scores read off a pair of curves."""
    return {
        "success_auc": float(np.mean(success)),
        "success_rate": float(success[SUCCESS_RATE_INDEX]),
        "precision": float(precision[PRECISION_INDEX]),
    }


def average_curves(
    curves: SequenceABC[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Mean over sequences of per-sequence (success, precision) curves (each sequence weighs 1)."""
    if not curves:
        raise ValueError("no sequence to average")
    succ = np.mean(np.stack([c[0] for c in curves]), axis=0)
    prec = np.mean(np.stack([c[1] for c in curves]), axis=0)
    return succ, prec
