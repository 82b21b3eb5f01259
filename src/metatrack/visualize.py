"""Drawing boxes on frames: annotated videos and contact sheets."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from pathlib import Path

import cv2
import numpy as np

from .errors import DataError

#: RGB colours: ground truth red, as in the paper's Figure 5, trackers after it
GT_COLOUR = (230, 40, 40)
PALETTE = [(40, 200, 60), (40, 110, 240), (250, 190, 30), (200, 60, 220), (30, 200, 210), (255, 120, 40)]


def colour(i: int) -> tuple[int, int, int]:
    """The RGB colour of the ``i``-th box (0-based): the palette, then hues a golden angle apart."""
    if i < len(PALETTE):
        return PALETTE[i]
    hue = int((i * 137.508) % 360) // 2  # OpenCV's hue is 0-179
    r, g, b = cv2.cvtColor(np.uint8([[[hue, 200, 230]]]), cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def draw_box(image: np.ndarray, box, colour, thickness: int = 2, label: str | None = None) -> np.ndarray:
    """Draw ``box`` (x, y, w, h) on an RGB image in place; NaN boxes are skipped."""
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (4,) or not np.all(np.isfinite(b)):
        return image
    x1, y1 = int(round(b[0])), int(round(b[1]))
    x2, y2 = int(round(b[0] + b[2])), int(round(b[1] + b[3]))
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
    if label:
        cv2.putText(image, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return image


def annotate(image: np.ndarray, boxes: dict[str, np.ndarray], frame_index: int,
             confidence: float | None = None, gt=None, lost: Collection[str] = ()) -> np.ndarray:
    """A copy of ``image`` with the ground truth (red), each tracker's box, frame number and confidence.

    Boxes named in ``lost`` (their tracker says the target is not in view) are drawn thin, labelled
    ``lost``: the box is still the tracker's answer, but a viewer should not trust it.
    """
    out = np.ascontiguousarray(image.copy())
    if gt is not None:
        draw_box(out, gt, GT_COLOUR, 2)
    for i, (name, box) in enumerate(boxes.items()):
        gone = name in lost
        label = name if len(boxes) > 1 else None
        if gone:
            label = f"{label} lost" if label else "lost"
        draw_box(out, box, colour(i), 1 if gone else 2, label)
    text = f"#{frame_index + 1}"
    if confidence is not None and np.isfinite(confidence):
        text += f"  conf {confidence:.2f}"
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return out


class VideoWriter:
    """Writes RGB frames to an .mp4 (mp4v) or .avi (MJPG) file; the file appears complete or not at all."""

    def __init__(self, path: str | Path, fps: float = 25.0):
        self.path = Path(path)
        self.fps = fps
        self._tmp = self.path.with_name(f".{self.path.stem}.part{self.path.suffix}")
        self._writer: cv2.VideoWriter | None = None

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
            self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise DataError("cannot open the video for writing", self.path)
            self._size = (w, h)
        if (w, h) != self._size:
            frame = cv2.resize(frame, self._size)
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._tmp.replace(self.path)
            self._writer = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif self._writer is not None:
            self._writer.release()
            self._tmp.unlink(missing_ok=True)


def contact_sheet(frames: Iterable[np.ndarray], columns: int = 4, width: int = 1200) -> np.ndarray:
    """Tile frames (RGB) into one image ``width`` pixels wide."""
    frames = list(frames)
    if not frames:
        raise ValueError("no frame to tile")
    rows = math.ceil(len(frames) / columns)
    tile_w = width // columns
    h0, w0 = frames[0].shape[:2]
    tile_h = int(round(tile_w * h0 / w0))
    sheet = np.full((rows * tile_h, columns * tile_w, 3), 255, np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, columns)
        sheet[r * tile_h:(r + 1) * tile_h, c * tile_w:(c + 1) * tile_w] = cv2.resize(f, (tile_w, tile_h))
    return sheet


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB image (PNG/JPEG by extension) atomically."""
    from .io import atomic_write

    path = Path(path)
    ok, data = cv2.imencode(path.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError("cannot encode image", path)
    return atomic_write(path, lambda f: f.write(data.tobytes()))
