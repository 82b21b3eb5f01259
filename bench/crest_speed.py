"""Speed of the correlation-filter trackers on this machine: tracking fps and first-frame time.

Runs each tracker on the first sequences of a data set (default: the embedded eval split) and
prints the mean ``update()`` rate and the first-frame training time (``analyse_init``'s
``train_seconds`` and ``frame_seconds``), plus the ratio of each first-frame training time to the
first tracker's. Timings, not tests: nothing is asserted.

    .venv/bin/python bench/crest_speed.py --trackers metacrest-01 crest-converged crest-10
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from metatrack.data import open_dataset
from metatrack.trackers import create_tracker


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="embedded:eval")
    p.add_argument("--trackers", nargs="+", default=["metacrest-01", "crest-converged", "crest-10"])
    p.add_argument("--sequences", type=int, default=4)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--model", default=None, help="MetaCREST model file (default: the shipped one)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    seqs = open_dataset(args.dataset)[: args.sequences]
    print(f"{args.dataset}: {len(seqs)} sequences x <= {args.frames} frames, torch threads {args.threads}")
    rows = []
    for name in args.trackers:
        kwargs = {"model": args.model} if args.model and name.startswith("metacrest") else {}
        fps, train, frame = [], [], []
        for seq in seqs:
            n = min(len(seq), args.frames)
            frames = [seq.frame(i) for i in range(n)]
            tracker = create_tracker(name, **kwargs)
            tracker.seed(0)
            res = tracker.analyse_init(frames[:1], seq.boxes[:1])
            train.append(res["train_seconds"])
            frame.append(res["frame_seconds"])
            t0 = time.perf_counter()
            for f in frames[1:]:
                tracker.update(f)
            fps.append((n - 1) / (time.perf_counter() - t0))
        rows.append((name, float(np.mean(fps)), float(np.mean(train)), float(np.mean(frame))))
    base = rows[0][2]
    print("\n| tracker | tracking fps | first-frame training (s) | whole first frame (s) | training / first |")
    print("|---|---|---|---|---|")
    for name, f, t, fr in rows:
        print(f"| {name} | {f:.1f} | {t:.4f} | {fr:.4f} | {t / base:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
