"""The gap between two trackers on each data role, with a 95 % interval over the role's sequences.

A split of 16 sequences is a small sample: one sequence that changes hands moves the mean success AUC
by 0.05, so a gap of that size can be the sequences drawn rather than the trackers. For each pair
``A:B`` and each role of a split benchmark's JSON (``bench/split_bench.py``), the gap is the mean over
the sequences of A's AUC minus B's (each the mean over its seeds), and its interval a paired bootstrap
over the sequences (``scipy.stats.bootstrap``, BCa, 10,000 resamples, seeded): a gap whose interval
holds 0 is a tie on that material, whatever its sign. Nothing is tracked.

The same for two settings of one tracker tried on the validation sets (``bench/redetect_search.py``'s
JSON files, ``--pairs SETTING:SETTING``): one row per data set and one over every sequence of them
all, where the two settings' runs are paired sequence by sequence and a small difference can still
be told from a tie.

    .venv/bin/python bench/paired_gap.py --from bench/results/split_bench.json \\
        --pairs metacrest:opencv-csrt metasdnet:sdnet-30 --json bench/results/paired_gap.json
    .venv/bin/python bench/paired_gap.py --from runs/base.json runs/try.json --pairs try:base
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from results_tables import emit_table
from scipy import stats

COLUMNS = ["A - B", "role", "data set", "sequences", "A: mean AUC", "B: mean AUC", "gap", "95 % interval",
           "sequences A ahead / B ahead"]
RESAMPLES = 10_000
SEED = 0


def per_sequence_auc(runs: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Each sequence's success AUC, the mean over its seeds' runs."""
    return {name: float(np.mean([r["auc"] for r in seeds])) for name, seeds in runs.items()}


def gap(a: dict[str, float], b: dict[str, float]) -> dict[str, Any]:
    """A's per-sequence AUC minus B's over the sequences both ran: the mean, its BCa interval, the counts."""
    names = sorted(set(a) & set(b))
    if len(names) < 2:
        raise ValueError(f"{len(names)} sequence(s) run by both: an interval needs two or more")
    d = np.array([a[n] - b[n] for n in names])
    if np.allclose(d, d[0]):
        low = high = float(d[0])  # no spread to resample (identical runs)
    else:
        ci = stats.bootstrap((d,), np.mean, n_resamples=RESAMPLES, confidence_level=0.95, method="BCa",
                             random_state=np.random.default_rng(SEED)).confidence_interval
        low, high = float(ci.low), float(ci.high)
    return {"sequences": len(names), "a": float(np.mean([a[n] for n in names])),
            "b": float(np.mean([b[n] for n in names])), "gap": float(d.mean()), "low": low, "high": high,
            "a_ahead": int((d > 0).sum()), "b_ahead": int((d < 0).sum())}


def rows_for(doc: dict[str, Any], pairs: list[tuple[str, str]], source: str) -> list[list[str]]:
    rows = []
    for a, b in pairs:
        for name in (a, b):
            if name not in doc["results"]:
                raise ValueError(f"{source}: no tracker {name!r} (its trackers: {', '.join(doc['results'])})")
        for role, spec in doc["splits"].items():
            ra, rb = doc["results"][a].get(role), doc["results"][b].get(role)
            if not ra or not rb:
                continue
            g = gap(per_sequence_auc(ra["sequences"]), per_sequence_auc(rb["sequences"]))
            rows.append(_row(f"{a} - {b}", role, spec, g))
    return rows


def search_rows(docs: list[dict[str, Any]], pairs: list[tuple[str, str]], sources: str,
                pooled: bool = False) -> list[list[str]]:
    """Rows for pairs of settings from validation-search files: each (data set, sequence)'s AUC per
    setting, the mean over the seeds and trackers run with it; per data set, then over them all."""
    runs: dict[str, dict[str, dict[str, list[float]]]] = {}
    for doc in docs:
        for r in doc["results"]:
            per = runs.setdefault(r["setting"], {}).setdefault(r["dataset"], {})
            for seq, auc in r["sequences"].items():
                per.setdefault(seq, []).append(float(auc))
    rows = []
    for a, b in pairs:
        for name in (a, b):
            if name not in runs:
                raise ValueError(f"{sources}: no setting {name!r} (its settings: {', '.join(runs)})")
        shared = [d for d in runs[a] if d in runs[b]]
        means = {n: {d: {f"{d}/{q}": float(np.mean(v)) for q, v in runs[n][d].items()} for d in shared}
                 for n in (a, b)}
        for label, keep in [*((d, [d]) for d in shared), ("all", shared)]:
            if (label == "all" and len(shared) < 2) or (pooled and label != "all" and len(shared) > 1):
                continue
            g = gap(*({k: v for d in keep for k, v in means[n][d].items()} for n in (a, b)))
            rows.append(_row(f"{a} - {b}", "validation search", label if label != "all" else
                             f"all {len(shared)} ({', '.join(shared)})", g))
    return rows


def _row(pair: str, role: str, spec: str, g: dict[str, Any]) -> list[str]:
    return [pair, role, spec, str(g["sequences"]), f"{g['a']:.3f}", f"{g['b']:.3f}", f"{g['gap']:+.3f}",
            f"{g['low']:+.3f} to {g['high']:+.3f}", f"{g['a_ahead']} / {g['b_ahead']}"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="sources", nargs="+", required=True, help="JSON files bench/split_bench.py wrote")
    p.add_argument("--pairs", nargs="+", required=True, metavar="A:B", help="tracker pairs, A minus B")
    p.add_argument("--pooled", action="store_true",
                   help="validation searches: only the row over every data set (not one per data set)")
    p.add_argument("--json", help="write the table here")
    args = p.parse_args(argv)
    pairs = []
    for pair in args.pairs:
        a, sep, b = pair.partition(":")
        if not sep or not a or not b:
            p.error(f"--pairs: {pair!r} is not A:B (two tracker names)")
        pairs.append((a, b))

    rows, dates, searches = [], [], []
    for source in args.sources:
        path = Path(source)
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            p.error(f"--from: {path}: {e}")
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind not in ("split_bench", "redetect_search"):
            p.error(f"--from: {path} is not a split benchmark's or a validation search's JSON")
        dates.append(f"{path.name} {doc.get('date', '?')}")
        if kind == "redetect_search":
            searches.append(doc)
            continue
        try:
            rows += rows_for(doc, pairs, source)
        except (KeyError, TypeError, ValueError) as e:
            p.error(f"--from: {path}: {e}")
    if searches and len(searches) < len(args.sources):
        p.error("--from: split benchmarks and validation searches compare trackers and settings: not both at once")
    if searches:
        try:
            rows = search_rows(searches, pairs, " ".join(args.sources), args.pooled)
        except (KeyError, TypeError, ValueError) as e:
            p.error(f"--from: {e}")
    out = {"kind": "table", "columns": COLUMNS, "rows": rows,
           "split": ((f"the validation searches {', '.join(dates)} (validation only)" if searches else
                      f"the roles of {', '.join(dates)} (their notes say which are validation and which test)")
                     + "; nothing is chosen on this table; gap: the mean over the sequences of A's success AUC "
                     "minus B's, each the mean over its seeds; interval: paired BCa bootstrap over the sequences, "
                     f"{RESAMPLES:,} resamples, seed {SEED}"),
           "seeds": "those of the runs read (each sequence's AUC the mean over them)",
           "date": time.strftime("%Y-%m-%d"), "machine": "none: computed from the JSON named (no tracking)",
           "command": (f"bench/paired_gap.py --from {' '.join(args.sources)} --pairs {' '.join(args.pairs)}"
                       + (" --pooled" if args.pooled else ""))}
    emit_table(out, args.json, "paired_gap")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
