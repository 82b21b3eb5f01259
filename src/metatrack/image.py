"""Frames as every tracker sees them: one conversion rule for the whole project.

Trackers take HxWx3 uint8 RGB. What users and readers hand over varies: grey frames (HxW or
HxWx1), RGBA (a PNG with alpha), float arrays. :func:`as_rgb` turns each of these into the one
form and refuses anything else with a message naming the shape; :func:`to_bgr` is the same frame
in OpenCV's channel order.
"""

from __future__ import annotations

import numpy as np


def as_rgb(image: np.ndarray) -> np.ndarray:
    """``image`` as contiguous HxWx3 uint8 RGB.

    Grey (HxW, HxWx1) is repeated into three channels, RGBA loses its alpha, non-uint8 values are
    clipped to [0, 255] (NaN as 0). Any other channel count is a ValueError, never a silent guess.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(np.nan_to_num(img.astype(np.float64)), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[0] < 1 or img.shape[1] < 1 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"an image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {img.shape}")
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def to_bgr(image: np.ndarray) -> np.ndarray:
    """``image`` (any form :func:`as_rgb` takes) as the contiguous uint8 BGR that OpenCV wants."""
    return np.ascontiguousarray(as_rgb(image)[:, :, ::-1])


def image_size(image: np.ndarray) -> tuple[int, int]:
    """(width, height) of an HxW[xC] array."""
    return int(image.shape[1]), int(image.shape[0])
