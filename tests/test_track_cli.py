"""`metatrack track`: a user's video or image folder in, an annotated video and a boxes file out."""

import cv2
import numpy as np
import pytest

from metatrack import track
from metatrack.cli import main
from metatrack.errors import ConfigError, DataError
from metatrack.tracking import parse_box


def moving_square_video(path, n=12, size=(96, 72)):
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    background = cv2.GaussianBlur(background, (7, 7), 0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    boxes = []
    for i in range(n):
        img = background.copy()
        x, y = 20 + 2 * i, 20 + i
        img[y:y + 20, x:x + 20] = (0, 0, 255)
        img[y + 5:y + 15, x + 5:x + 15] = (255, 255, 0)
        writer.write(img)
        boxes.append([x, y, 20, 20])
    writer.release()
    return np.array(boxes, float)


def test_track_writes_boxes_and_annotated_video(tmp_path, capsys):
    video = tmp_path / "clip.avi"
    gt = moving_square_video(video)
    out, boxes = tmp_path / "annotated.avi", tmp_path / "boxes.txt"
    rc = main(["track", str(video), "--box", "20,20,20,20", "--tracker", "opencv-csrt", "--out", str(out),
               "--boxes", str(boxes), "--no-progress"])
    assert rc == 0
    lines = boxes.read_text().splitlines()
    assert len(lines) == len(gt)
    got = np.array([[float(v) for v in line.split(",")] for line in lines])
    assert np.abs(got[-1, :2] - gt[-1, :2]).max() < 6
    cap = cv2.VideoCapture(str(out))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == len(gt)
    assert "frames per second" in capsys.readouterr().out


def test_track_image_folder_and_box_from_file(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (1, 2, 10):  # natural order: 1, 2, 10
        img = np.zeros((40, 50, 3), np.uint8)
        img[10:20, 5 + i:15 + i] = 255
        cv2.imwrite(str(folder / f"{i}.png"), img)
    gt = tmp_path / "gt.txt"
    gt.write_text("6,11,10,10\n")  # 1-based, as OTB writes
    boxes = tmp_path / "b.txt"
    assert main(["track", str(folder), "--box-from", str(gt), "--box-origin", "1", "--tracker", "opencv-kcf",
                 "--boxes", str(boxes), "--no-progress"]) == 0
    assert boxes.read_text().splitlines()[0] == "5.00,10.00,10.00,10.00"


@pytest.mark.parametrize("args, message", [
    (["--box", "1,2,3"], "expected four numbers"),
    (["--box", "0,0,0,5"], "zero or negative size"),
    (["--box", "500,500,5,5"], "outside"),
    ([], "exactly one of --box"),
])
def test_bad_boxes_are_named(tmp_path, capsys, args, message):
    video = tmp_path / "clip.avi"
    moving_square_video(video, n=3)
    rc = main(["track", str(video), "--tracker", "opencv-kcf", "--no-progress", *args])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_missing_input_and_unknown_tracker(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        track(str(tmp_path / "none.mp4"), [0, 0, 5, 5], tracker="opencv-kcf")
    video = tmp_path / "clip.avi"
    moving_square_video(video, n=3)
    with pytest.raises(ConfigError, match="unknown tracker"):
        track(str(video), [20, 20, 20, 20], tracker="no-such-tracker")
    assert parse_box("1 2 3 4").tolist() == [1, 2, 3, 4]


def test_annotate_draws_a_lost_target_thin_and_labelled():
    from metatrack.visualize import annotate

    image = np.zeros((60, 80, 3), np.uint8)
    box = np.array([10.0, 10.0, 40.0, 30.0])
    held = annotate(image, {"t": box}, 0)
    lost = annotate(image, {"t": box}, 0, lost={"t"})
    # the frame number is drawn in both; the box's own pixels are fewer when it is lost
    edge = (slice(5, 50), slice(5, 60))
    assert 0 < np.count_nonzero(lost[edge].any(axis=2)) < np.count_nonzero(held[edge].any(axis=2))


def test_track_marks_frames_whose_target_the_tracker_says_is_gone(tmp_path, monkeypatch):
    """`metatrack track --out` draws a target as lost on exactly the frames where its tracker's
    ``present`` is False."""
    import metatrack.tracking as tracking
    from metatrack.trackers import base
    from metatrack.trackers.base import Tracker

    class Fading(Tracker):
        """Holds the first box; says the target is gone from the fourth frame on."""

        def init(self, image, box):
            self.box, self.frames = np.asarray(box, float), 0

        def update(self, image):
            self.frames += 1
            return self.box

        @property
        def present(self):
            return self.frames < 3

    base.available_trackers()  # the built-in ones first, then ours beside them for this test only
    monkeypatch.setitem(base._REGISTRY, "test-fading", Fading)
    seen = []
    real = tracking.annotate

    def spy(image, boxes, index, *args, lost=(), **kwargs):
        seen.append((index, tuple(lost)))
        return real(image, boxes, index, *args, lost=lost, **kwargs)

    monkeypatch.setattr(tracking, "annotate", spy)
    video = tmp_path / "clip.avi"
    moving_square_video(video, n=6)
    rc = main(["track", str(video), "--box", "20,20,20,20", "--tracker", "test-fading",
               "--out", str(tmp_path / "a.avi"), "--no-progress"])
    assert rc == 0
    assert [lost != () for _, lost in seen] == [False, False, False, True, True, True]
