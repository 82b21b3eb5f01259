"""A one-dimensional correlation filter over scales: the target's size, estimated apart from its position.

Why: a tracker that reads the size from its own response at a few zoomed copies of the search window
(CREST's three scales) follows position well and size badly: the response's peak height hardly depends
on a 5 % zoom, so a shrinking car or a target that grows keeps its first size until the box covers
mostly background (the validation sequences where MetaCREST loses to CSRT; docs/results.md).

How (the discriminative scale space tracker, DSST: Danelljan, Haeger, Khan and Felsberg, BMVC 2014, the
scale estimator inside OpenCV's CSRT and dlib's correlation tracker): at the found position, ``S``
patches of the target's size times ``step ** k`` (k = -(S-1)/2 ... (S-1)/2) are resized to one small
model size; each gives a vector of gradient-orientation histograms per 4-pixel cell and the cells'
mean intensity; a filter along the scale axis, learned in closed form in the Fourier domain and
updated as a running average, answers with the scale whose sample looks most like the target's
appearance so far. Written here from the paper's equations; settings in :class:`ScaleFilterSettings`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ...backbones import ImageNetNormalize
from ...errors import ConfigError
from .features import CROP_FILL, crop_rect


@dataclass
class ScaleFilterSettings:
    """The scale filter's settings, inherited by :class:`CRESTConfig` (off unless ``scale_filter``)."""

    # ours: estimate the size with the scale filter instead of the family's own scale search
    scale_filter: bool = False
    scale_filter_scales: int = 33  # DSST: 33 scales
    scale_filter_step: float = 1.02  # DSST: scale step 1.02
    scale_filter_sigma: float = 0.25  # DSST: the label's width in scales is this x S / sqrt(33)
    scale_filter_lr: float = 0.025  # DSST: learning rate of the running average
    scale_filter_lambda: float = 0.01  # DSST: regularisation of the closed-form filter
    scale_filter_area: int = 512  # DSST: the model patch's largest area in pixels (32 x 16)
    # ours: the scale filter sizes the target only while its shorter side is at least this many pixels;
    # a smaller target's size comes from the family's own scale search (DSST's model of a 10-pixel face is
    # 2 x 2 cells of gradients, and its answer is noise). Tried on validation, not kept (docs/results.md,
    # small targets' size). 0: the scale filter at every size
    scale_filter_min_side: float = 0.0
    # what the samples are described by. "hog" (DSST): gradient histograms and intensity per 4-pixel
    # cell of the grey frame. "cnn" (ours): the backbone's first CNN_BLOCKS blocks on each sample
    # resized to CNN_SIDE pixels (mobilenet_v2 only); bench/scale_probe.py measured both on validation
    scale_filter_features: str = "hog"

    def validate_scale_filter(self) -> None:
        """Raise :class:`ConfigError` naming the first scale-filter setting out of range."""
        checks = [
            (self.scale_filter_scales >= 3, "scale_filter_scales must be >= 3"),
            (self.scale_filter_step > 1.0, "scale_filter_step must be > 1"),
            (self.scale_filter_sigma > 0, "scale_filter_sigma must be > 0"),
            (0.0 < self.scale_filter_lr <= 1.0, "scale_filter_lr must be in (0, 1]"),
            (self.scale_filter_lambda > 0, "scale_filter_lambda must be > 0"),
            (self.scale_filter_area >= 64, "scale_filter_area must be >= 64"),
            (self.scale_filter_min_side >= 0, "scale_filter_min_side must be >= 0"),
            (self.scale_filter_features in ("hog", "cnn"), "scale_filter_features must be hog or cnn"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"tracker config: {message}")


CELL = 4  # pixels per histogram cell (DSST's HOG cells)
BINS = 9  # unsigned gradient orientations


def model_size(size: tuple[float, float], area: int) -> tuple[int, int]:
    """(w, h) of the model patch: the target's shape shrunk to at most ``area`` pixels, whole cells."""
    w, h = max(float(size[0]), 1.0), max(float(size[1]), 1.0)
    f = min(1.0, np.sqrt(area / (w * h)))
    return max(2 * CELL, int(w * f) // CELL * CELL), max(2 * CELL, int(h * f) // CELL * CELL)


def cell_features(patches: np.ndarray) -> np.ndarray:
    """Per patch, every cell's normalised gradient-orientation histogram and mean intensity, flattened.

    ``patches`` is (S, H, W) float32 grey values with H, W multiples of :data:`CELL`; returns (S, D).
    """
    s, h, w = patches.shape
    p = np.pad(patches, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = p[:, 1:-1, 2:] - p[:, 1:-1, :-2]
    gy = p[:, 2:, 1:-1] - p[:, :-2, 1:-1]
    mag = np.sqrt(gx * gx + gy * gy)
    bins = (np.mod(np.arctan2(gy, gx), np.pi) * (BINS / np.pi)).astype(np.int64) % BINS
    ch, cw = h // CELL, w // CELL
    votes = (bins[..., None] == np.arange(BINS)) * mag[..., None]  # (S, H, W, BINS)
    hist = votes.reshape(s, ch, CELL, cw, CELL, BINS).sum(axis=(2, 4), dtype=np.float32)
    hist /= np.sqrt((hist * hist).sum(-1, keepdims=True)) + 1e-3
    mean = patches.reshape(s, ch, CELL, cw, CELL).mean(axis=(2, 4))[..., None] / 255.0 - 0.5
    return np.concatenate([np.minimum(hist, 0.2), mean], axis=-1).reshape(s, -1)


#: ``(image, centre, size, factors) -> (S, D)`` features of the S samples of ``size`` x each factor
Sampler = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]

# scale_filter_features "cnn": MobileNetV2's first 4 blocks (stride 4) on 32-pixel samples, the
# cheapest of the prefixes and sizes bench/scale_probe.py tried that read the size change as well as
# the deeper ones (docs/results.md, what a size can be read from)
CNN_BLOCKS = 4
CNN_SIDE = 32


class CnnSamples:
    """A CNN prefix's features of each scale sample resized to ``side`` pixels, each row L2-normalised:
    a :data:`Sampler` of the RGB frame (uint8-range values, as the trackers receive frames)."""

    def __init__(self, net: Callable, normalize: ImageNetNormalize, side: int = CNN_SIDE):
        self.net, self.normalize, self.side = net, normalize, int(side)

    def __call__(self, image: np.ndarray, center: np.ndarray, size: np.ndarray, factors: np.ndarray) -> np.ndarray:
        crops = np.stack([crop_rect(image, (float(center[0]), float(center[1])), (size[0] * f, size[1] * f),
                                    (self.side, self.side)) for f in factors])
        x = torch.from_numpy(crops).to(self.normalize.mean.device).permute(0, 3, 1, 2).float()
        with torch.no_grad():
            x = self.net(self.normalize(x))
        x = x.reshape(len(factors), -1).float().cpu().numpy()
        return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-6)


class ScaleFilter:
    """DSST's scale filter for one target: :meth:`estimate` the size change, :meth:`update` the model.

    ``sampler`` replaces DSST's features of the grey frame (:meth:`samples`) with others (the
    features a size can be read from are measured by bench/scale_probe.py); ``gray`` is then the frame
    the sampler reads (RGB for :class:`CnnSamples`).
    """

    def __init__(self, settings: ScaleFilterSettings, gray: np.ndarray, center: np.ndarray, size: np.ndarray,
                 sampler: Sampler | None = None):
        n = int(settings.scale_filter_scales)
        self.settings = settings
        self.sampler = sampler
        k = np.arange(n) - (n - 1) / 2
        self.factors = settings.scale_filter_step ** k
        sigma = settings.scale_filter_sigma * n / np.sqrt(33.0)  # DSST: sqrt(33) / 4 scales for 33
        self.label_f = np.fft.fft(np.exp(-0.5 * k ** 2 / sigma ** 2))
        self.window = np.hanning(n + 2)[1:-1].astype(np.float32)[:, None]  # nonzero at both ends
        self.model = model_size((size[0], size[1]), settings.scale_filter_area)
        self.num: np.ndarray | None = None
        self.den: np.ndarray | None = None
        # the last estimate's samples: update() at the same frame, centre and size (a factor of 1, the
        # common case) learns from them instead of cutting them again
        self._last: tuple[np.ndarray, tuple[float, ...], np.ndarray] | None = None
        self.update(gray, center, size)

    def samples(self, gray: np.ndarray, center: np.ndarray, size: np.ndarray) -> np.ndarray:
        """The features of the samples at ``size`` x each factor about ``center``, one row per scale."""
        if self.sampler is not None:
            return self.sampler(gray, np.asarray(center, float), np.asarray(size, float), self.factors)
        roi, (cx, cy), k = self._region(gray, center, size)
        patches = np.stack([
            crop_rect(roi, (cx, cy), (max(size[0] * f / k, 1e-3), max(size[1] * f / k, 1e-3)), self.model)
            for f in self.factors
        ]).astype(np.float32)
        return cell_features(patches)

    def _samples_f(self, gray: np.ndarray, center: np.ndarray, size: np.ndarray) -> np.ndarray:
        """The Fourier transform along scales of the windowed samples at ``size`` x each factor (S, D)."""
        return np.fft.fft(self.samples(gray, center, size) * self.window, axis=0)

    def _region(self, gray: np.ndarray, center: np.ndarray,
                size: np.ndarray) -> tuple[np.ndarray, tuple[float, float], float]:
        """The part of the frame the largest sample covers (padded with the crops' fill outside the
        frame), shrunk once by the whole factor ``k`` that the smallest sample would shrink by; the
        centre in its pixels. Cutting 33 samples from it costs a fraction of cutting them from the frame."""
        half = np.asarray(size, dtype=np.float64) * self.factors[-1] / 2 + 2.0
        x0, y0 = (np.floor(np.asarray(center) - half)).astype(int)
        x1, y1 = (np.ceil(np.asarray(center) + half)).astype(int)
        h, w = gray.shape[:2]
        part = gray[max(y0, 0):max(min(y1, h), 0), max(x0, 0):max(min(x1, w), 0)]
        pads = (max(-y0, 0), max(y1 - h, 0), max(-x0, 0), max(x1 - w, 0))  # top, bottom, left, right
        if part.size == 0:
            part = np.full((max(y1 - y0, 1), max(x1 - x0, 1)), CROP_FILL[0], gray.dtype)
        elif any(pads):
            part = cv2.copyMakeBorder(part, *pads, cv2.BORDER_CONSTANT, value=CROP_FILL[0])
        cx, cy = float(center[0]) - x0, float(center[1]) - y0
        k = max(1, int(size[0] * self.factors[0] / self.model[0]))
        if k >= 2:
            small = cv2.resize(part, (max(1, round(part.shape[1] / k)), max(1, round(part.shape[0] / k))),
                               interpolation=cv2.INTER_AREA)
            fx = small.shape[1] / part.shape[1]
            return small, (cx * fx, cy * small.shape[0] / part.shape[0]), 1.0 / fx
        return part, (cx, cy), 1.0

    def estimate(self, gray: np.ndarray, center: np.ndarray, size: np.ndarray) -> float:
        """The factor by which the target's size at ``center`` changed since the model last saw it."""
        x = self._samples_f(gray, center, size)
        self._last = (gray, (*map(float, center), *map(float, size)), x)
        response = np.real(np.fft.ifft((self.num * x).sum(1) / (self.den + self.settings.scale_filter_lambda)))
        return float(self.factors[int(np.argmax(response))])

    def update(self, gray: np.ndarray, center: np.ndarray, size: np.ndarray) -> None:
        """Learn the target's appearance at ``size`` into the running model (all of it on the first call)."""
        key = (*map(float, center), *map(float, size))
        last, self._last = self._last, None
        x = last[2] if last is not None and last[0] is gray and last[1] == key else self._samples_f(gray, center, size)
        num = self.label_f[:, None] * np.conj(x)
        den = np.real((x * np.conj(x)).sum(1))
        if self.num is None:
            self.num, self.den = num, den
        else:
            lr = self.settings.scale_filter_lr
            self.num = (1 - lr) * self.num + lr * num
            self.den = (1 - lr) * self.den + lr * den


def grey(image: np.ndarray) -> np.ndarray:
    """The frame's grey values (RGB uint8 in, as the trackers receive frames)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
