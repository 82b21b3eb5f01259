"""Re-detection settings on the validation data: each setting against re-detection off, per seed.

Tracks ``--trackers`` with each ``--setting`` (``NAME=key:value,key:value``; ``off`` is the trackers
without re-detection) on each ``--dataset`` under the one-pass protocol, one torch thread, and
prints the success AUC per seed and the frames per second. The boxes go to
``OUT/<setting>/<dataset>-s<seed>/<tracker>/<sequence>.txt``, the layout of ``metatrack run``, so that
``bench/failure_causes.py`` reads them. Validation data only (``embedded:eval``, ``real:validation``):
this is where the defaults were chosen.

    .venv/bin/python bench/redetect_search.py --trackers metasdnet metacrest --seeds 0 1 \\
        --setting off --setting r5=redetect_after:5 --out runs/redetect --json runs/redetect.json

Each result also counts the run's losses by kind (departed or hidden, ``adaptive/redetect.py``) and the
frames searched wide. ``--table OUT --from A.json B.json --label NAME=words`` writes the results of those
files (the last result of each setting, tracker, data set and seed) as a results table for
``bench/results_tables.py``, without tracking anything.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def parse_setting(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME=key:value,...`` as (name, overrides); values are numbers, comma-free tuples ``a/b``,
    switches (``true``, ``false``) or words (``window_basis:shorter``)."""
    name, _, rest = text.partition("=")
    out: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition(":")
        if value in ("true", "false"):
            out[key] = value == "true"
            continue
        try:
            parts = [float(v) for v in value.split("/")]
        except ValueError:
            out[key] = value
            continue
        out[key] = tuple(parts) if "/" in value else (int(parts[0]) if parts[0].is_integer() and "." not in value
                                                       else parts[0])
    return name, out


def run(tracker: str, overrides: dict[str, Any], spec: str, seed: int, folder: Path) -> dict[str, Any]:
    """One tracker with ``overrides`` on ``spec``: boxes written under ``folder``, AUC and fps back."""
    import torch

    from metatrack.data import open_dataset
    from metatrack.evaluation.otb import sequence_curves
    from metatrack.evaluation.runner import track_ope
    from metatrack.io import atomic_write_text
    from metatrack.trackers import create_tracker

    torch.set_num_threads(1)
    aucs, seconds, frames = {}, 0.0, 0
    stats = {"departed": 0, "hidden": 0, "searched": 0}
    for seq in open_dataset(spec):
        t = create_tracker(tracker, **overrides)
        t.seed(seed)
        boxes, times = track_ope(t, seq, [])
        loss = t._loss_counter
        stats["departed"] += loss.losses["departed"]
        stats["hidden"] += loss.losses["hidden"]
        stats["searched"] += loss.searched
        success, _ = sequence_curves(boxes, seq.boxes)
        aucs[seq.name] = float(np.mean(success))
        seconds += float(times[1:].sum())
        frames += len(times) - 1
        atomic_write_text(folder / tracker / f"{seq.name}.txt",
                          "\n".join(",".join(repr(float(v)) for v in b) for b in boxes) + "\n")
    return {"auc": float(np.mean(list(aucs.values()))), "sequences": aucs, "fps": frames / max(seconds, 1e-9),
            "frames": frames, **stats}


def table(sources: list[str], labels: dict[str, str], datasets: list[str], note: str, command: str) -> dict[str, Any]:
    """One row per tracker and setting (in the order of ``labels``): each data set's AUC per seed, its
    frames per second (mean over seeds), its losses by kind and frames searched wide per 100 frames."""
    from meta_bench import cpu_name

    last: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for src in sources:
        for r in json.loads(Path(src).read_text())["results"]:
            last[(r["tracker"], r["setting"], r["dataset"], r["seed"])] = r
    columns = ["tracker", "setting"]
    for spec in datasets:
        columns += [f"{spec} AUC (per seed)", f"{spec} fps", f"{spec} losses departed / hidden",
                    f"{spec} wide searches per 100 frames"]
    rows = []
    for tracker in dict.fromkeys(k[0] for k in last):
        for setting, words in labels.items():
            cells = [tracker, words]
            for spec in datasets:
                rs = [r for k, r in sorted(last.items()) if k[:3] == (tracker, setting, spec)]
                if not rs:
                    break
                frames = sum(r["frames"] for r in rs)
                cells += [" / ".join(f"{r['auc']:.3f}" for r in rs), f"{np.mean([r['fps'] for r in rs]):.1f}",
                          f"{sum(r['departed'] for r in rs)} / {sum(r['hidden'] for r in rs)}",
                          f"{100 * sum(r['searched'] for r in rs) / max(frames, 1):.1f}"]
            else:
                rows.append(cells)
    return {"kind": "table", "columns": columns, "rows": rows, "split": note,
            "seeds": "those of the AUC cells, in order (0, or 0 and 1 where two are shown; MetaCREST is deterministic)",
            "date": time.strftime("%Y-%m-%d"), "machine": f"{cpu_name()}, one torch thread", "command": command}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trackers", nargs="+", default=["metasdnet", "metacrest"])
    p.add_argument("--dataset", nargs="+", default=["embedded:eval", "real:validation"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--setting", action="append", help="NAME=key:value,... or off")
    p.add_argument("--out")
    p.add_argument("--json")
    p.add_argument("--table", help="write a results table here from the --from files (tracks nothing)")
    p.add_argument("--from", dest="sources", nargs="+", default=[], help="JSON files this script wrote")
    p.add_argument("--label", action="append", default=[], help="NAME=words: a setting's row, in order")
    p.add_argument("--note", default="", help="the table's split and what was chosen on it, in words")
    p.add_argument("--command", default="", help="the commands that measured the --from files, in words")
    args = p.parse_args(argv)
    from metatrack.io import atomic_write_text

    if args.table:
        labels = dict(item.partition("=")[::2] for item in args.label)
        if not args.sources or not labels:
            p.error("--table needs --from and --label")
        doc = table(args.sources, labels, args.dataset, args.note, args.command)
        atomic_write_text(args.table, json.dumps(doc, indent=1) + "\n")
        return 0
    if not args.setting or not args.out:
        p.error("--setting and --out are required unless --table is given")

    doc: dict[str, Any] = {"kind": "redetect_search", "date": time.strftime("%Y-%m-%d"), "results": []}
    if args.json and Path(args.json).is_file():
        doc = json.loads(Path(args.json).read_text())
    for text in args.setting:
        name, overrides = parse_setting(text)
        for spec in args.dataset:
            for tracker in args.trackers:
                for seed in args.seeds:
                    folder = Path(args.out) / name / f"{spec.replace(':', '_')}-s{seed}"
                    r = run(tracker, overrides, spec, seed, folder)
                    doc["results"].append({"setting": name, "overrides": overrides, "dataset": spec,
                                           "tracker": tracker, "seed": seed, **r})
                    print(f"{name:12s} {spec:16s} {tracker:10s} seed {seed}: AUC {r['auc']:.3f}  {r['fps']:.1f} fps",
                          flush=True)
                    if args.json:
                        atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
