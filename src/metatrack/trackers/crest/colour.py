"""A colour model of the target against its surroundings, merged into the correlation filter's response.

The filter reads shape and texture; two people in one crowd, or a copy of an object under other
light, can look alike to it while their colours differ. Staple (Bertinetto et al., CVPR 2016) adds a
second score that reads colour alone: RGB histograms of the target's box and of the ring around it
give each pixel's likelihood of being target (foreground density over the sum of both), the mean
likelihood over a box of the target's size gives each position's score, and the tracker moves to the
peak of ``(1 - merge) x filter + merge x colour``. Where the target's colours are the background's (a
grey face on gravel), every pixel's likelihood is near a half and the colour score is flat, so the
filter decides alone. Ours, after Staple's published form (its bins, rate and regions); not in CREST
or the paper.
"""

from __future__ import annotations

import cv2
import numpy as np

from .features import crop_rect

#: the longest side, in pixels, of the region the histograms are counted in (cost, not accuracy)
REGION_PIXELS = 128


def bin_indices(image: np.ndarray, bins: int) -> np.ndarray:
    """Each pixel's joint RGB bin (grey images: one channel repeated)."""
    img = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    q = (img[..., :3].astype(np.int32) * bins) // 256
    return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]


class ColourModel:
    """Foreground and background colour densities of one target, learned at ``rate`` a found frame.

    Regions as Staple's: the foreground is the box shrunk by ``inner`` x the mean of its sides, the
    background the box grown by ``outer`` x that mean, less the box itself.
    """

    def __init__(self, bins: int, rate: float, inner: float = 0.2, outer: float = 1.0):
        self.bins, self.rate, self.inner, self.outer = bins, rate, inner, outer
        self.fg: np.ndarray | None = None
        self.bg: np.ndarray | None = None

    def densities(self, image: np.ndarray, center: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This frame's (foreground, background) densities around the box of ``size`` (w, h) at ``center``."""
        w, h = (float(v) for v in size)
        grow = self.outer * (w + h) / 2
        sides = (w + grow, h + grow)
        scale = min(1.0, REGION_PIXELS / max(sides))
        out = (max(4, round(sides[0] * scale)), max(4, round(sides[1] * scale)))
        region = crop_rect(image, center, sides, out)
        idx = bin_indices(region, self.bins)
        rows, cols = np.indices(idx.shape)
        cx, cy = (out[0] - 1) / 2, (out[1] - 1) / 2
        sx, sy = out[0] / sides[0], out[1] / sides[1]
        shrink = self.inner * (w + h) / 2
        inside_box = (np.abs(cols - cx) <= w * sx / 2) & (np.abs(rows - cy) <= h * sy / 2)
        fg_mask = ((np.abs(cols - cx) <= max(w - shrink, 1.0) * sx / 2)
                   & (np.abs(rows - cy) <= max(h - shrink, 1.0) * sy / 2))
        n = self.bins ** 3
        fg = np.bincount(idx[fg_mask], minlength=n).astype(np.float64)
        bg = np.bincount(idx[~inside_box], minlength=n).astype(np.float64)
        return fg / max(fg.sum(), 1.0), bg / max(bg.sum(), 1.0)

    def learn(self, image: np.ndarray, center: np.ndarray, size: np.ndarray) -> None:
        """The first frame sets the densities; each later one moves them by ``rate``."""
        fg, bg = self.densities(image, center, size)
        if self.fg is None or self.bg is None:
            self.fg, self.bg = fg, bg
        else:
            self.fg = (1 - self.rate) * self.fg + self.rate * fg
            self.bg = (1 - self.rate) * self.bg + self.rate * bg

    def likelihood(self, image: np.ndarray) -> np.ndarray:
        """Each pixel's likelihood of being target: fg / (fg + bg) of its bin (0 where neither has it)."""
        assert self.fg is not None and self.bg is not None, "learn() the first frame first"
        total = self.fg + self.bg
        table = np.divide(self.fg, total, out=np.zeros_like(total), where=total > 0)
        return table[bin_indices(image, self.bins)].astype(np.float32)

    def score_map(self, image: np.ndarray, center: np.ndarray, side: float, map_size: int,
                  size: np.ndarray, cell_pixels: int = 4) -> np.ndarray:
        """The colour score of every cell of a ``map_size`` x ``map_size`` response read in the square
        window of ``side`` pixels at ``center``: the mean likelihood over a box of the target's ``size``
        (w, h) centred on the cell, in [0, 1]."""
        out = map_size * cell_pixels
        crop = crop_rect(image, center, (side, side), (out, out))
        like = self.likelihood(crop)
        k = out / side
        kw, kh = max(1, round(float(size[0]) * k)), max(1, round(float(size[1]) * k))
        mean = cv2.boxFilter(like, -1, (kw, kh), normalize=True, borderType=cv2.BORDER_CONSTANT)
        return cv2.resize(mean, (map_size, map_size), interpolation=cv2.INTER_AREA)
