"""Search an online learning rate of a meta-tracker and its baselines on the train split.

The paper (section 3.3) found that one searched learning rate for the updates after the first frame
beats re-using the meta-learned alpha. This script tracks the train split (never the evaluation
split) under the one-pass protocol with each value of ``--param``: ``update_lr`` (the default:
SDNet-N's, and MetaCREST's and CREST-N's), ``meta_update_lr`` (MetaSDNet's own) or ``lr_init``
(SDNet-N's first-frame rate)
and prints the OTB success AUC and precision (20 px) per value as a Markdown table, the best value
marked. Copy the winner into configs/metasdnet.yaml or configs/metacrest.yaml.

    .venv/bin/python bench/search_update_lr.py --trackers metasdnet --param meta_update_lr \\
        --values 0.002 0.005 0.01 0.02 --sequences 16 --frames 120 --threads 2
    .venv/bin/python bench/search_update_lr.py --trackers sdnet-30 \\
        --values 0.002 0.005 0.01 0.02 --sequences 16 --frames 120 --threads 2
    .venv/bin/python bench/search_update_lr.py --trackers metacrest crest-10 \\
        --values 1e-5 3e-5 1e-4 3e-4 1e-3 --sequences 16 --frames 120 --threads 1
"""

from __future__ import annotations

import argparse

import torch
from _ope import ope, summary_of

from metatrack.data import open_dataset


def run_one(name: str, param: str, value: float, sequences, frames: int | None,
            model: str | None) -> tuple[dict, float]:
    """OTB summary of tracker ``name`` with ``param=value`` over ``sequences``, and its fps."""
    kwargs = {param: value}
    if model and name.startswith("meta"):  # the meta-trackers load a model file; baselines have none
        kwargs["model"] = model
    result = ope(name, sequences, kwargs, seed=0, frames=frames)
    return summary_of(result), result["fps"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="embedded:train")
    p.add_argument("--trackers", nargs="+", default=["metasdnet"])
    p.add_argument("--param", default="update_lr",
                   help="any tracker setting (update_lr, meta_update_lr, lr_init, occlusion_ratio, ...)")
    p.add_argument("--values", nargs="+", type=float, default=[0.001, 0.003, 0.01, 0.03, 0.1])
    p.add_argument("--sequences", type=int, default=None, help="use the first N sequences")
    p.add_argument("--frames", type=int, default=None, help="track at most F frames per sequence")
    p.add_argument("--model", default=None, help="model file of the meta-tracker (default: the shipped one)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 is fastest on a busy CPU)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sequences = open_dataset(args.dataset)
    if args.sequences:
        sequences = sequences[: args.sequences]
    print(f"{args.dataset}: {len(sequences)} sequences, frames <= {args.frames or 'all'}\n")
    results: dict[str, dict[float, dict]] = {}
    for name in args.trackers:
        results[name] = {}
        for value in args.values:
            scores, fps = run_one(name, args.param, value, sequences, args.frames, args.model)
            results[name][value] = {**scores, "fps": fps}
            print(f"  {name} {args.param}={value:g}: AUC {scores['success_auc']:.3f} "
                  f"precision {scores['precision']:.3f} ({fps:.0f} fps)", flush=True)
    print(f"\n| {args.param} | " + " | ".join(f"{n} AUC | {n} prec." for n in args.trackers) + " |")
    print("|---|" + "---|---|" * len(args.trackers))
    best = {n: max(r, key=lambda v, r=r: r[v]["success_auc"]) for n, r in results.items()}
    for value in args.values:
        cells = []
        for n in args.trackers:
            s = results[n][value]
            mark = " **best**" if value == best[n] else ""
            cells += [f"{s['success_auc']:.3f}{mark}", f"{s['precision']:.3f}"]
        print(f"| {value:g} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
