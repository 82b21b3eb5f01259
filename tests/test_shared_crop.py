"""Several targets sharing one crop and one backbone pass (TrackerGroup's ``merge``): which targets
merge, that a target's boxes from the shared map are its single run's where the merge changes
nothing, and that ``metatrack.track_many`` and ``metatrack track --box ... --box ...`` take the
shared path (counted backbone calls: a silent fall-back to independent runs fails here)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import metatrack
from metatrack.cli import main
from metatrack.trackers.adaptive import AdaptiveTracker, CropSquare, SharedCrop, TrackerGroup
from metatrack.trackers.adaptive.group import SharedCropConfig, merge_squares, shared_crop
from metatrack.tracking import create_trackers, tracker_group

TRACKERS = ["metasdnet", "metacrest"]


def square(cx: float, cy: float, side: float, out: int = 100) -> CropSquare:
    return CropSquare(cx - side / 2, cy - side / 2, cx, cy, side, out)


def scene(frames: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Two textured patches walking side by side over a textured 320x240 background (RGB)."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(40, 160, (240, 320, 3), dtype=np.uint8), (0, 0), 3)
    patches = [cv2.GaussianBlur(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8), (0, 0), 1) for _ in range(2)]
    images = []
    for i in range(frames):
        img = background.copy()
        for k, patch in enumerate(patches):
            x, y = 100 + 50 * k + 2 * i, 100 + i
            img[y:y + 40, x:x + 40] = patch
        images.append(img)
    return images


@pytest.fixture
def calls(monkeypatch) -> dict[str, list[int]]:
    """Count the backbone's calls: ``own`` (a tracker's own crops, batch sizes), ``shared`` (shared crops)."""
    seen: dict[str, list[int]] = {"own": [], "shared": []}
    metatrack.create_tracker("metacrest")  # the families' classes are imported
    own = AdaptiveTracker.crop_features

    def counted_own(self, crops):
        seen["own"].append(len(crops))
        return own(self, crops)

    def counting(original):
        def counted_shared(self, crops):
            seen["shared"].append(len(crops))
            return original(self, crops)
        return counted_shared

    monkeypatch.setattr(AdaptiveTracker, "crop_features", counted_own)
    families, stack = [], [AdaptiveTracker]
    while stack:  # every class that defines its own shared_features (MetaCREST's leaves its normalisation out)
        cls = stack.pop()
        families += [cls] if "shared_features" in vars(cls) else []
        stack += cls.__subclasses__()
    for cls in families:
        monkeypatch.setattr(cls, "shared_features", counting(vars(cls)["shared_features"]))
    return seen


# ------------------------------------------------------------------ which targets merge


def test_overlapping_squares_at_one_scale_merge_and_distant_ones_do_not():
    near = [square(100, 100, 80), square(130, 105, 80)]
    assert merge_squares(near) == [[0, 1]]
    far = [square(100, 100, 80), square(300, 100, 80)]
    assert merge_squares(far) == [[0], [1]]
    crop = shared_crop(near)
    assert crop.width * crop.height < 2 * 100 * 100  # fewer pixels than two crops
    assert crop.x0 <= near[0].x0 and crop.x0 + crop.side_w >= near[1].x0 + near[1].side - 1e-9


def test_scales_beyond_the_tolerance_do_not_merge():
    cfg = SharedCropConfig(min_overlap=0.3, scale_tolerance=0.25)
    # sides 80 and 120: scales 1.25 and 0.83, a ratio of 1.5
    assert merge_squares([square(100, 100, 80), square(110, 100, 120)], cfg) == [[0], [1]]
    assert merge_squares([square(100, 100, 80), square(110, 100, 95)], cfg) == [[0, 1]]
    # the shared crop is at the geometric mean of the scales
    crop = shared_crop([square(100, 100, 80), square(110, 100, 95)])
    assert crop.scale == pytest.approx(np.sqrt(100 / 80 * 100 / 95), rel=2e-2)


def test_the_overlap_threshold_decides_and_the_rest_stay_alone():
    a, b = square(100, 100, 100), square(170, 100, 100)  # 30 % of the smaller one covered
    assert merge_squares([a, b], SharedCropConfig(min_overlap=0.5)) == [[0], [1]]
    assert merge_squares([a, b], SharedCropConfig(min_overlap=0.25)) == [[0, 1]]
    # three in a row and one far away: the row merges, the far one stays alone
    row = [square(100, 100, 80), square(120, 100, 80), square(140, 100, 80), square(400, 300, 80)]
    assert merge_squares(row) == [[0, 1, 2], [3]]


def test_equal_squares_share_the_crop_of_each_one_exactly():
    q = square(123.4, 87.6, 91.3, 192)
    assert shared_crop([q, q]) == SharedCrop.of_square(q)


# ------------------------------------------------------------------ boxes and backbone calls


@pytest.mark.parametrize("name", TRACKERS)
def test_targets_whose_merge_changes_nothing_get_their_single_runs_boxes(name, one_thread, calls):
    frames = scene()
    box = (100, 100, 40, 40)
    single = np.array([b for _, b, _ in metatrack.track(frames, box, tracker=name)])
    assert calls["shared"] == []
    calls["own"].clear()
    trackers = create_trackers(name, 2)
    group = TrackerGroup(trackers, batch=False, merge=True)
    group.init(frames[0], [np.array(box, float)] * 2)
    found = [np.array(box, float)[None].repeat(2, 0)]
    for image in frames[1:]:
        found.append(np.array(group.update(image)))
        assert group.last_sets == [[0, 1]]
    found = np.array(found)
    np.testing.assert_array_equal(found[:, 0], single)
    np.testing.assert_array_equal(found[:, 1], single)
    assert np.abs(single[-1, :2] - single[0, :2]).max() > 3  # it followed the patch: not a vacuous equality
    # two first frames alone, then one shared pass per frame for both targets
    assert calls["own"] == [1, 1] and calls["shared"] == [1] * (len(frames) - 1)


@pytest.mark.parametrize("name", TRACKERS)
def test_track_many_shares_crops_on_the_cpu_by_default(name, one_thread, calls):
    frames = scene()
    boxes = [(100, 100, 40, 40), (150, 100, 40, 40)]
    merged = list(metatrack.track_many(frames, boxes, tracker=name))
    assert calls["shared"] == [1] * (len(frames) - 1)  # one pass per later frame, for both
    assert calls["own"] == [1, 1]  # the first frames only
    calls["own"].clear()
    calls["shared"].clear()
    alone = list(metatrack.track_many(frames, boxes, tracker=name, shared=False))
    assert calls["shared"] == [] and calls["own"] == [1] * (2 * len(frames))
    a = np.array([[b for _, b, _ in found] for _, found in merged])
    b = np.array([[b for _, b, _ in found] for _, found in alone])
    # the patches move 2 px right and 1 px down per frame: both ways follow them
    for boxes_of in (a, b):
        moved = boxes_of[-1, :, :2] - boxes_of[0, :, :2]
        assert np.all(np.abs(moved - [2 * (len(frames) - 1), len(frames) - 1]) < 6), moved


def test_the_cli_with_several_boxes_takes_the_shared_path(tmp_path, one_thread, calls, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = scene(6)
    for i, image in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    out = tmp_path / "boxes.txt"
    assert main(["track", str(folder), "--box", "100,100,40,40", "--box", "150,100,40,40", "--tracker", "metacrest",
                 "--boxes", str(out), "--no-progress"]) == 0
    assert "x 2 targets tracked" in capsys.readouterr().out
    assert calls["shared"] == [1] * (len(frames) - 1)
    rows = np.loadtxt(out, delimiter=",")
    assert rows.shape == (2 * len(frames), 10)


def test_merging_is_off_where_asked_and_for_onnx_trackers(one_thread):
    trackers = create_trackers("metacrest", 2)
    assert tracker_group(trackers, merge=False) is None  # the CPU default does not batch
    assert tracker_group(trackers, batch=False) is None  # shared=False: every target alone
    group = tracker_group(trackers)
    assert isinstance(group, TrackerGroup) and group.merge and not group.batch
    frames = scene(3)
    group.init(frames[0], [np.array((100, 100, 40, 40), float), np.array((150, 100, 40, 40), float)])
    def fake(crops):  # stands for onnxruntime: the same key for both, and never merged
        return trackers[0]._backbone(crops)

    trackers[0].runtime = trackers[1].runtime = fake
    group.update(frames[1])
    assert group.last_sets == []


def test_a_family_can_keep_its_targets_apart_by_default(one_thread, monkeypatch):
    trackers = create_trackers("metacrest", 2)
    monkeypatch.setattr(type(trackers[0]), "shared_crop_on_cpu", False)
    assert tracker_group(trackers) is None
    group = tracker_group(trackers, merge=True)
    assert group is not None and group.merge
