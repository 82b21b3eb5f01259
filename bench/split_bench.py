"""The family comparison on every data role at once: validation and test side by side.

Issue 13's protocol: choices are made on the validation data only, the test data are reported as
they come. This script tracks every tracker on every split under both protocols, one-pass (OPE:
success AUC; on the real clips also the mean IoU over the annotated keyframes) and VOT's
reset-based one (EAO, accuracy, failures), with each seed in ``--seeds`` for the trackers that
sample at random (a deterministic tracker runs once), and prints one table whose columns are the
splits, so that a gap between validation and test shows at once. Everything, per seed and per
sequence, goes to the JSON file.

    .venv/bin/python bench/split_bench.py --jobs 2 --json bench/results/split_bench.json

Splits are ``ROLE=FORMAT:PATH`` pairs (default: validation = ``embedded:eval``, test =
``embedded:test``, real-validation = ``real:validation``, real-test = ``real:test``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from meta_bench import load, machine

DEFAULT_SPLITS = ("validation=embedded:eval", "test=embedded:test", "real-validation=real:validation",
                  "real-test=real:test")
DEFAULT_TRACKERS = ("metasdnet", "sdnet-10", "sdnet-30", "metacrest", "crest-10", "crest-converged",
                    "opencv-csrt", "opencv-kcf")


def _one_thread() -> None:
    """Worker start-up: one math thread per process (two processes share two cores)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def run_job(tracker: str, spec: str, seed: int) -> dict[str, Any]:
    """One tracker on one split with one seed: OPE and VOT results per sequence."""
    from metatrack.data import open_dataset
    from metatrack.evaluation.otb import sequence_curves
    from metatrack.evaluation.runner import track_ope, track_vot
    from metatrack.geometry import iou
    from metatrack.trackers import create_tracker

    out: dict[str, Any] = {"ope": {}, "vot": {}, "update_seconds": 0.0, "updates": 0}
    for seq in open_dataset(spec):
        t = create_tracker(tracker)
        t.seed(seed)
        boxes, times = track_ope(t, seq, [])
        success, _ = sequence_curves(boxes, seq.boxes)
        valid = np.isfinite(seq.boxes).all(axis=1)
        valid[0] = False  # the first box is given, not tracked
        out["ope"][seq.name] = {"auc": float(np.mean(success)),
                                "iou": float(np.mean(iou(boxes[valid], seq.boxes[valid]))) if valid.any() else None}
        out["update_seconds"] += float(times[1:].sum())
        out["updates"] += len(times) - 1
        t = create_tracker(tracker)
        t.seed(seed)
        run, _ = track_vot(t, seq, [])
        out["vot"][seq.name] = {"flags": run.flags.tolist(), "boxes": np.where(np.isfinite(run.boxes), run.boxes,
                                                                               -1.0).tolist()}
    return out


def score_split(spec: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Scores of one tracker on one split from its runs (one per seed): OPE averaged, VOT pooled."""
    from metatrack.data import open_dataset
    from metatrack.evaluation import vot
    from metatrack.evaluation.runner import TRACKED
    from metatrack.evaluation.scoring import resolve_eao_range

    sequences = open_dataset(spec)
    aucs = [float(np.mean([r["ope"][s.name]["auc"] for s in sequences])) for r in runs]
    ious = [[r["ope"][s.name]["iou"] for s in sequences if r["ope"][s.name]["iou"] is not None] for r in runs]
    runs_all, gts, segments = [], [], []
    for seq in sequences:
        gt = seq.boxes
        seq_runs = []
        for r in runs:
            v = r["vot"][seq.name]
            flags = np.asarray(v["flags"], dtype=np.int64)
            boxes = np.asarray(v["boxes"], dtype=np.float64)
            boxes[flags != TRACKED] = np.nan
            seq_runs.append(vot.VotRun(flags, boxes))
        runs_all.append(seq_runs)
        gts.append(gt)
        for run in seq_runs:
            segments.extend(vot.run_segments(run, gt))
    lengths = [len(s) for s in sequences]
    (low, high), rule = resolve_eao_range(None, lengths)
    longest = max(len(o) for o, _ in segments)
    curve = vot.eao_curve(segments, max(longest, high + 1))
    update_seconds = sum(r["update_seconds"] for r in runs)
    return {
        "success_auc": float(np.mean(aucs)),
        "success_auc_per_seed": aucs,
        "mean_iou": float(np.mean([np.mean(x) for x in ious])) if all(ious) else None,
        "eao": vot.eao(curve, (low, high)),
        "eao_range": [low, high],
        "accuracy": vot.accuracy(runs_all, gts),
        "failures": vot.total_failures(runs_all),
        "fps": sum(r["updates"] for r in runs) / max(update_seconds, 1e-9),
        "sequences": {s.name: [r["ope"][s.name] for r in runs] for s in sequences},
    }


def table(results: dict[str, dict[str, Any]], splits: dict[str, str]) -> str:
    """One row per tracker; per split: success AUC (seed spread) and EAO (failures)."""
    head = "| tracker | " + " | ".join(f"{role} AUC | {role} EAO (failures)" for role in splits) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(splits)]
    for name, per_split in results.items():
        cells = []
        for role in splits:
            r = per_split[role]
            seeds = r["success_auc_per_seed"]
            spread = f" ±{(max(seeds) - min(seeds)) / 2:.3f}" if len(seeds) > 1 else ""
            cells += [f"{r['success_auc']:.3f}{spread}", f"{r['eao']:.3f} ({r['failures']:g})"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--splits", nargs="+", default=list(DEFAULT_SPLITS), help="ROLE=FORMAT:PATH pairs")
    p.add_argument("--trackers", nargs="+", default=list(DEFAULT_TRACKERS))
    p.add_argument("--seeds", default="0,1", help="comma-separated seeds of the stochastic trackers")
    p.add_argument("--jobs", type=int, default=2, help="worker processes, one math thread each")
    p.add_argument("--json", help="write everything here")
    args = p.parse_args(argv)
    from metatrack.io import atomic_write_text
    from metatrack.trackers import create_tracker

    splits = dict(s.split("=", 1) for s in args.splits)
    seeds = [int(s) for s in args.seeds.split(",")]
    stochastic = {t: bool(getattr(create_tracker(t), "stochastic", True)) for t in args.trackers}
    jobs = [(t, role, spec, seed) for t in args.trackers for role, spec in splits.items()
            for seed in (seeds if stochastic[t] else seeds[:1])]
    started, load_before = time.time(), load()
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_one_thread) as pool:
        futures = {job: pool.submit(run_job, job[0], job[2], job[3]) for job in jobs}
        runs: dict[tuple[str, str], list[dict]] = {}
        for (t, role, _spec, _seed), future in futures.items():
            runs.setdefault((t, role), []).append(future.result())
            print(f"done: {t} on {role} (seed {_seed})", flush=True)
    results = {t: {role: score_split(spec, runs[t, role]) for role, spec in splits.items()} for t in args.trackers}
    text = table(results, splits)
    print("\n" + text)
    if args.json:
        doc = {"kind": "split_bench", "date": datetime.date.today().isoformat(),
               "machine": {**machine(), "torch_threads": 1, "worker_processes": args.jobs},
               "load_before": load_before, "load_after": load(), "seconds": round(time.time() - started, 1),
               "splits": splits, "seeds": seeds, "stochastic": stochastic, "results": results}
        atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
