"""What a tracker's wide search after a loss takes: every searched frame's best candidate, scored.

Tracks each ``--dataset`` one-pass (one torch thread) with ``--tracker`` and ``--set key:value``
overrides, and on every frame where the re-detection search (``trackers/adaptive/redetect.py``) finds
a candidate that passes the family's own success test, logs the best one the search admits (within
``redetect_reach`` and ``redetect_entry``), or the best of all where it admits none (``admitted`` says
which): its score against the running score of found frames, its distance from the last found centre
in target sizes, the target's own distance from there (the ground truth), the speed the target had
when the loss began, and its IoU with the ground truth (-1 where the target is marked absent). Whether
it was taken follows from the tracker's ``redetect_ratio``; ``--set redetect_ratio:0`` takes every
admitted candidate, so that each loss's first candidate is what the search would meet. Validation
data only: this reads the failures that settings are chosen against.

    .venv/bin/python bench/redetect_candidates.py --tracker metacrest --set redetect_ratio:0 \\
        --dataset embedded:crossing embedded:faces --json runs/candidates.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from meta_bench import cpu_name  # noqa: E402
from redetect_search import parse_setting  # noqa: E402


def trace_sequence(tracker_name: str, overrides: dict[str, Any], seq, seed: int = 0) -> list[dict[str, Any]]:
    """One sequence's searched frames: the best candidate of each (see the module's docstring)."""
    from metatrack.geometry import iou
    from metatrack.image import image_size
    from metatrack.trackers import create_tracker
    from metatrack.trackers.adaptive.redetect import box_size

    gt = np.asarray(seq.boxes, dtype=float)
    tracker = create_tracker(tracker_name, **overrides)
    tracker.seed(seed)
    tracker.init(seq.frame(0), gt[0])
    found: list[tuple[float, np.ndarray, bool]] = []
    best_candidate = tracker._best_candidate
    loss = tracker._loss_counter

    def logged(image, request, features):
        candidate = best_candidate(image, request, features)
        if candidate is not None:
            found.append((*candidate, loss.admits(candidate[1], image_size(image))))
        return candidate

    tracker._best_candidate = logged
    rows, speed = [], 0.0
    for i in range(1, len(seq)):
        found.clear()
        if loss.frames == 0:
            speed = float(np.hypot(*loss.velocity()))
        reference, last, lost = loss.reference, loss.last_centre(), loss.frames + 1
        size = box_size(loss.last_box) if loss.last_box is not None else float("nan")
        tracker.update(seq.frame(i))
        if not found or last is None:
            continue
        # the search takes the best admitted candidate (adaptive/tracker.py); the best of all where none is
        score, box, admitted = max(found, key=lambda c: (c[2], c[0]))
        truth = gt[i]
        present = bool(np.all(np.isfinite(truth)) and truth[2] > 0 and truth[3] > 0)
        centre = box[:2] + box[2:] / 2
        rows.append({
            "sequence": seq.name, "frame": i, "frames_lost": lost, "score": float(score),
            "ratio": float(score / reference) if reference else float("nan"),
            "distance": float(np.hypot(*(centre - last)) / size),
            "target_distance": float(np.hypot(*(truth[:2] + truth[2:] / 2 - last)) / size) if present else None,
            "speed": speed / size, "admitted": bool(admitted),
            "iou": float(np.ravel(iou(box[None], truth[None]))[0]) if present else -1.0,
        })
    return rows


def trace(tracker: str, overrides: dict[str, Any], datasets: list[str], seed: int) -> list[dict[str, Any]]:
    """Every data set's candidates (:func:`trace_sequence`), printed as they come."""
    from metatrack.data import open_dataset

    rows = []
    for spec in datasets:
        for seq in open_dataset(spec):
            for row in trace_sequence(tracker, overrides, seq, seed):
                rows.append({"dataset": spec, **row})
                print(f"{spec:18s} {row['sequence'][:28]:28s} frame {row['frame']:4d} lost {row['frames_lost']:3d} "
                      f"ratio {row['ratio']:.2f} distance {row['distance']:4.1f} IoU {row['iou']:5.2f}"
                      f"{'' if row['admitted'] else ' (not admitted)'}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracker", default="metacrest")
    ap.add_argument("--set", action="append", default=[], metavar="KEY:VALUE", help="a config override")
    ap.add_argument("--dataset", nargs="+", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--note", default="", help="the data's role and what was chosen on it, in words")
    args = ap.parse_args()

    import torch

    from metatrack.errors import MetatrackError
    from metatrack.io import atomic_write_text

    torch.set_num_threads(1)
    _, overrides = parse_setting("x=" + ",".join(args.set))
    try:
        rows = trace(args.tracker, overrides, args.dataset, args.seed)
    except MetatrackError as err:  # a bad --set, --tracker or --dataset: the message names it
        raise SystemExit(f"redetect_candidates.py: {err}") from None

    columns = ["data set", "sequence", "frame", "frames lost", "score / running score",
               "distance from the last found centre (target sizes)", "the target's distance from there",
               "speed before the loss (sizes a frame)", "IoU with the ground truth", "admitted"]
    table = [[r["dataset"], r["sequence"], str(r["frame"]), str(r["frames_lost"]), f"{r['ratio']:.2f}",
              f"{r['distance']:.1f}", "absent" if r["target_distance"] is None else f"{r['target_distance']:.1f}",
              f"{r['speed']:.3f}", "absent" if r["iou"] < 0 else f"{r['iou']:.2f}", "yes" if r["admitted"] else "no"]
             for r in rows]
    setting = ", ".join(f"{k} {v}" for k, v in overrides.items()) or "the defaults"
    doc = {"kind": "table", "columns": columns, "rows": table, "candidates": rows,
           "split": f"{', '.join(args.dataset)}; {args.note or 'validation data'}; {args.tracker} with {setting}",
           "seeds": str(args.seed), "date": time.strftime("%Y-%m-%d"), "machine": f"{cpu_name()}, one torch thread",
           "command": "bench/redetect_candidates.py " + shlex.join(sys.argv[1:])}
    atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
