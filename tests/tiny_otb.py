"""A tiny OTB-layout data set for tests that need one on disk (a fraction of a second to write).

Each sequence is a grey background with a bright rectangle moving at constant velocity; its
``groundtruth_rect.txt`` is in OTB's 1-based coordinates, ``attributes.txt`` holds OTB tags.
Also a few trackers that anything can import by name (spawned worker processes included).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from metatrack.trackers import Tracker

#: name -> (frames, first box (0-based x, y, w, h), velocity (dx, dy) per frame, attribute tags)
DEFAULT_SPECS: dict[str, tuple[int, tuple[float, float, float, float], tuple[float, float], tuple[str, ...]]] = {
    "Alpha": (8, (10.0, 12.0, 14.0, 10.0), (2.0, 1.0), ("FM", "SV")),
    "Beta": (6, (30.0, 8.0, 9.0, 13.0), (-1.5, 2.5), ("OCC",)),
    "Gamma": (7, (5.0, 25.0, 20.0, 12.0), (3.0, -1.0), ("FM",)),
}
SIZE = (80, 60)  # width, height


def boxes_of(spec) -> np.ndarray:
    n, first, (dx, dy), _ = spec
    return np.array([[first[0] + dx * i, first[1] + dy * i, first[2], first[3]] for i in range(n)], dtype=float)


def write_otb(root: Path, specs=None) -> Path:
    """Write the sequences of ``specs`` (default :data:`DEFAULT_SPECS`) under ``root`` in OTB layout."""
    specs = DEFAULT_SPECS if specs is None else specs
    root = Path(root)
    w, h = SIZE
    for name, spec in specs.items():
        folder = root / name
        (folder / "img").mkdir(parents=True)
        boxes = boxes_of(spec)
        for i, (x, y, bw, bh) in enumerate(boxes):
            img = np.full((h, w, 3), 60 + 10 * i, np.uint8)
            cv2.rectangle(img, (int(x), int(y)), (int(x + bw) - 1, int(y + bh) - 1), (230, 230, 230), -1)
            cv2.imwrite(str(folder / "img" / f"{i + 1:04d}.jpg"), img)
        lines = [",".join(f"{v:g}" for v in (x + 1, y + 1, bw, bh)) for x, y, bw, bh in boxes]
        (folder / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
        (folder / "attributes.txt").write_text(",".join(spec[3]) + "\n")
    return root


class StayTracker(Tracker):
    """Stays where it was started: the first box on every frame."""

    def init(self, image, box):
        self.box = np.asarray(box, dtype=float).copy()

    def update(self, image):
        return self.box.copy()


class DriftTracker(Tracker):
    """Drifts by an irrational step to the right and grows a little: IoUs away from round thresholds."""

    def init(self, image, box):
        self.box = np.asarray(box, dtype=float).copy()

    def update(self, image):
        self.box = self.box + [np.sqrt(2.0), 0.3, 0.17, -0.11]
        return self.box.copy()
