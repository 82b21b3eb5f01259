"""A synthetic sequence whose target leaves the view and comes back far from where it left."""

from __future__ import annotations

import numpy as np
from sdnet_synth import ListFrames, texture

from metatrack.data.sequence import Sequence


def comes_back_elsewhere(seed: int = 0, size: tuple[int, int] = (320, 240), side: int = 32, before: int = 20,
                         gone: int = 8, after: int = 25, contrast: float = 0.1) -> Sequence:
    """The target (a textured square) drifts near the left edge for ``before`` frames, is gone for
    ``gone`` frames (ground truth NaN), then drifts at the far right, well outside any crop around
    where it was: a tracker that searches only there cannot find it again. ``contrast`` scales the
    background's texture (low: a background the trackers tell from the target, so that they see the loss)."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = (texture(rng, h, w, 5) * contrast + 70).astype(np.uint8)
    target = texture(rng, side, side, 8)
    frames, boxes = [], []
    for i in range(before + gone + after):
        frame = background.copy()
        if i < before:
            x, y = 30 + i, 100 + (i % 3)
        elif i < before + gone:
            frames.append(frame)
            boxes.append([np.nan] * 4)
            continue
        else:
            k = i - before - gone
            x, y = w - side - 30 - k, 40 + (k % 3)
        frame[y:y + side, x:x + side] = target
        frames.append(frame)
        boxes.append([x, y, side, side])
    return Sequence("comes-back-elsewhere", ListFrames(frames), np.array(boxes, dtype=np.float64))
