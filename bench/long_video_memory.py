"""Memory of tracking long videos: does a tracker's resident memory stay flat as the video goes on?

Each (tracker, length) runs in a fresh child process that tracks a synthetic video whose frames are
drawn on demand (a textured target moving over a textured background, slowly changing light), never
held together in memory. The child samples its resident memory (RSS) every ``--every`` frames and
reports the peak RSS of the whole process (Python, torch, the model, the tracker), the RSS right
after ``init``, and the growth: the slope of RSS against frame index fitted over the last 80 % of
the video, in MB per 1,000 frames. A tracker with capped sample buffers grows by ~0 MB/1k frames;
one that keeps something per frame grows linearly (its peak at 10,000 frames is far above that at
1,000). Not a test: it takes minutes to hours; run it on an idle machine.

    .venv/bin/python bench/long_video_memory.py                          # 1,000 and 10,000 frames
    .venv/bin/python bench/long_video_memory.py --frames 1000,3000 --trackers opencv-csrt \\
        --model metasdnet=runs/metasdnet/metasdnet.safetensors --json runs/long_video_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from metatrack.data.sequence import FrameSource

DEFAULT_TRACKERS = ["metasdnet", "metacrest", "opencv-csrt"]


class SyntheticVideo(FrameSource):
    """``length`` frames of a target gliding over a background, each drawn when it is read.

    Only the background, the target's texture and the (length, 4) boxes are kept, so a video of any
    length costs the memory of one frame. The target follows a slow Lissajous path that keeps it in
    the frame, its size breathes by +-20 %, and the light drifts, so that trackers keep updating.
    """

    def __init__(self, length: int, size: tuple[int, int] = (320, 240), target: tuple[int, int] = (48, 40),
                 seed: int = 0):
        self.length = int(length)
        self.size = size
        rng = np.random.default_rng(seed)
        w, h = size
        self.background = self._texture(rng, h, w, 8, low=40, high=160)
        self.target = self._texture(rng, target[1], target[0], 6, low=0, high=256)
        t = np.arange(self.length, dtype=np.float64)
        scale = 1.0 + 0.2 * np.sin(2 * np.pi * t / 400.0)
        tw, th = target[0] * scale, target[1] * scale
        cx = w / 2 + (w / 2 - tw.max() / 2 - 2) * np.sin(2 * np.pi * t / 300.0)
        cy = h / 2 + (h / 2 - th.max() / 2 - 2) * np.sin(2 * np.pi * t / 220.0 + 1.0)
        self.boxes = np.stack([cx - tw / 2, cy - th / 2, tw, th], axis=1).round()

    @staticmethod
    def _texture(rng: np.random.Generator, h: int, w: int, cell: int, low: int, high: int) -> np.ndarray:
        base = rng.integers(low, high, (h // cell + 1, w // cell + 1, 3)).astype(np.uint8)
        return cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR)

    def __len__(self) -> int:
        return self.length

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self.length:
            raise IndexError(index)
        x, y, w, h = (int(v) for v in self.boxes[index])
        frame = self.background.copy()
        frame[y:y + h, x:x + w] = cv2.resize(self.target, (w, h), interpolation=cv2.INTER_LINEAR)
        light = 0.85 + 0.15 * np.sin(2 * np.pi * index / 500.0)
        return cv2.convertScaleAbs(frame, alpha=light)

    def describe(self, index: int) -> str:
        return f"synthetic frame {index + 1}"


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux /proc; the peak elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, kB on Linux


def measure(tracker: str, frames: int, size: tuple[int, int], every: int, kwargs: dict) -> dict:
    """Track one synthetic video in this process; the numbers of one table row."""
    from metatrack.geometry import iou
    from metatrack.trackers import create_tracker

    video = SyntheticVideo(frames, size)
    trk = create_tracker(tracker, **kwargs)
    trk.seed(0)
    start_rss = current_rss_mb()
    t0 = time.perf_counter()
    trk.init(video.read(0), video.boxes[0].copy())
    init_seconds = time.perf_counter() - t0
    after_init = current_rss_mb()
    samples: list[tuple[int, float]] = [(0, after_init)]
    overlap = 0.0
    t0 = time.perf_counter()
    for i in range(1, frames):
        box = trk.update(video.read(i))
        overlap += float(iou(box, video.boxes[i])[0])
        if i % every == 0 or i == frames - 1:
            samples.append((i, current_rss_mb()))
    seconds = time.perf_counter() - t0
    idx = np.array([s[0] for s in samples], dtype=np.float64)
    rss = np.array([s[1] for s in samples])
    tail = idx >= 0.2 * frames
    growth = float(np.polyfit(idx[tail], rss[tail], 1)[0] * 1000) if tail.sum() >= 2 else float("nan")
    row = {
        "tracker": tracker,
        "frames": frames,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_init_mb": start_rss,
        "rss_after_init_mb": after_init,
        "rss_end_mb": float(rss[-1]),
        "growth_mb_per_1000_frames": growth,
        "fps": (frames - 1) / seconds if seconds > 0 else float("nan"),
        "mean_iou": overlap / max(frames - 1, 1),
        "init_seconds": init_seconds,
        "rss_samples": samples,
    }
    torch = sys.modules.get("torch")  # not imported at all for the OpenCV trackers
    if torch is not None:
        row["torch_threads"] = torch.get_num_threads()
        if str(kwargs.get("device", "cpu")).startswith("cuda"):
            row["cuda_peak_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return row


def run_child(tracker: str, frames: int, args: argparse.Namespace, kwargs: dict) -> dict:
    """``measure`` in a fresh process, so that the peak RSS is this tracker's and this length's alone."""
    spec = {"tracker": tracker, "frames": frames, "size": args.size, "every": args.every, "kwargs": kwargs}
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)  # torch's thread count, without importing torch here
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"tracker": tracker, "frames": frames, "error": reason}
    return json.loads(lines[-1])


def child_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    from metatrack.errors import CheckpointError

    try:
        row = measure(spec["tracker"], int(spec["frames"]), tuple(spec["size"]), int(spec["every"]),
                      spec["kwargs"])
    except CheckpointError as exc:
        print(f"model file missing: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(row))
    return 0


def format_table(rows: list[dict]) -> str:
    header = ["tracker", "frames", "peak RSS (MB)", "RSS after init (MB)", "growth (MB/1k frames)", "fps",
              "mean IoU"]
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['tracker']} | {r['frames']} | not run: {r['error'][:80]} | | | | |")
            continue
        out.append(f"| {r['tracker']} | {r['frames']} | {r['peak_rss_mb']:.0f} | {r['rss_after_init_mb']:.0f} | "
                   f"{r['growth_mb_per_1000_frames']:+.1f} | {r['fps']:.1f} | {r['mean_iou']:.2f} |")
    return "\n".join(out)


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trackers", default=",".join(DEFAULT_TRACKERS), help="comma-separated registered names")
    p.add_argument("--frames", default="1000,10000", help="comma-separated video lengths")
    p.add_argument("--size", type=_size, default=(320, 240), help="frame size WxH (default 320x240)")
    p.add_argument("--every", type=int, default=50, help="sample RSS every this many frames")
    p.add_argument("--model", action="append", default=[], metavar="TRACKER=PATH",
                   help="model file for a tracker whose shipped one is missing (repeatable)")
    p.add_argument("--device", help="cpu or cuda (torch trackers)")
    p.add_argument("--threads", type=int, help="torch threads in each child (default: torch's own)")
    p.add_argument("--json", help="write every row (with its RSS samples) here")
    args = p.parse_args(argv)
    models = dict(m.split("=", 1) for m in args.model)
    trackers = [t.strip() for t in args.trackers.split(",") if t.strip()]
    lengths = [int(f) for f in args.frames.split(",")]
    rows = []
    for tracker in trackers:
        kwargs: dict = {}
        if tracker in models:
            kwargs["model"] = models[tracker]
        if args.device and not tracker.startswith("opencv-"):
            kwargs["device"] = args.device
        for n in lengths:
            t0 = time.perf_counter()
            rows.append(run_child(tracker, n, args, kwargs))
            print(f"{tracker} {n} frames: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(format_table(rows))
    if args.json:
        from metatrack.io import atomic_write_json

        atomic_write_json(args.json, {"machine": platform.platform(), "cpus": os.cpu_count(),
                                      "size": list(args.size), "rows": rows})
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
