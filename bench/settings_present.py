"""A tracker's settings on validation data: success AUC and how often ``present`` finds the absent frames.

Runs ``--tracker`` with the keyword overrides ``--set`` (a Python dict literal) on each ``--dataset``
and each seed of ``--seeds`` (one-pass, one torch thread; boxes and confidences kept under
``OUT/s<seed>/<data set>/<tracker>/``, resumable), and prints per data set and seed the success AUC,
the absent frames and the share of them that ``present`` (the shipped calibration) calls absent, the
ECE of the calibrated confidence and the VOT-LT F-score; everything goes to ``OUT/result.json``.
``--table OUT.json --from LABEL=DIR[,DIR...] ...`` writes those results as a results table for
``bench/results_tables.py`` without tracking anything (a label is ``tracker:words``; several folders of
one label are its seeds put together).

    .venv/bin/python bench/settings_present.py --out runs/sr5 --tracker metasdnet --set "{'meta_success_ratio': 0.5}" \\
        --seeds 0 1 --dataset embedded:crossing embedded:hard embedded:eval real:validation
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

#: the data sets whose absent frames get a column of their own
ABSENT_COLUMNS = ("embedded:crossing", "embedded:hard", "embedded:eval")


def track(out: Path, tracker: str, overrides: dict, seeds: list[int], datasets: list[str]) -> list[dict]:
    """Track and measure; the results, also written to ``out/result.json``."""
    import torch
    from confidence_calibration import measure

    from metatrack.calibration import SHIPPED, read_calibrations
    from metatrack.calibration.fit import dataset_slug
    from metatrack.data import open_dataset
    from metatrack.evaluation.runner import run_tracker
    from metatrack.evaluation.scoring import score_ope
    from metatrack.io import atomic_write_text

    torch.set_num_threads(1)
    cal = read_calibrations(SHIPPED)[tracker]
    results = []
    for spec in datasets:
        sequences = open_dataset(spec)
        for seed in seeds:
            folder = out / f"s{seed}"
            run_tracker(tracker, sequences, folder / dataset_slug(spec), seed=seed, progress=False,
                        tracker_kwargs=overrides)
            auc = score_ope(sequences, folder / dataset_slug(spec) / tracker)["success_auc"]
            m = measure(tracker, [(spec, sequences)], folder, cal)
            r = {"dataset": spec, "seed": seed, "tracker": tracker, "overrides": overrides, "auc": auc,
                 "absent": m["absent_frames"], "caught": m["absent_caught"], "ece": m["ece"], "lt_f": m["lt_f"]}
            results.append(r)
            print(json.dumps(r), flush=True)
    atomic_write_text(out / "result.json", json.dumps(results, indent=1) + "\n")
    return results


def table(sources: list[str], split: str, command: str) -> dict:
    """One row per label: each data set's AUC per seed and, where targets are absent, present's catch."""
    rows, datasets = [], []
    for item in sources:
        label, _, folders = item.partition("=")
        tracker, _, words = label.partition(":")
        by: dict[str, list[dict]] = {}
        for folder in folders.split(","):
            for r in json.loads((Path(folder) / "result.json").read_text()):
                by.setdefault(r["dataset"], []).append(r)
                if r["dataset"] not in datasets:
                    datasets.append(r["dataset"])
        row = [tracker, words]
        for spec in datasets:
            rs = sorted(by.get(spec, []), key=lambda r: r["seed"])
            row.append(" / ".join(f"{r['auc']:.3f}" for r in rs) or "-")
            if spec in ABSENT_COLUMNS:
                row.append(" / ".join("-" if r["caught"] is None else f"{r['caught']:.2f}" for r in rs) or "-")
        rows.append(row)
    columns = ["tracker", "setting"]
    for spec in datasets:
        columns.append(f"{spec} AUC (per seed)")
        if spec in ABSENT_COLUMNS:
            columns.append(f"{spec}: absent frames called absent (per seed)")
    from meta_bench import cpu_name

    return {"kind": "table", "columns": columns, "rows": rows, "split": split,
            "seeds": "those of each cell, in order (0 and 1, or 0 to 3 where four are shown)",
            "date": datetime.date.today().isoformat(), "machine": f"{cpu_name()}, one torch thread",
            "command": command}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="results folder of this setting")
    p.add_argument("--tracker", default="metasdnet")
    p.add_argument("--set", default="{}", help="keyword overrides, a Python dict literal")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--dataset", nargs="+", default=["embedded:crossing", "embedded:hard", "embedded:eval",
                                                    "real:validation"])
    p.add_argument("--table", help="write a results table here from --from (tracks nothing)")
    p.add_argument("--from", dest="sources", nargs="+", default=[], help="LABEL=DIR[,DIR...], LABEL tracker:words")
    p.add_argument("--split", default="", help="the table's data and what was chosen on them, in words")
    p.add_argument("--command", default="", help="the commands that made the --from folders, in words")
    args = p.parse_args(argv)
    if args.table:
        if not args.sources:
            p.error("--table needs --from")
        for item in args.sources:
            label, _, folders = item.partition("=")
            if not folders or ":" not in label:
                p.error(f"--from: expected tracker:words=DIR[,DIR...], got {item!r}")
            for folder in folders.split(","):
                found = Path(folder) / "result.json"
                if not found.is_file():
                    p.error(f"--from {label}: {found} is missing (run this script with --out {folder})")
        from metatrack.io import atomic_write_text

        atomic_write_text(args.table, json.dumps(table(args.sources, args.split, args.command), indent=1) + "\n")
        return 0
    if not args.out:
        p.error("--out is required unless --table is given")
    try:
        overrides = ast.literal_eval(args.set)
    except (ValueError, SyntaxError):
        p.error(f"--set: not a Python dict literal: {args.set!r}")
    if not isinstance(overrides, dict):
        p.error(f"--set: not a dict: {args.set!r}")
    track(Path(args.out), args.tracker, overrides, args.seeds, args.dataset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
