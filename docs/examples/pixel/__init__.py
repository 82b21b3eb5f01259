"""An adaptive tracker family built on metatrack's template: a correlation filter on grey pixels.

It is the smallest tracker with every part a family has (docs/trackers.md, "Adding an adaptive
tracker"): settings with the fields a model fixes, a head, the meta-learned first step that the
tracker's first frame and meta-training's inner loop share, a tracker, a meta-training task, and
one registration block at the end. Drop this folder under ``src/metatrack/trackers/`` and it is
found there; as a plugin, put its parent folder on ``PYTHONPATH`` and pass ``--plugin pixel``.

``metapixel`` meta-learns theta0 and alpha of the filter (``metatrack train``); ``pixel-NN``
trains the same filter from zero with NN plain gradient steps. Grey pixels are a weak feature:
this family shows the template, it is not meant to track well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from metatrack.errors import ConfigError
from metatrack.geometry import clip_box
from metatrack.image import image_size
from metatrack.meta import adapt
from metatrack.trackers import register_tracker, register_trainable
from metatrack.trackers.adaptive import (
    AdaptiveTask,
    AdaptiveTracker,
    FeatureCache,
    FirstFrame,
    TrackerConfig,
    meta_training_value,
    read_meta_model,
    register_counts,
)

MODEL = "metapixel"
Params = dict[str, torch.Tensor]


@dataclass
class PixelConfig(TrackerConfig):
    """Every setting of the family (all ours: this tracker is an example, not from a paper)."""

    MODEL_FIELDS: ClassVar[tuple[str, ...]] = ("window", "context", "filter_size")

    window: int = 33  # crop side in pixels after resizing (odd: the centre is a pixel)
    context: float = 2.0  # crop side = context * sqrt(w * h) of the target
    filter_size: int = 9  # odd
    sigma: float = 1.5  # the label's gaussian, in crop pixels
    init_steps: int = 1  # metapixel: alpha-steps on the first frame
    init_iterations: int = 20  # pixel-N: plain gradient steps from a zero filter
    init_lr: float = 0.01  # pixel-N: their rate (0.05 diverges on unit-variance pixels)

    def validate(self) -> None:
        if self.window % 2 == 0 or self.filter_size % 2 == 0:
            raise ConfigError("tracker: window and filter_size must be odd")
        if self.context <= 0 or self.sigma <= 0 or self.init_steps < 0 or self.init_iterations < 0:
            raise ConfigError("tracker: context and sigma must be positive, step counts >= 0")


class PixelHead(nn.Module):
    """theta: one filter and a bias, correlated with the crop ('same' size response)."""

    def __init__(self, size: int):
        super().__init__()
        self.filter = nn.Parameter(torch.zeros(1, 1, size, size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.filter, self.bias, padding=self.filter.shape[-1] // 2)


@dataclass
class PixelBatch:
    """A crop's features (1, 1, W, W) and the label of the target in it (1, 1, W, W)."""

    features: torch.Tensor
    label: torch.Tensor


def features(image: np.ndarray, centre: np.ndarray, side: float, out: int) -> torch.Tensor:
    """The grey square of ``side`` pixels around ``centre``, resized to ``out``, zero mean, unit variance."""
    s = side / out
    m = np.array([[s, 0.0, centre[0] - side / 2 + s / 2 - 0.5], [0.0, s, centre[1] - side / 2 + s / 2 - 0.5]])
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    crop = cv2.warpAffine(grey, m, (out, out), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    crop = (crop - crop.mean()) / (crop.std() + 1e-6)
    return torch.from_numpy(crop)[None, None]


def label(out: int, sigma: float, offset: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """A gaussian peak of 1 at the crop's centre moved by ``offset`` (x, y) crop pixels."""
    grid = np.arange(out) - (out - 1) / 2
    gx = np.exp(-((grid - offset[0]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((grid - offset[1]) ** 2) / (2 * sigma**2))
    return torch.from_numpy(np.outer(gy, gx).astype(np.float32))[None, None]


def loss(head: nn.Module, params: Params, batch: PixelBatch) -> torch.Tensor:
    return (functional_call(head, dict(params), (batch.features,), strict=False) - batch.label).square().mean()


def first_frame_update(head: nn.Module, theta0: Params, alpha: Params, batch: PixelBatch, steps: int,
                       config: PixelConfig, *, create_graph: bool, first_order: bool = False) -> Params:
    """The meta-learned first step: the tracker's first frame and meta-training's inner loop call it."""
    return adapt(theta0, alpha, lambda p: loss(head, p, batch), steps, create_graph=create_graph,
                 first_order=first_order)


class PixelTracker(AdaptiveTracker):
    """What metapixel and pixel-N share: crops, labels, locating the peak."""

    config_class = PixelConfig
    measure = "loss"

    def __init__(self, config: PixelConfig, device: str | torch.device = "cpu"):
        super().__init__(config, device)
        self.head = PixelHead(config.filter_size)

    def _side(self) -> float:
        return self.config.context * float(np.sqrt(self.size[0] * self.size[1]))

    def _fit(self, image: np.ndarray, box: np.ndarray) -> FirstFrame:
        cfg = self.config
        self.centre, self.size = box[:2] + box[2:] / 2, box[2:].copy()
        batch = PixelBatch(features(image, self.centre, self._side(), cfg.window), label(cfg.window, cfg.sigma))
        before = {k: v.detach().clone() for k, v in self._start().items()}
        start = time.perf_counter()
        after = self._train(before, batch)
        return FirstFrame(before, after, batch, time.perf_counter() - start)

    def _start_tracking(self, image: np.ndarray, box: np.ndarray, first: FirstFrame) -> None:
        self.head.load_state_dict(first.after)

    def _track(self, image: np.ndarray) -> np.ndarray:
        cfg, side = self.config, self._side()
        with torch.no_grad():
            response = self.head(features(image, self.centre, side, cfg.window))[0, 0].numpy()
        y, x = np.unravel_index(int(response.argmax()), response.shape)
        self.centre = self.centre + (np.array([x, y]) - (cfg.window - 1) / 2) * side / cfg.window
        self.confidence = float(response.max())
        return clip_box(np.r_[self.centre - self.size / 2, self.size], image_size(image))

    def first_frame_score(self, params: Params, samples: PixelBatch) -> float:
        with torch.no_grad():
            return float(loss(self.head, params, samples))

    def frame_samples(self, image: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> PixelBatch:
        centre = box[:2] + box[2:] / 2
        return PixelBatch(features(image, centre, self._side(), self.config.window),
                          label(self.config.window, self.config.sigma))

    def _start(self) -> Params:
        raise NotImplementedError

    def _train(self, theta: Params, batch: PixelBatch) -> Params:
        raise NotImplementedError


class MetaPixel(PixelTracker):
    """metapixel: theta0 and alpha from a model file, ``init_steps`` alpha-steps on the first frame."""

    def __init__(self, model: str | None = None, device: str | torch.device = "cpu",
                 config: PixelConfig | dict | None = None, **overrides: Any):
        found = read_meta_model(MODEL, model, PixelConfig, PixelConfig.build(config), overrides,
                                lambda cfg: None, lambda cfg: PixelHead(cfg.filter_size).state_dict())
        super().__init__(found.config, device)
        self.theta0, self.alpha, self.model_path = found.theta0, found.alpha, found.path

    def _start(self) -> Params:
        return self.theta0

    def _train(self, theta: Params, batch: PixelBatch) -> Params:
        return first_frame_update(self.head, theta, self.alpha, batch, self.config.init_steps, self.config,
                                  create_graph=False)


class PixelN(PixelTracker):
    """pixel-N: the filter trained from zero by N plain gradient steps."""

    def __init__(self, device: str | torch.device = "cpu", config: PixelConfig | dict | None = None,
                 **overrides: Any):
        super().__init__(PixelConfig.build(config, overrides), device)

    def _start(self) -> Params:
        return {k: torch.zeros_like(v) for k, v in self.head.state_dict().items()}

    def _train(self, theta: Params, batch: PixelBatch) -> Params:
        rate = {k: torch.tensor(self.config.init_lr) for k in theta}
        return adapt(theta, rate, lambda p: loss(self.head, p, batch), self.config.init_iterations,
                     create_graph=False)


class PixelTask(AdaptiveTask):
    """Meta-training: frame j centred on its target; frame j + delta seen through frame j's window."""

    model_name = MODEL
    first_step = staticmethod(first_frame_update)

    def __init__(self, config: PixelConfig, alpha_init: float, device: str | torch.device = "cpu"):
        super().__init__(config, PixelHead(config.filter_size), alpha_init, device)
        self.cache = FeatureCache(max_items=10_000)

    def episode_batches(self, episode: Any, rng: np.random.Generator) -> tuple[PixelBatch, PixelBatch]:
        cfg, seq = self.config, episode.sequence
        bj, bf = (np.asarray(seq.boxes[i], dtype=np.float64) for i in (episode.j, episode.future))
        cj, cf = bj[:2] + bj[2:] / 2, bf[:2] + bf[2:] / 2
        side = cfg.context * float(np.sqrt(bj[2] * bj[3]))

        def crop(index: int, centre: np.ndarray) -> torch.Tensor:
            key = (seq.name, index, *np.round(centre, 3), round(side, 3))
            return self.cache.get(key, lambda: features(np.asarray(seq.frame(index)), centre, side, cfg.window))

        offset = tuple((cf - cj) * cfg.window / side)
        return (PixelBatch(crop(episode.j, cj), label(cfg.window, cfg.sigma)),
                PixelBatch(crop(episode.future, cj), label(cfg.window, cfg.sigma, offset)))

    def loss(self, params: Params, batch: PixelBatch) -> torch.Tensor:
        return loss(self.learner.head, params, batch)

    def metrics(self, params: Params, batch: PixelBatch) -> dict[str, float]:
        return {}


def build_task(tracker_config: dict | None, meta_training: Any = None, sequences: Any = None,
               device: str = "cpu") -> PixelTask:
    alpha_init = float(meta_training_value(meta_training, "alpha_init", 0.01))
    return PixelTask(PixelConfig.from_dict(tracker_config), alpha_init, device)


# ---------------------------------------------------------------------- the family's registration
register_tracker("metapixel", partial(MetaPixel, init_steps=1))
register_counts("pixel", PixelN, "init_iterations", (1, 20))
register_trainable(MODEL, build_task)
