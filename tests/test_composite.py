"""The embedded composite data set: layout, determinism, split disjointness, and that each
recorded challenge really happens in the pixels and boxes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from metatrack.data.composite import (
    ATTRIBUTES,
    POOLS,
    draw_plan,
    read_embedded,
    render,
    split_folder,
    write_split,
)
from metatrack.data.composite import dataset as composite_dataset
from metatrack.data.composite.motion import size_factor
from metatrack.data.composite.render import Background, layer_pixels, soft_mask
from metatrack.errors import ConfigError, DataError
from metatrack.geometry import iou

SMALL = (160, 120)


def gt_rows(folder: Path) -> np.ndarray:
    """groundtruth_rect.txt read by hand (the OTB reader is tested on its own)."""
    lines = (folder / "groundtruth_rect.txt").read_text().splitlines()
    return np.array([[float(v) for v in line.split(",")] for line in lines])


@pytest.fixture(scope="module")
def small_split(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval")
    write_split(out, "eval", sequences=2, frames=8, seed=0, image_size=SMALL)
    return out


def test_layout_and_manifest(small_split: Path):
    manifest = json.loads((small_split / "manifest.json").read_text())
    assert manifest["split"] == "eval" and manifest["seed"] == 0
    assert manifest["sequences"] == 2 and manifest["frames"] == 8
    assert manifest["version"] == composite_dataset.VERSIONS["eval"]
    assert len(manifest["entries"]) == 2
    for entry in manifest["entries"]:
        seq = small_split / entry["name"]
        images = sorted((seq / "img").iterdir())
        assert [p.name for p in images] == [f"{i:04d}.jpg" for i in range(1, 9)]
        img = cv2.imread(str(images[0]))
        assert img.shape == (SMALL[1], SMALL[0], 3)
        rows = gt_rows(seq)
        assert rows.shape == (8, 4)
        assert np.all(rows == np.round(rows))  # OTB writes integer pixels
        tags = (seq / "attributes.txt").read_text().strip().split(",")
        assert tags and set(tags) <= set(ATTRIBUTES)
        assert tags == entry["attributes"]
        assert entry["sources"] and set(entry["sources"]) <= POOLS["eval"].sources()
    # nothing half-written is left beside the sequences
    assert not [p for p in small_split.iterdir() if p.name.startswith(".")]


def test_boxes_inside_image_or_marked_absent(small_split: Path):
    w_img, h_img = SMALL
    for seq in (p for p in small_split.iterdir() if p.is_dir()):
        rows = gt_rows(seq)
        assert rows[0, 2] > 0 and rows[0, 3] > 0  # the first box always shows the target
        for x, y, w, h in rows:
            if w == 0:
                assert (x, y, h) == (0, 0, 0)
                continue
            assert w > 0 and h > 0 and x >= 1 and y >= 1  # 1-based
            assert x - 1 + w <= w_img and y - 1 + h <= h_img


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_arguments_give_identical_files(small_split: Path, tmp_path: Path):
    write_split(tmp_path, "eval", sequences=2, frames=8, seed=0, image_size=SMALL)
    assert _tree_bytes(tmp_path) == _tree_bytes(small_split)


def test_other_seed_gives_other_sequences(small_split: Path, tmp_path: Path):
    write_split(tmp_path, "eval", sequences=2, frames=8, seed=5, image_size=SMALL)

    def boxes_and_first_frames(root: Path) -> set[bytes]:
        seqs = [p for p in root.iterdir() if p.is_dir()]
        return {(p / "groundtruth_rect.txt").read_bytes() for p in seqs} | {
            (p / "img" / "0001.jpg").read_bytes() for p in seqs
        }

    assert not boxes_and_first_frames(tmp_path) & boxes_and_first_frames(small_split)


def test_sequence_k_does_not_depend_on_split_size(small_split: Path, tmp_path: Path):
    (path,) = write_split(tmp_path, "eval", sequences=1, frames=8, seed=0, image_size=SMALL)
    assert _tree_bytes(path) == _tree_bytes(small_split / path.name)


def test_splits_share_no_photo_video_texture_or_target():
    """The pools of train, eval and test share nothing; the crossing and hard splits (validation,
    like eval) draw from eval's pool and may share only eval's sources; the faces split (validation)
    has targets of its own over eval's backgrounds; the backdrops split (validation) shares nothing."""
    from metatrack.data.composite.sources import SPLIT_POOLS

    assert set(POOLS) == {"train", "eval", "test", "faces", "backdrops"}
    assert SPLIT_POOLS == {"train": "train", "eval": "eval", "test": "test", "crossing": "eval", "hard": "eval",
                           "faces": "faces", "backdrops": "backdrops"}
    assert POOLS["faces"].sources() - {t.photo for t in POOLS["faces"].targets} <= POOLS["eval"].sources()
    for a, b in itertools.combinations(sorted(POOLS), 2):
        if {a, b} != {"eval", "faces"}:
            assert not POOLS[a].sources() & POOLS[b].sources(), (a, b)
        assert not {t.name for t in POOLS[a].targets} & {t.name for t in POOLS[b].targets}, (a, b)
        assert not {t.photo for t in POOLS[a].targets} & {t.photo for t in POOLS[b].targets}, (a, b)
    for split, pool in SPLIT_POOLS.items():
        others = set().union(*(POOLS[o].sources() for o in POOLS if o != pool)) - POOLS[pool].sources()
        for i in range(30 if split != "crossing" else 12):
            plan = draw_plan(split, 0, i, 10 if split != "crossing" else 60, SMALL)
            assert set(plan.sources()) <= POOLS[pool].sources(), split
            assert not set(plan.sources()) & others, split


def test_the_test_split_uses_nothing_a_real_clip_or_a_test_fixture_uses():
    """Held-out imagery: no real clip of another role plays its video (test-role clips may: both are
    only reported), no test module names one of its sources."""
    clips = json.loads((Path(composite_dataset.__file__).parents[1] / "real_clips.json").read_text())["clips"]
    clip_videos = {Path(c["video"]).stem for c in clips.values() if c.get("role") != "test"}
    assert clip_videos and not clip_videos & set(POOLS["test"].videos)
    # common words are checked as the skimage calls and the matplotlib files behind them
    held_out = POOLS["test"].sources() - {"page", "logo", "mri", "terrain"}
    texts = [p.read_text("utf-8") for p in Path(__file__).parent.glob("*.py") if p.name != Path(__file__).name]
    for name in sorted(held_out) + ["s1045", "jacksboro", "data.page(", "data.logo("]:
        assert not any(name in t for t in texts), name


def test_split_codes_are_fixed_so_a_new_split_leaves_the_others_alone():
    from metatrack.data.composite.motion import SPLIT_CODES
    from metatrack.data.composite.sources import SPLIT_POOLS

    assert set(SPLIT_CODES) == set(SPLIT_POOLS)
    assert len(set(SPLIT_CODES.values())) == len(SPLIT_CODES)
    # the codes they had before test, and test's before crossing, crossing's before hard
    assert (SPLIT_CODES["eval"], SPLIT_CODES["train"], SPLIT_CODES["test"], SPLIT_CODES["crossing"]) == (0, 1, 2, 3)


def test_every_target_is_a_distinct_textured_crop_inside_its_photo():
    from metatrack.data.composite.sources import load_photo

    names = [t.name for pool in POOLS.values() for t in pool.targets]
    assert len(names) == len(set(names))
    # meta-training generalises from the train split's objects: it needs many, not seven
    assert len(POOLS["train"].targets) >= 3 * len(POOLS["eval"].targets)
    for pool in POOLS.values():
        for t in pool.targets:
            photo = load_photo(t.photo)
            x, y, w, h = t.rect
            assert w > 0 and h > 0 and x >= 0 and y >= 0, t.name
            assert x + w <= photo.shape[1] and y + h <= photo.shape[0], t.name
            assert photo[y:y + h, x:x + w].std() > 10, f"{t.name}: a flat crop is no target"


def test_a_split_of_another_version_is_made_again(tmp_path: Path, monkeypatch):
    (seq,) = write_split(tmp_path, "eval", sequences=1, frames=4, seed=0, image_size=SMALL)
    stamp = (seq / "img" / "0001.jpg").stat().st_mtime_ns
    monkeypatch.setitem(composite_dataset.VERSIONS, "eval", composite_dataset.VERSIONS["eval"] + 1)
    (again,) = write_split(tmp_path, "eval", sequences=1, frames=4, seed=0, image_size=SMALL)
    assert again == seq and (seq / "img" / "0001.jpg").stat().st_mtime_ns != stamp
    meta = json.loads((seq / "meta.json").read_text())
    assert meta["params"]["version"] == composite_dataset.VERSIONS["eval"]
    assert split_folder("eval", 1, 4, 0).name.startswith(f"eval-v{composite_dataset.VERSIONS['eval']}-")


def test_rerun_skips_complete_sequences_and_redoes_others(tmp_path: Path):
    (seq,) = write_split(tmp_path, "eval", sequences=1, frames=6, seed=0, image_size=SMALL)
    marker = seq / "img" / "0001.jpg"
    before = marker.stat().st_mtime_ns
    marker.write_bytes(marker.read_bytes())  # touch: a re-write would replace the file
    touched = marker.stat().st_mtime_ns
    write_split(tmp_path, "eval", sequences=1, frames=6, seed=0, image_size=SMALL)
    assert marker.stat().st_mtime_ns == touched >= before
    # other arguments: the same name is made again with the new frame count
    (again,) = write_split(tmp_path, "eval", sequences=1, frames=7, seed=0, image_size=SMALL)
    assert again == seq and len(list((seq / "img").iterdir())) == 7 and len(gt_rows(seq)) == 7


def test_interrupted_write_leaves_nothing_that_looks_complete(tmp_path: Path, monkeypatch):
    def broken(plan):
        for t, item in enumerate(render(plan)):
            if t == 3:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(composite_dataset, "render", broken)
    with pytest.raises(KeyboardInterrupt):
        write_split(tmp_path, "eval", sequences=1, frames=6, seed=0, image_size=SMALL)
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_folder_is_not_replaced(tmp_path: Path):
    name = draw_plan("eval", 0, 0, 6, SMALL).name
    (tmp_path / name).mkdir()
    (tmp_path / name / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not written by the embedded data set"):
        write_split(tmp_path, "eval", sequences=1, frames=6, seed=0, image_size=SMALL)
    assert (tmp_path / name / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"split": "nosuch"},
        {"frames": 1},
        {"challenge_rates": {"XX": 0.5}},
        {"challenge_rates": {"FM": 1.5}},
        {"sequences": 0},
        {"image_size": (32, 32)},
    ],
)
def test_bad_arguments_are_config_errors(tmp_path: Path, kwargs):
    args = {"split": "eval", "sequences": 1, "frames": 4, "seed": 0, "image_size": SMALL} | kwargs
    with pytest.raises(ConfigError):
        write_split(tmp_path, **args)


def test_soft_mask_has_a_soft_edge():
    for shape in ("ellipse", "roundrect"):
        m = soft_mask(shape, 60, 80)
        assert m[30, 40] == 1.0 and m[0, 0] == 0.0
        assert np.any((m > 0.05) & (m < 0.95))  # neither a hard cut nor a blur of the whole patch


def test_the_box_fits_the_drawn_target():
    """With no challenge, pixels that differ from the background are the target, inside its box."""
    plan = draw_plan("eval", 0, 3, 3, (240, 180), attributes=set())
    frame, meta = next(iter(render(plan)))
    background = Background(plan, layer_pixels(plan.target)).frame(0)
    changed = np.abs(frame.astype(np.float32) - background).max(axis=2) > 12
    ys, xs = np.nonzero(changed)
    drawn = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    assert iou(drawn, meta["box"])[0] > 0.8


# ---- each recorded challenge happens ---------------------------------------------------------

EFFECT_SIZE = (240, 180)
EFFECT_FRAMES = 40


def _measure(plan) -> dict:
    metas = [m for _, m in render(plan)]
    boxes = np.array([m["box"] if m["box"] else [np.nan] * 4 for m in metas])
    in_view = np.array([m["in_view"] for m in metas])
    visible = np.array([m["visible"] for m in metas])
    whole = in_view >= 0.999
    side = np.sqrt(boxes[:, 2] * boxes[:, 3])
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    step = np.linalg.norm(np.diff(centre, axis=0), axis=1)
    both = whole[1:] & whole[:-1]
    out = {
        "first_area": boxes[0, 2] * boxes[0, 3],
        "size_ratio": side[whole] / side[0],
        "scale": np.array([m["scale"] for m in metas]),
        "max_step": float(step[both].max()) if both.any() else 0.0,
        "min_in_view": float(in_view.min()),
        "absent": int(np.isnan(boxes[:, 0]).sum()),
        "covered": float((in_view - visible).max()),
        "first_visible": float(visible[0]),
        "gain": np.array([m.get("gain", 1.0) for m in metas]),
        "blur": max(m["blur"] for m in metas),
        "angle": np.array([m["angle"] for m in metas]),
        "side": side,
        "aspect": boxes[whole, 2] / boxes[whole, 3],
        "centre": centre,
        "distractor": [m.get("distractor_box") for m in metas],
    }
    return out


@pytest.fixture(scope="module")
def effects() -> dict[str, tuple]:
    """One sequence per challenge with only that challenge switched on, measured."""
    out = {}
    for i, tag in enumerate(ATTRIBUTES):
        split = "train" if i % 2 else "eval"
        plan = draw_plan(split, 11, 100 + i, EFFECT_FRAMES, EFFECT_SIZE, attributes={tag})
        assert plan.attributes == (tag,)
        out[tag] = (plan, _measure(plan))
    return out


K = size_factor(EFFECT_SIZE)


def test_every_first_frame_shows_the_whole_target(effects):
    for _, m in effects.values():
        assert m["first_visible"] == 1.0


def test_scale_variation(effects):
    m = effects["SV"][1]
    assert m["size_ratio"].max() >= 2.0 or m["size_ratio"].min() <= 0.5
    for tag in ("IV", "MB", "FM", "BC", "DIS", "OCC"):
        ratio = effects[tag][1]["size_ratio"]
        assert 0.7 < ratio.min() and ratio.max() < 1.4, tag


def test_fast_motion(effects):
    assert effects["FM"][1]["max_step"] > 20 * K
    for tag in ("IV", "SV", "MB", "BC", "DIS", "OCC", "DEF", "IPR", "OPR"):
        assert effects[tag][1]["max_step"] < 20 * K, tag


def test_out_of_view(effects):
    plan, m = effects["OV"]
    assert m["min_in_view"] < 1.0
    event = plan.info["out_of_view"][0]
    assert (m["absent"] > 0) == event["full"]
    for tag in set(ATTRIBUTES) - {"OV"}:
        assert effects[tag][1]["min_in_view"] == 1.0, tag


def test_fully_out_of_view_frames_are_written_as_zero_boxes():
    for i in range(40):
        plan = draw_plan("train", 2, i, 30, SMALL, attributes={"OV"})
        if plan.info["out_of_view"][0]["full"]:
            break
    boxes = [m["box"] for _, m in render(plan)]
    assert None in boxes
    assert composite_dataset._box_line(None) == "0,0,0,0"
    assert composite_dataset._box_line([0.0, 4.0, 10.0, 12.0]) == "1,5,10,12"


def test_occlusion(effects):
    plan, m = effects["OCC"]
    assert m["covered"] > 0.3  # the occluder hides a good part of the target in some frame
    for tag in set(ATTRIBUTES) - {"OCC"}:
        assert effects[tag][1]["covered"] == 0.0, tag


def test_low_resolution(effects):
    assert effects["LR"][1]["first_area"] < 400 * K**2
    for tag in set(ATTRIBUTES) - {"LR"}:
        assert effects[tag][1]["first_area"] >= 400 * K**2, tag


def test_illumination_variation(effects):
    gain = effects["IV"][1]["gain"]
    assert gain.max() / gain.min() > 1.5
    assert np.all(effects["SV"][1]["gain"] == 1.0)


def test_motion_blur(effects):
    assert effects["MB"][1]["blur"] >= 5 * K
    assert effects["FM"][1]["blur"] == 0.0  # blur only where MB is recorded


def test_in_plane_rotation(effects):
    assert np.ptp(effects["IPR"][1]["angle"]) >= 30
    assert np.ptp(effects["SV"][1]["angle"]) == 0


def test_deformation_and_out_of_plane_rotation_change_the_box_shape(effects):
    for tag in ("DEF", "OPR"):
        aspect = effects[tag][1]["aspect"]
        assert aspect.max() / aspect.min() > 1.25, tag
    assert np.ptp(effects["OPR"][0].target.yaw) >= 60
    assert effects["DEF"][0].target.wave_amp > 0
    still = effects["IV"][1]["aspect"]
    assert still.max() / still.min() < 1.15


def test_background_clutter_is_a_texture_in_the_target_colours(effects):
    plan, _ = effects["BC"]
    assert plan.background.kind == "texture"
    target = layer_pixels(plan.target)
    inside = target[:, :, 3] > 0.5
    colours = target[:, :, :3][inside] / target[:, :, 3][inside][:, None]
    background = Background(plan, target).frame(0)
    assert np.allclose(background.reshape(-1, 3).mean(0), colours.mean(0), atol=25)


def test_distractor_stays_near_the_target(effects):
    plan, m = effects["DIS"]
    near = []
    for box, centre, side in zip(m["distractor"], m["centre"], m["side"], strict=True):
        if box is not None:
            d = np.linalg.norm(np.array(box[:2]) + np.array(box[2:]) / 2 - centre)
            near.append(d / side)
    assert near and min(near) < 3.0
    assert plan.distractor.photo == plan.target.photo  # a look-alike from the same photo


def test_attribute_tags_are_recorded_in_files(tmp_path: Path):
    paths = write_split(tmp_path, "train", sequences=3, frames=6, seed=4, image_size=SMALL)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for path, entry in zip(paths, manifest["entries"], strict=True):
        meta = json.loads((path / "meta.json").read_text())
        plan = draw_plan("train", 4, entry["index"], 6, SMALL)
        assert entry["attributes"] == meta["attributes"] == list(plan.attributes)
        assert (path / "attributes.txt").read_text().strip() == ",".join(plan.attributes)
        assert len(meta["per_frame"]["visible"]) == 6


# ---- reading back ----------------------------------------------------------------------------


def test_read_embedded_reads_a_written_folder_with_the_otb_reader(small_split: Path):
    pytest.importorskip("metatrack.data.otb")
    seqs = read_embedded(str(small_split))
    assert len(seqs) == 2
    for seq in seqs:
        rows = gt_rows(small_split / seq.name)
        valid = rows[:, 2] > 0
        assert np.allclose(seq.boxes[valid, :2], rows[valid, :2] - 1)  # 0-based inside
        assert np.all(np.isnan(seq.boxes[~valid]))
        assert seq.attributes == tuple((small_split / seq.name / "attributes.txt").read_text().strip().split(","))
        assert seq.frame(0).shape == (SMALL[1], SMALL[0], 3)


def test_read_embedded_split_name_generates_into_the_cache_once(tmp_path: Path, monkeypatch):
    pytest.importorskip("metatrack.data.otb")
    monkeypatch.setenv("METATRACK_HOME", str(tmp_path))
    seqs = read_embedded("eval", sequences=1, frames=5, image_size=SMALL)
    folder = split_folder("eval", 1, 5, 0, SMALL)
    assert folder.parent == tmp_path / "embedded"
    assert folder.name.startswith(f"eval-v{composite_dataset.VERSIONS['eval']}-s0-n1-f5")
    assert len(seqs) == 1 and len(seqs[0]) == 5
    stamp = (folder / seqs[0].name / "img" / "0001.jpg").stat().st_mtime_ns
    read_embedded("eval", sequences=1, frames=5, image_size=SMALL)
    assert (folder / seqs[0].name / "img" / "0001.jpg").stat().st_mtime_ns == stamp


def test_read_embedded_rejects_bad_arguments(tmp_path: Path):
    with pytest.raises(DataError, match="neither a split name"):
        read_embedded(str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="unknown option"):
        read_embedded("eval", colour="red")
    with pytest.raises(ConfigError, match="only apply to a split name"):
        read_embedded(str(tmp_path), frames=3)


def test_default_splits_are_named_and_sized():
    from metatrack.data.composite import DEFAULT_SPLITS

    assert set(DEFAULT_SPLITS) == {"train", "eval", "test", "crossing", "hard", "faces", "backdrops"} == set(
        composite_dataset.VERSIONS)
    assert len({s["seed"] for s in DEFAULT_SPLITS.values()}) == 7
    assert DEFAULT_SPLITS["train"]["sequences"] > DEFAULT_SPLITS["eval"]["sequences"]


def test_the_test_split_has_its_own_conditions():
    """Not a copy of eval's conditions: its own seed, frame size and challenge shares."""
    from metatrack.data.composite import DEFAULT_SPLITS
    from metatrack.data.composite.motion import challenge_rates

    test, ev = DEFAULT_SPLITS["test"], DEFAULT_SPLITS["eval"]
    assert test["seed"] not in (DEFAULT_SPLITS["eval"]["seed"], DEFAULT_SPLITS["train"]["seed"])
    assert tuple(test["image_size"]) != tuple(ev["image_size"])
    rates, base = challenge_rates(test["challenge_rates"]), challenge_rates(ev.get("challenge_rates"))
    for tag in ("FM", "OCC", "BC", "DIS", "LR"):
        assert rates[tag] > base[tag], tag
    # the shares are felt: over 48 sequences, more of them get those challenges than eval's would
    from metatrack.data.composite.motion import SPLIT_CODES, draw_attributes

    def count(r, tag):
        return sum(tag in draw_attributes(test["seed"], SPLIT_CODES["test"], i, r) for i in range(48))

    for tag in ("FM", "OCC", "LR"):
        assert count(rates, tag) > count(base, tag), tag


def test_the_hard_split_is_eval_imagery_under_test_conditions(tmp_path: Path):
    """The validation split meant to predict test: test's frame size and shares, eval's pool, a seed
    and sequences of its own (none equal to an eval or test sequence)."""
    from metatrack.data.composite import DEFAULT_SPLITS

    hard, test = DEFAULT_SPLITS["hard"], DEFAULT_SPLITS["test"]
    assert tuple(hard["image_size"]) == tuple(test["image_size"])
    assert hard["challenge_rates"] == test["challenge_rates"]
    assert (hard["sequences"], hard["frames"]) == (test["sequences"], test["frames"])
    assert hard["seed"] not in {s["seed"] for name, s in DEFAULT_SPLITS.items() if name != "hard"}
    eval_targets = {t.name for t in POOLS["eval"].targets}
    plans = [draw_plan("hard", hard["seed"], i, 20, tuple(hard["image_size"])) for i in range(16)]
    assert {p.target_name for p in plans} <= eval_targets
    assert len({p.target_name for p in plans}) == len(eval_targets)  # every eval target takes turns
    ev = [draw_plan("eval", DEFAULT_SPLITS["eval"]["seed"], i, 20, tuple(hard["image_size"])) for i in range(16)]
    assert all(a.sources() != b.sources() or a.attributes != b.attributes for a, b in zip(plans, ev, strict=True))
    (path,) = write_split(tmp_path, "hard", sequences=1, frames=4, seed=hard["seed"])
    first = cv2.imread(str(sorted((path / "img").glob("*.jpg"))[0]))
    assert first.shape[:2] == (test["image_size"][1], test["image_size"][0])


def test_the_faces_split_is_unseen_portrait_faces_under_test_conditions():
    """The validation split of portrait faces: test's frame size and shares, faces of lfw_subset that no
    other pool or split version holds (train version 4's forty and the faces left out as like test's
    included), each taking turns."""
    from metatrack.data.composite import DEFAULT_SPLITS
    from metatrack.data.composite.sources import FACES_LIKE_TEST, VALIDATION_FACES, VERSION_POOLS

    faces, test = DEFAULT_SPLITS["faces"], DEFAULT_SPLITS["test"]
    assert tuple(faces["image_size"]) == tuple(test["image_size"])
    assert faces["challenge_rates"] == test["challenge_rates"]
    assert (faces["sequences"], faces["frames"]) == (test["sequences"], test["frames"])
    elsewhere = {t.photo for p in [*POOLS.values(), *VERSION_POOLS.values()] if p is not POOLS["faces"]
                 for t in p.targets} | {f"lfw_{i:02d}" for i in FACES_LIKE_TEST}
    mine = {t.photo for t in POOLS["faces"].targets}
    assert len(mine) == len(VALIDATION_FACES) == 12 and all(p.startswith("lfw_") for p in mine)
    assert not mine & elsewhere
    plans = [draw_plan("faces", faces["seed"], i, 20, tuple(faces["image_size"])) for i in range(16)]
    assert {p.target_name for p in plans} == {t.name for t in POOLS["faces"].targets}


def test_the_backdrops_split_shows_test_kinds_of_background_from_sources_no_split_uses():
    """The validation split over backgrounds of test's kinds: test's frame size and shares, its own faces
    (held by no other pool or version, nor left out as like test's), and its seed's 16 sequences show
    every background and every target of its pool; the printed page is rendered the same each time and
    is print on paper (mostly light, with dark ink)."""
    from metatrack.data.composite import DEFAULT_SPLITS
    from metatrack.data.composite.sources import BACKDROP_FACES, FACES_LIKE_TEST, VERSION_POOLS, _printed_page

    spec, test = DEFAULT_SPLITS["backdrops"], DEFAULT_SPLITS["test"]
    assert tuple(spec["image_size"]) == tuple(test["image_size"])
    assert spec["challenge_rates"] == test["challenge_rates"]
    assert (spec["sequences"], spec["frames"]) == (test["sequences"], test["frames"])
    pool = POOLS["backdrops"]
    elsewhere = {t.photo for p in [*POOLS.values(), *VERSION_POOLS.values()] if p is not pool
                 for t in p.targets} | {f"lfw_{i:02d}" for i in FACES_LIKE_TEST}
    faces = {t.photo for t in pool.targets if t.photo.startswith("lfw_")}
    assert faces == {f"lfw_{i:02d}" for i in BACKDROP_FACES} and not faces & elsewhere
    plans = [draw_plan("backdrops", spec["seed"], i, 20, tuple(spec["image_size"])) for i in range(16)]
    assert {p.target_name for p in plans} == {t.name for t in pool.targets}
    assert {p.background.name for p in plans} == set(pool.photos) | set(pool.textures)
    page = _printed_page()
    assert np.array_equal(page, _printed_page())
    assert np.median(page) > 150 and 0.02 < np.mean(page < 110) < 0.3


def test_read_embedded_test_split_has_its_frame_size_and_valid_first_boxes(tmp_path: Path, monkeypatch):
    pytest.importorskip("metatrack.data.otb")
    from metatrack.data.composite import DEFAULT_SPLITS

    monkeypatch.setenv("METATRACK_HOME", str(tmp_path))
    w_img, h_img = DEFAULT_SPLITS["test"]["image_size"]
    seqs = read_embedded("test", sequences=2, frames=10)
    folder = split_folder("test", 2, 10, DEFAULT_SPLITS["test"]["seed"])
    assert folder.is_dir() and folder.name.endswith(f"-{w_img}x{h_img}")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["split"] == "test" and manifest["image_size"] == [w_img, h_img]
    assert manifest["challenge_rates"] == DEFAULT_SPLITS["test"]["challenge_rates"]
    assert len(seqs) == 2
    for i, seq in enumerate(seqs):
        plan = draw_plan("test", DEFAULT_SPLITS["test"]["seed"], i, 10, (w_img, h_img))  # the split's own shares
        assert seq.name == plan.name and seq.attributes == plan.attributes
        assert seq.name.startswith("test_") and len(seq) == 10
        assert seq.frame(0).shape == (h_img, w_img, 3)
        x, y, w, h = seq.boxes[0]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= w_img and y + h <= h_img
        assert set(seq.meta["embedded"]["sources"]) <= POOLS["test"].sources()
        assert seq.meta["embedded"]["params"]["challenge_rates"] == DEFAULT_SPLITS["test"]["challenge_rates"]


def test_write_split_takes_the_split_s_own_size_and_shares(tmp_path: Path):
    (seq,) = write_split(tmp_path / "test", "test", sequences=1, frames=3, seed=0)
    size = composite_dataset.DEFAULT_SPLITS["test"]["image_size"]
    assert cv2.imread(str(seq / "img" / "0001.jpg")).shape[1::-1] == size
    (ev,) = write_split(tmp_path / "eval", "eval", sequences=1, frames=3, seed=0)
    assert cv2.imread(str(ev / "img" / "0001.jpg")).shape[1::-1] == (480, 360)
    # eval keeps the generator's shares: nothing about them in its files (they stay as they were)
    assert "challenge_rates" not in json.loads((ev / "meta.json").read_text())["params"]
    assert "challenge_rates" not in json.loads((tmp_path / "eval" / "manifest.json").read_text())
    # other shares are another sequence, in another cache folder
    assert split_folder("eval", 1, 3, 0, challenge_rates={"FM": 0.9}) != split_folder("eval", 1, 3, 0)
    assert split_folder("eval", 1, 3, 0, challenge_rates={"FM": 0.25}) == split_folder("eval", 1, 3, 0)


def test_every_challenge_appears_in_any_twelve_sequences():
    from metatrack.data.composite.motion import draw_attributes

    for seed, split_code, start in ((0, 0, 0), (1, 1, 5), (9, 0, 30)):
        seen = set().union(*(draw_attributes(seed, split_code, i) for i in range(start, start + 12)))
        assert seen == set(ATTRIBUTES)


def test_write_split_prints_nothing_unless_asked(tmp_path: Path, capsys):
    write_split(tmp_path / "quiet", "train", sequences=1, frames=3, seed=0, image_size=SMALL)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    write_split(tmp_path / "loud", "train", sequences=1, frames=3, seed=0, image_size=SMALL, progress=True)
    loud = capsys.readouterr()
    assert loud.out == "" and "synth train" in loud.err


def test_two_processes_reading_a_split_first_get_it_whole(tmp_path):
    """Workers that use a split for the first time at once: one writes it, the other waits for it."""
    import subprocess
    import sys

    code = ("from metatrack.data.composite import read_embedded; "
            "s = read_embedded('test', sequences=3, frames=6); print(len(s), sum(len(x) for x in s))")
    env = {**__import__("os").environ, "METATRACK_HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in outs]
    assert [out.strip() for out, _ in outs] == ["3 18"] * 3
