"""Long-term tracking scores as VOT-LT defines them: tracking precision, recall and F-score.

Lukezic et al., "Now you see me: evaluating performance in long-term visual tracking" (2018), the
measure of the VOT long-term challenges since VOT2018, as the VOT toolkit computes it
(``vot/analysis/longterm.py``, 0.9.x). A long-term tracker reports a box and a confidence on every
frame; at a confidence threshold tau the frames with confidence >= tau are the ones it *reports*.
Per sequence, with overlaps Omega_t (IoU with the ground truth; 0 where the target is absent):

- tracking precision Pr(tau) = mean of Omega_t over the reported frames (1 when none is reported);
- tracking recall Re(tau) = sum of Omega_t over the reported frames / number of frames that show the target.

Pr and Re are averaged over sequences at each tau, then F(tau) = 2 Pr Re / (Pr + Re); the F-score
is the maximum of F over tau, and Pr, Re are reported at that tau. The thresholds are the toolkit's:
up to 98 confidences at equal steps through the sorted confidences of the tracker over all sequences,
plus +inf and -inf. Absent frames come from the data set: the embedded data set's and the real
clips' ``meta["absent"]``, LaSOT's ``full_occlusion`` and ``out_of_view`` flags, GOT-10k's
``absence`` label; other frames without ground truth are unknown and left out. Frame 0 (the given
box) is left out. Differences from the toolkit: continuous IoU instead of its rasterised overlap
(``docs/evaluation.md``), and a frame without a confidence (NaN) counts as reported at every tau, as
a short-term tracker that reports every frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass

import numpy as np

from ..data.sequence import Sequence
from ..geometry import iou
from .otb import valid_gt_mask

#: thresholds per tracker, as the VOT toolkit's ``determine_thresholds`` (resolution 100)
RESOLUTION = 100


def absent_mask(seq: Sequence) -> np.ndarray:
    """Frames where the data set says the target is not in view (out of view, fully occluded, absent)."""
    n = len(seq)
    out = np.zeros(n, dtype=bool)
    for key in ("absent", "absence", "out_of_view", "full_occlusion"):
        flags = seq.meta.get(key)
        if flags is not None:
            f = np.asarray(flags).reshape(-1)
            if f.shape == (n,):
                out |= f.astype(bool)
    return out


def frame_overlaps(boxes: np.ndarray, seq: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(overlap per frame, shows-the-target mask, scored mask) for predicted ``boxes`` in file coordinates.

    Scored: frames after the first that show the target (valid ground truth, not flagged absent)
    or are flagged absent (overlap 0); frames with neither are unknown.
    """
    gt = seq.to_file_coords(seq.boxes)
    absent = absent_mask(seq)
    visible = valid_gt_mask(gt) & ~absent
    overlaps = np.zeros(len(seq))
    if visible.any():
        overlaps[visible] = iou(np.asarray(boxes, dtype=np.float64)[visible], gt[visible])
    scored = visible | absent
    scored[0] = False
    visible = visible.copy()
    visible[0] = False
    return overlaps, visible, scored


def determine_thresholds(scores: Iterable[float], resolution: int = RESOLUTION) -> np.ndarray:
    """The VOT toolkit's thresholds: +inf, up to ``resolution - 2`` sorted confidences, -inf."""
    s = sorted((float(v) for v in scores if math.isfinite(v)), reverse=True)
    if len(s) > resolution - 2:
        delta = math.floor(len(s) / (resolution - 2))
        idx = np.round(np.linspace(delta, len(s) - delta, num=resolution - 2)).astype(int)
        s = [s[i] for i in idx]
    return np.array([math.inf, *s, -math.inf])


def sequence_pr(overlaps: np.ndarray, confidence: np.ndarray, visible: np.ndarray, scored: np.ndarray,
                thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pr(tau) and Re(tau) of one sequence (Re NaN when no scored frame shows the target)."""
    o = np.asarray(overlaps, dtype=np.float64)[scored]
    c = np.asarray(confidence, dtype=np.float64)[scored]
    c = np.where(np.isnan(c), math.inf, c)  # no confidence: reported at every threshold
    n_visible = int(np.asarray(visible)[scored].sum())
    pr = np.ones(len(thresholds))
    re = np.zeros(len(thresholds))
    for i, tau in enumerate(thresholds):
        subset = c >= tau
        if subset.any():
            pr[i] = o[subset].mean()
            re[i] = o[subset].sum() / n_visible if n_visible else math.nan
        elif not n_visible:
            re[i] = math.nan
    return pr, re


@dataclass
class LongTermScore:
    """Pr, Re and F over thresholds, averaged over sequences, and the F-score (the best F)."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    per_sequence: dict[str, tuple[np.ndarray, np.ndarray]]
    absent_frames: int
    visible_frames: int

    @property
    def f_curve(self) -> np.ndarray:
        p, r = self.precision, self.recall
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
        return np.nan_to_num(f, nan=0.0)

    @property
    def best(self) -> int:
        return int(np.argmax(self.f_curve))

    def to_json(self) -> dict:
        b = self.best
        return {
            "f_score": float(self.f_curve[b]),
            "precision": float(self.precision[b]),
            "recall": float(self.recall[b]),
            "threshold": float(self.thresholds[b]),
            "absent_frames": self.absent_frames,
            "visible_frames": self.visible_frames,
            "thresholds": self.thresholds.tolist(),
            "precision_curve": self.precision.tolist(),
            "recall_curve": self.recall.tolist(),
            "f_curve": self.f_curve.tolist(),
            "sequences": {
                name: {"precision": float(p[b]), "recall": float(r[b])}
                for name, (p, r) in self.per_sequence.items()
            },
        }


def long_term_score(
    sequences: SequenceABC[Sequence], boxes: SequenceABC[np.ndarray], confidences: SequenceABC[np.ndarray],
    resolution: int = RESOLUTION,
) -> LongTermScore:
    """VOT-LT Pr/Re/F of one tracker: ``boxes[i]`` (file coordinates) and ``confidences[i]`` per sequence."""
    parts = [frame_overlaps(b, s) for b, s in zip(boxes, sequences, strict=True)]
    scores = np.concatenate([np.asarray(c, dtype=np.float64)[p[2]] for c, p in zip(confidences, parts, strict=True)])
    thresholds = determine_thresholds(scores, resolution)
    per_seq = {}
    prs, res = [], []
    for seq, (o, vis, scored), c in zip(sequences, parts, confidences, strict=True):
        pr, re = sequence_pr(o, c, vis, scored, thresholds)
        per_seq[seq.name] = (pr, re)
        prs.append(pr)
        if not np.isnan(re).all():
            res.append(re)
    precision = np.mean(prs, axis=0)
    recall = np.mean(res, axis=0) if res else np.zeros(len(thresholds))
    absent = int(sum(int((absent_mask(s)[1:]).sum()) for s in sequences))
    visible = int(sum(int(p[1].sum()) for p in parts))
    return LongTermScore(thresholds, precision, recall, per_seq, absent, visible)
