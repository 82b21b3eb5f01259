"""OPE metrics (got10k rules) and the scoring of OPE results folders, on hand-computed cases."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from metatrack.data.sequence import ImageFiles, Sequence
from metatrack.errors import DataError
from metatrack.evaluation import otb
from metatrack.evaluation.scoring import score_results, write_scores
from metatrack.evaluation.tables import format_table

GT = [0.0, 0.0, 10.0, 10.0]


def test_thresholds_are_got10k_ones():
    assert otb.SUCCESS_THRESHOLDS.shape == (21,)
    assert otb.SUCCESS_THRESHOLDS[otb.SUCCESS_RATE_INDEX] == 0.5
    assert otb.PRECISION_THRESHOLDS.shape == (51,)
    assert otb.PRECISION_THRESHOLDS[otb.PRECISION_INDEX] == 20


def test_success_is_strictly_greater():
    curve = otb.success_curve([0.5])
    assert curve[10] == 0.0  # IoU 0.5 does not count at threshold 0.5
    assert curve[9] == 1.0  # but does at 0.45
    assert otb.success_curve([0.0])[0] == 0.0  # IoU 0 fails even at threshold 0
    assert otb.success_curve([1.0])[20] == 0.0  # nothing succeeds at threshold 1


def test_precision_is_less_or_equal():
    curve = otb.precision_curve([20.0])
    assert curve[20] == 1.0
    assert curve[19] == 0.0
    assert otb.precision_curve([0.0])[0] == 1.0


def test_nan_counts_as_a_miss():
    assert otb.success_curve([np.nan, 0.9])[0] == 0.5
    assert otb.precision_curve([np.nan, 0.0])[50] == 0.5


def test_one_sequence_by_hand():
    # frame 0 (gt itself: IoU 1, error 0); frame 1: half the box, IoU exactly 0.5, centre 2.5 px off
    gt = [GT, GT]
    pred = [[50.0, 50.0, 3.0, 3.0], [0.0, 0.0, 10.0, 5.0]]  # frame 0 is replaced by the gt
    succ, prec = otb.sequence_curves(pred, gt)
    np.testing.assert_array_equal(succ, [1.0] * 10 + [0.5] * 10 + [0.0])
    np.testing.assert_array_equal(prec, [0.5] * 3 + [1.0] * 48)
    s = otb.summary(succ, prec)
    assert s["success_auc"] == pytest.approx(15 / 21)
    assert s["success_rate"] == 0.5
    assert s["precision"] == 1.0


def test_invalid_ground_truth_frames_are_left_out():
    gt = [GT, GT, [np.nan] * 4, [0.0, 0.0, 0.0, 5.0], GT]
    pred = [GT, GT, [90.0, 90.0, 5.0, 5.0], [90.0, 90.0, 5.0, 5.0], [50.0, 50.0, 5.0, 5.0]]
    succ, prec = otb.sequence_curves(pred, gt)
    # only frames 0, 1 (IoU 1) and 4 (IoU 0) are scored
    assert succ[10] == pytest.approx(2 / 3)
    assert prec[20] == pytest.approx(2 / 3)


def test_sequences_are_averaged_not_pooled():
    far = [80.0, 80.0, 10.0, 10.0]
    a = otb.sequence_curves([GT, GT], [GT, GT])  # 2 of 2 frames succeed
    b = otb.sequence_curves([GT, far, far, far], [GT] * 4)  # 1 of 4
    succ, prec = otb.average_curves([a, b])
    assert succ[10] == pytest.approx((1.0 + 0.25) / 2)  # pooled would be 3 / 6
    assert prec[20] == pytest.approx((1.0 + 0.25) / 2)


# ---------------------------------------------------------------- scoring results folders


def make_sequence(tmp_path, name, boxes, origin=0.0, attributes=()):
    folder = tmp_path / "data" / name
    folder.mkdir(parents=True)
    paths = []
    for i in range(len(boxes)):
        p = folder / f"{i:04d}.jpg"
        cv2.imwrite(str(p), np.full((24, 32, 3), 10 * i % 255, np.uint8))
        paths.append(p)
    return Sequence(name, ImageFiles(paths), np.asarray(boxes, float), tuple(attributes), origin)


def write_result(folder, name, boxes, times=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_text("".join(",".join(str(v) for v in b) + "\n" for b in boxes))
    if times is not None:
        (folder / f"{name}_time.txt").write_text("".join(f"{t}\n" for t in times))


@pytest.fixture
def two_sequences(tmp_path):
    a = make_sequence(tmp_path, "a", [GT, GT], origin=1.0, attributes=("OCC",))
    b = make_sequence(tmp_path, "b", [GT] * 4, origin=1.0, attributes=("OCC", "SV"))
    return [a, b]


def test_score_results_reads_file_coordinates(tmp_path, two_sequences):
    a, b = two_sequences
    res = tmp_path / "results"
    one = [1.0, 1.0, 10.0, 10.0]  # the gt in 1-based file coordinates
    write_result(res / "good", "a", [one, one], times=[0.5, 0.1])
    write_result(res / "good", "b", [one, one, one, [80, 80, 10, 10]], times=[0.5, 0.2, 0.2, 0.2])
    (res / "unrelated").mkdir()  # a folder without results for these sequences is ignored
    scores = score_results(two_sequences, res)
    assert list(scores) == ["good"]
    s = scores["good"]
    assert s["sequences"]["a"]["success_rate"] == 1.0
    assert s["sequences"]["b"]["success_rate"] == 0.75
    assert s["success_rate"] == pytest.approx(0.875)
    assert s["success_auc"] == pytest.approx(np.mean(s["success_curve"]))
    assert len(s["success_curve"]) == 21 and len(s["precision_curve"]) == 51
    # got10k speed: per sequence mean(1/t), then mean over sequences
    assert s["fps"] == pytest.approx(((2 + 10) / 2 + (2 + 5 + 5 + 5) / 4) / 2)
    assert s["init_seconds"] == pytest.approx(0.5)
    assert s["attributes"]["OCC"]["count"] == 2
    assert s["attributes"]["SV"]["count"] == 1
    assert s["attributes"]["SV"]["success_rate"] == 0.75
    json.dumps(scores, allow_nan=False)  # JSON-ready, no NaN
    write_scores(scores, tmp_path / "scores.json")
    assert json.loads((tmp_path / "scores.json").read_text())["good"]["success_rate"] == 0.875


def test_missing_times_give_no_fps(tmp_path, two_sequences):
    res = tmp_path / "results"
    for seq in two_sequences:
        write_result(res / "t", seq.name, seq.to_file_coords(seq.boxes))
    s = score_results(two_sequences, res)["t"]
    assert s["fps"] is None and s["success_auc"] == pytest.approx(20 / 21)


def test_wrong_line_count_is_a_data_error(tmp_path, two_sequences):
    res = tmp_path / "results"
    write_result(res / "t", "a", [GT, GT])
    write_result(res / "t", "b", [GT, GT, GT])  # 3 lines for 4 frames
    with pytest.raises(DataError, match=r"b\.txt.*expected 4 lines.*found 3"):
        score_results(two_sequences, res)


def test_missing_sequence_is_a_data_error(tmp_path, two_sequences):
    res = tmp_path / "results"
    write_result(res / "t", "a", [GT, GT])
    with pytest.raises(DataError, match=r"b\.txt.*missing results for sequence 'b'"):
        score_results(two_sequences, res)


def test_malformed_line_names_file_and_line(tmp_path, two_sequences):
    res = tmp_path / "results"
    write_result(res / "t", "a", [GT, GT])
    (res / "t" / "b.txt").write_text("1,1,10,10\n1,1,10,10\n1,1,ten,10\n1,1,10,10\n")
    with pytest.raises(DataError, match=r"b\.txt, line 3"):
        score_results(two_sequences, res)


def test_named_tracker_without_folder(tmp_path, two_sequences):
    (tmp_path / "results").mkdir()
    with pytest.raises(DataError, match="no results folder for tracker 'ghost'"):
        score_results(two_sequences, tmp_path / "results", trackers=["ghost"])


def test_table_sorted_by_auc(tmp_path, two_sequences):
    res = tmp_path / "results"
    far = [80.0, 80.0, 10.0, 10.0]
    for seq in two_sequences:
        file_gt = seq.to_file_coords(seq.boxes)
        write_result(res / "perfect", seq.name, file_gt)
        write_result(res / "lost", seq.name, [file_gt[0]] + [far] * (len(seq) - 1))
    scores = score_results(two_sequences, res)
    for markdown in (False, True):
        text = format_table(scores, "ope", markdown=markdown)
        assert text.index("perfect") < text.index("lost")
        assert "Success AUC" in text and "Precision@20px" in text
    assert format_table(scores, "ope", markdown=True).startswith("| Tracker |")
