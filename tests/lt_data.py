"""A tiny VOT-layout data set whose target leaves the frame (``nan`` ground truth: absent), and two
trackers with known long-term scores on it, importable by name (spawned workers included)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from metatrack.trackers import Tracker

SIZE = (64, 48)  # width, height
BOX = (20.0, 14.0, 16.0, 12.0)  # the static target, 0-based
#: per sequence: which frames show the target (False: the frame is dark, the target absent)
SHOWN = {
    "seqA": [True, True, True, False, False, True, True, False],
    "seqB": [True, True, False, True, True, True],
}


def write_vot(root: Path) -> Path:
    """``root/list.txt`` and one folder per sequence (``color/``, ``groundtruth.txt`` with ``nan`` rows)."""
    root = Path(root)
    w, h = SIZE
    for name, shown in SHOWN.items():
        folder = root / name
        (folder / "color").mkdir(parents=True)
        lines = []
        for i, visible in enumerate(shown):
            img = np.full((h, w, 3), 40, np.uint8)
            if visible:
                x, y, bw, bh = (int(v) for v in BOX)
                img[y:y + bh, x:x + bw] = 230
            cv2.imwrite(str(folder / "color" / f"{i + 1:08d}.jpg"), img)
            lines.append(",".join(f"{v:g}" for v in BOX) if visible else "nan,nan,nan,nan")
        (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    (root / "list.txt").write_text("\n".join(SHOWN) + "\n")
    return root


class LooksTracker(Tracker):
    """Stays on the first box; confidence 1 where that box is bright (the target is there), else 0."""

    def init(self, image, box):
        self.box = np.asarray(box, dtype=float).copy()

    def update(self, image):
        x, y, w, h = (int(v) for v in self.box)
        self.confidence = 1.0 if image[y:y + h, x:x + w].mean() > 128 else 0.0
        return self.box.copy()


class BlindTracker(LooksTracker):
    """Stays on the first box with the same confidence everywhere: it never says the target is gone."""

    def update(self, image):
        self.confidence = 0.5
        return self.box.copy()


def expected_blind() -> tuple[float, float, float]:
    """(F, Pr, Re) of :class:`BlindTracker`: every frame reported, overlap 1 where shown, 0 where absent."""
    prs = []
    for shown in SHOWN.values():
        later = shown[1:]
        prs.append(sum(later) / len(later))
    pr = float(np.mean(prs))
    return 2 * pr / (pr + 1.0), pr, 1.0
