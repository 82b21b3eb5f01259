"""Track targets through a video, an image folder, a camera or any frames.

:func:`track` (one target) and :func:`track_many` (several) are the Python API, also reachable as
``metatrack.track`` and ``metatrack.track_many``: generators that yield each frame's boxes as soon as
the frame is tracked. :func:`track_video` is ``metatrack track``: the same loop, plus an annotated
video and a boxes file streamed to disk one line per frame.

Frames are streamed (one in memory at a time), so a video of any length can be tracked. Frames
before ``start`` are skipped without tracking: a video file is sought to ``start`` (decoded and
dropped when it cannot seek), an image folder starts at its ``start``-th image, a camera and an
iterable of frames are read and dropped.
"""

from __future__ import annotations

import itertools
import math
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .data.files import list_images
from .data.sequence import read_image
from .errors import ConfigError, DataError
from .geometry import check_first_box, clip_box
from .image import as_rgb
from .tracked import Tracked, tracker_answer
from .trackers import Tracker, create_tracker
from .visualize import VideoWriter, annotate

#: (frame index, box x, y, w, h, confidence) of one target; NaN confidence where there is none
TargetBox = tuple[int, np.ndarray, float]


def parse_box(text: str, source: str = "--box") -> np.ndarray:
    """``x,y,w,h`` (commas or spaces) as a checked float box."""
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"{source} {text!r}: expected four numbers x,y,w,h") from None
    if len(values) != 4:
        raise ConfigError(f"{source} {text!r}: expected four numbers x,y,w,h, got {len(values)}")
    return check_first_box(values, None, source)


# ------------------------------------------------------------------------------------ frame sources


@dataclass(frozen=True)
class _Names:
    """How the arguments are called in error messages: the command line's options or the API's."""

    start: str = "start"
    end: str = "end"
    box: str = "box"
    source: str = "video_or_frames"

    def value(self, name: str, value: Any) -> str:
        return f"{name} {value}" if name.startswith("--") else f"{name}={value!r}"


API_NAMES = _Names()
CLI_NAMES = _Names("--start", "--end", "--box", "INPUT")


class FrameStream:
    """The frames of a source from ``start`` on, as ``(frame index, HxWx3 uint8 RGB)`` pairs.

    ``count`` is the number of frames of the whole source (None when unknown: a camera, an
    iterable), ``fps`` its frame rate (25 when unknown). :meth:`close` releases a video or camera.
    """

    def __init__(self, frames: Iterator[tuple[int, np.ndarray]], count: int | None, fps: float, start: int,
                 close=None):
        self._frames, self.count, self.fps, self.start, self._close = frames, count, fps, start, close

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        return self._frames

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


def _check_range(start: int, end: int | None, names: _Names) -> None:
    for name, value in ((names.start, start), (names.end, end)):
        if value is None and name == names.end:
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ConfigError(f"{names.value(name, value)}: a frame number must be an integer")
        if value < 0:
            raise ConfigError(f"{names.value(name, value)}: frame numbers start at 0 (the first frame)")
    if end is not None and end < start:
        raise ConfigError(f"{names.value(names.end, end)} is before {names.value(names.start, start)}: "
                          "the last frame tracked must not come before the first")


def _beyond(start: int, names: _Names, what: str, count: int | None) -> ConfigError:
    have = "" if count is None else f" ({count} frames: 0 to {count - 1})"
    return ConfigError(f"{names.value(names.start, start)}: {what} ends before frame {start}{have}")


def open_frames(source: str | int | os.PathLike | Iterable[np.ndarray], start: int = 0, color: str = "rgb",
                names: _Names = API_NAMES) -> FrameStream:
    """The frames of ``source`` from frame ``start`` (0-based) on.

    ``source`` is a video file, a folder of images (sorted naturally), a camera index (an int or a
    string of digits) or any iterable of HxW[xC] frames, whose channel order ``color`` gives
    (``"rgb"`` or ``"bgr"``, as OpenCV decodes). Files and cameras are decoded to RGB here.
    """
    _check_range(start, None, names)
    if color not in ("rgb", "bgr"):
        raise ConfigError(f"color={color!r}: use 'rgb' or 'bgr' (the channel order of the frames given)")
    if isinstance(source, bool):
        raise ConfigError(f"{names.source}: expected a path, a camera index or frames, got {source!r}")
    if isinstance(source, int | np.integer) or (isinstance(source, str) and source.isdigit()):
        return _open_camera(int(source), start, names)
    if isinstance(source, str | os.PathLike):
        return _open_path(Path(source), start, names)
    if isinstance(source, np.ndarray) and source.ndim in (2, 3) and source.dtype != object:
        raise ConfigError(f"{names.source}: one frame of shape {source.shape} is not a video; give a list "
                          "or another iterable of frames")
    try:
        frames = iter(source)
    except TypeError:
        raise ConfigError(f"{names.source}: expected a video file, image folder, camera index or an iterable "
                          f"of frames, got {type(source).__name__}") from None
    convert = _from_bgr if color == "bgr" else as_rgb

    def iterate() -> Iterator[tuple[int, np.ndarray]]:
        index = -1
        for index, frame in enumerate(frames):
            if index < start:
                continue  # an iterable cannot seek: frames before start are read and dropped
            try:
                image = convert(frame)
            except ValueError as exc:
                raise DataError(f"frame {index}: {exc}", names.source) from None
            yield index, image
        if index < 0:
            raise DataError("holds no frame", names.source)
        if index < start:
            raise _beyond(start, names, "the iterable of frames", index + 1)

    return FrameStream(iterate(), None, 25.0, start, getattr(frames, "close", None))


def _from_bgr(frame: np.ndarray) -> np.ndarray:
    img = np.asarray(frame)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, [2, 1, 0, 3]]
    elif img.ndim == 3 and img.shape[2] == 3:
        img = img[:, :, ::-1]
    return as_rgb(img)


def _open_camera(index: int, start: int, names: _Names) -> FrameStream:
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise DataError(f"camera {index} cannot be opened")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        for skipped in range(start):  # a camera cannot seek: grab (no conversion) and drop
            if not cap.grab():
                raise _beyond(start, names, f"camera {index}", skipped)
        yield from _decoded(cap, start)

    return FrameStream(frames(), None, fps, start, cap.release)


def _open_path(p: Path, start: int, names: _Names) -> FrameStream:
    if p.is_dir():
        images = list_images(p)
        if not images:
            raise DataError("folder holds no image file", p)
        if start >= len(images):
            raise _beyond(start, names, f"the folder {p}", len(images))
        return FrameStream(((i, read_image(images[i])) for i in range(start, len(images))), len(images), 25.0,
                           start)
    if not p.is_file():
        raise DataError("video file, image folder or camera index does not exist", p)
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise DataError("cannot be opened as a video", p)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    if start > 0:
        cap = _seek(cap, p, start)
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            raise _beyond(start, names, f"the video {p}", count)
        first = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

        def frames() -> Iterator[tuple[int, np.ndarray]]:
            yield start, first
            yield from _decoded(cap, start + 1)

        return FrameStream(frames(), count, fps, start, cap.release)
    return FrameStream(_decoded(cap, 0), count, fps, start, cap.release)


def _seek(cap: cv2.VideoCapture, path: Path, start: int) -> cv2.VideoCapture:
    """``cap`` positioned on frame ``start``: sought where OpenCV can, else decoded and dropped."""
    if cap.set(cv2.CAP_PROP_POS_FRAMES, start) and int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == start:
        return cap
    cap.release()
    cap = cv2.VideoCapture(str(path))
    for _ in range(start):
        if not cap.grab():
            break
    return cap


def _decoded(cap: cv2.VideoCapture, first_index: int) -> Iterator[tuple[int, np.ndarray]]:
    try:
        for index in itertools.count(first_index):
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


# ------------------------------------------------------------------------------------ the loop


def create_trackers(tracker: str, count: int, seed: int = 0, **tracker_kwargs: Any) -> list[Tracker]:
    """One tracker per target, each seeded with ``seed`` (a target's boxes do not depend on the others).

    The one place where the trackers of several targets are made; :func:`tracker_group` then lets
    the adaptive trackers among them share one batched backbone call per frame.
    """
    trackers = []
    for _ in range(count):
        try:
            trk = create_tracker(tracker, **tracker_kwargs)
        except TypeError as exc:
            raise ConfigError(f"tracker {tracker!r} does not take these options: {exc}") from None
        trk.seed(seed)
        trackers.append(trk)
    return trackers


def tracker_group(trackers: list[Tracker], batch: bool | None = None, merge: bool | None = None,
                  heads: bool | None = None):
    """A :class:`~metatrack.trackers.adaptive.TrackerGroup` of ``trackers`` when two or more of them can
    share the backbone's work over a frame (the adaptive trackers) and it would share it, else None
    (each tracker updates alone). ``batch``: one batched backbone call (None: on a GPU); ``merge``:
    targets whose crops overlap share one crop (None: the group's default for the device and family);
    ``heads``: a family's work after the backbone done for its targets together (None: on, the same
    boxes). ``batch=False`` alone turns merging and heads off too: every target then runs as a single run."""
    if batch is False and merge is None:
        merge = False
        heads = False if heads is None else heads
    if (batch is False and merge is False and not heads) or sum(bool(getattr(trk, "shares_features", False))
                                                  for trk in trackers) < 2:
        return None  # the peers alone: no torch import
    from .trackers.adaptive import TrackerGroup

    group = TrackerGroup(trackers, batch, merge, heads=heads)
    return group if group.active else None


def _box_names(count: int, names: _Names) -> list[str]:
    if count == 1:
        return [names.box]
    if names.box.startswith("--"):
        return [f"{names.box} #{k + 1}" for k in range(count)]
    return [f"boxes[{k}]" for k in range(count)]


def _boxes_given(boxes, names: _Names) -> list[np.ndarray]:
    """The user's boxes, each checked (finite, positive size), in target order."""
    labels = _box_names(len(boxes), names)
    return [check_first_box(b, None, label) for b, label in zip(boxes, labels, strict=True)]


def _steps(stream: FrameStream, trackers: list[Tracker], boxes: list[np.ndarray], end: int | None,
           names: _Names, shared: bool | None = None,
           merge: bool | None = None) -> Iterator[tuple[int, np.ndarray, list[TargetBox], float]]:
    """(frame index, frame, [(target id, box, confidence), ...], seconds spent tracking) per frame.

    ``shared``, ``merge``: whether the trackers that can share the backbone's work batch it and
    merge overlapping crops (:func:`tracker_group`'s ``batch`` and ``merge``).
    """
    labels = _box_names(len(boxes), names)
    group = tracker_group(trackers, shared, merge)
    for index, image in stream:
        if end is not None and index > end:
            return
        size = (image.shape[1], image.shape[0])
        t0 = time.perf_counter()
        if index == stream.start:
            checked = [check_first_box(b, size, label) for b, label in zip(boxes, labels, strict=True)]
            for trk, b in zip(trackers, checked, strict=True):
                trk.init(image, b.copy())
            found = [Tracked(k + 1, b, math.nan) for k, b in enumerate(checked)]
        else:
            found = []
            new = group.update(image) if group is not None else None
            for k, trk in enumerate(trackers):
                b = clip_box(np.asarray(trk.update(image) if new is None else new[k], dtype=np.float64), size)
                found.append(tracker_answer(k + 1, b, trk))
        yield index, image, found, time.perf_counter() - t0


def _prepare(video_or_frames, boxes, tracker: str, color: str, start: int, end: int | None, seed: int,
             tracker_kwargs: dict, names: _Names) -> tuple[FrameStream, list[Tracker], list[np.ndarray]]:
    _check_range(start, end, names)
    checked = _boxes_given(boxes, names)
    stream = open_frames(video_or_frames, start=start, color=color, names=names)
    try:
        trackers = create_trackers(tracker, len(checked), seed=seed, **tracker_kwargs)
    except BaseException:
        stream.close()
        raise
    return stream, trackers, checked


def track_many(video_or_frames, boxes, tracker: str = "metasdnet", color: str = "rgb", start: int = 0,
               end: int | None = None, seed: int = 0, shared: bool | None = None, merge: bool | None = None,
               **tracker_kwargs: Any) -> Iterator[tuple[int, list[TargetBox]]]:
    """Track several targets; yields ``(frame_index, [(id, box, confidence), ...])`` frame by frame.

    ``boxes`` are the targets on frame ``start``, ids 1, 2, ... in that order; each target has its
    own tracker (``tracker`` with ``tracker_kwargs``, seeded with ``seed``). ``shared=True`` runs the
    deep trackers' backbone once per frame on all targets' crops in one batch (the same boxes as
    alone), ``False`` once per target; None (default) batches on a GPU only: on a CPU batching
    measured slower (``bench/multi_target.py``). ``merge``: targets whose crops overlap at a similar
    scale share one crop and one backbone pass (fewer pixels: faster on a CPU; a target's boxes can
    differ a little from its single run's); None (default): on a CPU for the families where that was
    a tie in accuracy on validation data (MetaSDNet's, MetaCREST's), unless ``shared=False``
    (:class:`~metatrack.trackers.adaptive.group.SharedCropConfig`). Otherwise as :func:`track`.
    """
    boxes = list(boxes)
    if not boxes:
        raise ConfigError("boxes: give at least one box x, y, w, h")
    stream, trackers, checked = _prepare(video_or_frames, boxes, tracker, color, start, end, seed, tracker_kwargs,
                                         API_NAMES)

    def frames() -> Iterator[tuple[int, list[TargetBox]]]:
        try:
            for index, _, found, _ in _steps(stream, trackers, checked, end, API_NAMES, shared, merge):
                yield index, found
        finally:
            stream.close()

    return frames()


def track(video_or_frames, box, tracker: str = "metasdnet", color: str = "rgb", start: int = 0,
          end: int | None = None, seed: int = 0, **tracker_kwargs: Any) -> Iterator[tuple[int, np.ndarray, float]]:
    """Track one target; yields ``(frame_index, box, confidence)`` lazily, one frame at a time.

    ``video_or_frames`` is a video file, an image folder, a camera index or any iterable of frames
    (``color="bgr"`` for frames in OpenCV's order, as ``cv2.VideoCapture`` reads them). ``box`` is
    ``x, y, w, h`` (0-based pixels) on frame ``start`` (0-based); tracking ends after frame ``end``
    (inclusive) or at the last frame. The first item is frame ``start`` with ``box`` itself (and a NaN
    confidence); boxes are float arrays clipped to the frame, the confidence is the tracker's calibrated
    probability that the box overlaps the target (its raw score where it has no calibration; NaN for
    trackers without one). Each item is a :class:`~metatrack.tracked.Tracked` tuple that also has
    ``.present`` (whether the tracker says the target is in view) and ``.raw_confidence``.
    ``tracker_kwargs`` go to the tracker (``model=``, ``device=``).
    Arguments are checked, the source opened and the tracker built when this is called; frames are
    read as the generator is iterated.
    """
    frames = track_many(video_or_frames, [box], tracker, color=color, start=start, end=end, seed=seed,
                        **tracker_kwargs)

    def single() -> Iterator[tuple[int, np.ndarray, float]]:
        try:
            for index, (item,) in frames:
                yield Tracked(index, item.box, item.confidence, item.present, item.raw_confidence)
        finally:
            frames.close()

    return single()


# ------------------------------------------------------------------------------------ metatrack track


@dataclass
class TrackResult:
    """What ``metatrack track`` did: frames ``first`` to ``last`` (0-based), ``frames`` of them."""

    first: int
    last: int
    frames: int
    targets: int
    init_seconds: float
    update_seconds: float
    interrupted: bool = False

    @property
    def fps(self) -> float:
        n = self.frames - 1
        return n / self.update_seconds if n > 0 and self.update_seconds > 0 else float("nan")


class BoxesFile:
    """The boxes of ``metatrack track``, streamed: every frame's lines are written and flushed to
    ``NAME.part`` as soon as the frame is tracked, and :meth:`close` renames it to ``NAME``.

    A run killed with ``kill -9`` leaves ``NAME.part`` holding every frame it finished. One target:
    one ``x,y,w,h`` line per frame. Several: MOTChallenge lines ``frame,id,x,y,w,h,confidence,-1,-1,-1``
    (frame 1-based, x and y 0-based pixels as everywhere in metatrack, confidence -1 where there is none).
    """

    def __init__(self, path: str | Path, several: bool):
        self.path = Path(path)
        self.part = self.path.with_name(self.path.name + ".part")
        self.several = several
        self.lines = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.part, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def write(self, index: int, found: list[TargetBox]) -> None:
        if self.several:
            text = "".join(
                f"{index + 1},{target},{b[0]:.2f},{b[1]:.2f},{b[2]:.2f},{b[3]:.2f},"
                f"{'-1' if not math.isfinite(conf) else f'{conf:.4f}'},-1,-1,-1\n"
                for target, b, conf in found)
        else:
            text = ",".join(f"{v:.2f}" for v in found[0][1]) + "\n"
        self._file.write(text)
        self._file.flush()  # on disk (in the page cache) even if the process is killed next
        self.lines += 1

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.close()
        if self.lines:
            os.replace(self.part, self.path)
        else:
            self.part.unlink(missing_ok=True)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (``kill PID``, a job scheduler's stop) raises KeyboardInterrupt as
    Ctrl-C does, so that the same clean-up runs. Only in the main thread (elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def track_video(
    source: str | int,
    boxes: list,
    tracker: str = "metasdnet",
    tracker_kwargs: dict | None = None,
    out_video: str | Path | None = None,
    boxes_file: str | Path | None = None,
    progress: bool = True,
    seed: int = 0,
    start: int = 0,
    end: int | None = None,
    max_frames: int | None = None,
) -> TrackResult:
    """``metatrack track``: track ``boxes`` (on frame ``start``) through ``source``; write video and boxes.

    The boxes file is streamed (see :class:`BoxesFile`); the annotated video is playable when the
    run ends or is interrupted (Ctrl-C, SIGTERM within :func:`sigterm_as_interrupt`), and the
    KeyboardInterrupt is raised again after both are closed.
    """
    from tqdm import tqdm

    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"--max-frames {max_frames}: track at least one frame")
    stream, trackers, checked = _prepare(source, boxes, tracker, "rgb", start, end, seed, dict(tracker_kwargs or {}),
                                         CLI_NAMES)
    several = len(checked) > 1
    last = end
    if max_frames is not None:
        last = start + max_frames - 1 if last is None else min(last, start + max_frames - 1)
    total = None
    if stream.count is not None:
        total = (stream.count if last is None else min(stream.count, last + 1)) - start
    elif last is not None:
        total = last - start + 1
    writer = VideoWriter(out_video, stream.fps) if out_video else None
    out = BoxesFile(boxes_file, several) if boxes_file else None
    bar = tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True)
    frames, seconds, interrupted = 0, [0.0, 0.0], False
    try:
        for index, image, found, spent in _steps(stream, trackers, checked, last, CLI_NAMES):
            frames += 1
            seconds[index != start] += spent
            if writer is not None:  # the video first: an interrupted run's video has every frame of its boxes
                if several:
                    drawn = {_label(t, conf): b for t, b, conf in found}
                    lost = {_label(t, conf) for t, _, conf in (f for f in found if not f.present)}
                    writer.write(annotate(image, drawn, index, lost=lost))
                else:
                    lost = () if found[0].present else (tracker,)
                    writer.write(annotate(image, {tracker: found[0][1]}, index, found[0][2], lost=lost))
            if out is not None:
                out.write(index, found)
            bar.update(1)
            if frames > 1 and frames % 10 == 0:
                bar.set_postfix(fps=f"{(frames - 1) / max(seconds[1], 1e-9):.1f}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        stream.close()
        if writer is not None:
            writer.close()
        if out is not None:
            out.close()
    if interrupted:
        raise KeyboardInterrupt
    if not frames:
        raise DataError(f"{source}: no frame could be read")
    return TrackResult(start, start + frames - 1, frames, len(checked), seconds[0], seconds[1])


def _label(target: int, confidence: float) -> str:
    return f"{target}" if not math.isfinite(confidence) else f"{target} {confidence:.2f}"
