"""A tracking sequence: frames read lazily, one box per frame, attribute tags.

Frames are never all held in memory: an :class:`ImageFiles` source reads one file per access and a
:class:`VideoFile` source decodes on demand, so hour-long videos cost the memory of one frame.
Boxes are stored 0-based (``x, y`` of the top-left pixel's corner is 0, 0); ``origin`` records the
convention of the data set's own ground-truth file (1 for OTB and LaSOT's MATLAB coordinates) so that
results files can be written in the same convention and scored by the community's toolkits.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as an HxWx3 uint8 RGB array; a missing or unreadable file is a DataError."""
    p = Path(path)
    if not p.is_file():
        raise DataError("frame is missing", p)
    data = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise DataError("frame cannot be decoded as an image", p)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class FrameSource:
    """Random access to the frames of one sequence, one frame in memory at a time."""

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self, index: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, index: int) -> str:
        """Where frame ``index`` comes from, for error messages."""
        return f"frame {index + 1}"


class ImageFiles(FrameSource):
    """Frames stored as one image file each."""

    def __init__(self, paths: SequenceABC[str | Path]):
        self.paths = [Path(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: int) -> np.ndarray:
        return read_image(self.paths[index])

    def describe(self, index: int) -> str:
        return str(self.paths[index])


class VideoFile(FrameSource):
    """Frames decoded from a video file with OpenCV, sequential reads without seeking."""

    def __init__(self, path: str | Path, num_frames: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError("video file is missing", self.path)
        self._cap: cv2.VideoCapture | None = None
        self._next = 0
        if num_frames is None:
            num_frames = self._count_frames()
        self._len = num_frames

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise DataError("video cannot be opened", self.path)
        self._next = 0
        return cap

    def _count_frames(self) -> int:
        cap = self._open()
        n = 0
        while cap.grab():
            n += 1
        cap.release()
        if n == 0:
            raise DataError("video has no decodable frame", self.path)
        return n

    def __len__(self) -> int:
        return self._len

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self._len:
            raise IndexError(index)
        if self._cap is None or index < self._next:
            if self._cap is not None:
                self._cap.release()
            self._cap = self._open()
        while self._next < index:
            if not self._cap.grab():
                raise DataError(f"frame {index + 1} cannot be decoded", self.path)
            self._next += 1
        ok, img = self._cap.read()
        if not ok or img is None:
            raise DataError(f"frame {index + 1} cannot be decoded", self.path)
        self._next += 1
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def describe(self, index: int) -> str:
        return f"{self.path} frame {index + 1}"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cap"] = None
        state["_next"] = 0
        return state


class FirstFrames(FrameSource):
    """The first ``n`` frames of another frame source (frames are still read lazily)."""

    def __init__(self, source: FrameSource, n: int):
        self.source, self.n = source, int(n)

    def __len__(self) -> int:
        return self.n

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self.n:
            raise IndexError(f"frame {index} of a sequence cut to {self.n} frames")
        return self.source.read(index)

    def describe(self, index: int) -> str:
        return self.source.describe(index)


@dataclass
class Sequence:
    """One tracking sequence.

    ``boxes`` is (N, 4) float, 0-based, NaN rows where the target is absent or not annotated
    (only the first box is required for tracking a user's video). ``meta`` carries per-format
    extras such as GOT-10k's ``cover`` and ``absence`` arrays.
    """

    name: str
    frames: FrameSource
    boxes: np.ndarray
    attributes: tuple[str, ...] = ()
    origin: float = 0.0
    meta: dict = field(default_factory=dict)
    _size: tuple[int, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if len(self.boxes) != len(self.frames):
            raise DataError(
                f"sequence {self.name!r} has {len(self.frames)} frames but "
                f"{len(self.boxes)} ground-truth boxes"
            )

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) as HxWx3 uint8 RGB."""
        return self.frames.read(index)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.frame(i)

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) of the first frame."""
        if self._size is None:
            h, w = self.frame(0).shape[:2]
            self._size = (w, h)
        return self._size

    @property
    def first_box(self) -> np.ndarray:
        return self.boxes[0]

    def head(self, n: int | None) -> Sequence:
        """This sequence cut to its first ``n`` frames (itself when ``n`` is None or not shorter):
        quick demos and benchmarks on a part of each sequence."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise ValueError(f"a sequence needs at least one frame, got n={n}")
        return replace(self, frames=FirstFrames(self.frames, n), boxes=self.boxes[:n], _size=None)

    def to_file_coords(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes in the ground-truth file's own convention (adds ``origin`` to x and y)."""
        out = np.array(boxes, dtype=np.float64, copy=True).reshape(-1, 4)
        out[:, :2] += self.origin
        return out

    def from_file_coords(self, boxes: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_file_coords`."""
        out = np.array(boxes, dtype=np.float64, copy=True).reshape(-1, 4)
        out[:, :2] -= self.origin
        return out
