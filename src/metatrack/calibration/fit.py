"""``metatrack calibrate``: run trackers on validation data, fit each one's confidence map, write the file.

Each tracker runs one pass (seeded, resumable: the runner's results folder) over every validation
data set; every scored frame after the first (shows the target, or is flagged absent) gives a pair
(raw confidence, overlaps the target), where overlaps is IoU > ``iou_threshold`` and an absent frame
is a negative. Platt's map is fitted on the pairs; ``present``'s threshold is the one that maximises
the VOT-LT F-score of the calibrated confidences over the same sequences. Test-role and training
data sets are refused: calibrations are choices, made on validation only.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence as SequenceABC
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..io import atomic_write_json
from . import FORMAT, IOU_THRESHOLD, Calibration, expected_calibration_error, fit_platt, reliability

#: data sets a calibration must never see (test: reported only; train: meta-training only)
REFUSED = {"embedded:test": "test", "real:test": "test", "real:all": "test clips included",
           "embedded:train": "meta-training"}
#: the shipped calibration's validation data sets and trackers
DEFAULT_DATASETS = ("embedded:eval", "real:validation")
DEFAULT_TRACKERS = ("metasdnet", "sdnet-30", "mdnet-01", "mdnet-10", "mdnet-30", "metacrest", "metacrest-01", "crest",
                    "crest-base", "crest-converged", "opencv-kcf", "opencv-csrt", "opencv-mosse",
                    "opencv-medianflow", "opencv-mil", "opencv-tld", "dlib-correlation")
#: other registered names of the same tracker
ALIASES = {"metasdnet": ["metasdnet-01"]}
#: what each tracker's raw confidence is (by name prefix)
RAW_SCORES = {
    "metasdnet": "mean fc6 positive logit of the top-5 candidates (blank region: blank_confidence)",
    "sdnet": "mean fc6 positive logit of the top-5 candidates (blank region: blank_confidence)",
    "mdnet": "mean fc6 positive logit of the top-5 candidates (blank region: blank_confidence)",
    "metacrest": "peak of the correlation response",
    "crest": "peak of the correlation response",
    "opencv": "OpenCV's tracking score where the build has one, else its success flag (1/0); 0 when held",
    "dlib": "dlib's peak-to-sidelobe ratio; 0 when held",
}


def dataset_slug(spec: str) -> str:
    """A folder name for a data set spec (``embedded:eval`` -> ``embedded-eval``)."""
    return "".join(c if c.isalnum() or c in "._" else "-" for c in spec).strip("-")


def _raw_description(name: str) -> str:
    for prefix, text in RAW_SCORES.items():
        if name.startswith(prefix):
            return text
    return "the tracker's confidence"


def collect(tracker: str, data: SequenceABC[tuple[str, list]], results: Path) -> dict[str, Any]:
    """Per validation sequence of ``tracker``: file-coordinate boxes, raw confidences, overlaps, masks."""
    from ..evaluation import longterm
    from ..evaluation.scoring import read_confidences, read_ope_result

    out = []
    for spec, sequences in data:
        d = results / dataset_slug(spec) / tracker
        for seq in sequences:
            boxes, _ = read_ope_result(d, seq)
            conf = read_confidences(d, seq)
            if conf is None:
                raise ConfigError(f"{d}: no confidence file for {seq.name!r}; remove the folder and calibrate again")
            overlaps, visible, scored = longterm.frame_overlaps(boxes, seq)
            out.append({"sequence": seq, "boxes": boxes, "raw": conf[:, 1], "overlaps": overlaps,
                        "visible": visible, "scored": scored})
    return {"tracker": tracker, "parts": out}


def fit_tracker(collected: dict[str, Any], iou_threshold: float = IOU_THRESHOLD) -> tuple[Calibration, dict]:
    """The calibration of one tracker from :func:`collect`'s frames, and its validation measures."""
    from ..evaluation import longterm

    parts = collected["parts"]
    raw = np.concatenate([p["raw"][p["scored"]] for p in parts])
    positive = np.concatenate([(p["visible"] & (p["overlaps"] > iou_threshold))[p["scored"]] for p in parts])
    a, b = fit_platt(raw, positive)
    draft = Calibration(a, b, 0.5, iou_threshold)
    probs = [np.asarray(draft.probability(p["raw"]), dtype=np.float64).reshape(-1) for p in parts]
    lt = longterm.long_term_score([p["sequence"] for p in parts], [p["boxes"] for p in parts], probs)
    threshold = float(np.clip(lt.thresholds[lt.best], 0.0, 1.0))
    p_all = np.asarray(draft.probability(raw), dtype=np.float64).reshape(-1)
    name = collected["tracker"]
    info = {
        "aliases": ALIASES.get(name, []),
        "raw_confidence": _raw_description(name),
        "frames": int(np.isfinite(raw).sum()),
        "positives": int(positive[np.isfinite(raw)].sum()),
        "absent_frames": int(sum(int((p["scored"] & ~p["visible"]).sum()) for p in parts)),
        "validation": {
            "ece": expected_calibration_error(p_all, positive),
            "lt_f_score": float(lt.f_curve[lt.best]),
            "lt_precision": float(lt.precision[lt.best]),
            "lt_recall": float(lt.recall[lt.best]),
            "present_accuracy": float(np.mean((p_all >= threshold) == positive)) if p_all.size else None,
            "reliability": reliability(p_all, positive),
        },
    }
    return Calibration(a, b, threshold, iou_threshold, info), info


def calibrate(
    datasets: SequenceABC[str], trackers: SequenceABC[str], results: str | Path, out: str | Path,
    seed: int = 0, jobs: int = 1, iou_threshold: float = IOU_THRESHOLD, command: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run ``trackers`` on ``datasets`` (into ``results/<data set>/``), fit their maps, write ``out``."""
    from ..data import open_dataset
    from ..evaluation.runner import run_tracker

    if not datasets:
        raise ConfigError("--dataset: give at least one validation data set")
    for spec in datasets:
        if spec.strip().lower() in REFUSED:
            raise ConfigError(f"--dataset {spec}: calibrations are fitted on validation data only "
                              f"({spec} is {REFUSED[spec.strip().lower()]})")
    if not trackers:
        raise ConfigError("--trackers: give at least one tracker")
    if not 0.0 <= iou_threshold < 1.0:
        raise ConfigError(f"--iou-threshold {iou_threshold}: use a value in [0, 1)")
    results = Path(results)
    data = [(spec, open_dataset(spec)) for spec in datasets]
    entries: dict[str, Any] = {}
    for name in trackers:
        for spec, sequences in data:
            run_tracker(name, sequences, results / dataset_slug(spec), seed=seed, jobs=jobs, progress=progress)
        cal, _ = fit_tracker(collect(name, data, results), iou_threshold)
        entries[name] = cal.to_json()
    doc = {
        "format": FORMAT,
        "what": ("per tracker: Platt's map p = 1 / (1 + exp(-(a * raw + b))) of its raw confidence to the "
                 f"probability that its box overlaps the target (IoU > {iou_threshold:g}; absent target: no), "
                 "and the threshold on p for `present` that maximises the VOT-LT F-score"),
        "created": _dt.date.today().isoformat(),
        "command": command,
        "datasets": list(datasets),
        "role": "validation",
        "seed": seed,
        "iou_threshold": iou_threshold,
        "trackers": entries,
    }
    atomic_write_json(out, doc)
    return doc
