"""Torch against onnxruntime: a tracker's feature extractor per crop, and whole tracking runs.

    OMP_NUM_THREADS=1 .venv/bin/python bench/onnx_speed.py --trackers metasdnet metacrest --threads 1 \\
        --dataset embedded:eval --json bench/results/onnx_tracking.json

Two measurements, both on ``--threads`` threads (torch and onnxruntime alike):

- per crop: the exported feature extractor on a random crop, the mean of ``--repeat`` calls after a
  warm-up (torch's module against onnxruntime's session on the same graph);
- per frame of tracking (``--dataset``; skipped with ``--dataset none``): every sequence tracked by
  the same tracker twice, ``runtime="torch"`` and ``runtime="onnx"``, frame by frame in lockstep
  (so that both meet the same load on a shared machine), seeded alike. The time of each ``update``
  is split by the template's profile into the crop, the backbone (``features``), the head and
  localisation, and the online update. Both runs' success AUC is given, and how far their boxes
  are apart (mean and lowest IoU between the two runs' boxes, over all frames).

Prints Markdown tables; ``--json`` writes them with the raw numbers (``"kind": "table"``, the form
``bench/results_tables.py`` renders into the docs).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from meta_bench import cpu_name

from metatrack.data import open_dataset
from metatrack.evaluation.otb import sequence_curves, summary
from metatrack.export import export_onnx
from metatrack.geometry import iou
from metatrack.io import atomic_write_text
from metatrack.trackers import create_tracker

RUNTIMES = ("torch", "onnx")


def per_call_ms(call, repeat: int) -> float:
    for _ in range(5):
        call()
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - start) / repeat * 1000


def per_crop(names: list[str], threads: int, repeat: int) -> dict[str, dict]:
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            module, side = create_tracker(name).feature_extractor()
            path = Path(tmp) / f"{name}.onnx"
            export_onnx(name, path)
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            crop = np.random.default_rng(0).uniform(0, 255, (1, 3, side, side)).astype(np.float32)
            x = torch.from_numpy(crop)
            with torch.no_grad():
                torch_ms = per_call_ms(lambda m=module, x=x: m(x), repeat)
            ort_ms = per_call_ms(lambda s=session, c=crop: s.run(None, {"crop": c}), repeat)
            rows[name] = {"crop": side, "torch_ms": torch_ms, "onnxruntime_ms": ort_ms}
    return rows


def tracking(name: str, sequences, seed: int, max_frames: int | None) -> dict[str, dict]:
    """Every sequence tracked with both runtimes in lockstep; per runtime: seconds per part, AUC."""
    parts = ("crop", "features", "finish", "update")
    out = {rt: {"seconds": 0.0, "frames": 0, **dict.fromkeys(parts, 0.0), "curves": []} for rt in RUNTIMES}
    agreement = []
    for seq in sequences:
        n = len(seq) if max_frames is None else min(len(seq), max_frames)
        trackers = {rt: create_tracker(name, runtime=rt) for rt in RUNTIMES}
        boxes = {rt: [np.asarray(seq.boxes[0], dtype=np.float64)] for rt in RUNTIMES}
        first = seq.frame(0)
        for trk in trackers.values():
            trk.seed(seed)
            trk.init(first, seq.boxes[0])
        for i in range(1, n):
            image = seq.frame(i)
            for rt, trk in trackers.items():
                start = time.perf_counter()
                box = trk.update(image)
                out[rt]["seconds"] += time.perf_counter() - start
                boxes[rt].append(np.asarray(box, dtype=np.float64))
        for rt, trk in trackers.items():
            for p in parts:
                out[rt][p] += trk.profile[p]
            out[rt]["frames"] += n - 1
            out[rt]["curves"].append(sequence_curves(np.array(boxes[rt]), seq.boxes[:n]))
        agreement += [float(np.ravel(iou(a, b))[0]) for a, b in zip(boxes["torch"][1:], boxes["onnx"][1:],
                                                                    strict=True)]
    rows = {}
    for rt, r in out.items():
        f = r["frames"]
        succ = np.mean([c[0] for c in r["curves"]], axis=0)
        prec = np.mean([c[1] for c in r["curves"]], axis=0)
        rows[rt] = {
            "frames": f,
            "total_ms": 1000 * r["seconds"] / f,
            "crop_ms": 1000 * r["crop"] / f,
            "features_ms": 1000 * r["features"] / f,
            "head_ms": 1000 * (r["finish"] - r["update"]) / f,
            "update_ms": 1000 * r["update"] / f,
            "fps": f / r["seconds"],
            "success_auc": summary(succ, prec)["success_auc"],
        }
    rows["onnx"]["iou_to_torch_mean"] = float(np.mean(agreement))
    rows["onnx"]["iou_to_torch_min"] = float(np.min(agreement))
    rows["onnx"]["frames_iou_to_torch_below_0.99"] = int(np.sum(np.array(agreement) < 0.99))
    return rows


def machine(threads: int) -> str:
    cpu = cpu_name()
    return (f"{cpu}, {os.cpu_count()} cores, {threads} thread(s) for torch and onnxruntime, torch {torch.__version__}, "
            f"onnxruntime {ort.__version__}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trackers", nargs="+", default=["metasdnet", "metacrest"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=100, help="calls per crop timing")
    p.add_argument("--dataset", default="embedded:eval", help="tracking runs on this data set ('none': skip them)")
    p.add_argument("--max-frames", type=int, help="frames per sequence (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    args = p.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    torch.set_num_threads(args.threads)
    crops = per_crop(args.trackers, args.threads, args.repeat)
    print(f"| tracker | crop | torch (ms) | onnxruntime (ms) | torch / onnxruntime |  ({args.threads} thread(s))")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in crops.items():
        print(f"| {name} | {r['crop']} | {r['torch_ms']:.2f} | {r['onnxruntime_ms']:.2f} | "
              f"{r['torch_ms'] / r['onnxruntime_ms']:.2f}x |")
    runs: dict[str, dict] = {}
    columns = ["tracker", "runtime", "crop (ms)", "backbone (ms)", "head (ms)", "update (ms)", "total (ms/frame)",
               "fps", "torch / onnx", "AUC", "IoU to torch's boxes: mean / min"]
    table = []
    if args.dataset != "none":
        sequences = open_dataset(args.dataset)
        for name in args.trackers:
            started = time.perf_counter()
            runs[name] = tracking(name, sequences, args.seed, args.max_frames)
            runs[name]["wall_seconds"] = time.perf_counter() - started
            t, o = runs[name]["torch"], runs[name]["onnx"]
            for rt, r in (("torch", t), ("onnx", o)):
                table.append([name, rt, f"{r['crop_ms']:.2f}", f"{r['features_ms']:.2f}", f"{r['head_ms']:.2f}",
                              f"{r['update_ms']:.2f}", f"{r['total_ms']:.2f}", f"{r['fps']:.1f}",
                              "" if rt == "torch" else f"{t['total_ms'] / o['total_ms']:.2f}x",
                              f"{r['success_auc']:.3f}",
                              "" if rt == "torch" else f"{o['iou_to_torch_mean']:.3f} / {o['iou_to_torch_min']:.3f}"])
        print("\n| " + " | ".join(columns) + " |")
        print("|" + " --- |" * len(columns))
        for row in table:
            print("| " + " | ".join(row) + " |")
    if args.json:
        n_seq = len(open_dataset(args.dataset)) if args.dataset != "none" else 0
        out = {
            "kind": "table",
            "columns": columns,
            "rows": table,
            "split": f"`{args.dataset}` (validation: choices were made on it; here timed only), {n_seq} sequences"
                     + ("" if args.max_frames is None else f", first {args.max_frames} frames each")
                     + "; milliseconds per frame after the first, torch and onnx runs in lockstep",
            "seeds": str(args.seed),
            "date": date.today().isoformat(),
            "machine": machine(args.threads),
            "command": "OMP_NUM_THREADS=1 .venv/bin/python bench/onnx_speed.py "
                       + " ".join(f"--{k.replace('_', '-')} {v if not isinstance(v, list) else ' '.join(v)}"
                                  for k, v in vars(args).items() if v is not None and k != "repeat"),
            "per_crop": crops,
            "tracking": runs,
        }
        atomic_write_text(args.json, json.dumps(out, indent=1) + "\n")
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
