"""Tables of scores for the terminal (aligned plain text) or for documents (Markdown)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

Column = tuple[str, str, Callable[[Any], str]]


def _num(digits: int) -> Callable[[Any], str]:
    return lambda v: "-" if v is None else f"{v:.{digits}f}"


# (header, key in a tracker's scores, formatter)
OPE_COLUMNS: list[Column] = [
    ("Success AUC", "success_auc", _num(3)),
    ("SR@0.5 (IoU > 0.5)", "success_rate", _num(3)),
    ("Precision@20px", "precision", _num(3)),
    ("FPS", "fps", _num(1)),
    ("Init (s)", "init_seconds", _num(3)),
]
VOT_COLUMNS: list[Column] = [
    ("EAO", "eao", _num(3)),
    ("Accuracy", "accuracy", _num(3)),
    ("Robustness (failures/seq)", "robustness", _num(2)),
    ("Failures (total)", "failures", _num(1)),
    ("Failures/100 frames", "failures_per_100_frames", _num(2)),
    ("FPS", "fps", _num(1)),
]
LT_COLUMNS: list[Column] = [
    ("F-score", "f_score", _num(3)),
    ("Pr", "precision", _num(3)),
    ("Re", "recall", _num(3)),
    ("tau (confidence)", "threshold", _num(3)),
    ("Absent frames", "absent_frames", lambda v: "-" if v is None else str(v)),
    ("FPS", "fps", _num(1)),
]
MAIN_SCORE = {"ope": "success_auc", "vot": "eao", "lt": "f_score"}


def format_table(scores: dict[str, Any], protocol: str, markdown: bool = False) -> str:
    """One row per tracker, sorted by the main score (OPE: success AUC, VOT: EAO), best first.

    Scores are as :func:`metatrack.evaluation.scoring.score_results` returns them. A VOT table ends
    with a note of the EAO range used; an LT table (VOT-LT F-score, its Pr and Re) with the note
    that tau is each tracker's own best confidence threshold.
    """
    if protocol not in MAIN_SCORE:
        raise ConfigError(f"protocol {protocol!r}: use 'ope', 'vot' or 'lt'")
    columns = {"ope": OPE_COLUMNS, "vot": VOT_COLUMNS, "lt": LT_COLUMNS}[protocol]
    main = MAIN_SCORE[protocol]

    def rank(item: tuple[str, dict]) -> tuple[bool, float, str]:
        value = item[1].get(main)
        return (value is None, -(value or 0.0), item[0])

    rows = [[name] + [fmt(s.get(key)) for _, key, fmt in columns] for name, s in sorted(scores.items(), key=rank)]
    header = ["Tracker"] + [h for h, _, _ in columns]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * len(columns)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            pairs = enumerate(zip(cells, widths, strict=True))
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

        lines = [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
    if protocol == "vot":
        ranges = {(tuple(s["eao_range"]), s.get("eao_range_rule", "")) for s in scores.values() if "eao_range" in s}
        if ranges:
            lines.append("")
        for (low, high), rule in sorted(ranges):
            lines.append(f"EAO averaged over sequence lengths {low}-{high} ({rule}).")
    if protocol == "lt":
        lines += ["", "VOT-LT: F = 2 Pr Re / (Pr + Re) at the confidence threshold tau that maximises it "
                      "(each tracker's own tau, on the confidences its runs stored: calibrated where the tracker "
                      "had a calibration; docs/evaluation.md)."]
    return "\n".join(lines) + "\n"
