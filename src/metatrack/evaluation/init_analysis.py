"""The first-frame analysis of the paper's Table 2: before, after, look-ahead, time.

For each tracker and sequence, an ordinary tracker (seeded as a run would be) fits the first frame
with :meth:`~metatrack.trackers.adaptive.AdaptiveTracker.fit_first_frame`, the very step ``init``
takes, and the analysis reports the tracker's own measure (classification accuracy at 1:3 for
MetaSDNet/SDNet-N, the eq. 6 loss for MetaCREST/CREST-N) of the head before (B) and after (A) that
training on the first frame's samples, of the trained head on the next frames' samples (LH), the
training step's time and the time of the whole fit (crop and features included). Means over
sequences.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..data.sequence import Sequence
from ..errors import ConfigError
from ..geometry import is_valid_box
from ..io import atomic_write_json, atomic_write_text
from ..trackers import create_tracker
from ..trackers.adaptive import AdaptiveTracker

FIELDS = ("before", "after", "lookahead", "train_seconds", "frame_seconds")


def analyse_sequence(tracker: AdaptiveTracker, frames: list[np.ndarray], boxes: np.ndarray,
                     seed: int = 0) -> dict[str, float]:
    """Table 2 numbers of ``tracker`` (already seeded) on one sequence's first frames.

    The look-ahead samples are drawn with their own generator (``seed``), never the tracker's.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    first = tracker.fit_first_frame(frames[0], boxes[0])
    rng = np.random.default_rng(seed)
    ahead = [tracker.first_frame_score(first.after, tracker.frame_samples(np.asarray(f), b, rng))
             for f, b in zip(frames[1:], boxes[1:], strict=False) if is_valid_box(b)]
    start = time.perf_counter()  # the whole first frame as a run sees it: init (its head is not analysed)
    tracker.init(frames[0], boxes[0])
    frame_seconds = time.perf_counter() - start
    return {
        "before": tracker.first_frame_score(first.before, first.samples),
        "after": tracker.first_frame_score(first.after, first.samples),
        "lookahead": float(np.mean(ahead)) if ahead else float("nan"),
        "train_seconds": float(first.train_seconds),
        "frame_seconds": frame_seconds,
        **{k: float(v) for k, v in first.info.items()},
    }


def analyse_tracker(name: str, sequences: list[Sequence], lookahead: int = 5, seed: int = 0) -> dict:
    """Table 2 numbers of tracker ``name``, per sequence and averaged."""
    per_seq: dict[str, dict[str, float]] = {}
    measure = None
    for seq in sequences:
        n = min(len(seq), lookahead + 1)
        tracker = create_tracker(name)
        if not isinstance(tracker, AdaptiveTracker):
            raise ConfigError(f"tracker {name!r} has no first-frame fit to analyse (not an adaptive tracker)")
        tracker.seed(seed)
        measure = tracker.measure
        per_seq[seq.name] = analyse_sequence(tracker, [seq.frame(i) for i in range(n)], seq.boxes[:n], seed)
    mean = {k: float(np.nanmean([r[k] for r in per_seq.values() if k in r])) for k in FIELDS}
    return {**mean, "measure": measure, "sequences": per_seq}


def analyse(trackers: list[str], sequences: list[Sequence], lookahead: int = 5, seed: int = 0) -> dict:
    return {name: analyse_tracker(name, sequences, lookahead, seed) for name in trackers}


def markdown_table(results: dict) -> str:
    """One row per tracker: B, A, LH, training-step time and whole-first-frame time."""
    lines = [
        "| tracker | measure | B (before) | A (after) | LH (next frames) | training step (s) | whole first frame (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r.get('measure') or ''} | {r['before']:.3f} | {r['after']:.3f} | {r['lookahead']:.3f} "
            f"| {r['train_seconds']:.4f} | {r['frame_seconds']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def write_analysis(results: dict, out: str | Path) -> tuple[Path, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return (atomic_write_json(out / "init_analysis.json", results),
            atomic_write_text(out / "init_analysis.md", markdown_table(results)))
