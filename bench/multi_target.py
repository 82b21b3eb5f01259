"""Several targets in one video: one batched backbone pass per frame (shared) against one per target.

``metatrack.track_many`` gives each target its own tracker; with ``shared=True`` (the default on a
GPU) the adaptive trackers' backbone runs once per frame on every target's crop in one batched call
(:class:`metatrack.trackers.adaptive.TrackerGroup`). This script measures what that saves on the
CPU: for each tracker, runtime and target count, two sets of trackers follow the same targets frame
by frame in lockstep (so that both meet the same load on a shared machine), one updated as a
batched group (shared), one tracker after the other (independent, as separate runs). Each frame's
time is split into the crops, the backbone, the head and localisation, and the online update (the
template's profile). It also checks that both sets gave the same boxes
(the largest difference in pixels) and that the targets were tracked (mean IoU with the truth).

The video is synthetic: five textured targets gliding over a textured background (320x240, the
embedded data set's size), drawn in memory before timing so that decoding is not timed; torch,
onnxruntime and OpenCV run on ``--threads`` threads (default 1).

    OMP_NUM_THREADS=1 .venv/bin/python bench/multi_target.py --frames small --json bench/results/multi_target.json
    OMP_NUM_THREADS=1 .venv/bin/python bench/multi_target.py --frames 300 --trackers metasdnet --targets 1,2,3,5
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date

import cv2
import numpy as np
from meta_bench import cpu_name

from metatrack.geometry import iou
from metatrack.io import atomic_write_text
from metatrack.tracking import create_trackers, tracker_group

PRESETS = {"small": 60, "full": 300}
SIZE = (320, 240)
TARGET_SIZES = [(48, 40), (36, 52), (44, 44), (40, 32), (30, 46)]
PARTS = ("crop", "features", "finish", "update")


def _texture(rng: np.random.Generator, h: int, w: int, blur: int, low: int, high: int) -> np.ndarray:
    img = rng.integers(low, high, (h, w, 3), dtype=np.uint8)
    return cv2.GaussianBlur(img, (0, 0), blur / 3.0)


def synthetic_scene(frames: int, seed: int = 0,
                    targets: int = len(TARGET_SIZES)) -> tuple[list[np.ndarray], np.ndarray]:
    """(frames HxWx3 uint8 RGB, true boxes (targets, frames, 4)) of textured targets on separate paths."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    background = _texture(rng, h, w, 8, 40, 160)
    sizes = TARGET_SIZES[:targets]
    textures = [_texture(rng, th, tw, 3, 0, 256) for tw, th in sizes]
    t = np.arange(frames, dtype=np.float64)
    boxes = []
    for k, (tw, th) in enumerate(sizes):
        cx = w / 2 + (w / 2 - tw / 2 - 4) * np.sin(2 * np.pi * t / (90 + 40 * k) + 2.1 * k)
        cy = h / 2 + (h / 2 - th / 2 - 4) * np.sin(2 * np.pi * t / (70 + 30 * k) + 1.3 * k + 0.5)
        boxes.append(np.stack([cx - tw / 2, cy - th / 2, np.full_like(t, tw), np.full_like(t, th)], axis=1).round())
    boxes = np.array(boxes)
    images = []
    for i in range(frames):
        img = background.copy()
        for k, tex in enumerate(textures):
            x, y = int(boxes[k, i, 0]), int(boxes[k, i, 1])
            img[y:y + tex.shape[0], x:x + tex.shape[1]] = tex
        images.append(img)
    return images, boxes


def time_pair(tracker: str, runtime: str, images: list[np.ndarray], truth: np.ndarray, seed: int = 0) -> dict:
    """Shared and independent trackers of ``len(truth)`` targets in lockstep; times, parts, boxes."""
    kwargs = {} if runtime == "torch" else {"runtime": runtime}
    sets = {mode: create_trackers(tracker, len(truth), seed=seed, **kwargs) for mode in ("shared", "independent")}
    group = tracker_group(sets["shared"], batch=True)
    first = [b[0] for b in truth]
    boxes = {mode: [first] for mode in sets}
    seconds = dict.fromkeys(sets, 0.0)
    for trackers in sets.values():
        for trk, box in zip(trackers, first, strict=True):
            trk.init(images[0], box.copy())
    for image in images[1:]:
        for mode, trackers in sets.items():
            start = time.perf_counter()
            if mode == "shared" and group is not None:
                found = group.update(image)
            else:
                found = [t.update(image) for t in trackers]
            seconds[mode] += time.perf_counter() - start
            boxes[mode].append([np.asarray(b, dtype=np.float64) for b in found])
    later = len(images) - 1
    out: dict = {"targets": len(truth), "frames": len(images)}
    for mode, trackers in sets.items():
        parts = {p: sum(t.profile[p] for t in trackers if hasattr(t, "profile")) for p in PARTS}
        if mode == "shared" and group is not None:
            parts["crop"] += group.profile["crop"]
            parts["features"] += group.profile["features"]
        b = np.array(boxes[mode])  # frames, targets, 4
        out[mode] = {
            "ms_per_frame": 1000 * seconds[mode] / later,
            "crop_ms": 1000 * parts["crop"] / later,
            "backbone_ms": 1000 * parts["features"] / later,
            "head_ms": 1000 * (parts["finish"] - parts["update"]) / later,
            "update_ms": 1000 * parts["update"] / later,
            "mean_iou": [round(float(np.mean([np.ravel(iou(b[i, k], truth[k, i]))[0] for i in range(len(b))])), 3)
                         for k in range(len(truth))],
        }
    out["batches_per_frame"] = (group.profile["batches"] / later) if group is not None else 0.0
    out["max_box_difference_px"] = float(np.abs(np.array(boxes["shared"]) - np.array(boxes["independent"])).max())
    return out


def machine(threads: int) -> str:
    cpu = cpu_name()
    import torch

    return f"{cpu}, {os.cpu_count()} cores, {threads} thread(s), torch {torch.__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="small",
                        help=f"frames of the video: small ({PRESETS['small']}), full ({PRESETS['full']}) or a number")
    parser.add_argument("--trackers", default="metasdnet,metacrest", help="comma-separated tracker names")
    parser.add_argument("--runtimes", default="torch,onnx", help="comma-separated: torch, onnx")
    parser.add_argument("--targets", default="1,2,3,5",
                        help=f"comma-separated target counts (1 to {len(TARGET_SIZES)})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic video and the trackers")
    parser.add_argument("--threads", type=int, default=1, help="torch's, onnxruntime's and OpenCV's threads")
    parser.add_argument("--json", default="bench/results/multi_target.json", help="write the measurements here")
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    cv2.setNumThreads(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    frames = PRESETS.get(args.frames) or int(args.frames)
    counts = [int(c) for c in args.targets.split(",")]
    if not all(1 <= c <= len(TARGET_SIZES) for c in counts):
        parser.error(f"--targets: counts from 1 to {len(TARGET_SIZES)}")
    images, truth = synthetic_scene(frames, args.seed)
    trackers = [t.strip() for t in args.trackers.split(",") if t.strip()]
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    results: dict[str, dict[str, dict[str, dict]]] = {}
    columns = ["tracker", "runtime", "targets", "independent (ms/frame)", "shared (ms/frame)", "independent / shared",
               "backbone: independent / shared (ms)", "crops (ms)", "head (ms)", "update (ms)",
               "max box difference (px)"]
    rows = []
    for tracker in trackers:
        for runtime in runtimes:
            create_trackers(tracker, 1, **({} if runtime == "torch" else {"runtime": runtime}))  # loads, exports once
            results.setdefault(tracker, {})[runtime] = {}
            for count in counts:
                r = time_pair(tracker, runtime, images, truth[:count], args.seed)
                results[tracker][runtime][str(count)] = r
                ind, sh = r["independent"], r["shared"]
                rows.append([tracker, runtime, str(count), f"{ind['ms_per_frame']:.1f}", f"{sh['ms_per_frame']:.1f}",
                             f"{ind['ms_per_frame'] / sh['ms_per_frame']:.2f}x",
                             f"{ind['backbone_ms']:.1f} / {sh['backbone_ms']:.1f}", f"{sh['crop_ms']:.1f}",
                             f"{sh['head_ms']:.1f}", f"{sh['update_ms']:.1f}", f"{r['max_box_difference_px']:.2g}"])
                print(" | ".join(rows[-1]), f"| mean IoU {sh['mean_iou']}", flush=True)
    out = {
        "kind": "table",
        "columns": columns,
        "rows": rows,
        "split": f"a synthetic {SIZE[0]}x{SIZE[1]} video of {frames} frames drawn in memory (no data split); "
                 "milliseconds per frame after the first, all targets; shared and independent trackers in lockstep; "
                 "crops, head and update of the shared run",
        "seeds": str(args.seed),
        "date": date.today().isoformat(),
        "machine": machine(args.threads),
        "command": f"OMP_NUM_THREADS={args.threads} .venv/bin/python bench/multi_target.py --frames {args.frames} "
                   f"--trackers {args.trackers} --runtimes {args.runtimes} --targets {args.targets} --json {args.json}",
        "video": {"frames": frames, "size": list(SIZE), "seed": args.seed, "synthetic": True},
        "results": results,
    }
    atomic_write_text(args.json, json.dumps(out, indent=1) + "\n")
    print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
