"""Readers of OTB, VOT, GOT-10k and LaSOT on tiny data sets written in tmp_path, quirks and bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from metatrack.data import open_dataset
from metatrack.data.files import list_images, natural_key, select_names
from metatrack.data.got10k import read_got10k
from metatrack.data.lasot import read_lasot
from metatrack.data.otb import OTB_ATTRIBUTES, OTB_FRAME_RANGES, read_otb
from metatrack.data.sequence import ImageFiles
from metatrack.data.vot import read_vot
from metatrack.errors import ConfigError, DataError
from metatrack.geometry import polygon_to_box


def write_frames(folder: Path, n: int, pattern: str = "{:04d}.jpg", start: int = 1) -> list[Path]:
    """``n`` tiny 32x24 JPEG frames, each a different grey level."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / pattern.format(start + i)
        cv2.imwrite(str(p), np.full((24, 32, 3), 10 * i % 250, np.uint8))
        paths.append(p)
    return paths


def write_lines(path: Path, rows, sep: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(sep.join(str(v) for v in row) + "\n" for row in rows))
    return path


def boxes(n: int, x0: float = 2.0) -> list[list[float]]:
    return [[x0 + i, 3.0, 10.0, 8.0] for i in range(n)]


# ---------------------------------------------------------------- shared helpers


def test_natural_sort_orders_numbers_by_value(tmp_path):
    for name in ["10.jpg", "2.jpg", "1.jpg", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["1.jpg", "2.jpg", "10.jpg"]
    assert sorted(["a10", "a9", "b1"], key=natural_key) == ["a9", "a10", "b1"]


def test_list_images_of_missing_folder_names_it(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        list_images(tmp_path / "nowhere")


def test_select_names_rejects_unknown_name():
    assert select_names(["a", "b", "c"], ["c", "a"], "root") == ["a", "c"]
    with pytest.raises(ConfigError, match="'zz'"):
        select_names(["a", "b"], ["a", "zz"], "root")


# ---------------------------------------------------------------- OTB


def make_otb_seq(root: Path, name: str, n: int, sep: str = ",", gt_rows=None, gt_name="groundtruth_rect.txt"):
    write_frames(root / name / "img", n)
    return write_lines(root / name / gt_name, gt_rows if gt_rows is not None else boxes(n), sep)


def test_otb_reads_one_based_boxes_lazily(tmp_path):
    make_otb_seq(tmp_path, "Car", 4)
    (seq,) = read_otb(tmp_path)
    assert seq.name == "Car" and len(seq) == 4
    assert seq.origin == 1.0
    np.testing.assert_allclose(seq.boxes[0], [1.0, 2.0, 10.0, 8.0])  # 1-based file -> 0-based
    np.testing.assert_allclose(seq.to_file_coords(seq.boxes)[2], [4.0, 3.0, 10.0, 8.0])
    assert isinstance(seq.frames, ImageFiles)
    assert seq.frame(3).shape == (24, 32, 3)
    assert seq.image_size == (32, 24)


@pytest.mark.parametrize("sep", [",", "\t", " ", ", "])
def test_otb_accepts_every_separator(tmp_path, sep):
    make_otb_seq(tmp_path, "Tab", 3, sep=sep)
    (seq,) = read_otb(tmp_path)
    np.testing.assert_allclose(seq.boxes[:, 0], [1.0, 2.0, 3.0])


def test_otb_two_target_folder_becomes_two_sequences(tmp_path):
    make_otb_seq(tmp_path, "Jogging", 3, gt_name="groundtruth_rect.1.txt")
    write_lines(tmp_path / "Jogging" / "groundtruth_rect.2.txt", boxes(3, x0=20.0))
    make_otb_seq(tmp_path, "Basketball", 3)
    seqs = read_otb(tmp_path)
    assert [s.name for s in seqs] == ["Basketball", "Jogging.1", "Jogging.2"]
    assert seqs[2].boxes[0, 0] == 19.0 and seqs[1].boxes[0, 0] == 1.0
    assert [s.name for s in read_otb(tmp_path, names=["Jogging"])] == ["Jogging.1", "Jogging.2"]
    assert [s.name for s in read_otb(tmp_path, names=["Jogging.2"])] == ["Jogging.2"]


def test_otb_skips_empty_annotation_file(tmp_path):
    make_otb_seq(tmp_path, "Human4", 3, gt_name="groundtruth_rect.2.txt")
    (tmp_path / "Human4" / "groundtruth_rect.1.txt").write_text("\n")
    assert [s.name for s in read_otb(tmp_path)] == ["Human4"]


def test_otb_david_keeps_frames_300_to_770(tmp_path):
    # Empty files stand for frames: the reader only lists names, it never opens them.
    img = tmp_path / "David" / "img"
    img.mkdir(parents=True)
    for i in range(1, 771):
        (img / f"{i:04d}.jpg").write_bytes(b"")
    write_lines(tmp_path / "David" / "groundtruth_rect.txt", boxes(471))
    (seq,) = read_otb(tmp_path)
    assert len(seq) == 471
    assert seq.frames.paths[0].name == "0300.jpg" and seq.frames.paths[-1].name == "0770.jpg"
    assert seq.meta["frame_range"] == (300, 770)
    assert OTB_FRAME_RANGES["football1"] == (1, 74) and OTB_FRAME_RANGES["diving"] == (1, 215)


def test_otb_frame_range_table_is_injectable(tmp_path):
    make_otb_seq(tmp_path, "Tiny", 6, gt_rows=boxes(3))
    (seq,) = read_otb(tmp_path, frame_ranges={"tiny": (2, 4)})
    assert [p.name for p in seq.frames.paths] == ["0002.jpg", "0003.jpg", "0004.jpg"]


def test_otb_count_mismatch_names_sequence_and_counts(tmp_path):
    make_otb_seq(tmp_path, "Boy", 5, gt_rows=boxes(4))
    with pytest.raises(DataError) as err:
        read_otb(tmp_path)
    msg = str(err.value)
    assert "'Boy'" in msg and "5 frames" in msg and "4 ground-truth lines" in msg


def test_otb_invalid_boxes_become_nan(tmp_path):
    rows = boxes(4)
    rows[1] = [5, 5, 0, 0]
    rows[2] = ["NaN", "NaN", "NaN", "NaN"]
    make_otb_seq(tmp_path, "Occ", 4, gt_rows=rows)
    (seq,) = read_otb(tmp_path)
    assert np.isnan(seq.boxes[1]).all() and np.isnan(seq.boxes[2]).all()
    assert np.isfinite(seq.boxes[3]).all()


@pytest.mark.parametrize("first", [[5, 5, 0, 8], ["nan", 1, 2, 3]])
def test_otb_bad_first_box_names_line_1(tmp_path, first):
    make_otb_seq(tmp_path, "Bad", 3, gt_rows=[first] + boxes(2))
    with pytest.raises(DataError, match=r"groundtruth_rect\.txt, line 1"):
        read_otb(tmp_path)


def test_otb_malformed_line_names_file_and_line(tmp_path):
    rows = boxes(3)
    rows[2] = [1, 2, 3]
    make_otb_seq(tmp_path, "Short", 3, gt_rows=rows)
    with pytest.raises(DataError, match=r"groundtruth_rect\.txt, line 3"):
        read_otb(tmp_path)


def test_otb_reads_attribute_file(tmp_path):
    make_otb_seq(tmp_path, "Tagged", 2)
    (tmp_path / "Tagged" / "attributes.txt").write_text("SV, occ\n")
    make_otb_seq(tmp_path, "Plain", 2)
    seqs = {s.name: s for s in read_otb(tmp_path)}
    assert seqs["Tagged"].attributes == ("SV", "OCC")
    assert seqs["Plain"].attributes == ()
    assert len(OTB_ATTRIBUTES) == 11 and "LR" in OTB_ATTRIBUTES


def test_otb_missing_root_and_missing_pieces(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_otb(tmp_path / "OTB100")
    write_frames(tmp_path / "NoGt" / "img", 2)
    with pytest.raises(DataError, match="NoGt"):
        read_otb(tmp_path)


def test_otb_missing_img_folder(tmp_path):
    write_lines(tmp_path / "NoImg" / "groundtruth_rect.txt", boxes(2))
    with pytest.raises(DataError, match="image folder does not exist"):
        read_otb(tmp_path)


def test_otb_unknown_sequence_name(tmp_path):
    make_otb_seq(tmp_path, "Car", 2)
    with pytest.raises(ConfigError, match="Bike"):
        read_otb(tmp_path, names=["Bike"])


def test_otb_unreadable_frame_fails_only_when_read(tmp_path):
    make_otb_seq(tmp_path, "Corrupt", 3)
    bad = tmp_path / "Corrupt" / "img" / "0002.jpg"
    bad.write_bytes(b"not a jpeg")
    (seq,) = read_otb(tmp_path)  # opening does not read frames
    seq.frame(0)
    with pytest.raises(DataError, match="0002.jpg"):
        seq.frame(1)


def test_open_dataset_dispatches_otb(tmp_path):
    make_otb_seq(tmp_path, "Car", 2)
    assert [s.name for s in open_dataset(f"otb:{tmp_path}")] == ["Car"]


# ---------------------------------------------------------------- VOT


def make_vot_seq(root: Path, name: str, n: int, rows=None, color: bool = True):
    write_frames(root / name / "color" if color else root / name, n, "{:08d}.jpg")
    return write_lines(root / name / "groundtruth.txt", rows if rows is not None else boxes(n))


POLY = [[2.0 + i, 3.0, 12.0 + i, 4.0, 11.0 + i, 12.0, 1.0 + i, 11.0] for i in range(3)]


def test_vot_polygons_color_layout_and_tags(tmp_path):
    make_vot_seq(tmp_path, "ball", 3, rows=POLY)
    write_lines(tmp_path / "ball" / "occlusion.tag", [[0], [1]])  # shorter: padded with 0
    write_lines(tmp_path / "ball" / "camera_motion.tag", [[0], [0], [0]])
    (tmp_path / "list.txt").write_text("ball\n")
    (seq,) = read_vot(tmp_path)
    assert seq.origin == 0.0
    np.testing.assert_allclose(seq.boxes[1], polygon_to_box(POLY[1]))
    np.testing.assert_allclose(seq.meta["polygons"], POLY)
    assert seq.attributes == ("occlusion",)
    np.testing.assert_array_equal(seq.meta["tags"]["occlusion"], [False, True, False])
    assert not seq.meta["tags"]["camera_motion"].any()
    assert seq.frames.paths[0].parent.name == "color"


def test_vot_legacy_layout_with_rectangles(tmp_path):
    make_vot_seq(tmp_path, "car", 3, color=False)
    (tmp_path / "list.txt").write_text("car\n")
    (seq,) = read_vot(tmp_path)
    np.testing.assert_allclose(seq.boxes[0], [2.0, 3.0, 10.0, 8.0])  # 0-based, unchanged
    assert "polygons" not in seq.meta and seq.attributes == ()
    assert seq.frames.paths[0].name == "00000001.jpg"


def test_vot_workspace_sequences_folder(tmp_path):
    make_vot_seq(tmp_path / "sequences", "bag", 2)
    (tmp_path / "sequences" / "list.txt").write_text("bag\n")
    assert [s.name for s in read_vot(tmp_path)] == ["bag"]


def test_vot_list_entry_without_folder_names_list_line(tmp_path):
    make_vot_seq(tmp_path, "ball", 2)
    (tmp_path / "list.txt").write_text("ball\nghost\n")
    with pytest.raises(DataError, match=r"list\.txt, line 2.*ghost"):
        read_vot(tmp_path)


def test_vot_missing_list(tmp_path):
    make_vot_seq(tmp_path, "ball", 2)
    with pytest.raises(DataError, match=r"list\.txt"):
        read_vot(tmp_path)


def test_vot_one_value_line_is_malformed(tmp_path):
    make_vot_seq(tmp_path, "ball", 3, rows=boxes(2) + [[0]])
    (tmp_path / "list.txt").write_text("ball\n")
    with pytest.raises(DataError, match=r"groundtruth\.txt, line 3"):
        read_vot(tmp_path)


def test_vot_nan_marks_absent_but_not_on_first_line(tmp_path):
    make_vot_seq(tmp_path, "lt", 3, rows=boxes(2) + [["nan"] * 4])
    (tmp_path / "list.txt").write_text("lt\n")
    (seq,) = read_vot(tmp_path)
    assert np.isnan(seq.boxes[2]).all()
    make_vot_seq(tmp_path, "lt", 3, rows=[["nan"] * 8] + POLY[:2])
    with pytest.raises(DataError, match=r"groundtruth\.txt, line 1"):
        read_vot(tmp_path)


def test_vot_frame_count_mismatch(tmp_path):
    make_vot_seq(tmp_path, "ball", 4, rows=boxes(3))
    (tmp_path / "list.txt").write_text("ball\n")
    with pytest.raises(DataError, match=r"'ball' has 4 frames .* 3 ground-truth lines"):
        read_vot(tmp_path)


def test_vot_tag_file_longer_than_sequence(tmp_path):
    make_vot_seq(tmp_path, "ball", 2)
    write_lines(tmp_path / "ball" / "occlusion.tag", [[0], [1], [1]])
    (tmp_path / "list.txt").write_text("ball\n")
    with pytest.raises(DataError, match=r"occlusion\.tag"):
        read_vot(tmp_path)


def test_vot_names_filter(tmp_path):
    for name in ("a", "b"):
        make_vot_seq(tmp_path, name, 2)
    (tmp_path / "list.txt").write_text("a\nb\n")
    assert [s.name for s in read_vot(tmp_path, names=["b"])] == ["b"]
    with pytest.raises(ConfigError, match="'c'"):
        read_vot(tmp_path, names=["c"])


# ---------------------------------------------------------------- GOT-10k


def make_got_seq(split: Path, name: str, n: int, absence=None, cover=None, rows=None):
    folder = split / name
    write_frames(folder, n, "{:08d}.jpg")
    write_lines(folder / "groundtruth.txt", rows if rows is not None else boxes(n))
    if absence is not None:
        write_lines(folder / "absence.label", [[a] for a in absence])
        write_lines(folder / "cut_by_image.label", [[0]] * n)
        write_lines(folder / "cover.label", [[c] for c in cover])
        (folder / "meta_info.ini").write_text(
            "[METAINFO]\nurl: https://example.org/v\nobject_class: ball\nresolution: (32, 24)\n"
        )
    return folder


def test_got10k_val_labels_and_absence(tmp_path):
    split = tmp_path / "GOT-10k" / "val"
    make_got_seq(split, "GOT-10k_Val_000001", 4, absence=[0, 0, 1, 0], cover=[8, 5, 0, 3])
    (split / "list.txt").write_text("GOT-10k_Val_000001\n")
    (seq,) = read_got10k(split)
    assert seq.origin == 0.0
    np.testing.assert_allclose(seq.boxes[0], [2.0, 3.0, 10.0, 8.0])
    assert np.isnan(seq.boxes[2]).all() and np.isfinite(seq.boxes[3]).all()
    np.testing.assert_array_equal(seq.meta["absence"], [0, 0, 1, 0])
    np.testing.assert_array_equal(seq.meta["cover"], [8, 5, 0, 3])
    assert seq.meta["info"]["object_class"] == "ball"
    assert seq.meta["first_box_only"] is False
    # The data-set root with split="val" finds the same sequence.
    assert [s.name for s in read_got10k(tmp_path / "GOT-10k", split="val")] == ["GOT-10k_Val_000001"]


def test_got10k_test_split_has_only_first_box(tmp_path):
    split = tmp_path / "test"
    make_got_seq(split, "GOT-10k_Test_000001", 3, rows=boxes(1))
    (split / "list.txt").write_text("GOT-10k_Test_000001\n")
    (seq,) = read_got10k(split)
    assert seq.meta["first_box_only"] is True
    assert np.isfinite(seq.boxes[0]).all() and np.isnan(seq.boxes[1:]).all()


def test_got10k_short_ground_truth_is_an_error_where_labels_exist(tmp_path):
    make_got_seq(tmp_path, "s1", 3, absence=[0, 0, 0], cover=[8, 8, 8], rows=boxes(1))
    (tmp_path / "list.txt").write_text("s1\n")
    with pytest.raises(DataError, match=r"'s1' has 3 frames .* 1 ground-truth lines"):
        read_got10k(tmp_path)


def test_got10k_label_length_mismatch_names_label_file(tmp_path):
    make_got_seq(tmp_path, "s1", 3, absence=[0, 0], cover=[8, 8, 8])
    (tmp_path / "list.txt").write_text("s1\n")
    with pytest.raises(DataError, match=r"absence\.label"):
        read_got10k(tmp_path)


def test_got10k_bad_split_and_missing_entry(tmp_path):
    with pytest.raises(ConfigError, match="split"):
        read_got10k(tmp_path, split="dev")
    make_got_seq(tmp_path, "s1", 2)
    (tmp_path / "list.txt").write_text("s1\ns2\n")
    with pytest.raises(DataError, match=r"list\.txt, line 2"):
        read_got10k(tmp_path)


def test_got10k_malformed_line(tmp_path):
    make_got_seq(tmp_path, "s1", 2, rows=[[1, 2, 3, 4], ["a", 2, 3, 4]])
    (tmp_path / "list.txt").write_text("s1\n")
    with pytest.raises(DataError, match=r"groundtruth\.txt, line 2"):
        read_got10k(tmp_path)


# ---------------------------------------------------------------- LaSOT


def make_lasot_seq(root: Path, name: str, n: int, occlusion=None, out_of_view=None, rows=None):
    folder = root / name.rsplit("-", 1)[0] / name
    write_frames(folder / "img", n, "{:08d}.jpg")
    write_lines(folder / "groundtruth.txt", rows if rows is not None else boxes(n))
    write_lines(folder / "full_occlusion.txt", [occlusion or [0] * n])
    write_lines(folder / "out_of_view.txt", [out_of_view or [0] * n])
    (folder / "nlp.txt").write_text(f"the {name} in the sky\n")
    return folder


def test_lasot_flags_attributes_and_one_based_boxes(tmp_path):
    make_lasot_seq(tmp_path, "airplane-1", 4, occlusion=[0, 1, 1, 0])
    make_lasot_seq(tmp_path, "airplane-2", 3, out_of_view=[0, 0, 1])
    make_lasot_seq(tmp_path, "basketball-1", 2)
    seqs = {s.name: s for s in read_lasot(tmp_path)}
    assert list(seqs) == ["airplane-1", "airplane-2", "basketball-1"]
    a1 = seqs["airplane-1"]
    assert a1.origin == 1.0
    np.testing.assert_allclose(a1.boxes[1], [2.0, 2.0, 10.0, 8.0])  # kept, though occluded
    np.testing.assert_array_equal(a1.meta["full_occlusion"], [False, True, True, False])
    assert a1.attributes == ("FOC",) and seqs["airplane-2"].attributes == ("OV",)
    assert seqs["basketball-1"].attributes == ()
    assert a1.meta["nlp"] == "the airplane-1 in the sky" and a1.meta["category"] == "airplane"


def test_lasot_testing_set_and_names(tmp_path):
    for name in ("cat-1", "cat-2", "dog-1"):
        make_lasot_seq(tmp_path, name, 2)
    (tmp_path / "testing_set.txt").write_text("cat-2\ndog-1\n")
    assert [s.name for s in read_lasot(tmp_path, subset="test")] == ["cat-2", "dog-1"]
    assert [s.name for s in read_lasot(tmp_path, subset="test", names=["dog-1"])] == ["dog-1"]
    with pytest.raises(ConfigError, match="cat-1"):
        read_lasot(tmp_path, subset="test", names=["cat-1"])
    with pytest.raises(DataError, match=r"training_set\.txt"):
        read_lasot(tmp_path, subset="train")
    with pytest.raises(ConfigError, match="subset"):
        read_lasot(tmp_path, subset="dev")


def test_lasot_list_entry_without_folder(tmp_path):
    make_lasot_seq(tmp_path, "cat-1", 2)
    (tmp_path / "testing_set.txt").write_text("cat-1\ncat-9\n")
    with pytest.raises(DataError, match=r"testing_set\.txt, line 2"):
        read_lasot(tmp_path, subset="test")


def test_lasot_flag_length_and_count_mismatch(tmp_path):
    make_lasot_seq(tmp_path, "cat-1", 3, occlusion=[0, 1])
    with pytest.raises(DataError, match=r"full_occlusion\.txt"):
        read_lasot(tmp_path)
    make_lasot_seq(tmp_path, "cat-1", 3, rows=boxes(2))
    with pytest.raises(DataError, match=r"'cat-1' has 3 frames"):
        read_lasot(tmp_path)


def test_lasot_zero_size_first_box(tmp_path):
    make_lasot_seq(tmp_path, "cat-1", 2, rows=[[1, 1, 0, 0], [1, 1, 5, 5]])
    with pytest.raises(DataError, match=r"groundtruth\.txt, line 1"):
        read_lasot(tmp_path)
