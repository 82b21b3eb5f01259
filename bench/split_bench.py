"""The family comparison on every data role at once: validation and test side by side.

Issue 13's protocol: choices are made on the validation data only, the test data are reported as
they come. This script tracks every tracker on every split under both protocols, one-pass (OPE:
success AUC; on the real clips also the mean IoU over the annotated keyframes) and VOT's
reset-based one (EAO, accuracy, failures), with each seed in ``--seeds`` for the trackers that
sample at random (a deterministic tracker runs once), and prints one table whose columns are the
splits, so that a gap between validation and test shows at once (the table the docs show,
rendered by results_tables.py from the JSON). Everything, per seed and per sequence, goes to the
JSON file.

    .venv/bin/python bench/split_bench.py --jobs 2 --json bench/results/split_bench.json

Splits are ``ROLE=FORMAT:PATH`` pairs (default: validation = ``embedded:eval``, test =
``embedded:test``, real-validation = ``real:validation``, real-test = ``real:test``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from meta_bench import load, machine
from redetect_search import parse_setting
from results_tables import render_split_bench

from metatrack.determinism import limit_thread_pools, math_threads_for_children

DEFAULT_SPLITS = ("validation=embedded:eval", "test=embedded:test", "real-validation=real:validation",
                  "real-test=real:test")
DEFAULT_TRACKERS = ("metasdnet", "mdnet-01", "mdnet-10", "mdnet-30", "sdnet-30", "metacrest", "metacrest-01",
                    "crest-10", "crest-converged", "crest-base", "crest", "opencv-csrt", "opencv-kcf",
                    "dlib-correlation")


def build(tracker: str):
    """The tracker a row names: a registered name, ``NAME@MODEL`` for that tracker with another model
    file (a meta-trained or pre-trained variant, e.g. ``metacrest@runs/x/metacrest.safetensors``), each
    followed by ``+key=value`` settings of its config (``metacrest+occlusion_ratio=0.6``; values as
    ``bench/redetect_search.py --setting`` reads them)."""
    from metatrack.trackers import create_tracker

    head, *settings = tracker.split("+")
    name, _, model = head.partition("@")
    _, overrides = parse_setting("=" + ",".join(s.replace("=", ":", 1) for s in settings))
    return create_tracker(name, **({"model": model} if model else {}), **overrides)


def ope_one(tracker: str, seq, seed: int) -> tuple[dict[str, Any], dict[str, Any], np.ndarray]:
    """One one-pass run of ``tracker`` (seeded) on ``seq``: its scores, its curves (and its boxes) and the
    seconds per frame."""
    from metatrack.evaluation.otb import PRECISION_INDEX, sequence_curves
    from metatrack.evaluation.runner import track_ope
    from metatrack.geometry import iou

    t = build(tracker)
    t.seed(seed)
    boxes, times = track_ope(t, seq, [])
    success, precision = sequence_curves(boxes, seq.boxes)
    valid = np.isfinite(seq.boxes).all(axis=1)
    valid[0] = False  # the first box is given, not tracked
    scores = {"auc": float(np.mean(success)),
              "iou": float(np.mean(iou(boxes[valid], seq.boxes[valid]))) if valid.any() else None,
              "precision": float(precision[PRECISION_INDEX])}
    # the curves themselves, for success and precision plots, and the boxes, for a look at where a
    # tracker fails (bench/failure_causes.py --split-bench-cache); kept apart: "ope" goes into the JSON
    return scores, {"success": success.tolist(), "precision": precision.tolist(),
                    "boxes": np.round(boxes, 2).tolist()}, times


def run_ope_job(tracker: str, spec: str, seed: int) -> dict[str, Any]:
    """One tracker on one split with one seed, one-pass only: the ``ope`` and ``ope_curves`` of
    :func:`run_job` (to complete a run cached before the curves were recorded)."""
    from metatrack.data import open_dataset

    out: dict[str, Any] = {"ope": {}, "ope_curves": {}}
    for seq in open_dataset(spec):
        out["ope"][seq.name], out["ope_curves"][seq.name], _ = ope_one(tracker, seq, seed)
    return out


def run_job(tracker: str, spec: str, seed: int) -> dict[str, Any]:
    """One tracker on one split with one seed: OPE and VOT results per sequence."""
    from metatrack.data import open_dataset
    from metatrack.evaluation.runner import track_vot

    out: dict[str, Any] = {"ope": {}, "ope_curves": {}, "vot": {}, "update_seconds": 0.0, "updates": 0,
                           "init_seconds": []}
    for seq in open_dataset(spec):
        out["ope"][seq.name], out["ope_curves"][seq.name], times = ope_one(tracker, seq, seed)
        out["init_seconds"].append(float(times[0]))  # the first frame: features and the first fit
        out["update_seconds"] += float(times[1:].sum())
        out["updates"] += len(times) - 1
        t = build(tracker)
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
    # precision at 20 px and the mean curves, where every run recorded them (runs cached before these
    # fields existed have none)
    curves = all(r.get("ope_curves") for r in runs)
    precisions = ([float(np.mean([r["ope"][s.name]["precision"] for s in sequences])) for r in runs]
                  if curves else None)
    return {
        "success_auc": float(np.mean(aucs)),
        "success_auc_per_seed": aucs,
        **({"precision": float(np.mean(precisions)), "precision_per_seed": precisions,
            "success_curve": np.mean([[r["ope_curves"][s.name]["success"] for s in sequences] for r in runs],
                                     axis=(0, 1)).tolist(),
            "precision_curve": np.mean([[r["ope_curves"][s.name]["precision"] for s in sequences] for r in runs],
                                       axis=(0, 1)).tolist()} if curves else {}),
        "mean_iou": float(np.mean([np.mean(x) for x in ious])) if all(ious) else None,
        "eao": vot.eao(curve, (low, high)),
        "eao_range": [low, high],
        "accuracy": vot.accuracy(runs_all, gts),
        "failures": vot.total_failures(runs_all),
        "fps": sum(r["updates"] for r in runs) / max(update_seconds, 1e-9),
        # mean seconds of init() (runs cached before this field existed have none)
        "first_frame_seconds": (float(np.mean([s for r in runs for s in r["init_seconds"]]))
                                if all(r.get("init_seconds") for r in runs) else None),
        "sequences": {s.name: [r["ope"][s.name] for r in runs] for s in sequences},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--splits", nargs="+", default=list(DEFAULT_SPLITS), help="ROLE=FORMAT:PATH pairs")
    p.add_argument("--trackers", nargs="+", default=list(DEFAULT_TRACKERS),
                   help="registered names, or NAME@MODEL for a tracker with another model file; +key=value "
                        "after either sets its config")
    p.add_argument("--seeds", default="0,1", help="comma-separated seeds of the stochastic trackers")
    p.add_argument("--jobs", type=int, default=2, help="worker processes, one math thread each")
    p.add_argument("--json", help="write everything here")
    p.add_argument("--cache", help="keep each (tracker, split, seed) run here and reuse it on the next call: "
                   "valid for one state of the code only")
    p.add_argument("--note", default="", help="a sentence the docs' table ends with (e.g. which rows came from "
                   "runs cached under another state of the code)")
    p.add_argument("--per-sequence", action="store_true",
                   help="the docs' table also lists each sequence's success AUC per tracker (for a small split)")
    args = p.parse_args(argv)
    from metatrack.data import open_dataset
    from metatrack.io import atomic_write_text

    splits = dict(s.split("=", 1) for s in args.splits)
    for spec in splits.values():  # read (and on first use write) every data set once, before the workers start
        open_dataset(spec)
    seeds = [int(s) for s in args.seeds.split(",")]
    from metatrack.errors import ConfigError
    try:
        stochastic = {t: bool(getattr(build(t), "stochastic", True)) for t in args.trackers}
    except ConfigError as e:  # an unknown name (trackers are separated by spaces): said, not a traceback
        p.error(f"--trackers: {e}")
    jobs = [(t, role, spec, seed) for t in args.trackers for role, spec in splits.items()
            for seed in (seeds if stochastic[t] else seeds[:1])]
    started, load_before = time.time(), load()
    cache = Path(args.cache) if args.cache else None

    def cached(job: tuple) -> Path | None:
        t, _role, spec, seed = job
        safe = t.replace("/", "_").replace("@", "__at__")
        return cache / f"{safe}__{spec.replace(':', '_').replace('/', '_')}__{seed}.json" if cache else None

    runs: dict[tuple[str, str], list[dict]] = {}
    # spawned, not forked: the parent has run torch and OpenCV (it built every tracker above), and a worker
    # forked from it can inherit a lock held by one of their threads and wait on it for ever (seen here)
    # and born with one math thread: NumPy's OpenBLAS, loaded before the start-up function runs, keeps the
    # count it loaded with, and two threads' sums part the tracks after ~100 frames (docs/results.md)
    with math_threads_for_children(1), ProcessPoolExecutor(
            max_workers=args.jobs, initializer=limit_thread_pools, initargs=(1,),
            mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {}
        for job in jobs:
            path = cached(job)
            if path is not None and path.is_file():
                runs.setdefault((job[0], job[1]), []).append(json.loads(path.read_text()))
            else:
                futures[job] = pool.submit(run_job, job[0], job[2], job[3])
        for job, future in futures.items():
            result = future.result()
            runs.setdefault((job[0], job[1]), []).append(result)
            path = cached(job)
            if path is not None:
                atomic_write_text(path, json.dumps(result))
            print(f"done: {job[0]} on {job[1]} (seed {job[3]})", flush=True)
    results = {t: {role: score_split(spec, runs[t, role]) for role, spec in splits.items()} for t in args.trackers}
    doc = {"kind": "split_bench", "date": datetime.date.today().isoformat(),
           "machine": {**machine(), "torch_threads": 1, "worker_processes": args.jobs},
           "load_before": load_before, "load_after": load(), "seconds": round(time.time() - started, 1),
           "splits": splits, "seeds": seeds, "stochastic": stochastic, "results": results,
           **({"per_sequence": True} if args.per_sequence else {}), **({"note": args.note} if args.note else {})}
    name = Path(args.json).stem if args.json else "split_bench"
    print("\n" + render_split_bench(name, doc))  # the table the docs show, from the same function
    if args.json:
        atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
