"""The runner: results layout, resuming, atomic files, parallel jobs, sharding, the VOT protocol."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from metatrack.data.sequence import ImageFiles, Sequence
from metatrack.errors import ConfigError, DataError
from metatrack.evaluation.runner import RunError, run_tracker
from metatrack.evaluation.scoring import score_results
from metatrack.trackers.base import Tracker, register_tracker

BOX = [2.0, 2.0, 10.0, 10.0]


# Trackers live at module level so that spawned worker processes can unpickle them.
class ShiftTracker(Tracker):
    """Deterministic: drifts ``step`` px to the right on every update, whatever the image."""

    def __init__(self, step: float = 4.0):
        self.step = step

    def init(self, image, box):
        self.box = np.array(box, dtype=float)

    def update(self, image):
        self.box = self.box + [self.step, 0.0, 0.0, 0.0]
        return self.box.copy()


class NoisyTracker(Tracker):
    """Stochastic: its output depends on the seed it was given."""

    stochastic = True

    def seed(self, seed):
        self.offset = 0.01 * seed

    def init(self, image, box):
        self.box = np.array(box, dtype=float)

    def update(self, image):
        return self.box + [self.offset, 0.0, 0.0, 0.0]


class FailingTracker(ShiftTracker):
    """Raises on its third update on sequences whose first box starts at x = 5."""

    def init(self, image, box):
        super().init(image, box)
        self.updates, self.doomed = 0, box[0] == 5.0

    def update(self, image):
        self.updates += 1
        if self.doomed and self.updates == 3:
            raise RuntimeError("boom")
        return super().update(image)


class NanTracker(ShiftTracker):
    """Returns a NaN box on frame 2."""

    def init(self, image, box):
        super().init(image, box)
        self.frame = 0

    def update(self, image):
        self.frame += 1
        box = super().update(image)
        return np.full(4, np.nan) if self.frame == 2 else box


class ThreeValueTracker(ShiftTracker):
    def update(self, image):
        return [1.0, 2.0, 3.0]


for _name, _cls in [
    ("test-shift", ShiftTracker),
    ("test-noisy", NoisyTracker),
    ("test-failing", FailingTracker),
    ("test-nan", NanTracker),
    ("test-three", ThreeValueTracker),
]:
    register_tracker(_name, _cls, replace=True)


def make_sequence(tmp_path, name, n=6, first=BOX, origin=0.0):
    folder = tmp_path / "data" / name
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        p = folder / f"{i:04d}.jpg"
        cv2.imwrite(str(p), np.full((16, 24, 3), 20 * i % 255, np.uint8))
        paths.append(p)
    boxes = np.array([first] * n, dtype=float)
    return Sequence(name, ImageFiles(paths), boxes, (), origin)


def lines(path):
    return path.read_text().splitlines()


def test_ope_layout_in_file_coordinates(tmp_path):
    seq = make_sequence(tmp_path, "s", n=6, origin=1.0)
    res = tmp_path / "res"
    assert run_tracker("test-shift", [seq], res, progress=False) == ["s"]
    assert sorted(p.name for p in (res / "test-shift").iterdir()) == ["s.txt", "s_confidence.txt", "s_time.txt"]
    boxes = np.array([[float(v) for v in line.split(",")] for line in lines(res / "test-shift" / "s.txt")])
    expected = np.array([[3.0 + 4 * k, 3.0, 10.0, 10.0] for k in range(6)])  # 1-based, frame 0 = gt
    np.testing.assert_array_equal(boxes, expected)
    times = np.array([float(t) for t in lines(res / "test-shift" / "s_time.txt")])
    assert times.shape == (6,) and np.all(times >= 0)


def test_done_sequences_are_skipped_and_half_written_ones_rerun(tmp_path):
    seq = make_sequence(tmp_path, "s")
    res = tmp_path / "res"
    run_tracker("test-shift", [seq], res, progress=False)
    result = res / "test-shift" / "s.txt"
    full = result.read_text()
    assert run_tracker("test-shift", [seq], res, progress=False) == []
    result.write_text("".join(line + "\n" for line in full.splitlines()[:3]))  # as if killed
    assert run_tracker("test-shift", [seq], res, progress=False) == ["s"]
    assert result.read_text() == full
    (res / "test-shift" / "s_time.txt").unlink()  # both files are needed
    assert run_tracker("test-shift", [seq], res, progress=False) == ["s"]


def test_tracker_kwargs_and_scoring_of_the_output(tmp_path):
    seqs = [make_sequence(tmp_path, "a"), make_sequence(tmp_path, "b", origin=1.0)]
    res = tmp_path / "res"
    run_tracker("test-shift", seqs, res, progress=False)
    (res / "still").mkdir()
    run_tracker("test-shift", seqs, res / "still", tracker_kwargs={"step": 0.0}, progress=False)
    scores = score_results(seqs, res)
    # drift 4 px/frame on a 10 px box: IoU 1, 0.43, 0.11, 0, 0, 0 -> only frame 0 above 0.5
    assert scores["test-shift"]["success_rate"] == pytest.approx(1 / 6)
    assert score_results(seqs, res / "still")["test-shift"]["success_rate"] == 1.0


def test_parallel_jobs_write_the_same_files(tmp_path):
    seqs = [make_sequence(tmp_path, f"s{i}", n=5 + i) for i in range(3)]
    run_tracker("test-shift", seqs, tmp_path / "one", jobs=1, progress=False)
    ran = run_tracker("test-shift", seqs, tmp_path / "two", jobs=2, progress=False)
    assert ran == ["s0", "s1", "s2"]
    for s in seqs:
        one = (tmp_path / "one" / "test-shift" / f"{s.name}.txt").read_text()
        assert (tmp_path / "two" / "test-shift" / f"{s.name}.txt").read_text() == one
        assert len(lines(tmp_path / "two" / "test-shift" / f"{s.name}_time.txt")) == len(s)


def test_torchrun_sharding(tmp_path, monkeypatch):
    seqs = [make_sequence(tmp_path, f"s{i}", n=3) for i in range(5)]
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert run_tracker("test-shift", seqs, tmp_path / "res", progress=False) == ["s1", "s3"]
    assert sorted(p.name for p in (tmp_path / "res" / "test-shift").glob("*[0-9].txt")) == ["s1.txt", "s3.txt"]
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ConfigError, match="RANK"):
        run_tracker("test-shift", seqs, tmp_path / "res", progress=False)


def test_a_failing_sequence_leaves_no_file_and_the_others_go_on(tmp_path):
    seqs = [
        make_sequence(tmp_path, "a"),
        make_sequence(tmp_path, "b", first=[5.0, 2.0, 10.0, 10.0]),
        make_sequence(tmp_path, "c"),
    ]
    res = tmp_path / "res"
    with pytest.raises(RunError) as info:
        run_tracker("test-failing", seqs, res, progress=False)
    message = str(info.value)
    assert "b: at frame 4/6" in message and "RuntimeError: boom" in message
    assert info.value.completed == ["a", "c"] and list(info.value.failed) == ["b"]
    names = sorted(p.name for p in (res / "test-failing").iterdir())
    assert names == ["a.txt", "a_confidence.txt", "a_time.txt", "c.txt", "c_confidence.txt", "c_time.txt"]  # no b


def test_non_finite_box_is_replaced_by_the_previous_one(tmp_path, caplog):
    seq = make_sequence(tmp_path, "s")
    with caplog.at_level(logging.WARNING):
        run_tracker("test-nan", [seq], tmp_path / "res", progress=False)
    out = lines(tmp_path / "res" / "test-nan" / "s.txt")
    assert out[2] == out[1] and out[3] != out[2]
    assert "non-finite box on sequence 's'" in caplog.text and "frame(s) 3" in caplog.text


def test_a_box_of_three_values_fails_the_sequence(tmp_path):
    with pytest.raises(RunError, match="expected a box"):
        run_tracker("test-three", [make_sequence(tmp_path, "s")], tmp_path / "res", progress=False)
    assert not (tmp_path / "res" / "test-three" / "s.txt").exists()


def test_bad_first_box_and_bad_arguments(tmp_path):
    bad = make_sequence(tmp_path, "z", first=[1.0, 1.0, 0.0, 5.0])
    with pytest.raises(DataError, match="sequence 'z'.*zero or negative size"):
        run_tracker("test-shift", [bad], tmp_path / "res", progress=False)
    seq = make_sequence(tmp_path, "s")
    with pytest.raises(ConfigError, match="unknown tracker"):
        run_tracker("no-such-tracker", [seq], tmp_path / "res", progress=False)
    with pytest.raises(ConfigError, match="protocol"):
        run_tracker("test-shift", [seq], tmp_path / "res", protocol="otb", progress=False)


# ---------------------------------------------------------------- VOT protocol

B = "b"  # a tracked box
PATTERN = [1, B, B, 2, 0, 0, 0, 0, 1, B, B, 2, 0, 0, 0, 0, 1, B, B, 2]


def codes(path):
    return [B if "," in line else int(line) for line in lines(path)]


def test_vot_protocol_lines_with_a_drifting_tracker(tmp_path):
    seq = make_sequence(tmp_path, "s", n=20)
    res = tmp_path / "res"
    # deterministic: one run only, whatever the repetitions asked
    assert run_tracker("test-shift", [seq], res, protocol="vot", repetitions=3, progress=False) == ["s"]
    folder = res / "test-shift"
    assert sorted(p.name for p in folder.iterdir()) == ["s_001.txt", "s_001_time.txt"]
    # drifts 4 px per frame on a 10 px box: overlap 0 on the third update -> failure, re-init 5 later
    assert codes(folder / "s_001.txt") == PATTERN
    assert lines(folder / "s_001.txt")[1] == "6.0,2.0,10.0,10.0"
    times = [float(t) for t in lines(folder / "s_001_time.txt")]
    assert np.isnan(times[4]) and not np.isnan(times[3])  # skipped frames have no time
    assert run_tracker("test-shift", [seq], res, protocol="vot", repetitions=3, progress=False) == []
    s = score_results([seq], res, protocol="vot")["test-shift"]
    assert s["failures"] == 3 and s["sequences"]["s"]["repetitions"] == 1


@pytest.mark.parametrize(
    ("invalid", "expected"),
    [
        # re-init frame 8 has no valid gt: the next valid one (9) is used
        (8, [1, B, B, 2, 0, 0, 0, 0, 0, 1, B, B, 2, 0, 0, 0, 0, 1, B, B]),
        # no failure where the gt is invalid (frame 3): the tracker fails one frame later
        (3, [1, B, B, B, 2, 0, 0, 0, 0, 1, B, B, 2, 0, 0, 0, 0, 1, B, B]),
    ],
)
def test_vot_invalid_ground_truth(tmp_path, invalid, expected):
    seq = make_sequence(tmp_path, "s", n=20)
    seq.boxes[invalid] = np.nan
    run_tracker("test-shift", [seq], tmp_path / "res", protocol="vot", progress=False)
    assert codes(tmp_path / "res" / "test-shift" / "s_001.txt") == expected


def test_vot_stochastic_tracker_repeats_with_seeds(tmp_path):
    seq = make_sequence(tmp_path, "s", n=4, origin=1.0)
    res = tmp_path / "res"
    run_tracker("test-noisy", [seq], res, protocol="vot", repetitions=3, seed=10, progress=False)
    for rep in range(3):
        out = lines(res / "test-noisy" / f"s_{rep + 1:03d}.txt")
        assert out[0] == "1"
        x = float(out[1].split(",")[0])
        assert x == pytest.approx(3.0 + 0.01 * (10 + rep))  # seed + repetition, 1-based file coords
