"""Reset-based (VOT "baseline"/supervised) protocol: accuracy, robustness and EAO.

The rules follow the VOT toolkit (``experiment/multirun.py``, ``analysis/supervised.py``) as
written in docs/evaluation.md. A *run* is one pass of a tracker over a sequence, stored as one
line per frame in the VOT/pysot convention: ``1`` (re)initialisation, ``2`` failure, ``0`` skipped
(unknown) frame, otherwise ``x,y,w,h``. Overlap is the continuous IoU of
:func:`metatrack.geometry.iou` (the toolkit rasterises regions; the difference is ~0.001).

Frames whose ground truth is invalid (NaN or zero size) never cause a failure (the runner) and are
left out of accuracy and of the EAO averages (their overlap is NaN and every mean skips NaN).
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass

import numpy as np

from ..geometry import as_boxes, iou
from .otb import valid_gt_mask

SKIPPED, INIT, FAILURE = 0, 1, 2
#: flag of a frame that holds a tracked box (never written to files: the box is)
TRACKED = -1
BURNIN = 10
SKIP_INITIALIZE = 5
FAILURE_OVERLAP = 0.0
EAO_RANGE_VOT2016 = (108, 371)  # also VOT2015
EAO_RANGE_VOT2017 = (100, 356)  # also VOT2018
EAO_RANGES = {
    "vot2015": EAO_RANGE_VOT2016,
    "vot2016": EAO_RANGE_VOT2016,
    "vot2017": EAO_RANGE_VOT2017,
    "vot2018": EAO_RANGE_VOT2017,
}


@dataclass(frozen=True)
class VotRun:
    """One run: ``flags`` (N,) of SKIPPED/INIT/FAILURE/TRACKED and ``boxes`` (N, 4), NaN unless tracked."""

    flags: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.flags)

    @classmethod
    def from_rows(cls, rows: SequenceABC[np.ndarray]) -> VotRun:
        """Build a run from parsed lines of 1 value (a flag) or 4 values (a box)."""
        flags = np.full(len(rows), TRACKED, dtype=np.int64)
        boxes = np.full((len(rows), 4), np.nan)
        for i, r in enumerate(rows):
            r = np.asarray(r, dtype=np.float64).reshape(-1)
            if r.size == 1:
                if r[0] not in (SKIPPED, INIT, FAILURE):
                    raise ValueError(f"line {i + 1}: flag {r[0]:g} is none of 0, 1, 2")
                flags[i] = int(r[0])
            else:
                boxes[i] = r
        return cls(flags, boxes)

    def lines(self) -> list[str]:
        """The run as file lines (without newlines)."""
        out = []
        for f, b in zip(self.flags, self.boxes, strict=True):
            out.append(",".join(repr(float(v)) for v in b) if f == TRACKED else str(int(f)))
        return out


def frame_overlaps(run: VotRun, gt) -> np.ndarray:
    """IoU of each tracked frame with the ground truth; 0 on flagged frames, NaN where gt is invalid."""
    g = as_boxes(gt)
    if len(g) != len(run):
        raise ValueError(f"run has {len(run)} frames, ground truth {len(g)}")
    out = np.zeros(len(run))
    tracked = run.flags == TRACKED
    if tracked.any():
        out[tracked] = np.nan_to_num(iou(run.boxes[tracked], g[tracked]), nan=0.0)
    out[~valid_gt_mask(g)] = np.nan
    return out


def run_failures(run: VotRun) -> int:
    """Number of failure frames in a run."""
    return int(np.sum(run.flags == FAILURE))


def run_accuracy(run: VotRun, gt, burnin: int = BURNIN) -> tuple[float, int]:
    """Mean overlap of a run and the number of frames it averages (toolkit ``compute_accuracy``).

    Left out: skipped (unknown) frames, failure frames, the ``burnin`` frames starting at each
    (re)initialisation (the init frame plus the next ``burnin - 1``) and frames with invalid gt.
    A run with no frame left scores 0 over 0 frames, as in the toolkit.
    """
    overlaps = frame_overlaps(run, gt)
    keep = run.flags == TRACKED
    for i in np.flatnonzero(run.flags == INIT):
        keep[i : i + burnin] = False
    keep &= np.isfinite(overlaps)
    if not keep.any():
        return 0.0, 0
    return float(np.mean(overlaps[keep])), int(keep.sum())


def sequence_accuracy(runs: SequenceABC[VotRun], gt, burnin: int = BURNIN) -> float:
    """Accuracy of one sequence: :func:`run_accuracy` averaged over its repetitions."""
    return float(np.mean([run_accuracy(r, gt, burnin)[0] for r in runs]))


def sequence_failures(runs: SequenceABC[VotRun]) -> float:
    """Failures of one sequence averaged over its repetitions."""
    return float(np.mean([run_failures(r) for r in runs]))


#: runs of every sequence: ``runs[s][r]`` is repetition r of sequence s
Runs = SequenceABC[SequenceABC[VotRun]]


def _length_weighted(values: SequenceABC[float], lengths: SequenceABC[int]) -> float:
    w = np.asarray(lengths, dtype=np.float64)
    return float(np.sum(np.asarray(values, dtype=np.float64) * w) / np.sum(w))


def accuracy(runs_per_sequence: Runs, gts: SequenceABC, burnin: int = BURNIN) -> float:
    """Accuracy over a data set: per-sequence accuracies weighted by sequence length."""
    per_seq = [sequence_accuracy(r, g, burnin) for r, g in zip(runs_per_sequence, gts, strict=True)]
    return _length_weighted(per_seq, [len(g) for g in gts])


def robustness(runs_per_sequence: Runs, lengths: SequenceABC[int]) -> float:
    """Robustness: failures per sequence (mean over repetitions), weighted by sequence length.

    This is the toolkit's ``AverageAccuracyRobustness`` value: a length-weighted mean of failure
    *counts*, not a rate. :func:`failures_per_100_frames` gives the rate some VOT2016 tables use.
    """
    return _length_weighted([sequence_failures(r) for r in runs_per_sequence], lengths)


def total_failures(runs_per_sequence: Runs) -> float:
    """Sum over sequences of the failures per sequence (each averaged over its repetitions)."""
    return float(sum(sequence_failures(r) for r in runs_per_sequence))


def failures_per_100_frames(runs_per_sequence: Runs, lengths: SequenceABC[int]) -> float:
    """``100 * total_failures / total frames``."""
    return 100.0 * total_failures(runs_per_sequence) / float(np.sum(lengths))


def run_segments(run: VotRun, gt) -> list[tuple[np.ndarray, bool]]:
    """Split a run into EAO segments ``(overlaps, failed)``, one per initialisation.

    A segment runs from an init frame up to the next failure, the failure frame excluded
    (``failed = True``), or to the end of the sequence (``failed = False``).
    """
    overlaps = frame_overlaps(run, gt)
    inits = np.flatnonzero(run.flags == INIT)
    fails = np.flatnonzero(run.flags == FAILURE)
    out = []
    for start in inits:
        later = fails[fails > start]
        if len(later):
            out.append((overlaps[start : later[0]], True))
        else:
            out.append((overlaps[start:], False))
    return out


def eao_curve(segments: SequenceABC[tuple[np.ndarray, bool]], length: int | None = None) -> np.ndarray:
    """Expected-overlap curve ``phi[j]`` for j = 0 .. length - 1 (toolkit ``compute_eao_curve``).

    ``phi[j]`` is the mean over segments of ``mean(overlaps[1 : j + 1])`` (the init frame excluded),
    every segment weighing 1 (all segments of all repetitions and sequences are pooled):

    - a segment that ended in a failure is padded with zeros to every length, so it has a value at
      every j: ``sum(overlaps[1:]) / j`` beyond its own length;
    - a segment that reached the end of the sequence without failing has a value only for
      ``j < len(segment)``, i.e. up to its own length; beyond it, it is left out of the mean
      (it is *not* padded: nobody knows how the tracker would have done on more frames).

    ``length`` defaults to the longest segment, where the toolkit stops; a longer ``length``
    extends the curve, where only failed (zero-padded) segments have values. ``phi[0]`` and any j
    where no segment has a value are NaN. NaN overlaps (invalid gt) are skipped inside each mean.
    """
    if not segments:
        raise ValueError("no segment: no run to compute the EAO curve from")
    n = max(len(o) for o, _ in segments) if length is None else int(length)
    sums = np.zeros((len(segments), n))
    counts = np.zeros((len(segments), n))
    mask = np.zeros((len(segments), n), dtype=bool)
    for i, (o, failed) in enumerate(segments):
        o = np.asarray(o, dtype=np.float64)[:n]
        values = np.zeros(n)
        valid = np.zeros(n, dtype=bool)
        values[: len(o)] = np.nan_to_num(o, nan=0.0)
        valid[: len(o)] = np.isfinite(o)
        if failed:
            valid[len(o) :] = True  # zero padding
            mask[i] = True
        else:
            mask[i, : len(o)] = True
        values[0], valid[0] = 0.0, False  # the init frame never counts
        sums[i] = np.cumsum(values)
        counts[i] = np.cumsum(valid)
    mask &= counts > 0
    per_segment = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    active = mask.sum(axis=0)
    total = np.where(mask, per_segment, 0.0).sum(axis=0)
    return np.divide(total, active, out=np.full(n, np.nan), where=active > 0)


def auto_eao_range(lengths: SequenceABC[int]) -> tuple[int, int]:
    """The EAO range used when none is given.

    VOT2016's ``(108, 371)`` when the longest sequence reaches it (at least 372 frames, so that
    a segment tracked to the end has a value at j = 371); otherwise that range scaled to the data:
    ``high = L - 1`` and ``low = round(108 * (L - 1) / 371)`` for the longest length ``L``. The
    rule is continuous (L = 372 gives VOT2016's range), and for short data sets such as the
    embedded one (~150 frames, range ~(43, 149)) it averages the curve over the lengths that
    occur instead of over lengths where only zero-padded failed segments remain.
    """
    longest = int(max(lengths))
    low, high = EAO_RANGE_VOT2016
    if longest - 1 >= high:
        return low, high
    high = max(longest - 1, 1)
    return max(1, min(high, round(low * high / EAO_RANGE_VOT2016[1]))), high


def eao(curve: np.ndarray, eao_range: tuple[int, int]) -> float:
    """Mean of ``curve[low : high + 1]`` (inclusive range), skipping NaN points; NaN if none."""
    low, high = (int(v) for v in eao_range)
    if not 0 <= low <= high:
        raise ValueError(f"EAO range {eao_range} must satisfy 0 <= low <= high")
    part = np.asarray(curve, dtype=np.float64)[low : high + 1]
    part = part[np.isfinite(part)]
    return float(np.mean(part)) if part.size else float("nan")
