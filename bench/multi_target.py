"""Several targets in one video: how the time per frame grows from 1 target to 3.

Each target has its own tracker (``metatrack.track_many``; no work is shared between targets yet), so
the time per frame should grow about linearly with the number of targets; this script measures it.
The video is synthetic: three textured targets gliding over a textured background (320x240, the
embedded data set's size), drawn in memory before timing so that decoding is not timed. For each
tracker and target count it reports the first frame (every target's ``init``), the later frames'
time and frames per second, and the mean IoU of each target with its true box (a sanity check that
the trackers did track). Run it on an idle machine; torch and OpenCV run on ``--threads`` threads
(default 1, so that the numbers do not depend on the machine's core count).

    OMP_NUM_THREADS=1 .venv/bin/python bench/multi_target.py --frames small --json runs/multi_target.json
    OMP_NUM_THREADS=1 .venv/bin/python bench/multi_target.py --frames 300 --trackers metasdnet --targets 1,2,3,5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np

import metatrack
from metatrack.geometry import iou

PRESETS = {"small": 40, "full": 300}
SIZE = (320, 240)
TARGET_SIZES = [(48, 40), (36, 52), (44, 44)]


def _texture(rng: np.random.Generator, h: int, w: int, blur: int, low: int, high: int) -> np.ndarray:
    img = rng.integers(low, high, (h, w, 3), dtype=np.uint8)
    return cv2.GaussianBlur(img, (0, 0), blur / 3.0)


def synthetic_scene(frames: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """(frames HxWx3 uint8 RGB, true boxes (targets, frames, 4)) of three targets on separate paths."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    background = _texture(rng, h, w, 8, 40, 160)
    textures = [_texture(rng, th, tw, 3, 0, 256) for tw, th in TARGET_SIZES]
    t = np.arange(frames, dtype=np.float64)
    boxes = []
    for k, (tw, th) in enumerate(TARGET_SIZES):
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


def time_run(tracker: str, images: list[np.ndarray], truth: np.ndarray) -> dict:
    """Track ``len(truth)`` targets through ``images`` with ``tracker``; times and IoUs."""
    built = time.perf_counter()
    frames = metatrack.track_many(images, [b[0] for b in truth], tracker=tracker)
    build_seconds = time.perf_counter() - built
    seconds, ious = [], [[] for _ in truth]
    while True:
        t0 = time.perf_counter()
        try:
            index, found = next(frames)
        except StopIteration:
            break
        seconds.append(time.perf_counter() - t0)
        for target, box, _ in found:
            ious[target - 1].append(float(np.ravel(iou(box, truth[target - 1, index]))[0]))
    later = float(np.sum(seconds[1:]))
    return {
        "targets": len(truth),
        "build_seconds": round(build_seconds, 4),
        "first_frame_seconds": round(seconds[0], 4),
        "later_frames_seconds": round(later, 4),
        "ms_per_frame": round(1000 * later / max(len(seconds) - 1, 1), 2),
        "fps": round((len(seconds) - 1) / later, 2) if later > 0 else None,
        "mean_iou": [round(float(np.mean(v)), 3) for v in ious],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="small",
                        help=f"frames of the video: small ({PRESETS['small']}), full ({PRESETS['full']}) or a number")
    parser.add_argument("--trackers", default="metasdnet,opencv-csrt", help="comma-separated tracker names")
    parser.add_argument("--targets", default="1,3", help="comma-separated target counts (at most 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic video")
    parser.add_argument("--threads", type=int, default=1, help="torch's and OpenCV's threads (default 1)")
    parser.add_argument("--json", default="runs/multi_target.json", help="write the measurements here")
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
    results: dict[str, dict[str, dict]] = {}
    for tracker in [t.strip() for t in args.trackers.split(",") if t.strip()]:
        metatrack.create_tracker(tracker)  # imports and model files loaded once, outside the timings
        results[tracker] = {}
        for count in counts:
            r = time_run(tracker, images, truth[:count])
            results[tracker][str(count)] = r
            print(f"{tracker:<14} {count} target(s): first frame {r['first_frame_seconds']:.3f} s, "
                  f"{r['ms_per_frame']:.1f} ms per later frame ({r['fps']} fps), mean IoU {r['mean_iou']}")
        if len(counts) > 1:
            lo, hi = results[tracker][str(counts[0])], results[tracker][str(counts[-1])]
            print(f"{tracker:<14} {counts[-1]} targets / {counts[0]}: "
                  f"{hi['ms_per_frame'] / lo['ms_per_frame']:.2f}x the time per frame")
    out = {
        "date": date.today().isoformat(),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "threads": args.threads},
        "video": {"frames": frames, "size": list(SIZE), "seed": args.seed, "synthetic": True},
        "results": results,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
