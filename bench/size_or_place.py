"""How much of a tracker's IoU is lost to the box's size and how much to its place.

Every frame with a true box after the first is scored three ways: the box as tracked; the truth's size
centred where the tracker put its box (what a perfect size estimate would give); the first frame's
size centred there (what no size estimate at all would give). With the share of frames whose box
centre lies inside the true box, this says whether a tracker loses a data set by drifting off the
target (position) or by a box of the wrong size on it (scale), before anyone tunes either. Nothing is
tracked: it reads the results folders ``metatrack run`` wrote (``DIR/<tracker>/<sequence>.txt``).

    .venv/bin/python bench/size_or_place.py --dataset embedded:hard --results runs/hard \\
        --dataset real:validation --results runs/realval --json bench/results/size_or_place.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from results_tables import emit_table

from metatrack.geometry import iou, resized_box

COLUMNS = ["data set", "tracker", "sequences", "mIoU as tracked", "mIoU, the truth's size at the box's centre",
           "mIoU, the first frame's size at the box's centre", "frames with the centre on the target"]


def scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float] | None:
    """The three mean IoUs and the on-target share over the frames after the first with a true box
    (None when there is none)."""
    pred, truth = np.asarray(pred, np.float64).reshape(-1, 4), np.asarray(truth, np.float64).reshape(-1, 4)
    if len(pred) != len(truth):
        raise ValueError(f"{len(pred)} boxes for {len(truth)} frames")
    if not np.isfinite(truth[:1]).all():
        raise ValueError("no true box on the first frame")
    known = np.isfinite(truth).all(axis=1) & np.isfinite(pred).all(axis=1)
    known[0] = False
    if not known.any():
        return None
    p, t = pred[known], truth[known]
    truth_size, first_size = resized_box(p, t[:, 2:]), resized_box(p, truth[0, 2:])
    centre = p[:, :2] + p[:, 2:] / 2
    on = np.all((centre >= t[:, :2]) & (centre <= t[:, :2] + t[:, 2:]), axis=1)
    return {"tracked": float(iou(p, t).mean()), "truth_size": float(iou(truth_size, t).mean()),
            "first_size": float(iou(first_size, t).mean()), "on_target": float(on.mean())}


def folder_rows(spec: str, results: Path) -> list[list[str]]:
    """One row per tracker folder under ``results``: its means over the data set's sequences."""
    from metatrack.data import open_dataset

    seqs = open_dataset(spec)
    trackers = sorted(d for d in results.iterdir() if d.is_dir()) if results.is_dir() else []
    if not trackers:
        raise ValueError(f"--results {results}: no tracker folders (DIR/<tracker>/<sequence>.txt)")
    rows = []
    for folder in trackers:
        per_seq = []
        for seq in seqs:
            path = folder / f"{seq.name}.txt"
            if not path.is_file():
                raise ValueError(f"--results {results}: {folder.name} has no {path.name} for {spec}")
            try:
                boxes = np.loadtxt(path, delimiter=",", ndmin=2)
                s = scores(boxes, seq.boxes)
            except ValueError as e:
                raise ValueError(f"{path}: {e}") from None
            if s is not None:
                per_seq.append(s)
        mean = {k: float(np.mean([s[k] for s in per_seq])) for k in per_seq[0]} if per_seq else {}
        rows.append([spec, folder.name, str(len(per_seq))] + [
            f"{mean[k]:.3f}" if mean else "" for k in ("tracked", "truth_size", "first_size", "on_target")])
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", action="append", required=True, help="FORMAT:PATH, once per results folder")
    p.add_argument("--results", action="append", required=True, type=Path, help="DIR/<tracker>/<sequence>.txt")
    p.add_argument("--note", default="", help="which split (and role), seeds, machine and date the runs are of")
    p.add_argument("--json", help="write the table here")
    args = p.parse_args(argv)
    if len(args.dataset) != len(args.results):
        p.error(f"--dataset given {len(args.dataset)} times and --results {len(args.results)}: one each per data set")
    from metatrack.errors import MetatrackError

    rows = []
    try:
        for spec, folder in zip(args.dataset, args.results, strict=True):
            rows += folder_rows(spec, folder)
    except (ValueError, MetatrackError) as e:
        p.error(str(e))
    pairs = " ".join(f"--dataset {d} --results {r}" for d, r in zip(args.dataset, args.results, strict=True))
    out = {"kind": "table", "columns": COLUMNS, "rows": rows,
           "split": args.note or ", ".join(args.dataset),
           "seeds": "those of the runs read (see the split's note)", "date": time.strftime("%Y-%m-%d"),
           "machine": "none: computed from the results folders named (no tracking)",
           "command": f"bench/size_or_place.py {pairs}"}
    emit_table(out, args.json, "size_or_place")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
