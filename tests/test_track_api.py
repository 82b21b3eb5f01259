"""The Python API (``metatrack.create_tracker``, ``metatrack.track``, ``metatrack.track_many``) and
``metatrack track``'s ``--start``/``--end`` and repeated ``--box``."""

from __future__ import annotations

import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
from test_track_cli import moving_square_video

import metatrack
from metatrack.cli import main
from metatrack.errors import ConfigError, DataError
from metatrack.tracking import _seek, open_frames

BOX = (20, 20, 20, 20)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A 16-frame MJPG video of a square moving right and down (its true boxes as ``video.truth``)."""
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    truth = moving_square_video(path, n=16)
    return path, truth


def bgr_frames(path):
    cap = cv2.VideoCapture(str(path))
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield frame


def video_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n


# ------------------------------------------------------------------------------------ the API


def test_import_metatrack_is_light_and_exports_the_api():
    code = ("import sys, metatrack; print(sorted(m for m in ('torch', 'torchvision', 'cv2') if m in sys.modules)); "
            "print(all(callable(getattr(metatrack, n)) for n in metatrack.__all__ if n[0].islower() and n[0] != '_'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
    import metatrack.tracking as tracking  # importing the module behind it leaves metatrack.track the function

    assert metatrack.track is tracking.track and metatrack.track_many is tracking.track_many
    assert issubclass(metatrack.create_tracker("opencv-kcf").__class__, metatrack.Tracker)
    assert "metasdnet" in metatrack.available_trackers()


def test_three_lines(video):
    path, truth = video
    frames = [f[:, :, ::-1] for f in bgr_frames(path)]  # RGB
    tracker = metatrack.create_tracker("opencv-csrt")
    tracker.init(frames[0], BOX)
    box = tracker.update(frames[1])
    assert np.abs(np.asarray(box) - truth[1]).max() < 3


def test_track_yields_the_given_box_first_then_one_box_per_frame(video):
    path, truth = video
    items = list(metatrack.track(path, BOX, tracker="opencv-csrt"))
    assert [i for i, _, _ in items] == list(range(16))
    index, box, confidence = items[0]
    assert box.tolist() == list(BOX) and math.isnan(confidence)
    assert all(isinstance(b, np.ndarray) and b.shape == (4,) for _, b, _ in items)
    assert np.abs(items[-1][1][:2] - truth[-1, :2]).max() < 6


def test_track_is_lazy_and_bgr_frames_give_the_same_boxes(video):
    path, _ = video
    from_path = [b for _, b, _ in metatrack.track(str(path), BOX, tracker="opencv-csrt", end=7)]
    read = 0

    def counted():
        nonlocal read
        for frame in bgr_frames(path):
            read += 1
            yield frame

    frames = metatrack.track(counted(), BOX, tracker="opencv-csrt", color="bgr")
    assert read == 0  # nothing is read before the first item is asked for
    first = [next(frames) for _ in range(8)]
    assert read == 8
    frames.close()
    assert np.array_equal(np.array([b for _, b, _ in first]), np.array(from_path))


def test_start_and_end_on_a_path_and_on_frames(video):
    path, truth = video
    box = truth[5]
    from_path = list(metatrack.track(path, box, tracker="opencv-csrt", start=5, end=9))
    assert [i for i, _, _ in from_path] == [5, 6, 7, 8, 9]
    assert from_path[0][1].tolist() == box.tolist()
    frames = list(bgr_frames(path))
    from_list = list(metatrack.track(frames, box, tracker="opencv-csrt", color="bgr", start=5, end=9))
    assert [i for i, _, _ in from_list] == [5, 6, 7, 8, 9]
    assert np.array_equal(np.array([b for _, b, _ in from_list]), np.array([b for _, b, _ in from_path]))
    assert [i for i, _, _ in metatrack.track(path, truth[14], tracker="opencv-kcf", start=14)] == [14, 15]
    assert [i for i, _, _ in metatrack.track(path, truth[14], tracker="opencv-kcf", start=14, end=99)] == [14, 15]


@pytest.mark.parametrize("fourcc, suffix", [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_a_sought_start_frame_is_the_frame_decoded_in_order(tmp_path, fourcc, suffix):
    path = tmp_path / f"v{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, (64, 48))
    for i in range(40):  # every frame different
        img = np.full((48, 64, 3), 3 * i, np.uint8)
        cv2.putText(img, str(i), (4, 40), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        writer.write(img)
    writer.release()
    in_order = [f[:, :, ::-1] for f in bgr_frames(path)]
    for start in (1, 13, 31):
        stream = open_frames(path, start=start)
        (index, frame), (index2, frame2) = next(iter(stream)), next(iter(stream))
        stream.close()
        assert (index, index2) == (start, start + 1)
        assert np.array_equal(frame, in_order[start]) and np.array_equal(frame2, in_order[start + 1])

    class NoSeek:  # a reader that cannot seek: decoded and dropped instead
        def set(self, *_):
            return False

        def release(self):
            pass

    cap = _seek(NoSeek(), path, 13)
    assert np.array_equal(cap.read()[1][:, :, ::-1], in_order[13])


def test_api_errors_name_the_argument(video, tmp_path):
    path, _ = video
    cases = [
        (dict(start=-1), ConfigError, r"start=-1: frame numbers start at 0"),
        (dict(start=16), ConfigError, r"start=16: the video .* ends before frame 16 \(16 frames: 0 to 15\)"),
        (dict(start=4, end=3), ConfigError, r"end=3 is before start=4"),
        (dict(start=2.0), ConfigError, r"start=2.0: a frame number must be an integer"),
        (dict(color="bgra"), ConfigError, r"color='bgra'"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            metatrack.track(path, BOX, tracker="opencv-kcf", **kwargs)
    with pytest.raises(ConfigError, match=r"start=20: the iterable of frames ends before frame 20 \(16 frames"):
        list(metatrack.track(list(bgr_frames(path)), BOX, tracker="opencv-kcf", start=20))
    with pytest.raises(ConfigError, match="video_or_frames: expected"):
        metatrack.track(3.5, BOX, tracker="opencv-kcf")
    with pytest.raises(DataError, match=r"boxes\[1\]: .* outside"):
        list(metatrack.track_many(path, [BOX, (500, 0, 5, 5)], tracker="opencv-kcf"))
    with pytest.raises(DataError, match=r"video_or_frames: frame 2: an image must be"):
        list(metatrack.track([np.zeros((8, 8, 3), np.uint8)] * 2 + [np.zeros((8, 8, 2), np.uint8)], (1, 1, 4, 4),
                             tracker="opencv-kcf"))


def test_track_many_gives_each_target_the_boxes_of_its_own_run(video, one_torch_thread):
    """Ids 1, 2 in order; each target has its own tracker, so its boxes are those it gets alone."""
    path, truth = video
    boxes = [BOX, (60, 40, 16, 16)]
    many = list(metatrack.track_many(path, boxes, end=3))  # MetaSDNet, the shipped model
    assert [i for i, _ in many] == [0, 1, 2, 3]
    assert all([t for t, _, _ in found] == [1, 2] for _, found in many)
    for k, box in enumerate(boxes):
        alone = [b for _, b, _ in metatrack.track(path, box, end=3)]
        assert np.array_equal(np.array(alone), np.array([found[k][1] for _, found in many]))


# ------------------------------------------------------------------------------------ the command line


def test_cli_start_and_end(video, tmp_path, capsys):
    path, truth = video
    boxes, out = tmp_path / "b.txt", tmp_path / "a.avi"
    first = ",".join(f"{v:g}" for v in truth[4])
    assert main(["track", str(path), "--box", first, "--start", "4", "--end", "10", "--tracker", "opencv-csrt",
                 "--boxes", str(boxes), "--out", str(out), "--no-progress"]) == 0
    lines = boxes.read_text().splitlines()
    assert len(lines) == 7 and video_frames(out) == 7
    assert lines[0] == ",".join(f"{v:.2f}" for v in truth[4])
    got = np.array([[float(v) for v in line.split(",")] for line in lines])
    assert np.abs(got[:, :2] - truth[4:11, :2]).max() < 6
    assert "7 frames (4 to 10)" in capsys.readouterr().out
    assert not (tmp_path / "b.txt.part").exists()
    assert main(["track", str(path), "--box", first, "--start", "12", "--tracker", "opencv-kcf",
                 "--boxes", str(boxes), "--no-progress"]) == 0
    assert len(boxes.read_text().splitlines()) == 4  # 12 to the video's end (15)


def test_cli_start_on_an_image_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(1, 8):
        img = np.zeros((40, 60, 3), np.uint8)
        img[10:20, 2 + 3 * i:12 + 3 * i] = 255
        cv2.imwrite(str(folder / f"{i}.png"), img)
    (folder / "3.png").write_bytes(b"not an image: never read, it is before --start")
    boxes = tmp_path / "b.txt"
    assert main(["track", str(folder), "--box", "17,10,10,10", "--start", "4", "--tracker", "opencv-kcf",
                 "--boxes", str(boxes), "--no-progress"]) == 0
    assert len(boxes.read_text().splitlines()) == 3


@pytest.mark.parametrize("args, message", [
    (["--start", "-2"], "--start -2: frame numbers start at 0"),
    (["--start", "16"], "--start 16: the video"),
    (["--start", "5", "--end", "4"], "--end 4 is before --start 5"),
    (["--end", "-1"], "--end -1: frame numbers start at 0"),
    (["--max-frames", "0"], "--max-frames 0"),
    (["--box", "500,500,5,5"], "--box #2: the first box"),
    (["--box", "1,2,3"], "--box #2 '1,2,3': expected four numbers"),
    (["--box-from", "gt.txt"], "exactly one of --box"),
])
def test_cli_errors_name_the_argument(video, capsys, args, message):
    path, _ = video
    rc = main(["track", str(path), "--box", "20,20,20,20", "--tracker", "opencv-kcf", "--no-progress", *args])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_cli_several_targets_write_motchallenge_lines_and_draw_every_target(video, tmp_path, capsys):
    path, truth = video
    boxes, out = tmp_path / "mot.txt", tmp_path / "a.mp4"
    assert main(["track", str(path), "--box", ",".join(f"{v:g}" for v in truth[2]), "--box", "60,40,16,16",
                 "--box", "2,50,10,10", "--tracker", "opencv-csrt", "--start", "2", "--end", "11",
                 "--boxes", str(boxes), "--out", str(out), "--no-progress"]) == 0
    assert "10 frames (2 to 11) x 3 targets" in capsys.readouterr().out
    rows = [line.split(",") for line in boxes.read_text().splitlines()]
    assert len(rows) == 30 and all(len(r) == 10 and r[7:] == ["-1", "-1", "-1"] for r in rows)
    assert [(int(r[0]), int(r[1])) for r in rows[:4]] == [(3, 1), (3, 2), (3, 3), (4, 1)]  # frame 1-based
    assert [float(v) for v in rows[0][2:7]] == [*truth[2].tolist(), -1.0]  # first frame: no confidence
    assert [float(v) for v in rows[1][2:6]] == [60, 40, 16, 16]
    target1 = np.array([[float(v) for v in r[2:6]] for r in rows if r[1] == "1"])
    assert np.abs(target1[:, :2] - truth[2:12, :2]).max() < 6
    assert video_frames(out) == 10
    # every target is drawn in its own colour: frame 1 of the video differs from the input in each box
    cap = cv2.VideoCapture(str(out))
    drawn = cap.read()[1].astype(int)
    plain = list(bgr_frames(path))[2].astype(int)
    colours = set()
    for x, y, w, _ in (truth[2], (60, 40, 16, 16), (2, 50, 10, 10)):
        edge = drawn[int(y), int(x) + int(w) // 2]
        assert np.abs(edge - plain[int(y), int(x) + int(w) // 2]).sum() > 60
        colours.add(tuple(int(v) // 40 for v in edge))
    assert len(colours) == 3


def test_track_says_whether_the_target_is_present(tmp_path):
    """Each item also carries ``present`` and ``raw_confidence`` (still unpacked as three values)."""
    from lt_data import BOX as LT_BOX
    from lt_data import SIZE, LooksTracker

    from metatrack.calibration import Calibration, register_calibration

    w, h = SIZE
    shown = np.full((h, w, 3), 40, np.uint8)
    x, y, bw, bh = (int(v) for v in LT_BOX)
    shown[y:y + bh, x:x + bw] = 230
    dark = np.full((h, w, 3), 40, np.uint8)
    metatrack.register_tracker("api-looks", LooksTracker, replace=True)
    try:
        register_calibration("api-looks", Calibration(4.0, -2.0, 0.5))
        items = list(metatrack.track([shown, shown, dark, shown], LT_BOX, tracker="api-looks"))
    finally:
        register_calibration("api-looks", None)
    assert [i for i, _, _ in items] == [0, 1, 2, 3]
    assert [it.present for it in items] == [True, True, False, True]
    assert [it.raw_confidence for it in items[1:]] == [1.0, 0.0, 1.0]
    assert items[2][2] == pytest.approx(1 / (1 + math.exp(2.0))) and math.isnan(items[0][2])
    (_, found), = list(metatrack.track_many([shown, dark], [LT_BOX], tracker="api-looks"))[1:]
    assert found[0].present  # uncalibrated again: a tracker without calibration always says present
