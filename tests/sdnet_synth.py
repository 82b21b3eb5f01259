"""Synthetic sequences for the MetaSDNet tests: a textured square moving over a textured background."""

from __future__ import annotations

import cv2
import numpy as np

from metatrack.data.sequence import FrameSource, Sequence


def texture(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Random colour blocks of ``cell`` pixels, HxWx3 uint8."""
    base = rng.integers(0, 256, (h // cell + 1, w // cell + 1, 3)).astype(np.uint8)
    return cv2.resize(base, (w, h), interpolation=cv2.INTER_NEAREST)


def moving_square(n: int = 20, size: tuple[int, int] = (160, 120), side: int = 24, seed: int = 0,
                  step: tuple[float, float] = (3.0, 2.0)) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames and 0-based boxes of a square bouncing inside the frame."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = (texture(rng, h, w, 6) * 0.5 + 60).astype(np.uint8)
    target = texture(rng, side, side, 4)
    frames, boxes = [], []
    x, y = w / 6, h / 6
    vx, vy = step
    for _ in range(n):
        frame = background.copy()
        xi, yi = int(round(x)), int(round(y))
        frame[yi:yi + side, xi:xi + side] = target
        frames.append(frame)
        boxes.append([xi, yi, side, side])
        x, y = x + vx, y + vy
        if x < 0 or x + side > w:
            vx = -vx
            x += 2 * vx
        if y < 0 or y + side > h:
            vy = -vy
            y += 2 * vy
    return frames, np.array(boxes, dtype=np.float64)


class ListFrames(FrameSource):
    def __init__(self, frames: list[np.ndarray]):
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def read(self, index: int) -> np.ndarray:
        return self.frames[index]


def square_sequence(name: str = "square", **kwargs) -> Sequence:
    frames, boxes = moving_square(**kwargs)
    return Sequence(name, ListFrames(frames), boxes)
