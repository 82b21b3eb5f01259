"""Score every tracker's results on disk against the ground truth: a JSON-ready dict.

Results files are read back in the data set's own coordinates and compared with
``seq.to_file_coords(seq.boxes)``, so files written by other toolkits score the same way.

Speed follows got10k's OTB experiment: per sequence ``mean(1 / t)`` over the frames with a positive
time (frame 0, the init, included), then the mean over the sequences that have times; ``None`` when
no times file exists (pysot writes none). For VOT runs the times of all repetitions of a sequence
are pooled before that mean, and skipped frames (time ``nan``) are left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence as SequenceABC
from pathlib import Path
from typing import Any

import numpy as np

from ..data.sequence import Sequence
from ..data.textfile import parse_number_lines
from ..errors import ConfigError, DataError
from ..io import atomic_write_json
from . import longterm, otb, vot
from .runner import Protocol, confidence_path, ope_paths

# ---------------------------------------------------------------- reading results


def _check_count(path: Path, rows: list, seq: Sequence) -> None:
    if len(rows) != len(seq):
        raise DataError(f"expected {len(seq)} lines (one per frame of sequence {seq.name!r}), found {len(rows)}", path)


def _read_times(path: Path, seq: Sequence) -> np.ndarray | None:
    if not path.is_file():
        return None
    rows = parse_number_lines(path, (1,), allow_nan=True)
    _check_count(path, rows, seq)
    return np.concatenate(rows) if rows else np.zeros(0)


def read_ope_result(tracker_dir: Path, seq: Sequence) -> tuple[np.ndarray, np.ndarray | None]:
    """Boxes (N, 4, file coordinates) and seconds per frame (or None) of one OPE result."""
    box_path, time_path = ope_paths(tracker_dir.parent, tracker_dir.name, seq.name)
    if not box_path.is_file():
        raise DataError(f"missing results for sequence {seq.name!r} (run the tracker on it first)", box_path)
    rows = parse_number_lines(box_path, (4,), allow_nan=True)
    _check_count(box_path, rows, seq)
    return np.stack(rows), _read_times(time_path, seq)


def _vot_files(tracker_dir: Path, seq_name: str) -> list[Path]:
    pattern = re.compile(re.escape(seq_name) + r"_(\d{3})\.txt")
    return sorted(p for p in tracker_dir.iterdir() if pattern.fullmatch(p.name))


def read_vot_results(tracker_dir: Path, seq: Sequence) -> tuple[list[vot.VotRun], list[np.ndarray]]:
    """Every repetition of one sequence (runs with file-coordinate boxes) and their times."""
    files = _vot_files(tracker_dir, seq.name)
    if not files:
        raise DataError(
            f"missing results for sequence {seq.name!r}: no {seq.name}_NNN.txt (run the tracker on it first)",
            tracker_dir,
        )
    runs, times = [], []
    for path in files:
        rows = parse_number_lines(path, (1, 4), allow_nan=True)
        _check_count(path, rows, seq)
        for number, r in enumerate(rows, start=1):
            if r.size == 1 and r[0] not in (vot.SKIPPED, vot.INIT, vot.FAILURE):
                raise DataError(f"flag {r[0]:g} is none of 0 (skipped), 1 (init), 2 (failure)", path, number)
        if rows[0].size != 1 or rows[0][0] != vot.INIT:
            raise DataError("the first line of a VOT run must be 1 (initialisation)", path, 1)
        runs.append(vot.VotRun.from_rows(rows))
        t = _read_times(path.with_name(path.stem + "_time.txt"), seq)
        if t is not None:
            times.append(t)
    return runs, times


def read_confidences(tracker_dir: Path, seq: Sequence) -> np.ndarray | None:
    """Per-frame (calibrated, raw) confidences (N, 2) of one OPE result, or None when the file is absent."""
    path = confidence_path(tracker_dir.parent, tracker_dir.name, seq.name)
    if not path.is_file():
        return None
    rows = parse_number_lines(path, (2,), allow_nan=True)
    _check_count(path, rows, seq)
    return np.stack(rows)


# ---------------------------------------------------------------- speed


def _sequence_fps(times: np.ndarray | None) -> float | None:
    if times is None:
        return None
    t = times[np.isfinite(times) & (times > 0)]
    return float(np.mean(1.0 / t)) if t.size else None


def _mean_or_none(values: SequenceABC[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


# ---------------------------------------------------------------- OPE


def _ope_block(curves: list[tuple[np.ndarray, np.ndarray]], fps: list, init: list) -> dict[str, Any]:
    succ, prec = otb.average_curves(curves)
    return {
        **otb.summary(succ, prec),
        "fps": _mean_or_none(fps),
        "init_seconds": _mean_or_none(init),
        "success_curve": succ.tolist(),
        "precision_curve": prec.tolist(),
    }


def score_ope(sequences: SequenceABC[Sequence], tracker_dir: Path) -> dict[str, Any]:
    """OPE scores of one tracker folder: overall, per sequence and per attribute tag; ``long_term``
    (VOT-LT precision, recall, F-score: :mod:`metatrack.evaluation.longterm`) when every sequence's
    confidence file is there."""
    per_seq: dict[str, dict[str, Any]] = {}
    parts = []
    lt_boxes, lt_conf = [], []
    for seq in sequences:
        boxes, times = read_ope_result(tracker_dir, seq)
        conf = read_confidences(tracker_dir, seq)
        lt_boxes.append(boxes)
        lt_conf.append(None if conf is None else conf[:, 0])
        curves = otb.sequence_curves(boxes, seq.to_file_coords(seq.boxes))
        fps = _sequence_fps(times)
        init = None if times is None else float(times[0])
        parts.append((seq, curves, fps, init))
        per_seq[seq.name] = _ope_block([curves], [fps], [init])
    out = _ope_block([p[1] for p in parts], [p[2] for p in parts], [p[3] for p in parts])
    out["sequences"] = per_seq
    attributes: dict[str, dict[str, Any]] = {}
    for tag in sorted({a for seq in sequences for a in seq.attributes}):
        having = [p for p in parts if tag in p[0].attributes]
        block = _ope_block([p[1] for p in having], [p[2] for p in having], [p[3] for p in having])
        attributes[tag] = {**block, "count": len(having)}
    out["attributes"] = attributes
    if all(c is not None for c in lt_conf):
        out["long_term"] = longterm.long_term_score(sequences, lt_boxes, lt_conf).to_json()
    return out


def score_lt(sequences: SequenceABC[Sequence], tracker_dir: Path) -> dict[str, Any]:
    """VOT-LT scores of one tracker folder: ``f_score``, ``precision``, ``recall`` (at the best
    threshold), ``threshold``, the curves, ``fps``; a DataError names a missing confidence file."""
    boxes, confs, fps = [], [], []
    for seq in sequences:
        b, times = read_ope_result(tracker_dir, seq)
        conf = read_confidences(tracker_dir, seq)
        if conf is None:
            path = confidence_path(tracker_dir.parent, tracker_dir.name, seq.name)
            raise DataError("no confidence file: the long-term score needs the confidences that `metatrack run` "
                            "stores (results written before it did: run the tracker again into a new folder)", path)
        boxes.append(b)
        confs.append(conf[:, 0])
        fps.append(_sequence_fps(times))
    return {**longterm.long_term_score(sequences, boxes, confs).to_json(), "fps": _mean_or_none(fps)}


# ---------------------------------------------------------------- VOT


def resolve_eao_range(
    eao_range: tuple[int, int] | str | None, lengths: SequenceABC[int]
) -> tuple[tuple[int, int], str]:
    """The EAO range to use and how it was chosen (``None``: :func:`vot.auto_eao_range`)."""
    if eao_range is None:
        low, high = vot.auto_eao_range(lengths)
        if (low, high) == vot.EAO_RANGE_VOT2016:
            return (low, high), "auto: VOT2016 range"
        return (low, high), f"auto: VOT2016 range scaled to the longest sequence ({max(lengths)} frames)"
    if isinstance(eao_range, str):
        key = eao_range.strip().lower()
        if key not in vot.EAO_RANGES:
            raise ConfigError(f"EAO range {eao_range!r}: use LOW,HIGH or one of {', '.join(vot.EAO_RANGES)}")
        return vot.EAO_RANGES[key], key
    try:
        low, high = (int(v) for v in eao_range)
    except (TypeError, ValueError):
        raise ConfigError(f"EAO range {eao_range!r}: expected two integers LOW, HIGH") from None
    if not 1 <= low <= high:
        raise ConfigError(f"EAO range {eao_range!r}: need 1 <= LOW <= HIGH")
    return (low, high), "given"


def score_vot(
    sequences: SequenceABC[Sequence], tracker_dir: Path, eao_range: tuple[int, int] | str | None = None
) -> dict[str, Any]:
    """VOT scores of one tracker folder: accuracy, robustness, failures, EAO (curve and range)."""
    lengths = [len(s) for s in sequences]
    (low, high), rule = resolve_eao_range(eao_range, lengths)
    runs_all, gts, segments, per_seq = [], [], [], {}
    fps_all, init_all = [], []
    for seq in sequences:
        runs, times = read_vot_results(tracker_dir, seq)
        gt = seq.to_file_coords(seq.boxes)
        runs_all.append(runs)
        gts.append(gt)
        for run in runs:
            segments.extend(vot.run_segments(run, gt))
        pooled = np.concatenate(times) if times else None
        fps = _sequence_fps(pooled)
        init = float(np.mean([t[0] for t in times])) if times else None
        fps_all.append(fps)
        init_all.append(init)
        per_seq[seq.name] = {
            "accuracy": vot.sequence_accuracy(runs, gt),
            "failures": vot.sequence_failures(runs),
            "repetitions": len(runs),
            "frames": len(seq),
            "fps": fps,
        }
    longest = max(len(o) for o, _ in segments)
    curve = vot.eao_curve(segments, max(longest, high + 1))
    return {
        "eao": vot.eao(curve, (low, high)),
        "accuracy": vot.accuracy(runs_all, gts),
        "robustness": vot.robustness(runs_all, lengths),
        "failures": vot.total_failures(runs_all),
        "failures_per_100_frames": vot.failures_per_100_frames(runs_all, lengths),
        "eao_curve": curve.tolist(),
        "eao_range": [low, high],
        "eao_range_rule": rule,
        "fps": _mean_or_none(fps_all),
        "init_seconds": _mean_or_none(init_all),
        "frames": int(sum(lengths)),
        "sequences": per_seq,
    }


# ---------------------------------------------------------------- every tracker


def _has_results(tracker_dir: Path, sequences: SequenceABC[Sequence], protocol: str) -> bool:
    names = {p.name for p in tracker_dir.iterdir()}
    if protocol == "ope":
        return any(f"{s.name}.txt" in names for s in sequences)
    if protocol == "lt":
        return any(f"{s.name}_confidence.txt" in names for s in sequences)
    return any(_vot_files(tracker_dir, s.name) for s in sequences)


def _json_ready(obj: Any) -> Any:
    """Plain Python types only; NaN and infinities become None (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_ready(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def score_results(
    sequences: list[Sequence],
    results_dir: Path,
    protocol: Protocol = "ope",
    trackers: list[str] | None = None,
    eao_range: tuple[int, int] | str | None = None,
) -> dict[str, Any]:
    """Scores of every tracker folder under ``results_dir`` holding results for ``sequences``.

    Keys are tracker names. OPE values: ``success_auc``, ``success_rate`` (IoU > 0.5),
    ``precision`` (<= 20 px), ``fps``, ``init_seconds``, ``success_curve`` (21), ``precision_curve``
    (51), ``sequences`` and ``attributes`` (with ``count``). VOT values: ``eao``, ``accuracy``,
    ``robustness``, ``failures``, ``failures_per_100_frames``, ``eao_curve``, ``eao_range``,
    ``eao_range_rule``, ``fps``, ``init_seconds``, ``frames``, ``sequences``. LT (one-pass results with
    their confidence files, :func:`score_lt`): ``f_score``, ``precision``, ``recall``, ``threshold``,
    ``absent_frames``, ``visible_frames``, the curves over ``thresholds``, ``sequences``, ``fps``; OPE
    scores carry the same block as ``long_term`` where the confidences are there. ``eao_range``: None for
    :func:`metatrack.evaluation.vot.auto_eao_range`, ``(low, high)`` or a name such as ``"vot2017"``.
    A tracker with results for some sequences but not all raises :class:`DataError` naming the file.
    """
    if protocol not in ("ope", "vot", "lt"):
        raise ConfigError(f"protocol {protocol!r}: use 'ope', 'vot' or 'lt'")
    if not sequences:
        raise ConfigError("no sequence to score")
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise DataError("results folder does not exist", results_dir)
    if trackers is None:
        names = [
            d.name
            for d in sorted(results_dir.iterdir())
            if d.is_dir() and not d.name.startswith(".") and _has_results(d, sequences, protocol)
        ]
        if not names:
            what = f"no tracker folder holds {protocol.upper()} results for these sequences"
            if protocol == "lt":
                what += " (the long-term score reads the <seq>_confidence.txt files that `metatrack run` writes)"
            raise DataError(what, results_dir)
    else:
        names = list(trackers)
        for name in names:
            if not (results_dir / name).is_dir():
                raise DataError(f"no results folder for tracker {name!r}", results_dir / name)
    scores: dict[str, Any] = {}
    for name in names:
        d = results_dir / name
        if protocol == "ope":
            scores[name] = score_ope(sequences, d)
        elif protocol == "lt":
            scores[name] = score_lt(sequences, d)
        else:
            scores[name] = score_vot(sequences, d, eao_range)
    return _json_ready(scores)


def write_scores(scores: dict[str, Any], path: Path) -> Path:
    """Write scores as JSON, atomically."""
    return atomic_write_json(path, _json_ready(scores))
