"""VOT reset-based metrics (vot-toolkit rules): accuracy, robustness, EAO, on hand-computed cases."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from metatrack.data.sequence import ImageFiles, Sequence
from metatrack.errors import ConfigError, DataError
from metatrack.evaluation import vot
from metatrack.evaluation.scoring import score_results
from metatrack.evaluation.tables import format_table

GT = [0.0, 0.0, 10.0, 10.0]
NAN = [np.nan] * 4


def make_run(spec) -> vot.VotRun:
    """'I' init, 'F' failure, '.' skipped, a number v: a tracked box whose IoU with GT is v."""
    flags, boxes = [], []
    for s in spec:
        code = {"I": vot.INIT, "F": vot.FAILURE, ".": vot.SKIPPED}.get(s, vot.TRACKED)
        flags.append(code)
        boxes.append([0.0, 0.0, 10.0, 10.0 * s] if code == vot.TRACKED else NAN)
    return vot.VotRun(np.array(flags), np.array(boxes))


def gt_of(n):
    return np.array([GT] * n)


def test_overlaps_of_a_run():
    run = make_run(["I", 0.5, "F", "."])
    np.testing.assert_allclose(vot.frame_overlaps(run, gt_of(4)), [0, 0.5, 0, 0])


def test_accuracy_skips_ten_frame_burn_in():
    run = make_run(["I"] + [0.2] * 9 + [0.8] * 5)  # frames 0..9 are the burn-in
    assert vot.run_accuracy(run, gt_of(15)) == (pytest.approx(0.8), 5)
    # a 5-frame burn-in scores frames 5..14
    assert vot.run_accuracy(run, gt_of(15), burnin=5) == (pytest.approx((5 * 0.2 + 5 * 0.8) / 10), 10)


def test_accuracy_skips_failures_unknown_frames_and_burn_in_after_reinit():
    # init 0, tracked 1..11, failure 12, skipped 13..16, re-init 17, tracked 18..30
    spec = ["I"] + [0.3] * 9 + [0.5, 0.5] + ["F"] + ["."] * 4 + ["I"] + [0.1] * 9 + [0.9] * 4
    run = make_run(spec)
    assert len(run) == 31
    value, frames = vot.run_accuracy(run, gt_of(31))
    assert frames == 2 + 4  # frames 10, 11 and 27..30
    assert value == pytest.approx((2 * 0.5 + 4 * 0.9) / 6)


def test_accuracy_skips_invalid_ground_truth():
    run = make_run(["I"] + [0.2] * 9 + [0.8, 0.4])
    gt = gt_of(12)
    gt[11] = NAN
    assert vot.run_accuracy(run, gt) == (pytest.approx(0.8), 1)


def test_run_with_no_scored_frame_has_accuracy_zero():
    assert vot.run_accuracy(make_run(["I", 0.5, 0.5]), gt_of(3)) == (0.0, 0)


def test_accuracy_and_robustness_across_sequences():
    # sequence A: 10 frames, two repetitions (accuracy 0 as all frames are in burn-in; failures 1, 3)
    a_runs = [
        make_run(["I"] * 1 + [0.2] * 8 + ["F"]),  # 1 failure, accuracy 0 (all in burn-in)
        make_run(["I", "F", ".", ".", ".", ".", "I", 0.5, "F", "F"]),  # 3 failures
    ]
    # sequence B: 30 frames, one repetition, accuracy 0.6, no failure
    b_runs = [make_run(["I"] + [0.6] * 29)]
    runs, gts = [a_runs, b_runs], [gt_of(10), gt_of(30)]
    assert vot.sequence_failures(a_runs) == 2.0
    assert vot.sequence_accuracy(a_runs, gts[0]) == 0.0
    assert vot.accuracy(runs, gts) == pytest.approx((10 * 0.0 + 30 * 0.6) / 40)  # length-weighted
    assert vot.robustness(runs, [10, 30]) == pytest.approx((10 * 2 + 30 * 0) / 40)
    assert vot.total_failures(runs) == 2.0
    assert vot.failures_per_100_frames(runs, [10, 30]) == pytest.approx(100 * 2 / 40)


def test_segments_from_init_to_failure():
    run = make_run(["I", 0.5, 0.6, 0.7, "F", ".", ".", ".", ".", "I", 0.9, 0.8])
    (o1, failed1), (o2, failed2) = vot.run_segments(run, gt_of(12))
    assert failed1 and not failed2
    np.testing.assert_allclose(o1, [0, 0.5, 0.6, 0.7])  # failure frame excluded
    np.testing.assert_allclose(o2, [0, 0.9, 0.8])  # reaches the end


def test_eao_curve_pads_failed_segments_and_not_finished_ones():
    failed = (np.array([0.0, 0.6, 0.4]), True)
    finished = (np.array([0.0, 1.0]), False)
    curve = vot.eao_curve([failed, finished], length=6)
    assert np.isnan(curve[0])  # the init frame never counts
    assert curve[1] == pytest.approx((0.6 + 1.0) / 2)
    assert curve[2] == pytest.approx(0.5)  # the finished segment has no value at its own length
    assert curve[3] == pytest.approx(1.0 / 3)  # failed segment padded with a zero
    assert curve[5] == pytest.approx(1.0 / 5)
    assert vot.eao(curve, (1, 3)) == pytest.approx((0.8 + 0.5 + 1 / 3) / 3)


def test_eao_curve_defaults_to_longest_segment():
    curve = vot.eao_curve([(np.array([0.0, 0.5, 0.5, 0.5]), False), (np.array([0.0, 0.2]), True)])
    assert len(curve) == 4
    np.testing.assert_allclose(curve[1:], [0.35, 0.3, (0.5 + 0.2 / 3) / 2])


def test_eao_without_any_value_in_range_is_nan():
    curve = vot.eao_curve([(np.array([0.0, 0.5]), False)], length=10)
    assert np.isnan(vot.eao(curve, (5, 9)))
    assert vot.eao(curve, (1, 9)) == pytest.approx(0.5)  # NaN points are skipped


def toolkit_eao_curve(overlaps, success):
    """vot-toolkit's compute_eao_curve (analysis/supervised.py), all weights 1."""
    n = max(len(o) for o in overlaps)
    arr = np.zeros((len(overlaps), n))
    mask = np.zeros((len(overlaps), n))
    for i, (o, ok) in enumerate(zip(overlaps, success, strict=True)):
        arr[i, : len(o)] = o
        if not ok:
            mask[i, :] = 1
        else:
            mask[i, : len(o)] = 1
    summed = arr.copy()
    for j in range(1, n):
        summed[:, j] = np.mean(arr[:, 1 : j + 1], axis=1)
    return np.sum(summed * mask, axis=0) / np.sum(mask, axis=0)


def test_eao_curve_matches_the_toolkit_formula():
    rng = np.random.default_rng(3)
    segments = [(rng.random(rng.integers(2, 40)), bool(rng.random() < 0.5)) for _ in range(30)]
    ours = vot.eao_curve([(o, not ok) for o, ok in segments])
    ref = toolkit_eao_curve([o for o, _ in segments], [ok for _, ok in segments])
    np.testing.assert_allclose(ours[1:], ref[1:], rtol=1e-12)


def test_auto_eao_range():
    assert vot.auto_eao_range([400, 50]) == (108, 371)
    assert vot.auto_eao_range([372]) == (108, 371)
    assert vot.auto_eao_range([371]) == (108, 370)
    assert vot.auto_eao_range([150, 140]) == (43, 149)
    assert vot.eao(np.arange(400.0), vot.EAO_RANGE_VOT2017) == pytest.approx((100 + 356) / 2)


def test_flags_are_checked():
    with pytest.raises(ValueError, match="none of 0, 1, 2"):
        vot.VotRun.from_rows([np.array([1.0]), np.array([3.0])])
    run = vot.VotRun.from_rows([np.array([1.0]), np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0])])
    assert run.lines() == ["1", "1.0,2.0,3.0,4.0", "2"]


# ---------------------------------------------------------------- scoring VOT results folders


def make_sequence(tmp_path, name, n):
    folder = tmp_path / "data" / name
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        p = folder / f"{i:04d}.jpg"
        cv2.imwrite(str(p), np.zeros((16, 16, 3), np.uint8))
        paths.append(p)
    return Sequence(name, ImageFiles(paths), gt_of(n), (), origin=1.0)


def write_run(folder, name, rep, lines, times=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}_{rep:03d}.txt").write_text("".join(f"{x}\n" for x in lines))
    if times is not None:
        (folder / f"{name}_{rep:03d}_time.txt").write_text("".join(f"{t}\n" for t in times))


def test_score_vot_folder(tmp_path):
    seq = make_sequence(tmp_path, "s", 12)
    box = "1,1,10,5"  # file coordinates (origin 1): IoU 0.5 with the gt
    res = tmp_path / "results"
    lines1 = ["1"] + [box] * 10 + ["2"]
    lines2 = ["1"] + [box] * 11
    write_run(res / "t", "s", 1, lines1, times=[0.5] + [0.1] * 10 + [0.1])
    write_run(res / "t", "s", 2, lines2, times=[0.5] + [0.1] * 11)
    scores = score_results([seq], res, protocol="vot", eao_range=(1, 3))
    s = scores["t"]
    assert s["sequences"]["s"]["repetitions"] == 2
    assert s["failures"] == 0.5 and s["robustness"] == 0.5
    assert s["accuracy"] == pytest.approx(0.5)  # frame 10 in run 1, frames 10, 11 in run 2
    assert s["eao_range"] == [1, 3] and s["eao_range_rule"] == "given"
    assert s["eao"] == pytest.approx(0.5)
    assert s["fps"] == pytest.approx((2 * 2 + 22 * 10) / 24)
    json.dumps(scores, allow_nan=False)
    auto = score_results([seq], res, protocol="vot")["t"]
    assert auto["eao_range"] == [3, 11] and auto["eao_range_rule"].startswith("auto")
    assert "EAO averaged over sequence lengths 3-11" in format_table(scores | {"u": auto}, "vot")


def test_vot_wrong_line_count_and_bad_flag(tmp_path):
    seq = make_sequence(tmp_path, "s", 4)
    res = tmp_path / "results"
    write_run(res / "t", "s", 1, ["1", "1,1,10,10", "1,1,10,10"])
    with pytest.raises(DataError, match=r"s_001\.txt.*expected 4 lines.*found 3"):
        score_results([seq], res, protocol="vot")
    write_run(res / "t", "s", 1, ["1", "1,1,10,10", "7", "1,1,10,10"])
    with pytest.raises(DataError, match=r"s_001\.txt, line 3.*none of 0"):
        score_results([seq], res, protocol="vot")
    write_run(res / "t", "s", 1, ["1,1,10,10"] * 4)
    with pytest.raises(DataError, match=r"line 1.*must be 1"):
        score_results([seq], res, protocol="vot")


def test_bad_eao_range(tmp_path):
    seq = make_sequence(tmp_path, "s", 4)
    write_run(tmp_path / "r" / "t", "s", 1, ["1"] + ["1,1,10,10"] * 3)
    with pytest.raises(ConfigError, match="EAO range"):
        score_results([seq], tmp_path / "r", protocol="vot", eao_range="vot2099")
    named = score_results([seq], tmp_path / "r", protocol="vot", eao_range="vot2017")["t"]
    assert named["eao_range"] == [100, 356]
