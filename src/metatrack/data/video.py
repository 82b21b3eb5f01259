"""A user's own footage as a Sequence: a video file or a folder of images, plus a first box.

Only the first box is known (given on the command line or read from a file with
:func:`read_first_box`); the other rows are NaN and ``meta["first_box_only"]`` is True. Images of
a folder are sorted naturally (``1.jpg, 2.jpg, 10.jpg``), as frame-dumping tools name them.
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..geometry import check_first_box, polygon_to_box
from .files import IMAGE_SUFFIXES, list_images
from .sequence import ImageFiles, Sequence, VideoFile
from .textfile import read_text


def read_first_box(path: str | Path, origin: float = 0.0) -> np.ndarray:
    """The box on the first line of a ground-truth file (``--box-from FILE``), 0-based.

    Any of the usual separators; 4 values ``x, y, w, h`` or a VOT polygon of 8. ``origin`` is
    the file's convention (1 for OTB and LaSOT files) and is subtracted from x and y.
    """
    lines = read_text(path).splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise DataError("no box in file", path)
    number = lines.index(first) + 1
    fields = [f for f in first.replace(",", " ").replace(";", " ").split() if f]
    try:
        values = np.array([float(f) for f in fields])
    except ValueError:
        raise DataError(f"not a list of numbers: {first.strip()[:80]!r}", path, number) from None
    if len(values) == 8 and np.all(np.isfinite(values)):
        values = polygon_to_box(values)
    elif len(values) != 4:
        raise DataError(f"expected 4 values x,y,w,h (or 8 for a polygon), found {len(values)}", path, number)
    box = check_first_box(values, None, f"{path}, line {number}")
    box[:2] -= origin
    return box


def _frames(p: Path) -> ImageFiles | VideoFile:
    if p.is_dir():
        images = list_images(p)
        if not images:
            raise DataError("folder holds no image file", p)
        return ImageFiles(images)
    if not p.exists():
        raise DataError("video file or image folder does not exist", p)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        raise DataError("is a single image, not a video: give the folder of frames instead", p)
    return VideoFile(p)  # raises a DataError when OpenCV cannot decode it


def read_video(
    path: str | Path,
    box: SequenceABC[float] | np.ndarray | None = None,
    name: str | None = None,
    box_source: str = "--box",
) -> list[Sequence]:
    """One Sequence from a video file or an image folder; ``box`` is the target on frame 1.

    The box is checked against the first frame's size (one frame is decoded for that).
    Without ``box`` every row is NaN and the caller must supply the box before tracking.
    ``box_source`` names where the box came from in error messages.
    """
    p = Path(path)
    frames = _frames(p)
    boxes = np.full((len(frames), 4), np.nan)
    seq = Sequence(
        name=name or (p.name if p.is_dir() else p.stem),
        frames=frames,
        boxes=boxes,
        meta={"source": str(p), "first_box_only": True},
    )
    if box is not None:
        seq.boxes[0] = check_first_box(box, seq.image_size, box_source)
    return [seq]
