"""One-pass (OPE) scoring shared by the bench scripts: the runner's loop and the OTB scoring.

Every bench script tracks with :func:`metatrack.evaluation.runner.track_ope` (init on frame 0's
ground truth, ``update()`` timed on every later frame) and scores with
:func:`metatrack.evaluation.otb.sequence_curves` / ``average_curves`` / ``summary``, the code
``metatrack run`` and ``metatrack score`` use, rather than a loop of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metatrack.data.sequence import Sequence
from metatrack.evaluation.otb import average_curves, sequence_curves, summary
from metatrack.evaluation.runner import track_ope
from metatrack.trackers import create_tracker


def ope(name: str, sequences: list[Sequence], kwargs: dict[str, Any] | None = None, seed: int = 0,
        frames: int | None = None) -> dict[str, Any]:
    """Track every sequence once with a fresh tracker ``name(**kwargs)`` and score it.

    Returns the OTB summary (``success_auc``, ``success_rate``, ``precision``), ``fps`` (frames
    after the first over the seconds spent in ``update()``), ``init_seconds`` (mean ``init()``
    time) and the per-sequence AUCs.
    """
    curves, per_seq, update_s, init_s, n_updates = [], {}, 0.0, [], 0
    for seq in sequences:
        seq = seq.head(frames)
        tracker = create_tracker(name, **(kwargs or {}))
        tracker.seed(seed)
        boxes, times = track_ope(tracker, seq, [])
        curve = sequence_curves(boxes, seq.boxes)
        curves.append(curve)
        per_seq[seq.name] = float(np.mean(curve[0]))
        init_s.append(float(times[0]))
        update_s += float(times[1:].sum())
        n_updates += len(times) - 1
    return {**summary(*average_curves(curves)), "fps": n_updates / max(update_s, 1e-9),
            "init_seconds": float(np.mean(init_s)), "sequences": per_seq}


def summary_of(result: dict[str, Any]) -> dict[str, float]:
    """The three OTB scores of an :func:`ope` result."""
    return {k: result[k] for k in ("success_auc", "success_rate", "precision")}
