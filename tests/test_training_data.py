"""Training data closer to the world (issue 13): the optical-flow pseudo ground truth and train split v4."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from metatrack.data.composite import dataset as composite_dataset
from metatrack.data.composite import write_split
from metatrack.data.composite.motion import draw_plan
from metatrack.data.composite.sources import (
    _VIDEO_FILES,
    FACES_LIKE_TEST,
    POOLS,
    TEST_FACES,
    load_photo,
    pool_for,
)
from metatrack.data.flow import FlowFollowerConfig, follow
from metatrack.data.real import ANNOTATIONS
from metatrack.errors import ConfigError, DataError

SMALL = (160, 120)


def _moving_texture(shifts: list[tuple[int, int]], size: int = 60) -> tuple[list[np.ndarray], list[list[int]]]:
    """A gravel square moving by whole pixels over a brick wall; its true boxes."""
    wall = cv2.resize(load_photo("brick")[:, :, 0], (320, 240), interpolation=cv2.INTER_AREA)
    patch = load_photo("gravel")[100 : 100 + size, 200 : 200 + size, 0]
    frames, boxes = [], []
    x, y = 70, 60
    for dx, dy in shifts:
        x, y = x + dx, y + dy
        frame = wall.copy()
        frame[y : y + size, x : x + size] = patch
        frames.append(frame)
        boxes.append([x, y, size, size])
    return frames, boxes


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_follower_recovers_the_motion_of_a_moving_texture(method: str):
    shifts = [(0, 0)] + [(3, 1)] * 10 + [(-2, 2)] * 10
    frames, truth = _moving_texture(shifts)
    track = follow(frames, truth[0], FlowFollowerConfig(method=method))
    assert track.stopped_at is None and len(track.boxes) == len(frames)
    err = np.abs(track.boxes - np.asarray(truth, float))
    assert err[:, :2].max() < 2.0, err.max(0)  # the box moved with the texture, 50 px in all
    assert err[:, 2:].max() < 3.0  # and kept its size
    assert track.boxes[-1, 0] - track.boxes[0, 0] == pytest.approx(10, abs=2)


def test_flow_follower_stops_instead_of_guessing_when_the_region_is_replaced():
    frames, truth = _moving_texture([(0, 0)] + [(2, 0)] * 6)
    other = load_photo("camera")[:240, :320, 0].copy()
    frames += [other] * 3  # the scene cut away: nothing of the region is left
    track = follow(frames, truth[0])
    assert track.stopped_at == 7 and track.reason is not None
    assert np.isfinite(track.boxes[:7]).all() and np.isnan(track.boxes[7]).all()


def test_flow_follower_rejects_bad_settings_and_boxes():
    with pytest.raises(ConfigError, match="method"):
        FlowFollowerConfig(method="lucas-kanade")
    frames, _ = _moving_texture([(0, 0), (1, 0)])
    with pytest.raises(DataError, match="negative size"):
        follow(frames, [10, 10, -5, 20])


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_train_split_v4_is_deterministic_for_a_seed_and_differs_across_seeds(tmp_path: Path):
    a = write_split(tmp_path / "a", "train", sequences=3, frames=12, seed=5, image_size=SMALL, version=4)
    b = write_split(tmp_path / "b", "train", sequences=3, frames=12, seed=5, image_size=SMALL, version=4)
    c = write_split(tmp_path / "c", "train", sequences=3, frames=12, seed=6, image_size=SMALL, version=4)
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b, strict=True):
        assert _tree_bytes(pa) == _tree_bytes(pb)
    assert any(_tree_bytes(pa) != _tree_bytes(pc) for pa, pc in zip(a, c, strict=True))
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["version"] == 4
    assert json.loads((a[0] / "meta.json").read_text())["params"]["version"] == 4


def test_the_default_train_split_is_still_version_2_and_other_versions_are_refused(tmp_path: Path):
    assert composite_dataset.VERSIONS["train"] == 2  # what the shipped models were trained on
    assert composite_dataset.split_folder("train", 96, 120, 1).name == "train-v2-s1-n96-f120"
    assert composite_dataset.split_folder("train", 96, 120, 1, version=4, objects=27).name == "train-v4-s1-n96-f120-o27"
    with pytest.raises(ConfigError, match="version"):
        write_split(tmp_path, "train", sequences=1, frames=4, seed=0, version=3)
    with pytest.raises(ConfigError, match="objects"):
        write_split(tmp_path, "train", sequences=1, frames=4, seed=0, version=4, objects=10_000)


def test_objects_cuts_the_targets_to_the_first_of_the_pool():
    pool = pool_for("train", 4)
    assert len(pool.targets) > len(POOLS["train"].targets)
    # the first objects of version 4 are version 2's, in the same order
    assert [t.name for t in pool.targets[:27]] == [t.name for t in POOLS["train"].targets]
    first = {t.name for t in pool.targets[:5]}
    names = {draw_plan("train", 1, i, 6, SMALL, version=4, objects=5).target_name for i in range(20)}
    assert names == first
    all_names = {draw_plan("train", 1, i, 6, SMALL, version=4).target_name for i in range(len(pool.targets))}
    assert len(all_names) == len(pool.targets)


def _clip_videos() -> set[str]:
    """The pool names of every video a real clip (of any role) plays."""
    clips = json.loads(ANNOTATIONS.read_text())["clips"]
    by_file = {f: name for name, f in _VIDEO_FILES.items()}
    files = {Path(c["video"]).name for c in clips.values()}
    unknown = files - set(by_file)
    assert not unknown, f"a real clip plays a video the composite sources do not name: {unknown}"
    return {by_file[f] for f in files}


def test_train_split_v4_shares_no_source_with_validation_or_test():
    """Fails when a source of the validation or test role (the eval or test pool, a real clip's
    video, a test face or a face like one) is added to the train split of version 4."""
    train = pool_for("train", 4)
    held = POOLS["eval"].sources() | POOLS["test"].sources() | _clip_videos()
    held |= {f"lfw_{i:02d}" for i in TEST_FACES + FACES_LIKE_TEST}
    assert not train.sources() & held, train.sources() & held
    lookalikes = {p for t in train.targets for p in t.lookalikes}
    assert not lookalikes & held
    held_targets = {t.name for split in ("eval", "test") for t in POOLS[split].targets}
    assert not {t.name for t in train.targets} & held_targets
    assert not train.videos  # every installed real video is played by a validation or test clip
    for i in range(40):  # and what a sequence really draws stays inside the pool
        plan = draw_plan("train", 1, i, 8, SMALL, version=4)
        assert set(plan.sources()) <= train.sources() | lookalikes
        assert not set(plan.sources()) & held


def test_static_occluder_stands_still_in_the_scene_while_the_camera_moves():
    found = 0
    for i in range(60):
        plan = draw_plan("train", 1, i, 30, SMALL, version=4, objects=None)
        occ = plan.info.get("occlusion")
        if not occ or not occ.get("static"):
            continue
        found += 1
        window = plan.background.window
        s = window[:, 2] / SMALL[0]
        scene = window[:, :2] + (plan.occluder.center - np.array(SMALL) / 2) * s[:, None]
        assert np.ptp(scene, axis=0).max() < 1e-6  # one scene point in every frame
        assert np.allclose(plan.occluder.width * s, plan.occluder.width[0] * s[0])  # zooms with the camera
        # and at its frame it stands where the target is (the target passes behind it)
        t = occ["frame"]
        gap = np.abs(plan.occluder.center[t] - plan.target.center[t])
        assert gap[0] < plan.occluder.width[t] / 2 + plan.target.width[t] / 2
    assert found >= 3


def test_hand_held_camera_moves_background_and_target_together(monkeypatch):
    from metatrack.data.composite import motion

    shaken = draw_plan("train", 1, 1, 40, SMALL, version=4)
    still_features = {k: v for k, v in motion.VERSION_FEATURES[("train", 4)].items() if k != "handheld"}
    monkeypatch.setitem(motion.VERSION_FEATURES, ("train", 4), still_features)
    still = draw_plan("train", 1, 1, 40, SMALL, version=4)
    jitter = still.target.center - shaken.target.center  # what the camera's shake did to the target
    assert np.abs(jitter).max() > 0.5 and np.allclose(jitter[0], 0)
    # the background's window moved by the same shake, the other way round
    s = still.background.window[:, 2] / SMALL[0]
    moved = (shaken.background.window[:, :2] - still.background.window[:, :2]) / s[:, None]
    assert np.allclose(moved, jitter)
    assert "handheld_pixels" not in draw_plan("train", 1, 1, 40, SMALL).info  # version 2 is as it was


def test_synth_writes_another_version_and_names_a_wrong_one(tmp_path: Path, capsys):
    from metatrack.cli import main

    out = tmp_path / "v4"
    assert main(["synth", "--out", str(out), "--split", "train", "--version", "4", "--objects", "30",
                 "--sequences", "1", "--frames", "3"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["version"], manifest["objects"]) == (4, 30)
    assert main(["synth", "--out", str(tmp_path / "v3"), "--split", "train", "--version", "3"]) == 2
    assert "version=3" in capsys.readouterr().err


def test_every_v4_target_is_a_distinct_textured_crop_inside_its_photo():
    targets = pool_for("train", 4).targets
    assert len({t.name for t in targets}) == len(targets)
    assert len({(t.photo, t.rect) for t in targets}) == len(targets)
    for t in targets:
        photo = load_photo(t.photo)
        x, y, w, h = t.rect
        assert x + w <= photo.shape[1] and y + h <= photo.shape[0], t.name
        assert photo[y:y + h, x:x + w].std() > 10, f"{t.name}: a flat crop is no target"
