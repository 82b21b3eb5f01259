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


def leaves_and_returns(seed: int = 0, size: tuple[int, int] = (320, 240), side: int = 32, before: int = 36,
                       gone: int = 8, after: int = 25, speed: int = 2, contrast: float = 0.1,
                       lookalike: bool = False) -> Sequence:
    """The target walks out of the view over the left edge (``speed`` px a frame, partly out for its
    last frames; ground truth clipped to the view, NaN once it is gone), stays out for ``gone`` frames,
    then comes back in over the right edge, far from where it left: a departure, which a search around
    the last box never sees again.

    With ``lookalike``, a look-alike (the target's texture, slightly brighter) stands still in the
    frame's lower middle, more than two of its sizes from every edge, for the whole sequence: while the
    target is away a search over the frame finds it, and it cannot be a target coming back through an
    edge. ``meta["lookalike"]``: its box."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = (texture(rng, h, w, 5) * contrast + 70).astype(np.uint8)
    target = texture(rng, side, side, 8)
    lx, ly = (w - side) // 2, h - side - 70
    if lookalike:
        background[ly:ly + side, lx:lx + side] = np.clip(target.astype(np.int16) + 12, 0, 255).astype(np.uint8)
    frames, boxes = [], []
    for i in range(before + gone + after):
        frame = background.copy()
        if i < before:
            x, y = side + 8 - speed * i, 100 + (i % 3)  # at the edge from frame 20, out from frame 36
        elif i < before + gone:
            x, y = None, 0
        else:
            k = i - before - gone
            x, y = w - side // 2 - speed * k, 40 + (k % 3)  # half in at its first frame, then all in
        if x is None or x <= -side or x >= w:
            frames.append(frame)
            boxes.append([np.nan] * 4)
            continue
        x0, x1 = max(x, 0), min(x + side, w)
        frame[y:y + side, x0:x1] = target[:, x0 - x:x1 - x]
        frames.append(frame)
        boxes.append([x0, y, x1 - x0, side])
    seq = Sequence("leaves-and-returns", ListFrames(frames), np.array(boxes, dtype=np.float64))
    if lookalike:
        seq.meta["lookalike"] = [lx, ly, side, side]
    return seq


def hidden_beside_a_lookalike(seed: int = 0, size: tuple[int, int] = (320, 240), side: int = 32, before: int = 20,
                              hidden: int = 16, after: int = 20, contrast: float = 0.1) -> Sequence:
    """The target sits in the frame's interior (a small jitter) and a look-alike (the same texture,
    slightly brighter) sits still far to its right, out of any window around the target; an occluder
    (a plain grey sign, larger than the target) covers the target for ``hidden`` frames (ground truth
    NaN), then the target is there again. A tracker that searches the whole frame while the target is
    hidden takes the look-alike and stays on it. ``meta["lookalike"]``: the look-alike's box."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = (texture(rng, h, w, 5) * contrast + 70).astype(np.uint8)
    target = texture(rng, side, side, 8)
    occluder = (texture(rng, side * 2, side * 2, 12) * 0.05 + 110).astype(np.uint8)  # a plain sign
    lookalike = np.clip(target.astype(np.int16) + 12, 0, 255).astype(np.uint8)
    lx, ly = w - side - 20, 60
    frames, boxes = [], []
    for i in range(before + hidden + after):
        frame = background.copy()
        frame[ly:ly + side, lx:lx + side] = lookalike
        x, y = 60 + (i % 3), 110 + (i % 2)
        frame[y:y + side, x:x + side] = target
        if before <= i < before + hidden:
            frame[y - side // 2:y + side + side // 2, x - side // 2:x + side + side // 2] = occluder
            boxes.append([np.nan] * 4)
        else:
            boxes.append([x, y, side, side])
        frames.append(frame)
    seq = Sequence("hidden-beside-a-lookalike", ListFrames(frames), np.array(boxes, dtype=np.float64))
    seq.meta["lookalike"] = [lx, ly, side, side]
    return seq


def walks_behind_a_pole(seed: int = 0, size: tuple[int, int] = (320, 240), side: int = 24, speed: int = 3,
                        pole: int = 56, before: int = 30, after: int = 25, contrast: float = 0.1) -> Sequence:
    """The target walks right at ``speed`` px a frame and passes wholly behind a plain grey pole ``pole``
    px wide (hidden for about ``(pole - side) / speed`` frames, ground truth NaN while wholly hidden, the
    visible part's box while partly), coming out on the pole's far side: a tracker that waits where it
    lost the target sees it no more. ``meta["pole"]``: the pole's box."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = (texture(rng, h, w, 5) * contrast + 70).astype(np.uint8)
    target = texture(rng, side, side, 8)
    x_pole = 40 + speed * before
    frames, boxes = [], []
    y = 100
    n = before + (pole + side) // speed + after
    for i in range(n):
        frame = background.copy()
        x = 40 + speed * i
        frame[y:y + side, x:x + side] = target
        frame[:, x_pole:x_pole + pole] = 128
        left, right = x, x + side  # the visible part: outside the pole's columns
        if right <= x_pole or left >= x_pole + pole:
            boxes.append([x, y, side, side])
        elif left < x_pole:
            boxes.append([x, y, x_pole - x, side])
        elif right > x_pole + pole:
            boxes.append([x_pole + pole, y, right - x_pole - pole, side])
        else:
            boxes.append([np.nan] * 4)
        frames.append(frame)
    return Sequence("walks-behind-a-pole", ListFrames(frames), np.array(boxes, dtype=np.float64),
                    meta={"pole": [x_pole, 0, pole, h]})
