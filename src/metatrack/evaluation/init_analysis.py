"""The first-frame analysis of the paper's Table 2: before, after, look-ahead, time.

For each tracker and sequence, the tracker's ``analyse_init(frames, boxes)`` trains on frame 0 and
reports its measure (classification accuracy for MetaSDNet/SDNet-N, the eq. 6 loss for
MetaCREST/CREST-N) on frame 0 before (B) and after (A) the initial training, on the next frames
(LH), and the time of the training step alone and of the whole first frame. Means over sequences.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.sequence import Sequence
from ..errors import ConfigError
from ..io import atomic_write_json, atomic_write_text
from ..trackers import create_tracker

FIELDS = ("before", "after", "lookahead", "train_seconds", "frame_seconds")


def analyse_tracker(name: str, sequences: list[Sequence], lookahead: int = 5, seed: int = 0) -> dict:
    """Table 2 numbers of tracker ``name``, per sequence and averaged."""
    per_seq: dict[str, dict[str, float]] = {}
    measure = None
    for seq in sequences:
        n = min(len(seq), lookahead + 1)
        tracker = create_tracker(name)
        if not hasattr(tracker, "analyse_init"):
            raise ConfigError(f"tracker {name!r} has no first-frame analysis (analyse_init)")
        tracker.seed(seed)
        result = tracker.analyse_init([seq.frame(i) for i in range(n)], seq.boxes[:n])
        measure = result.get("measure", measure)
        per_seq[seq.name] = {k: float(result[k]) for k in FIELDS if k in result}
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
