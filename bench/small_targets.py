"""Mean IoU on the real clips over every target and over the small ones, from a split benchmark's JSON.

Issue 13 sets its real-footage target on both: the meta-trackers at least opencv-csrt's mean IoU over
all targets AND over the small ones (under 100 px tall), since the small targets that pass behind a
sign or cross other people are where a tracker's robustness shows. A clip's target is small when the
median height of its annotated boxes is under ``--height`` pixels (the issue's 100). The IoU of a
clip is the split benchmark's (the mean over its annotated frames after the first, averaged over the
seeds); a group's is the mean over its clips, as the issue averages over targets. Nothing is tracked.

    .venv/bin/python bench/small_targets.py --from bench/results/split_bench.json \\
        --json bench/results/real_small_targets.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from results_tables import emit_table

#: the issue's bound: a small target is under 100 px tall
SMALL_HEIGHT = 100.0


def target_height(boxes: np.ndarray) -> float:
    """The median height of a clip's annotated boxes (frames without a box left out)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    known = np.isfinite(boxes).all(axis=1)
    if not known.any():
        raise ValueError("no annotated box")
    return float(np.median(boxes[known, 3]))


def group_iou(sequences: dict[str, list[dict[str, Any]]], names: list[str]) -> float | None:
    """The mean over ``names`` of each clip's IoU (itself the mean over the seeds' runs)."""
    per_clip = [float(np.mean([run["iou"] for run in sequences[n]])) for n in names
                if all(run.get("iou") is not None for run in sequences[n])]
    return float(np.mean(per_clip)) if per_clip and len(per_clip) == len(names) else None


def table(doc: dict[str, Any], roles: list[str], height: float, source: str) -> dict[str, Any]:
    """One row per tracker: for each real role, the mean IoU over all clips, the small ones and the rest."""
    from metatrack.data import open_dataset

    groups: dict[str, dict[str, list[str]]] = {}
    for role in roles:
        spec = doc["splits"][role]
        heights = {}
        for seq in open_dataset(spec):
            try:
                heights[seq.name] = target_height(seq.boxes)
            except ValueError:
                raise ValueError(f"{spec}: sequence {seq.name!r} has no annotated box") from None
        unrun = [n for n in heights
                 if any(n not in per_role[role]["sequences"] for per_role in doc["results"].values())]
        if unrun:
            raise ValueError(f"{spec}: {', '.join(unrun)} not among the runs of role {role!r}")
        groups[role] = {"all": list(heights), "small": [n for n, h in heights.items() if h < height],
                        "large": [n for n, h in heights.items() if h >= height]}
    columns = ["tracker"]
    for role in roles:
        g = groups[role]
        columns += [f"{role}: mIoU, all {len(g['all'])}", f"{role}: mIoU, small {len(g['small'])}",
                    f"{role}: mIoU, the other {len(g['large'])}"]
    rows = []
    for tracker, per_role in doc["results"].items():
        cells = [tracker]
        for role in roles:
            seqs = per_role[role]["sequences"]
            for kind in ("all", "small", "large"):
                v = group_iou(seqs, groups[role][kind])
                cells.append("" if v is None else f"{v:.3f}")
        rows.append(cells)
    small = "; ".join(f"{role}: {', '.join(groups[role]['small']) or 'none'}" for role in roles)
    named = ", ".join(f"{r} = {doc['splits'][r]}" for r in roles)
    return {"kind": "table", "columns": columns, "rows": rows,
            "split": (f"the real clips of {named}, from the runs of "
                      f"{source} (its date {doc['date']}; its rows' own dates and defaults are in its note); small: a "
                      f"median annotated height under {height:g} px ({small})"),
            "seeds": f"{doc['seeds']} for the trackers that sample at random (each clip's IoU the mean over them)",
            "date": time.strftime("%Y-%m-%d"), "machine": "none: computed from the JSON named (no tracking)",
            "command": f"bench/small_targets.py --from {source}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="source", default="bench/results/split_bench.json",
                   help="a JSON file bench/split_bench.py wrote")
    p.add_argument("--roles", nargs="+", default=["real-validation", "real-test"], help="its real splits' roles")
    p.add_argument("--height", type=float, default=SMALL_HEIGHT, help="a small target is under this many px tall")
    p.add_argument("--json", help="write the table here")
    args = p.parse_args(argv)

    path = Path(args.source)
    if not path.is_file():
        p.error(f"--from: no such file: {path}")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        p.error(f"--from: {path} is not JSON ({e})")
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind != "split_bench":
        p.error(f"--from: {path} is not a split benchmark's JSON (kind {kind!r})")
    missing = [r for r in args.roles if r not in doc["splits"]]
    if missing:
        p.error(f"--roles: {', '.join(missing)} not in {path} (its roles: {', '.join(doc['splits'])})")
    from metatrack.errors import MetatrackError

    try:
        out = table(doc, args.roles, args.height, args.source)
    except (ValueError, MetatrackError) as e:  # a clip without boxes or runs, a data set that does not read
        p.error(f"--from: {e}")
    emit_table(out, args.json, "real_small_targets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
