"""A meta-tracker against its non-meta baselines and opencv-csrt, in one run: the issues' targets.

``--family sdnet`` (MetaSDNet issue) or ``--family crest`` (MetaCREST issue), on one split:

1. First frame (the paper's Table 2): :func:`metatrack.evaluation.init_analysis.analyse` on every
   sequence: the measure before (B), after (A) the initial training and on the next 5 frames (LH),
   the time of the training step alone and of the whole first frame (backbone pass, sampling and,
   for SDNet, the box regressor included). Accuracy for SDNet (higher is better), the eq. 6 loss
   for CREST (lower is better).
2. Tracking: one-pass (OPE) with :func:`metatrack.evaluation.runner.track_ope` and
   :mod:`metatrack.evaluation.otb` scoring (bench/_ope.py), once per ``--seeds`` seed (the trackers
   sample boxes and batches at random: one seed's AUC moves by a few hundredths on 16 sequences;
   a deterministic tracker runs once):
   success AUC, SR@0.5, precision at 20 px, frames per second of ``update()`` wall-clock time.

Prints a Markdown table, the targets (met / NOT met) and writes everything as JSON (per sequence,
per seed, the machine and its load average before and after: fps on a shared machine are low).

    .venv/bin/python bench/meta_bench.py --family sdnet --threads 2 --json bench/results/metasdnet_bench.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from _ope import ope

from metatrack.data import open_dataset
from metatrack.evaluation.init_analysis import analyse
from metatrack.io import atomic_write_text
from metatrack.trackers import create_tracker

FAMILIES = {
    "sdnet": {
        "meta": "metasdnet",
        "baselines": ["sdnet-01", "sdnet-03", "sdnet-05", "sdnet-10", "sdnet-15", "sdnet-30"],
        "first_meta": "metasdnet-01", "first_reference": "sdnet-30",
        "ratio_target": 20.0, "fps_target": 25.0, "csrt_margin": 0.05, "lh_higher_is_better": True,
    },
    "crest": {
        "meta": "metacrest",
        "baselines": ["crest-01", "crest-03", "crest-05", "crest-10", "crest-20", "crest-converged", "crest-base",
                      "crest"],
        "first_meta": "metacrest-01", "first_reference": "crest-converged",
        "ratio_target": 10.0, "fps_target": 30.0, "csrt_margin": 0.0, "lh_higher_is_better": False,
    },
}
PEER = "opencv-csrt"


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}


def load() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def ope_seeds(name: str, sequences: list, seeds: list[int]) -> dict:
    """OPE once per seed (once for a deterministic tracker); the scores averaged, each run kept."""
    if not getattr(create_tracker(name), "stochastic", True):
        seeds = seeds[:1]
    runs = [ope(name, sequences, seed=s) for s in seeds]
    keys = ("success_auc", "success_rate", "precision", "fps", "init_seconds")
    out = {k: float(np.mean([r[k] for r in runs])) for k in keys}
    out["success_auc_per_seed"] = [r["success_auc"] for r in runs]
    out["runs"] = runs
    return out


def targets_of(fam: dict, first: dict, ope_results: dict) -> tuple[dict, dict]:
    """The issue's targets (name -> met) and the ratios they rest on."""
    meta, ref = fam["first_meta"], fam["first_reference"]
    ratios, targets = {}, {}
    if meta in first and ref in first:
        m, r = first[meta], first[ref]
        ratios["training_step"] = r["train_seconds"] / m["train_seconds"]
        ratios["first_frame"] = r["frame_seconds"] / m["frame_seconds"]
        targets[f"training step {ref} / {meta} >= {fam['ratio_target']:g}"] = (
            ratios["training_step"] >= fam["ratio_target"])
        if fam["lh_higher_is_better"]:
            targets[f"LH accuracy {meta} >= {ref}"] = m["lookahead"] >= r["lookahead"]
        else:
            targets[f"LH loss {meta} < {ref}"] = m["lookahead"] < r["lookahead"]
    name = fam["meta"]
    if name in ope_results:
        auc = ope_results[name]["success_auc"]
        for b in fam["baselines"]:
            if b in ope_results:
                targets[f"AUC {name} > {b}"] = auc > ope_results[b]["success_auc"]
        if PEER in ope_results:
            margin = fam["csrt_margin"]
            label = f"AUC {name} >= {PEER} + {margin:g}" if margin else f"AUC {name} > {PEER}"
            peer = ope_results[PEER]["success_auc"]
            targets[label] = auc >= peer + margin if margin else auc > peer
        targets[f"{name} >= {fam['fps_target']:g} fps"] = ope_results[name]["fps"] >= fam["fps_target"]
    return targets, ratios


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--family", choices=sorted(FAMILIES), required=True)
    p.add_argument("--dataset", default="embedded:eval")
    p.add_argument("--trackers", nargs="+", help="OPE trackers (default: the meta-tracker, its baselines, csrt)")
    p.add_argument("--first-frame", nargs="+", dest="first_frame",
                   help="first-frame analysis trackers (default: the meta-tracker's -01 and the baselines)")
    p.add_argument("--sequences", type=int, default=None, help="only the first N sequences (default: all)")
    p.add_argument("--frames", type=int, default=None, help="only the first F frames of each (default: all)")
    p.add_argument("--seeds", default="0", help="comma-separated tracker seeds; scores are averaged over them")
    p.add_argument("--lookahead", type=int, default=5)
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2: this machine's cores)")
    p.add_argument("--json", default=None, help="default: runs/meta<family>_bench.json")
    args = p.parse_args(argv)
    fam = FAMILIES[args.family]
    trackers = args.trackers or [fam["meta"], *fam["baselines"], PEER]
    first_frame = args.first_frame or [fam["first_meta"], *fam["baselines"]]
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(args.threads)
    sequences = open_dataset(args.dataset)
    if args.sequences:
        sequences = sequences[: args.sequences]
    sequences = [s.head(args.frames) for s in sequences]
    out: dict = {"family": args.family, "dataset": args.dataset, "sequences": [s.name for s in sequences],
                 "frames": sum(len(s) for s in sequences), "seeds": seeds,
                 "date": datetime.date.today().isoformat(), "machine": machine(), "load_before": load()}
    print(f"{args.dataset}: {len(sequences)} sequences, {out['frames']} frames, seeds {seeds}; "
          f"{out['machine']['cpu']}, {out['machine']['cores']} cores, torch threads {args.threads}, "
          f"load {out['load_before']}", flush=True)

    start = time.perf_counter()
    first = analyse(first_frame, sequences, lookahead=args.lookahead)
    out["first_frame"] = first
    for name, r in first.items():
        print(f"  first frame {name}: B {r['before']:.3f} A {r['after']:.3f} LH {r['lookahead']:.3f} "
              f"training step {r['train_seconds']:.4f} s, whole first frame {r['frame_seconds']:.4f} s", flush=True)
    out["ope"] = {}
    for name in trackers:
        r = ope_seeds(name, sequences, seeds)
        out["ope"][name] = r
        per_seed = ", ".join(f"{a:.3f}" for a in r["success_auc_per_seed"])
        print(f"  OPE {name}: AUC {r['success_auc']:.3f} (per seed {per_seed}) precision {r['precision']:.3f} "
              f"{r['fps']:.1f} fps", flush=True)
    out["seconds"] = time.perf_counter() - start
    out["load_after"] = load()
    out["targets"], out["ratios"] = targets_of(fam, first, out["ope"])

    measure = "accuracy" if fam["lh_higher_is_better"] else "loss"
    print(f"\n{args.dataset}, {out['date']}, {out['machine']['cpu']} ({out['machine']['cores']} cores, "
          f"{args.threads} torch threads), load average {out['load_before']} -> {out['load_after']}, "
          f"{out['seconds'] / 60:.1f} min; AUC is the mean over seeds {seeds}; B/A/LH: {measure}\n")
    print("| tracker | success AUC | SR@0.5 | precision@20px | fps | B | A | LH | training step (s) "
          "| whole first frame (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    shown = [n for n in first if n not in trackers and not (n.endswith("-01") and n[:-3] in trackers)]
    for name in [*trackers, *shown]:
        r = out["ope"].get(name)
        f = first.get(name) or first.get(f"{name}-01") or {}
        cells = ([f"{r[k]:.3f}" for k in ("success_auc", "success_rate", "precision")] + [f"{r['fps']:.1f}"]
                 if r else ["", "", "", ""])
        cells += [f"{f[k]:.3f}" if k in f else "" for k in ("before", "after", "lookahead")]
        cells += [f"{f[k]:.4f}" if k in f else "" for k in ("train_seconds", "frame_seconds")]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if out["ratios"]:
        print(f"\n{fam['first_reference']} / {fam['first_meta']}: training step "
              f"{out['ratios']['training_step']:.1f}x, whole first frame {out['ratios']['first_frame']:.1f}x")
    print("\ntargets:")
    for k, ok in out["targets"].items():
        print(f"  [{'met' if ok else 'NOT met'}] {k}")
    path = Path(args.json or f"runs/meta{args.family}_bench.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(out, indent=1) + "\n")
    print(f"\n{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
