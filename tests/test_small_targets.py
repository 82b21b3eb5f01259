"""bench/small_targets.py: the real clips' mean IoU over all targets and over the small ones."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
try:
    import small_targets
finally:
    sys.path.pop(0)

SMALL_VALIDATION = ["bikes-man-in-suit", "bikes-pannier", "bikes-brake-light", "carphone-head"]
LARGE_VALIDATION = ["bikes-cyclist", "bikes-cyclist-behind-van"]


def test_a_targets_height_is_the_median_of_its_annotated_boxes():
    boxes = np.array([[0, 0, 10, 80], [np.nan] * 4, [0, 0, 10, 120], [0, 0, 10, 90]])
    assert small_targets.target_height(boxes) == 90.0
    with pytest.raises(ValueError, match="no annotated box"):
        small_targets.target_height(np.full((3, 4), np.nan))


def test_a_groups_iou_is_the_mean_over_clips_of_the_mean_over_seeds():
    seqs = {"a": [{"iou": 0.2}, {"iou": 0.4}], "b": [{"iou": 0.9}], "c": [{"iou": None}]}
    assert small_targets.group_iou(seqs, ["a", "b"]) == pytest.approx((0.3 + 0.9) / 2)
    assert small_targets.group_iou(seqs, ["a", "c"]) is None  # a clip without an IoU: no figure, not a partial one
    assert small_targets.group_iou(seqs, []) is None


def split_bench_doc(ious: dict[str, float]) -> dict:
    return {"kind": "split_bench", "date": "2026-12-07", "seeds": [0], "splits": {"real-validation": "real:validation"},
            "results": {"t": {"real-validation": {"sequences": {n: [{"iou": v}] for n, v in ious.items()}}}}}


def test_the_table_splits_the_validation_clips_by_the_issues_100_px(tmp_path):
    ious = {**{n: 0.5 for n in SMALL_VALIDATION}, **{n: 0.9 for n in LARGE_VALIDATION}}
    ious["bikes-brake-light"] = 0.1
    src = tmp_path / "sb.json"
    src.write_text(json.dumps(split_bench_doc(ious)))
    out = tmp_path / "t.json"
    assert small_targets.main(["--from", str(src), "--roles", "real-validation", "--json", str(out)]) == 0
    table = json.loads(out.read_text())
    assert table["columns"][1:] == ["real-validation: mIoU, all 6", "real-validation: mIoU, small 4",
                                    "real-validation: mIoU, the other 2"]
    row = table["rows"][0]
    assert row[0] == "t"
    assert float(row[2]) == pytest.approx((0.5 * 3 + 0.1) / 4)
    assert float(row[3]) == pytest.approx(0.9)
    assert float(row[1]) == pytest.approx((0.5 * 3 + 0.1 + 0.9 * 2) / 6, abs=5e-4)
    for name in SMALL_VALIDATION:
        assert name in table["split"]


def test_bad_input_is_one_line_naming_the_argument(tmp_path, capsys):
    with pytest.raises(SystemExit):
        small_targets.main(["--from", str(tmp_path / "none.json")])
    assert "--from: no such file" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "table"}))
    with pytest.raises(SystemExit):
        small_targets.main(["--from", str(other)])
    assert "not a split benchmark's JSON" in capsys.readouterr().err
    src = tmp_path / "sb.json"
    src.write_text(json.dumps(split_bench_doc({})))
    with pytest.raises(SystemExit):
        small_targets.main(["--from", str(src)])
    assert "--roles: real-test not in" in capsys.readouterr().err
    src.write_text("{not json")
    with pytest.raises(SystemExit):
        small_targets.main(["--from", str(src)])
    assert "is not JSON" in capsys.readouterr().err
    src.write_text(json.dumps(split_bench_doc({"bikes-cyclist": 0.9})))  # runs of one clip, the split has six
    with pytest.raises(SystemExit):
        small_targets.main(["--from", str(src), "--roles", "real-validation"])
    assert "not among the runs of role 'real-validation'" in capsys.readouterr().err
