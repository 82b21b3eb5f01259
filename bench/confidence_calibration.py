"""How well calibrated is each tracker's confidence, and does `present` find the absent frames?

The shipped calibrations (``src/metatrack/calibration/confidence.json``, fitted by ``metatrack
calibrate`` on ``embedded:eval`` + ``real:validation``) are applied to one-pass runs (seed 0) of
each tracker on the validation data sets, on ``embedded:hard`` (validation under the test split's
conditions, not fitted on: does a map carry over to harder conditions?), on ``embedded:crossing``
(validation, not fitted on: targets that leave the frame while look-alikes stay in view) and on the test ones
(``embedded:test`` + ``real:test``: reported, never used to choose). Per tracker and role: ECE
(10 equal-width bins) of the calibrated confidence against "the box overlaps the target" (IoU > 0;
an absent target: no), the share of frames where ``present`` agrees with it, the share of absent
frames that ``present`` calls absent, and the VOT-LT F-score, precision and recall of the
calibrated confidences. Runs are kept in
``--results`` (resumable; the same folders ``metatrack calibrate`` writes).

``--guard-check`` instead runs MetaSDNet and SDNet-30 on the validation data sets with and without the
blank-frame guard (``blank_std=0`` turns it off), deterministic, seed 0, and counts the frames whose
boxes differ: the guard is meant to act on flat frames only, which validation does not have.

    .venv/bin/python bench/confidence_calibration.py --results runs/calibration
    .venv/bin/python bench/confidence_calibration.py --results runs/calibration --guard-check
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from metatrack.calibration import SHIPPED, expected_calibration_error, read_calibrations  # noqa: E402
from metatrack.calibration.fit import DEFAULT_TRACKERS, collect, dataset_slug  # noqa: E402
from metatrack.data import open_dataset  # noqa: E402
from metatrack.evaluation import longterm  # noqa: E402
from metatrack.evaluation.runner import run_tracker  # noqa: E402
from metatrack.evaluation.scoring import read_ope_result, score_ope  # noqa: E402
from metatrack.io import atomic_write_json  # noqa: E402

ROLES = {"validation": ("embedded:eval", "real:validation"), "hard": ("embedded:hard",),
         "crossing": ("embedded:crossing",), "test": ("embedded:test", "real:test")}
CALIBRATION_SPLIT = (
    "validation = `embedded:eval` (validation: choices were made on it) + `real:validation` (validation: choices "
    "were made on these clips): the calibrations and present's thresholds were fitted on them; hard = "
    "`embedded:hard` (validation under the test split's conditions, not fitted on: how the maps carry over, seen "
    "before test); crossing = `embedded:crossing` (validation, not fitted on: targets that leave the frame while "
    "look-alikes stay in view); test = `embedded:test` + `real:test` (test: reported, never used to choose); "
    "frames after the first that show the target or are flagged absent")
GUARD_SPLIT = ("`embedded:eval` (validation: choices were made on it) and `real:validation` (validation: choices "
               "were made on these clips)")


def measure(name: str, data: list, results: Path, cal) -> dict:
    """ECE, present agreement, absent frames caught and VOT-LT F/Pr/Re of one tracker on one role."""
    parts = collect(name, data, results)["parts"]
    probs = [np.asarray(cal.probability(p["raw"]), dtype=np.float64).reshape(-1) for p in parts]
    scored_p = np.concatenate([pr[p["scored"]] for pr, p in zip(probs, parts, strict=True)])
    positive = np.concatenate([(p["visible"] & (p["overlaps"] > cal.iou_threshold))[p["scored"]] for p in parts])
    absent = np.concatenate([(~p["visible"])[p["scored"]] for p in parts])
    present = ~(scored_p < cal.threshold)
    lt = longterm.long_term_score([p["sequence"] for p in parts], [p["boxes"] for p in parts], probs).to_json()
    return {
        "frames": int(scored_p.size),
        "positives": float(positive.mean()),
        "ece": expected_calibration_error(scored_p, positive),
        "present_agrees": float(np.mean(present == positive)),
        "absent_frames": int(absent.sum()),
        "absent_caught": float(np.mean(~present[absent])) if absent.any() else None,
        "lt_f": lt["f_score"], "lt_pr": lt["precision"], "lt_re": lt["recall"],
    }


def guard_check(results: Path, data: list) -> list[list[str]]:
    """Rows: tracker, data set, frames, frames whose boxes differ with the blank-frame guard off, AUC on/off."""
    rows = []
    for name in ("metasdnet", "sdnet-30"):
        for spec, sequences in data:
            runs, auc = {}, {}
            for label, kwargs in (("on", {}), ("off", {"blank_std": 0.0})):
                d = results / "guard" / label / dataset_slug(spec)
                run_tracker(name, sequences, d, seed=0, tracker_kwargs=kwargs, deterministic=True, progress=False)
                runs[label] = [read_ope_result(d / name, s)[0] for s in sequences]
                auc[label] = score_ope(sequences, d / name)["success_auc"]
            total = sum(len(a) for a in runs["on"])
            diff = sum(int(np.any(a != b, axis=1).sum()) for a, b in zip(runs["on"], runs["off"], strict=True))
            rows.append([name, spec, str(total), str(diff), f"{auc['on']:.4f}", f"{auc['off']:.4f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "runs/calibration")
    parser.add_argument("--out", type=Path, help="default: bench/results/confidence_calibration.json, "
                        "with --guard-check bench/results/blank_guard.json")
    parser.add_argument("--trackers", default=",".join(DEFAULT_TRACKERS))
    parser.add_argument("--guard-check", action="store_true", help="measure the blank-frame guard instead")
    args = parser.parse_args(argv)
    start = time.time()
    machine = f"this project's machine: 2-core Intel Xeon VM, no GPU, one thread (Python {platform.python_version()})"
    data = {role: [(spec, open_dataset(spec)) for spec in specs] for role, specs in ROLES.items()}
    if args.guard_check:
        out = args.out or ROOT / "bench/results/blank_guard.json"
        doc = {
            "kind": "table",
            "title": "MetaSDNet and SDNet-30 with and without the blank-frame guard on the validation data sets",
            "columns": ["tracker", "data set", "frames", "frames whose box differs, guard off",
                        "success AUC, guard on", "success AUC, guard off"],
            "rows": guard_check(args.results, data["validation"]),
            "split": GUARD_SPLIT,
            "seeds": "0 (deterministic: one thread, seeded)",
            "date": dt.date.today().isoformat(),
            "machine": machine,
            "command": ".venv/bin/python bench/confidence_calibration.py --results runs/calibration --guard-check",
        }
    else:
        out = args.out or ROOT / "bench/results/confidence_calibration.json"
        cals = read_calibrations(SHIPPED)
        rows = []
        for name in (t for t in args.trackers.split(",") if t):
            for role in ROLES:
                for spec, sequences in data[role]:
                    run_tracker(name, sequences, args.results / dataset_slug(spec), seed=0, progress=False)
                m = measure(name, data[role], args.results, cals[name])
                caught = "-" if m["absent_caught"] is None else f"{m['absent_caught']:.2f}"
                rows.append([name, role, str(m["frames"]), f"{m['positives']:.2f}", f"{m['ece']:.3f}",
                             f"{m['present_agrees']:.3f}", f"{m['absent_frames']}", caught,
                             f"{m['lt_f']:.3f}", f"{m['lt_pr']:.3f}", f"{m['lt_re']:.3f}"])
                print(" | ".join(rows[-1]), flush=True)
        doc = {
            "kind": "table",
            "title": "Calibrated confidence and present, per tracker, on the validation and the test data sets",
            "columns": ["tracker", "role", "frames", "share overlapping", "ECE", "present agrees", "absent frames",
                        "absent called absent", "LT F", "LT Pr", "LT Re"],
            "rows": rows,
            "split": CALIBRATION_SPLIT,
            "seeds": "0",
            "date": dt.date.today().isoformat(),
            "machine": machine,
            "command": ".venv/bin/python bench/confidence_calibration.py --results runs/calibration",
        }
    doc["seconds"] = round(time.time() - start, 1)
    atomic_write_json(out, doc)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
