"""Sequences read frames lazily and name the culprit of every bad frame."""

import pickle

import cv2
import numpy as np
import pytest

from metatrack.data.sequence import FrameSource, ImageFiles, Sequence, VideoFile, read_image
from metatrack.errors import DataError


def write_frames(folder, n, size=(32, 24)):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        img = np.full((size[1], size[0], 3), 10 * i, np.uint8)
        img[..., 2] = 200  # red in BGR's last channel
        p = folder / f"{i + 1:04d}.png"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


def test_frames_are_rgb_and_read_on_demand(tmp_path):
    paths = write_frames(tmp_path / "img", 3)
    seq = Sequence("s", ImageFiles(paths), np.tile([1, 2, 3, 4], (3, 1)))
    paths[2].unlink()  # not read until asked for
    first = seq.frame(0)
    assert first.shape == (24, 32, 3) and first.dtype == np.uint8
    assert first[0, 0, 0] == 200  # BGR on disk, RGB in memory
    assert seq.image_size == (32, 24)
    with pytest.raises(DataError, match="0003.png: frame is missing"):
        seq.frame(2)


def test_unreadable_frame_is_named(tmp_path):
    bad = tmp_path / "0001.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match="0001.jpg: frame cannot be decoded"):
        read_image(bad)


def test_box_count_must_match_frames(tmp_path):
    paths = write_frames(tmp_path / "img", 3)
    with pytest.raises(DataError, match="3 frames but 2 ground-truth boxes"):
        Sequence("s", ImageFiles(paths), np.zeros((2, 4)))


def test_file_coordinates_round_trip(tmp_path):
    paths = write_frames(tmp_path / "img", 1)
    seq = Sequence("s", ImageFiles(paths), [[0, 0, 5, 5]], origin=1.0)
    assert seq.to_file_coords(seq.boxes).tolist() == [[1, 1, 5, 5]]
    assert seq.from_file_coords([[1, 1, 5, 5]]).tolist() == [[0, 0, 5, 5]]


def test_video_frames_random_access_and_pickling(tmp_path):
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(6):
        writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    writer.release()
    src = VideoFile(path)
    assert len(src) == 6
    means = [src.read(i).mean() for i in (4, 1, 5)]  # backwards seek reopens the file
    assert means[0] == pytest.approx(160, abs=8) and means[1] == pytest.approx(40, abs=8)
    clone = pickle.loads(pickle.dumps(src))
    assert clone.read(2).mean() == pytest.approx(80, abs=8)
    with pytest.raises(DataError, match="video file is missing"):
        VideoFile(tmp_path / "nope.mp4")


def test_head_cuts_frames_and_boxes_lazily():
    frames = _CountingFrames(10)
    seq = Sequence("s", frames, np.tile([1.0, 2.0, 3.0, 4.0], (10, 1)))
    cut = seq.head(4)
    assert len(cut) == 4 and cut.boxes.shape == (4, 4) and cut.name == "s"
    assert frames.reads == 0  # nothing read by cutting
    assert cut.frame(3).shape == (5, 6, 3)
    with pytest.raises(IndexError, match="cut to 4"):
        cut.frame(4)
    assert seq.head(None) is seq and seq.head(10) is seq and seq.head(50) is seq
    with pytest.raises(ValueError):
        seq.head(0)


class _CountingFrames(FrameSource):
    def __init__(self, n: int):
        self.n, self.reads = n, 0

    def __len__(self) -> int:
        return self.n

    def read(self, index: int) -> np.ndarray:
        self.reads += 1
        return np.zeros((5, 6, 3), np.uint8)
