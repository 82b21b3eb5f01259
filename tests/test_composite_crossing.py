"""The crossing split (issue 13): a validation split of surveillance-style composites, drawn from the
eval pool only: small targets, look-alikes crossing the target's path in front and behind, a static
occluder that hides the target wholly, departures and returns. Each condition is checked in the
written boxes and visibilities, not only in the plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from metatrack.data.composite import DEFAULT_SPLITS, POOLS, draw_plan, read_embedded, split_folder, write_split
from metatrack.data.composite.sources import TEST_FACES, pool_for
from metatrack.errors import ConfigError

SPEC = DEFAULT_SPLITS["crossing"]
SMALL = (320, 180)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _gt_rows(folder: Path) -> np.ndarray:
    lines = (folder / "groundtruth_rect.txt").read_text().splitlines()
    return np.array([[float(v) for v in line.split(",")] for line in lines])


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> list[tuple[Path, dict]]:
    """The default split, as ``read_embedded("crossing")`` writes it (about 15 s)."""
    out = tmp_path_factory.mktemp("crossing")
    paths = write_split(out, "crossing", SPEC["sequences"], SPEC["frames"], SPEC["seed"], SPEC["image_size"])
    return [(p, json.loads((p / "meta.json").read_text())) for p in paths]


def _gap(a: list[float], b: list[float]) -> float:
    """Pixels between boxes ``a`` and ``b`` (x, y, w, h); 0 where they overlap."""
    dx = max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]), 0.0)
    dy = max(b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]), 0.0)
    return float(np.hypot(dx, dy))


def _inside(a: list[float], b: list[float]) -> bool:
    return a[0] >= b[0] and a[1] >= b[1] and a[0] + a[2] <= b[0] + b[2] and a[1] + a[3] <= b[1] + b[3]


def _longest_run(flags) -> int:
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def test_default_split_is_a_validation_split_of_its_own():
    assert (SPEC["sequences"], SPEC["frames"], tuple(SPEC["image_size"])) == (12, 240, (640, 360))
    others = {s["seed"] for name, s in DEFAULT_SPLITS.items() if name != "crossing"}
    assert SPEC["seed"] not in others
    assert split_folder("crossing", **SPEC).name == "crossing-v1-s5-n12-f240-640x360"


def test_same_arguments_give_identical_files_and_another_seed_others(tmp_path: Path):
    a = write_split(tmp_path / "a", "crossing", sequences=2, frames=40, seed=5, image_size=SMALL)
    b = write_split(tmp_path / "b", "crossing", sequences=2, frames=40, seed=5, image_size=SMALL)
    c = write_split(tmp_path / "c", "crossing", sequences=2, frames=40, seed=6, image_size=SMALL)
    assert [p.name for p in a] == [p.name for p in b]
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")
    for pa, pc in zip(a, c, strict=True):
        assert (pa / "groundtruth_rect.txt").read_bytes() != (pc / "groundtruth_rect.txt").read_bytes()
    # sequence k does not depend on the split's size
    (one,) = write_split(tmp_path / "d", "crossing", sequences=1, frames=40, seed=5, image_size=SMALL)
    assert _tree_bytes(one) == _tree_bytes(a[0])


def test_sources_are_only_the_eval_pool_s(split):
    """Validation like eval: nothing of train (version 2 or 4) or test, no test face."""
    eval_sources = POOLS["eval"].sources()
    held = POOLS["train"].sources() | pool_for("train", 4).sources() | POOLS["test"].sources()
    held |= {f"lfw_{i:02d}" for i in TEST_FACES} | {p for t in pool_for("train", 4).targets for p in t.lookalikes}
    targets = {t.name for t in POOLS["eval"].targets}
    for path, meta in split:
        assert set(meta["sources"]) <= eval_sources, path.name
        assert not set(meta["sources"]) & held, path.name
        assert meta["target"] in targets
        # the look-alikes are cut from the target's own photo: its siblings or copies of it
        photo = meta["target_source"].split(":")[0]
        assert meta["crowd"] and {c["source"].split(":")[0] for c in meta["crowd"]} == {photo}
    for i in range(30):  # and whatever a longer split would draw
        plan = draw_plan("crossing", SPEC["seed"], i, 60, SMALL)
        assert set(plan.sources()) <= eval_sources and not set(plan.sources()) & held


def test_targets_are_small_and_some_of_a_pedestrian_s_shape(split):
    tall = 0
    for path, meta in split:
        pf = meta["per_frame"]
        whole = [b for b, v in zip(pf["box"], pf["in_view"], strict=True) if b is not None and v == 1.0]
        w = np.median([b[2] for b in whole])
        h = np.median([b[3] for b in whole])
        assert 17 <= w <= 46, (path.name, w)
        assert h < 100, (path.name, h)
        tall += h >= 2 * w
    assert tall >= 3


def test_first_frame_shows_the_whole_target_clear_of_look_alikes(split):
    for path, meta in split:
        pf = meta["per_frame"]
        assert pf["visible"][0] == 1.0 and pf["in_view"][0] == 1.0, path.name
        assert all(_gap(pf["box"][0], d) > 0 for d in pf["distractor_boxes"][0] if d), path.name


def test_every_sequence_has_look_alikes_crossing_the_target_s_path(split):
    front_hides = behind_passes = 0
    for path, meta in split:
        pf = meta["per_frame"]
        crowd = meta["crowd"]
        assert 3 <= len(crowd) <= 6
        assert {c["front"] for c in crowd} == {True, False}  # in front of the target and behind it
        occluder = pf.get("occluder_box")
        close = 0
        for t, (box, others) in enumerate(zip(pf["box"], pf["distractor_boxes"], strict=True)):
            assert len(others) == len(crowd)
            if box is None:
                continue
            near = [j for j, d in enumerate(others) if d and _gap(box, d) <= box[2]]
            close += bool(near)
            behind_occluder = occluder is not None and occluder[t] and _gap(box, occluder[t]) == 0
            overlapping = [j for j in near if _gap(box, others[j]) == 0]
            if overlapping and not behind_occluder and pf["in_view"][t] == 1.0:
                if any(crowd[j]["front"] for j in overlapping):
                    front_hides += pf["visible"][t] < 1.0
                else:  # only look-alikes walking behind it: the target is drawn whole
                    assert pf["visible"][t] == 1.0, (path.name, t)
                    behind_passes += 1
        assert close >= 5, path.name  # a look-alike comes within one target width of it
    assert front_hides >= 20 and behind_passes >= 20


def test_look_alikes_walk_at_the_target_s_pace_and_stay_in_view(split):
    for i in range(len(split)):
        plan = draw_plan("crossing", SPEC["seed"], i, SPEC["frames"], SPEC["image_size"])
        pace = np.median(np.linalg.norm(np.diff(plan.target.center, axis=0), axis=1))
        for c in plan.crowd:
            steps = np.linalg.norm(np.diff(c.center, axis=0), axis=1)
            assert 0.8 * pace <= np.median(steps) <= 1.2 * pace
    for path, meta in split:
        for boxes in meta["per_frame"]["distractor_boxes"]:
            assert all(b is not None for b in boxes), path.name


def test_most_sequences_hide_the_target_wholly_behind_a_static_occluder(split):
    hidden = []
    for path, meta in split:
        pf = meta["per_frame"]
        if "occluder_box" not in pf:
            hidden.append(0)
            continue
        boxes = {tuple(b) for b in pf["occluder_box"]}
        assert len(boxes) == 1, path.name  # static: it stands still under the still camera
        occ = pf["occluder_box"][0]
        behind = [b is not None and v == 0.0 and _inside(b, occ) for b, v in zip(pf["box"], pf["visible"], strict=True)]
        hidden.append(_longest_run(behind))
        assert meta["events"]["occlusion"]["static"] and "OCC" in meta["attributes"]
    runs = [r for r in hidden if r]
    assert len(runs) >= 2 * len(split) / 3, hidden
    assert all(10 <= r <= 31 for r in runs), hidden


def test_some_targets_leave_the_frame_and_come_back_elsewhere_while_the_crowd_stays(split):
    departed = 0
    for path, meta in split:
        rows = _gt_rows(path)
        gone = rows[:, 2] == 0
        assert np.array_equal(gone, [b is None for b in meta["per_frame"]["box"]])  # 0,0,0,0 where out of view
        if not gone.any():
            assert "OV" not in meta["attributes"]
            continue
        departed += 1
        assert "OV" in meta["attributes"]
        first, last = np.flatnonzero(gone)[[0, -1]]
        assert last - first + 1 == gone.sum() >= 10  # one stay out of view
        assert last < len(rows) - 10  # and back in view before the end
        left, back = rows[first - 1], rows[last + 1]
        assert np.hypot(*(left[:2] - back[:2])) > 40  # back through another place on the border
        for t in range(first, last + 1):  # the look-alikes stay in view
            assert all(b is not None for b in meta["per_frame"]["distractor_boxes"][t])
    assert departed >= 3


def test_still_camera(split):
    for i in range(len(split)):
        plan = draw_plan("crossing", SPEC["seed"], i, SPEC["frames"], SPEC["image_size"])
        assert np.ptp(plan.background.window, axis=0).max() == 0
        assert plan.shake is None and plan.gain is None and plan.target.blur is None
    kinds = {meta["background"]["kind"] for _, meta in split}
    assert kinds == {"video", "photo", "texture"}


def test_read_back_marks_frames_out_of_view_absent(split):
    root = split[0][0].parent
    seqs = read_embedded(str(root))
    assert [s.name for s in seqs] == [p.name for p, _ in split]
    for seq, (_, meta) in zip(seqs, split, strict=True):
        gone = np.array([b is None for b in meta["per_frame"]["box"]])
        assert np.isnan(seq.boxes[gone]).all() and np.isfinite(seq.boxes[~gone]).all()
        assert np.array_equal(seq.meta["visible"], meta["per_frame"]["visible"])


def test_synth_writes_the_crossing_split(tmp_path: Path):
    from metatrack.cli import main

    out = tmp_path / "crossing"
    assert main(["synth", "--out", str(out), "--split", "crossing", "--sequences", "1", "--frames", "12"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["split"], manifest["seed"], manifest["image_size"]) == ("crossing", 5, [640, 360])
    assert manifest["entries"][0]["name"].startswith("crossing_000_")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"challenge_rates": {"FM": 0.5}}, "draws its own conditions"),
        ({"objects": 2}, "every target of its pool"),
        ({"version": 2}, "version"),
        ({"frames": 1}, "frames"),
    ],
)
def test_bad_arguments_are_config_errors(tmp_path: Path, kwargs, match):
    args = {"sequences": 1, "frames": 8, "seed": 5, "image_size": SMALL} | kwargs
    with pytest.raises(ConfigError, match=match):
        write_split(tmp_path, "crossing", **args)
    with pytest.raises(ValueError, match="draws its own conditions"):
        draw_plan("crossing", 5, 0, 8, SMALL, attributes={"FM"})


def test_synth_names_a_wrong_argument(tmp_path: Path, capsys):
    from metatrack.cli import main

    assert main(["synth", "--out", str(tmp_path / "x"), "--split", "crossing", "--objects", "3"]) == 2
    assert "objects=3" in capsys.readouterr().err


@pytest.mark.parametrize("frames", [2, 5, 9])
@pytest.mark.parametrize("size", [(64, 48), (1280, 200)])
def test_short_sequences_and_odd_frames_still_show_the_target_first(frames, size):
    from metatrack.data.composite import render

    for i in range(12):
        plan = draw_plan("crossing", SPEC["seed"], i, frames, size)
        metas = [meta for _, meta in render(plan)]
        assert len(metas) == frames and metas[0]["box"] is not None and metas[0]["in_view"] == 1.0


def test_look_alikes_behind_are_hidden_by_the_target_and_those_in_front_hide_it():
    """In the pixels: where a look-alike walking behind covers the target's centre the target is drawn
    over it (the centre's pixel is as without the crowd); where one walking in front does, it is not."""
    import dataclasses

    from metatrack.data.composite import render

    same_behind = changed_front = 0
    for i in (0, 1):
        plan = draw_plan("crossing", SPEC["seed"], i, SPEC["frames"], SPEC["image_size"])
        alone = dataclasses.replace(plan, crowd=[], crowd_front=())
        for t, ((img, meta), (img0, _)) in enumerate(zip(render(plan), render(alone), strict=True)):
            cx, cy = np.round(plan.target.center[t]).astype(int)
            if meta["in_view"] < 1.0 or (meta.get("occluder_box") and _gap(meta["box"], meta["occluder_box"]) == 0):
                continue
            core, touch = [], []  # look-alikes whose core / whose box holds the target's centre
            for c, front in zip(plan.crowd, plan.crowd_front, strict=True):
                dx, dy = np.abs(c.center[t] - (cx, cy))
                if dx < c.width[t] / 4 and dy < c.height[t] / 4:
                    core.append(front)
                if dx < c.width[t] / 2 + 1 and dy < c.height[t] / 2 + 1:
                    touch.append(front)
            diff = int(np.abs(img[cy, cx].astype(int) - img0[cy, cx]).max())
            if core and not any(touch):
                assert diff <= 1, (i, t, diff)  # the target's opaque centre (resampled alpha: +-1 level)
                same_behind += 1
            elif any(core):
                changed_front += diff > 8
    assert same_behind >= 3 and changed_front >= 3, (same_behind, changed_front)


def test_read_back_gives_the_occluder_and_crowd_boxes(split):
    seqs = read_embedded(str(split[0][0].parent))
    for seq, (_, meta) in zip(seqs, split, strict=True):
        pf = meta["per_frame"]
        crowd = seq.meta["distractor_boxes"]
        assert crowd.shape == (len(seq), len(meta["crowd"]), 4)
        assert np.allclose(crowd[7, 0], pf["distractor_boxes"][7][0])
        if "occluder_box" in pf:
            assert np.allclose(seq.meta["occluder_boxes"], pf["occluder_box"])


def test_failure_causes_name_what_the_target_was_lost_to(split, tmp_path: Path):
    """bench/failure_causes.py on this split: a tracker that stays where the target went behind the
    occluder loses it to the occlusion; one that follows a look-alike that walked in front of the
    target loses it to that look-alike; both read from split_bench's cache like its own runs."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import failure_causes

    seqs = {s.name: s for s in read_embedded(str(split[0][0].parent))}
    # the occluder: boxes true until the target is wholly behind it, then held there
    path, meta = next((p, m) for p, m in split if "occluder_box" in m["per_frame"])
    seq = seqs[path.name]
    visible = seq.meta["visible"]
    occ = seq.meta["occluder_boxes"][0]
    behind = [v == 0.0 and _inside(list(b), list(occ)) for b, v in zip(np.nan_to_num(seq.boxes), visible, strict=True)]
    start = behind.index(True)
    held = np.nan_to_num(seq.boxes.copy())
    held[start:] = held[start - 1]
    events = failure_causes.loss_events("opencv-csrt", held, seq.boxes, visible, seq.meta, None, 0.1, 5)
    assert events and events[0]["cause"] == "occlusion" and events[0]["context"] == "occluder"
    # a look-alike in front: from a frame where it hides most of the target, the tracker follows it
    found = False
    for path, meta in split:
        seq = seqs[path.name]
        crowd, visible = seq.meta["distractor_boxes"], seq.meta["visible"]
        front = [j for j, c in enumerate(meta["crowd"]) if c["front"]]
        for t in range(5, len(seq) - 30):
            on = [j for j in front if np.isfinite(crowd[t, j]).all()
                  and failure_causes._gap(seq.boxes[t], crowd[t, j:j + 1])[0] == 0]
            if visible[t] < 0.3 and on and np.isfinite(seq.boxes[: t + 1]).all():
                break
        else:
            continue
        follow = seq.boxes.copy()
        follow[t:] = crowd[t:, on[0]]
        cache = tmp_path / "cache"
        cache.mkdir(exist_ok=True)
        run = {"ope_curves": {seq.name: {"boxes": follow.tolist()}}}
        (cache / "metasdnet__embedded_crossing__1.json").write_text(json.dumps(run))
        boxes = failure_causes.boxes_of(f"{cache}#1", "metasdnet", seq.name, "embedded:crossing")
        assert np.allclose(boxes, follow)
        events = failure_causes.loss_events("metasdnet", boxes, seq.boxes, visible, seq.meta, None, 0.1, 5)
        assert events[0]["cause"] in ("hidden by a look-alike", "drift onto a distractor"), events[0]
        assert events[0]["context"] == "crossing"
        found = True
        break
    assert found
