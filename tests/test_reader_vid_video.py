"""ImageNet VID clips (the paper's 60 % / 15 px rule) and the user-video reader, on tiny tmp_path data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from metatrack.data import open_dataset
from metatrack.data.imagenet_vid import clip_ranges, parse_annotation, read_imagenet_vid
from metatrack.data.sequence import VideoFile
from metatrack.data.video import read_first_box, read_video
from metatrack.errors import ConfigError, DataError

W, H = 100, 80  # VID frame size in these fixtures: 60 % of the image is 4800 px^2


# ---------------------------------------------------------------- clip rule (pure)


def track(*rows):
    return np.array([r if r is not None else [np.nan] * 4 for r in rows], dtype=float)


SMALL, BIG, TINY = [10, 10, 20, 20], [0, 0, 90, 70], [10, 10, 10, 40]


def test_clip_starts_at_first_frame_small_enough_and_not_tiny():
    # BIG covers 79 % of the image, TINY is 10 px wide: neither may start a clip.
    assert clip_ranges(track(BIG, TINY, SMALL, SMALL, SMALL), (W, H)) == [(2, 5)]


def test_clip_ends_before_target_covers_more_than_60_percent():
    assert clip_ranges(track(SMALL, SMALL, BIG, SMALL, SMALL), (W, H)) == [(0, 2)]
    # Exactly 60 % (80 x 60 = 4800) still belongs to the clip.
    assert clip_ranges(track(SMALL, [0, 0, 80, 60], SMALL), (W, H)) == [(0, 3)]


def test_tiny_target_continues_a_clip_once_started():
    assert clip_ranges(track(SMALL, TINY, SMALL), (W, H)) == [(0, 3)]


def test_gap_in_track_ends_the_clip():
    assert clip_ranges(track(SMALL, SMALL, None, SMALL, SMALL), (W, H), max_clips=None) == [(0, 2), (3, 5)]
    assert clip_ranges(track(SMALL, SMALL, None, SMALL, SMALL), (W, H)) == [(0, 2)]


def test_short_clips_are_dropped_and_search_goes_on():
    assert clip_ranges(track(SMALL, BIG, SMALL, SMALL, SMALL), (W, H), min_length=2) == [(2, 5)]
    assert clip_ranges(track(SMALL, BIG, SMALL), (W, H), min_length=2) == []
    assert clip_ranges(track(SMALL, BIG, SMALL), (W, H), min_length=1, max_clips=None) == [(0, 1), (2, 3)]


# ---------------------------------------------------------------- VID files


def xml_text(objects, width=W, height=H) -> str:
    parts = [f"<annotation><folder>v</folder><size><width>{width}</width><height>{height}</height></size>"]
    for tid, (x1, y1, x2, y2) in objects.items():
        parts.append(
            f"<object><trackid>{tid}</trackid><name>n02084071</name><bndbox><xmax>{x2}</xmax>"
            f"<xmin>{x1}</xmin><ymax>{y2}</ymax><ymin>{y1}</ymin></bndbox><occluded>{tid % 2}</occluded>"
            "<generated>0</generated></object>"
        )
    return "".join(parts) + "</annotation>"


def write_video(root: Path, subset: str, rel: str, frames: list[dict], images: bool = False) -> Path:
    ann = root / "Annotations" / "VID" / subset / rel
    data = root / "Data" / "VID" / subset / rel
    ann.mkdir(parents=True)
    data.mkdir(parents=True)
    for i, objects in enumerate(frames):
        (ann / f"{i:06d}.xml").write_text(xml_text(objects))
        if images:
            cv2.imwrite(str(data / f"{i:06d}.JPEG"), np.full((H, W, 3), 30 * i, np.uint8))
        else:
            (data / f"{i:06d}.JPEG").write_bytes(b"")
    return ann


# Track 0: small on frames 0-2, absent on 3 (gap), back on 4. Track 1: too big first, then small.
S0 = (10, 10, 29, 29)  # inclusive corners: a 20 x 20 box
B1 = (0, 0, 89, 69)  # 90 x 70: 79 % of the image
S1 = (50, 40, 69, 59)
VIDEO = [{0: S0, 1: B1}, {0: S0, 1: S1}, {0: S0, 1: S1}, {1: S1}, {0: S0, 1: S1}]


def test_vid_val_video_gives_clips_named_video_track_start(tmp_path):
    write_video(tmp_path, "val", "ILSVRC2015_val_00000000", VIDEO, images=True)
    seqs = read_imagenet_vid(tmp_path, subset="val")
    assert [s.name for s in seqs] == ["ILSVRC2015_val_00000000_0_0", "ILSVRC2015_val_00000000_1_1"]
    t0, t1 = seqs
    assert len(t0) == 3  # the gap on frame 3 ends the clip
    assert len(t1) == 4 and t1.meta["start"] == 1 and t1.meta["trackid"] == 1
    np.testing.assert_allclose(t0.boxes[0], [10, 10, 20, 20])  # xmax inclusive: w = xmax - xmin + 1
    assert t0.image_size == (W, H) and t0.origin == 0.0
    assert t1.frames.paths[0].name == "000001.JPEG"
    np.testing.assert_array_equal(t1.meta["occluded"], [True] * 4)
    assert t1.meta["category"] == "n02084071"
    assert t1.frame(0)[0, 0, 0] == 30  # frame 1 of the video


def test_vid_train_layout_and_max_videos(tmp_path):
    for k in range(3):
        write_video(tmp_path, "train", f"ILSVRC2015_VID_train_0000/ILSVRC2015_train_0000{k}000", VIDEO[:3])
    seqs = read_imagenet_vid(tmp_path, subset="train", max_videos=2)
    assert sorted({s.meta["video"] for s in seqs}) == [
        "ILSVRC2015_train_00000000",
        "ILSVRC2015_train_00001000",
    ]
    assert len(read_imagenet_vid(tmp_path)) == 6
    assert read_imagenet_vid(tmp_path, min_length=4) == []
    assert [len(s) for s in read_imagenet_vid(tmp_path, min_length=3, max_videos=1)] == [3]


def test_vid_malformed_xml_names_file(tmp_path):
    ann = write_video(tmp_path, "val", "v1", VIDEO[:2])
    (ann / "000001.xml").write_text("<annotation><size><width>3</width>")
    with pytest.raises(DataError, match=r"000001\.xml.*malformed XML"):
        read_imagenet_vid(tmp_path, subset="val")


def test_vid_missing_box_field_names_file(tmp_path):
    ann = write_video(tmp_path, "val", "v1", VIDEO[:2])
    text = (ann / "000000.xml").read_text().replace("<ymin>10</ymin>", "", 1)
    (ann / "000000.xml").write_text(text)
    with pytest.raises(DataError, match=r"000000\.xml.*<ymin>"):
        parse_annotation(ann / "000000.xml")


def test_vid_bad_options_and_missing_folders(tmp_path):
    with pytest.raises(ConfigError, match="subset"):
        read_imagenet_vid(tmp_path, subset="test")
    with pytest.raises(DataError, match="annotation folder"):
        read_imagenet_vid(tmp_path, subset="val")
    ann = write_video(tmp_path, "val", "v1", VIDEO[:2])
    (tmp_path / "Data" / "VID" / "val" / "v1" / "000000.JPEG").unlink()
    (seq, *_) = read_imagenet_vid(tmp_path, subset="val")  # missing frames fail lazily
    with pytest.raises(DataError, match="000000.JPEG"):
        seq.frame(0)
    assert ann.is_dir()


# ---------------------------------------------------------------- user videos


def write_avi(path: Path, n: int = 5) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(n):
        writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    writer.release()
    return path


def test_read_video_file_with_first_box(tmp_path):
    (seq,) = read_video(write_avi(tmp_path / "clip.avi"), box=[2, 3, 10, 8])
    assert isinstance(seq.frames, VideoFile) and len(seq) == 5 and seq.name == "clip"
    np.testing.assert_allclose(seq.boxes[0], [2, 3, 10, 8])
    assert np.isnan(seq.boxes[1:]).all() and seq.meta["first_box_only"]
    assert seq.frame(4).shape == (24, 32, 3)


def test_read_video_via_open_dataset(tmp_path):
    (seq,) = open_dataset(f"video:{write_avi(tmp_path / 'clip.avi')}", box=(1, 1, 5, 5), name="mine")
    assert seq.name == "mine"


def test_read_video_folder_sorted_naturally(tmp_path):
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((24, 32, 3), i, np.uint8))
    (seq,) = read_video(tmp_path, box=[0, 0, 5, 5])
    assert [p.name for p in seq.frames.paths] == ["1.png", "2.png", "10.png"]
    assert seq.frame(2)[0, 0, 0] == 10


@pytest.mark.parametrize(
    "box, message",
    [
        ([40, 0, 5, 5], "outside the 32x24 image"),
        ([0, 0, 0, 5], "zero or negative size"),
        ([np.nan] * 4, "finite"),
    ],
)
def test_read_video_rejects_bad_first_box(tmp_path, box, message):
    with pytest.raises(DataError, match=message):
        read_video(write_avi(tmp_path / "clip.avi"), box=box)


def test_read_video_bad_paths(tmp_path):
    with pytest.raises(DataError, match="no image file"):
        read_video(tmp_path)
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(DataError, match=r"notes\.mp4"):
        read_video(tmp_path / "notes.mp4")
    cv2.imwrite(str(tmp_path / "one.jpg"), np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(DataError, match="single image"):
        read_video(tmp_path / "one.jpg")
    with pytest.raises(DataError, match="does not exist"):
        read_video(tmp_path / "missing.avi")


@pytest.mark.parametrize("line", ["5,6,10,12", "5\t6\t10\t12", "5 6 10 12", "5, 6, 10, 12,"])
def test_read_first_box_any_separator(tmp_path, line):
    path = tmp_path / "gt.txt"
    path.write_text(f"\n{line}\n1,1,1,1\n")
    np.testing.assert_allclose(read_first_box(path), [5, 6, 10, 12])
    np.testing.assert_allclose(read_first_box(path, origin=1.0), [4, 5, 10, 12])


def test_read_first_box_polygon_and_bad_lines(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("0,0,10,0,10,10,0,10\n")
    np.testing.assert_allclose(read_first_box(path), [0, 0, 10, 10])
    path.write_text("1,2,0,4\n")
    with pytest.raises(DataError, match=r"gt\.txt, line 1.*zero or negative"):
        read_first_box(path)
    path.write_text("1,2,3\n")
    with pytest.raises(DataError, match=r"gt\.txt, line 1"):
        read_first_box(path)
    path.write_text("a,b,c,d\n")
    with pytest.raises(DataError, match=r"gt\.txt, line 1"):
        read_first_box(path)
    path.write_text("\n")
    with pytest.raises(DataError, match="no box"):
        read_first_box(path)
