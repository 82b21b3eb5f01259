"""Search the online-update learning rate of MetaCREST / CREST-N on the train split.

The paper (section 3.3) found that a single searched learning rate for the updates after the first
frame beats re-using the meta-learned alpha. This script runs each tracker with each ``update_lr``
over the train split (never the evaluation split) under the one-pass protocol and prints the OTB
success AUC and precision (20 px) per value, as a Markdown table, best value marked.

    .venv/bin/python bench/search_crest_update_lr.py --trackers metacrest crest-10 \
        --lrs 1e-5 3e-5 1e-4 3e-4 1e-3 --sequences 16 --frames 120
"""

from __future__ import annotations

import argparse

import torch
from _ope import ope, summary_of

from metatrack.data import open_dataset


def run_one(name: str, lr: float, sequences, frames: int | None, model: str | None) -> tuple[dict, float]:
    """OTB summary of tracker ``name`` with ``update_lr=lr`` over ``sequences``, and its fps."""
    kwargs = {"update_lr": lr}
    if model and name.startswith("metacrest"):
        kwargs["model"] = model
    result = ope(name, sequences, kwargs, seed=0, frames=frames)
    return summary_of(result), result["fps"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="embedded:train")
    p.add_argument("--trackers", nargs="+", default=["metacrest", "crest-10"])
    p.add_argument("--lrs", nargs="+", type=float, default=[1e-5, 3e-5, 1e-4, 3e-4, 1e-3])
    p.add_argument("--sequences", type=int, default=None, help="use the first N sequences")
    p.add_argument("--frames", type=int, default=None, help="track at most F frames per sequence")
    p.add_argument("--model", default=None, help="MetaCREST model file (default: the shipped one)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared CPU)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    sequences = open_dataset(args.dataset)
    if args.sequences:
        sequences = sequences[: args.sequences]
    print(f"{args.dataset}: {len(sequences)} sequences, frames <= {args.frames or 'all'}\n")
    results: dict[str, dict[float, dict]] = {}
    for name in args.trackers:
        results[name] = {}
        for lr in args.lrs:
            scores, fps = run_one(name, lr, sequences, args.frames, args.model)
            results[name][lr] = {**scores, "fps": fps}
            print(f"  {name} update_lr={lr:g}: AUC {scores['success_auc']:.3f} "
                  f"precision {scores['precision']:.3f} ({fps:.0f} fps)", flush=True)
    print("\n| update_lr | " + " | ".join(f"{n} AUC | {n} prec." for n in args.trackers) + " |")
    print("|---|" + "---|---|" * len(args.trackers))
    best = {n: max(r, key=lambda lr, r=r: r[lr]["success_auc"]) for n, r in results.items()}
    for lr in args.lrs:
        cells = []
        for n in args.trackers:
            s = results[n][lr]
            mark = " **best**" if lr == best[n] else ""
            cells += [f"{s['success_auc']:.3f}{mark}", f"{s['precision']:.3f}"]
        print(f"| {lr:g} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
