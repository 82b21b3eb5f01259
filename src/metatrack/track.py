"""Track one target through a user's video, image folder or camera: ``metatrack track``.

Frames are streamed (one in memory at a time), so a video of any length can be tracked. The boxes
file is written atomically, also when the run is interrupted (then it holds the frames done).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .data.files import list_images
from .data.sequence import read_image
from .errors import ConfigError, DataError
from .geometry import check_first_box, clip_box
from .io import atomic_write_text
from .trackers import create_tracker
from .visualize import VideoWriter, annotate


def parse_box(text: str, source: str = "--box") -> np.ndarray:
    """``x,y,w,h`` (commas or spaces) as a checked float box."""
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"{source} {text!r}: expected four numbers x,y,w,h") from None
    if len(values) != 4:
        raise ConfigError(f"{source} {text!r}: expected four numbers x,y,w,h, got {len(values)}")
    return check_first_box(values, None, source)


def open_frames(source: str | int) -> tuple[Iterator[np.ndarray], int | None, float]:
    """(frame iterator, frame count or None for a camera, frames per second) of a video, folder or camera."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        cap = cv2.VideoCapture(int(source))
        if not cap.isOpened():
            raise DataError(f"camera {source} cannot be opened")
        return _capture(cap, f"camera {source}"), None, cap.get(cv2.CAP_PROP_FPS) or 25.0
    p = Path(source)
    if p.is_dir():
        images = list_images(p)
        if not images:
            raise DataError("folder holds no image file", p)
        return (read_image(f) for f in images), len(images), 25.0
    if not p.is_file():
        raise DataError("video file, image folder or camera index does not exist", p)
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise DataError("cannot be opened as a video", p)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    return _capture(cap, str(p)), count, cap.get(cv2.CAP_PROP_FPS) or 25.0


def _capture(cap: cv2.VideoCapture, name: str) -> Iterator[np.ndarray]:
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


@dataclass
class TrackResult:
    boxes: np.ndarray
    confidences: np.ndarray
    seconds: np.ndarray

    @property
    def fps(self) -> float:
        t = self.seconds[1:]
        return float(len(t) / t.sum()) if len(t) and t.sum() > 0 else float("nan")


def track(
    source: str | int,
    box,
    tracker: str = "metasdnet",
    tracker_kwargs: dict | None = None,
    out_video: str | Path | None = None,
    boxes_file: str | Path | None = None,
    progress: bool = True,
    seed: int = 0,
    max_frames: int | None = None,
) -> TrackResult:
    """Track the target in ``box`` (frame 1) through ``source``; optionally write video and boxes."""
    from tqdm import tqdm

    frames, count, fps = open_frames(source)
    if max_frames is not None:
        count = min(count, max_frames) if count else max_frames
    try:
        trk = create_tracker(tracker, **(tracker_kwargs or {}))
    except TypeError as exc:
        raise ConfigError(f"tracker {tracker!r} does not take these options: {exc}") from None
    trk.seed(seed)
    boxes, confs, secs = [], [], []
    writer = VideoWriter(out_video, fps) if out_video else None
    bar = tqdm(total=count, unit="frame", disable=not progress, dynamic_ncols=True)
    interrupted = False
    try:
        for i, image in enumerate(frames):
            if max_frames is not None and i >= max_frames:
                break
            h, w = image.shape[:2]
            t0 = time.perf_counter()
            if i == 0:
                b = check_first_box(box, (w, h), "--box")
                trk.init(image, b)
                conf = float("nan")
            else:
                b = clip_box(np.asarray(trk.update(image), dtype=np.float64), (w, h))
                conf = float(getattr(trk, "confidence", float("nan")))
            secs.append(time.perf_counter() - t0)
            boxes.append(b)
            confs.append(conf)
            if writer is not None:
                writer.write(annotate(image, {tracker: b}, i, conf))
            bar.update(1)
            if i and i % 10 == 0:
                bar.set_postfix(fps=f"{len(secs[1:]) / max(sum(secs[1:]), 1e-9):.1f}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    if not boxes:
        raise DataError(f"{source}: no frame could be read")
    result = TrackResult(np.array(boxes), np.array(confs), np.array(secs))
    if boxes_file:
        atomic_write_text(boxes_file, "".join(",".join(f"{v:.2f}" for v in b) + "\n" for b in result.boxes))
    if interrupted:
        raise KeyboardInterrupt
    return result
