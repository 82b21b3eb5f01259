"""Speed of MetaSDNet and SDNet-N on this machine: tracking fps and first-frame times.

Tracks the first sequences of a data set (``update()`` only for fps) and runs the first-frame
analysis for the training-step times; prints one Markdown table. Not a test: timings depend on the
machine and its load (run it on an idle machine and say which). On a busy machine the CPU-time fps
(process time, one thread) estimates what an idle machine would give.

    .venv/bin/python bench/sdnet_speed.py --trackers metasdnet sdnet-30 --sequences 4 --frames 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from metatrack.data import open_dataset
from metatrack.geometry import iou
from metatrack.trackers import create_tracker


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="embedded:eval")
    p.add_argument("--trackers", nargs="+", default=["metasdnet-01", "sdnet-30", "sdnet-01", "opencv-csrt"])
    p.add_argument("--sequences", type=int, default=4)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--model", default=None, help="MetaSDNet model file (default: the shipped one)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sequences = open_dataset(args.dataset)[: args.sequences]
    print(f"torch threads: {torch.get_num_threads()}; {len(sequences)} sequences of {args.dataset}\n")
    print("| tracker | fps (update) | fps by CPU time | training step (s) | whole first frame (s) | mean IoU |")
    print("|---|---|---|---|---|---|")
    for name in args.trackers:
        kwargs = {"model": args.model} if args.model and name.startswith("metasdnet") else {}
        seconds, cpu, frames, train_s, first_s, ious = 0.0, 0.0, 0, [], [], []
        for seq in sequences:
            n = min(len(seq), args.frames)
            images = [seq.frame(i) for i in range(n)]
            tracker = create_tracker(name, **kwargs)
            tracker.seed(0)
            if hasattr(tracker, "analyse_init"):
                r = tracker.analyse_init(images[:1], seq.boxes[:1])
                train_s.append(r["train_seconds"])
                first_s.append(r["frame_seconds"])
            else:  # a peer for reference (opencv-csrt)
                tracker.init(images[0], seq.boxes[0])
            out = [seq.boxes[0]]
            t0, c0 = time.perf_counter(), time.process_time()
            for img in images[1:]:
                out.append(tracker.update(img))
            seconds += time.perf_counter() - t0
            cpu += time.process_time() - c0
            frames += n - 1
            ious.append(np.nanmean(iou(np.array(out), seq.boxes[:n])))
        train = f"{np.median(train_s):.4f}" if train_s else "-"
        first = f"{np.median(first_s):.4f}" if first_s else "-"
        print(f"| {name} | {frames / seconds:.1f} | {frames / cpu:.1f} | {train} | {first} | {np.mean(ious):.3f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
