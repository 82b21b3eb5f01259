"""MetaCREST and the CREST-N baselines: a correlation filter tracker with online updates.

Per frame: a square window around the last position (5 times the target's longer side, scaled with
the target) is cropped, resized and turned into backbone features once; the scaled windows of the
scale search (x0.95, x1.05) are resampled from that feature map instead of cropped and passed
through the backbone again (one backbone pass per frame, so that the tracker runs in real time on
a CPU). The response of the unscaled window times a gaussian motion prior gives the position; the
best peak over the scales gives the new size, smoothed. Frames whose peak passes a threshold are
kept (features and a label centred on the estimate) in a small buffer, and every few frames the
filter takes a few Adam steps on random batches of it (official meta_crest tracking code).

The trackers differ on the first frame only:

- MetaCREST: the meta-learned 1x1 reduction and canonical filter ``theta0``, warped to the target,
  take ``init_steps`` steps with the learned ``alpha`` by :func:`.first_frame.first_frame_update`
  (:func:`metatrack.meta.adapt`, the step's length fitted when ``init_step_length`` is ``fit``; the
  same function meta-training's inner loop uses).
- CREST-N: PCA of the first frame's features to 64 channels and a filter trained from a small
  random start for N Adam iterations, or until the loss reaches 0.02 (CREST's rule, "CREST-65").
"""

from __future__ import annotations

import time
from collections import deque
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import CheckpointError, ConfigError
from ...geometry import clip_box
from ...image import image_size
from ...meta import MetaSGD
from ...param_groups import scaled_rates
from ...weights import MOBILENET_V2, sha256_file
from ..adaptive import AdaptiveTracker, CropRequest, CropSquare, FirstFrame, SharedCrop, read_meta_model
from .colour import ColourModel
from .config import CRESTConfig
from .crossing import CrossingGuard, local_maxima, sizes_away
from .features import FeatureExtractor, crop_rect, crop_square, hann_window
from .first_frame import FILTER_PARAMS, first_frame_update, solved_filter
from .head import CorrelationHead, ResponseBatch, correlate, filter_size, reduce_features, response_map, warp_filter
from .loss import crest_loss, gaussian_label
from .online import online_update
from .pca import fit_pca_reduction
from .scale_filter import CNN_BLOCKS, CnnSamples, ScaleFilter, grey
from .window import cell_to_offset, offset_to_cell, subpixel_peak, target_cells, window_side

MODEL_NAME = "metacrest"

Params = dict[str, torch.Tensor]


@lru_cache(maxsize=4)
def _extractor(backbone: str, weights: str | None, upsample: int, device: str, hog_weight: float) -> FeatureExtractor:
    return FeatureExtractor(backbone, weights, upsample, hog_weight=hog_weight).to(device)


def shared_extractor(config: CRESTConfig, device: str | torch.device) -> FeatureExtractor:
    """The frozen feature extractor of ``config``'s features on ``device``: one per (backbone, weights,
    upsampling, HOG, device), shared by trackers and meta-training."""
    return _extractor(config.backbone, config.backbone_weights, config.feature_upsample, str(torch.device(device)),
                      config.hog_weight)


def backbone_sha256(config: CRESTConfig) -> str:
    """Checksum of the backbone weights a model is tied to."""
    if config.backbone == "vgg16":
        if not config.backbone_weights:
            raise ConfigError("backbone 'vgg16' needs backbone_weights (torchvision's vgg16-397923af.pth)")
        return sha256_file(config.backbone_weights)
    return MOBILENET_V2.sha256


def zoom_features(features: torch.Tensor, scales: tuple[float, ...]) -> torch.Tensor:
    """Feature maps of the windows ``s`` times as large, resampled around the centre: (S, C, M, M)."""
    n = len(scales)
    theta = torch.zeros(n, 2, 3, device=features.device)
    theta[:, 0, 0] = torch.tensor(scales)
    theta[:, 1, 1] = torch.tensor(scales)
    x = features.expand(n, -1, -1, -1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    for i, s in enumerate(scales):
        if s == 1.0:
            out[i] = features[0]
    return out


class _CropFeatures(torch.nn.Module):
    """The feature extractor on a float crop tensor (1, 3, S, S), RGB 0-255: normalise, trunk, tail, RMS."""

    def __init__(self, features: FeatureExtractor):
        super().__init__()
        self.features = features

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        return self.features.finish(self.features.trunk_map(crop))


class CRESTTracker(AdaptiveTracker):
    """The tracking loop shared by MetaCREST and CREST-N; subclasses fit the first frame."""

    config_class = CRESTConfig
    measure = "loss"
    # ours: MetaCREST's target AUC with its crop shared was a tie or better on embedded:eval and
    # real:validation (4 seeds), and three nearby targets ran 1.31x faster (bench/results/multi_target*.json)
    shared_crop_on_cpu = True

    def __init__(self, config: CRESTConfig, device: str | torch.device = "cpu"):
        super().__init__(config, device)
        self.features = shared_extractor(config, self.device)
        self.map_size = self.features.map_size(config.crop_size)
        self.params: Params = {}
        #: learned step sizes of the later update (online_update: meta; MetaCREST's model file)
        self.online: Params = {}

    # ------------------------------------------------------------------ first frame
    def _fit_first_frame(self, batch: ResponseBatch) -> tuple[Params, Params, dict[str, float]]:
        """Return (tracking params, params before training, info); implemented by subclasses."""
        raise NotImplementedError

    def _trainable(self) -> list[str]:
        names = ["filter", "filter_bias"]
        return (["reduce.weight", "reduce.bias"] + names) if self.config.update_reduction else names

    def _features(self, image: np.ndarray, center: np.ndarray, side: float) -> torch.Tensor:
        return self.crop_features([crop_square(image, (center[0], center[1]), side, self.config.crop_size)])

    def _backbone(self, crops: list[np.ndarray]) -> torch.Tensor:
        return self.features(crops)

    def feature_config(self) -> dict[str, Any]:
        cfg = self.config
        return {"family": "crest", "backbone": cfg.backbone, "feature_upsample": cfg.feature_upsample,
                "crop_size": cfg.crop_size, "hog_weight": cfg.hog_weight}

    def backbone_sha256(self) -> str | None:
        return backbone_sha256(self.config)

    def _fit(self, image: np.ndarray, box: np.ndarray) -> FirstFrame:
        cfg, m = self.config, self.map_size
        # a tracker that declares itself deterministic (MetaCREST: one run per sequence in every
        # benchmark) draws its one random thing, the order of the buffer's batches in an Adam update,
        # the same way for every seed (seed 0's): before, MetaCREST's boxes changed with the seed
        self.rng = np.random.default_rng(self._seed if self.stochastic else 0)
        self.center = np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])
        self.base_size = np.array([box[2], box[3]], dtype=np.float64)
        self.scale = 1.0
        self.base_side = window_side(self.base_size, cfg.window_factor, cfg.window_basis)
        self.cells = target_cells(self.base_size, self.base_side, m)
        fh, fw = filter_size(self.cells)
        limit = m if m % 2 else m - 1
        self.filter_size = (min(fh, limit), min(fw, limit))
        mid = ((m - 1) / 2, (m - 1) / 2)
        self.motion = gaussian_label((m, m), mid, self.cells, cfg.motion_sigma_factor, cfg.label_alpha)
        self.label0 = torch.from_numpy(
            gaussian_label((m, m), mid, self.cells, cfg.label_sigma_factor, cfg.label_alpha)
        )[None, None].to(self.device)
        batch = ResponseBatch(self._features(image, self.center, self.base_side), self.label0, self.filter_size,
                              self.cells)
        start = time.perf_counter()
        params, before, info = self._fit_first_frame(batch)
        seconds = time.perf_counter() - start
        return FirstFrame(before, {k: v.detach() for k, v in params.items()}, batch, seconds, info)

    def _start_tracking(self, image: np.ndarray, box: np.ndarray, first: FirstFrame) -> None:
        cfg = self.config
        self.params = {k: v.detach().clone().requires_grad_(k in self._trainable()) for k, v in first.after.items()}
        self.optimizer = torch.optim.Adam([self.params[k] for k in self._trainable()], lr=cfg.update_lr)
        self.buffer: deque[tuple[torch.Tensor, torch.Tensor]] = deque(maxlen=cfg.buffer_size)
        self.first_sample: tuple[torch.Tensor, torch.Tensor] | None = None
        if cfg.update_keep_first:  # in the buffer's form: reduced features at scale 1 unless they are updated
            with torch.no_grad():
                kept = (first.samples.features[0] if cfg.update_reduction
                        else self._reduced(first.samples.features, self.params)[cfg.scales.index(1.0)])
            self.first_sample = (kept.half(), first.samples.label[0])
        self.frame = 0
        self.reference: float | None = None
        self.crossing = (CrossingGuard(cfg.crossing_ratio, cfg.crossing_distance, cfg.crossing_frames,
                                       cfg.crossing_merge, cfg.crossing_hold, cfg.crossing_motion,
                                       cfg.crossing_approach, cfg.crossing_step)
                         if cfg.crossing_ratio else None)
        self.box = clip_box(box, image_size(image))
        self.colour = ColourModel(cfg.colour_bins, cfg.colour_rate) if cfg.colour_merge else None
        if self.colour is not None:
            self.colour.learn(image, self.center, self.base_size * self.scale)
        self.scale_filter = (ScaleFilter(cfg, self._scale_image(image), self.center, self.base_size * self.scale,
                                         self._scale_sampler()) if cfg.scale_filter else None)

    # ------------------------------------------------------------------ tracking
    def _reduced(self, feat: torch.Tensor, params: Params) -> torch.Tensor:
        """Reduced, windowed maps of the scaled windows (S, k, M, M).

        The 1x1 reduction is applied before the resampling (bias after it): both are linear, so
        this equals resampling the backbone features first, on a third of the channels.
        """
        x = F.conv2d(feat, params["reduce.weight"])
        x = zoom_features(x, self.config.scales) + params["reduce.bias"].view(1, -1, 1, 1)
        return x * hann_window(x.shape[-2], x.shape[-1]).to(x.device)

    def _crop_request(self, image: np.ndarray) -> CropRequest:
        side = self.base_side * self.scale
        return CropRequest(crop_square(image, (self.center[0], self.center[1]), side, self.config.crop_size), side)

    def crop_square(self, image: np.ndarray) -> CropSquare:
        side = self.base_side * self.scale
        cx, cy = float(self.center[0]), float(self.center[1])
        return CropSquare(cx - side / 2, cy - side / 2, cx, cy, side, self.config.crop_size)

    def cut_shared(self, image: np.ndarray, crop: SharedCrop) -> np.ndarray:
        return crop_rect(image, (crop.cx, crop.cy), (crop.side_w, crop.side_h), (crop.width, crop.height))

    def shared_features(self, crops: list[np.ndarray]) -> torch.Tensor:
        # before upsampling and the RMS normalisation: both belong to the target's own window
        return self.features.tail_map(self.features.trunk_features(crops).float())

    def _from_shared(self, image: np.ndarray, crop: SharedCrop, fmap: torch.Tensor) -> tuple[CropRequest, torch.Tensor]:
        """The target's own window cut out of the shared map (one bilinear sample per cell: the map
        itself where the window is the whole crop), then upsampled and normalised as alone."""
        own = self.crop_square(image)
        cells = self.map_size // self.features.upsample
        stride, first = self.features.stride, self.features.first_centre
        b = crop.scale / own.scale  # shared cells per own cell
        # own cell k is centred on crop pixel first + stride * k, in the shared map on cell a + b * k
        ax = ((own.x0 - crop.x0) * crop.scale + first * (b - 1)) / stride
        ay = ((own.y0 - crop.y0) * crop.scale + first * (b - 1)) / stride
        if b == 1.0 and ax == int(ax) and ay == int(ay):  # whole cells: a slice, exactly the map alone
            window = fmap[:, :, int(ay):int(ay) + cells, int(ax):int(ax) + cells]
        else:  # bilinear samples (align_corners=False: cell k's centre is at (2k + 1) / size - 1)
            h, w = fmap.shape[-2:]
            k = torch.arange(cells, dtype=fmap.dtype, device=fmap.device)
            gx = (2 * (ax + b * k) + 1) / w - 1
            gy = (2 * (ay + b * k) + 1) / h - 1
            grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None]
            window = F.grid_sample(fmap, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return CropRequest(np.zeros((0, 0, 3), np.uint8), own.side), self.features.rescale(window)

    def _finish(self, image: np.ndarray, request: CropRequest, feat: torch.Tensor) -> np.ndarray:
        cfg, m = self.config, self.map_size
        w_img, h_img = image_size(image)
        side = request.context
        unit = cfg.scales.index(1.0)
        with torch.no_grad():
            x = self._reduced(feat, self.params)
            resp = self._response(x, self.params)[:, 0].cpu().numpy()
        self.frame += 1
        if not np.all(np.isfinite(resp)):
            self.confidence = 0.0  # no usable response: keep the last box
            self.box = clip_box(self.box, (w_img, h_img))
            self.target_found = False
            return self.box.copy()
        r1 = resp[unit]
        score = float(r1.max())  # the filter's own: confidence, holds and searches read it
        self.confidence = score
        hard = False
        self.target_found = not self._occluded(score)
        if not self.target_found:  # learn nothing from this frame; hold where the target was
            if self.reference is not None and score >= cfg.follow_ratio * self.reference:
                placed = self._with_colour(image, r1, side)  # where the target is: the filter's map, or merged
                self._follow(resp, placed, side, (w_img, h_img), image, learn=False)  # unless weakly seen
            else:
                self.box = clip_box(self.box, (w_img, h_img))
        else:
            window = self.center.copy()
            placed = self._with_colour(image, r1, side)
            self._follow(resp, placed, side, (w_img, h_img), image)
            if self.crossing is not None:  # a look-alike crossing: the peak the target's track leads to
                self._through_crossing(placed, window, side, (w_img, h_img))
            if self.colour is not None and (self.crossing is None or self.crossing.learning):
                self.colour.learn(image, self.center, self.base_size * self.scale)
            if score > cfg.update_score_threshold and (self.crossing is None or self.crossing.learning):
                label = gaussian_label((m, m), self._peak, self.cells, cfg.label_sigma_factor, cfg.label_alpha)
                kept = feat[0] if cfg.update_reduction else x[unit]
                self.buffer.append((kept.half(), torch.from_numpy(label)[None].to(self.device)))
                hard = bool(cfg.hard_negative_ratio) and self._hard_negative(r1)
        # official: every update_interval frames once as many frames were kept (or the buffer is full)
        if self.frame % cfg.update_interval == 0 and len(self.buffer) >= min(cfg.update_interval, cfg.buffer_size):
            with self._timed("update"):
                self._online_update()
        elif hard:  # a look-alike near: learn it as background now, with this frame in every batch
            with self._timed("update"):
                self._online_update(newest=True, lr_factor=cfg.hard_negative_lr_factor)
        return self.box.copy()

    def _response(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """Response (B, 1, M, M) of reduced, windowed features ``x``: the correlation filter (the
        full CREST adds its residual modules, crest/residual.py)."""
        return correlate(x, params["filter"], params["filter_bias"], self.config.correlation)

    def _loss(self, resp: torch.Tensor, labels: torch.Tensor, params: Params) -> torch.Tensor:
        """The online update's objective: equation 6 with the filter's weight decay."""
        cfg = self.config
        return crest_loss(resp, labels, params["filter"], cfg.weight_decay, cfg.loss_threshold)

    def _occluded(self, score: float) -> bool:
        """Whether this frame's peak is too weak against the running peak of the frames before
        (``occlusion_ratio``, :meth:`_weak`; after a held frame ``occlusion_resume_ratio``, so that a hold
        ends on a peak that clearly answers the target); the running peak follows the frames that are not
        (those at ``occlusion_learn_ratio`` of it), and fades by ``occlusion_decay`` on each frame that is."""
        cfg = self.config
        if not cfg.occlusion_ratio:
            return False
        if self.reference is None:
            self.reference = score
            return False
        resume = not self.target_found and score < cfg.occlusion_resume_ratio * self.reference
        if self._weak(score) or resume:  # a hold ends only at occlusion_resume_ratio
            self.reference *= 1.0 - cfg.occlusion_decay
            return True
        if score >= cfg.occlusion_learn_ratio * self.reference:
            self.reference += cfg.occlusion_memory * (score - self.reference)
        return False

    def _weak(self, score: float) -> bool:
        """The occlusion test alone, without its side effects: ``score`` under ``occlusion_ratio`` of the
        running peak (a re-detected candidate must pass it as a tracked peak does)."""
        return self.reference is not None and score < self.config.occlusion_ratio * self.reference

    def _with_prior(self, r1: np.ndarray) -> np.ndarray:
        """The response times the motion prior, whose maximum is the chosen peak. The prior multiplies a
        non-negative map, so that it never favours cells far away (a negative response times a small
        prior would grow), and a flat map keeps the centre."""
        return (r1 - r1.min() + 1e-6) * self.motion

    def _with_colour(self, image: np.ndarray, r1: np.ndarray, side: float) -> np.ndarray:
        """The map the position is read from: the filter's response, merged with the colour score
        (crest/colour.py) read in the same window when ``colour_merge`` is on."""
        if self.colour is None:
            return r1
        merge = self.config.colour_merge
        colour = self.colour.score_map(image, self.center, side, self.map_size, self.base_size * self.scale)
        return (1.0 - merge) * r1 + merge * colour

    def _through_crossing(self, r1: np.ndarray, window: np.ndarray, side: float, size: tuple[int, int]) -> None:
        """Move to where :class:`~.crossing.CrossingGuard` says the target is, if it says so (``window``:
        the centre of the window this frame's response was read in)."""
        m = self.map_size
        chosen = np.unravel_index(int(np.argmax(self._with_prior(r1))), r1.shape)
        move = self.crossing.step(r1, chosen, np.asarray(self.cells), side / m,
                                  lambda cell: window + cell_to_offset(cell, side, m), self._loss_counter.velocity())
        if move is not None:
            self._peak = offset_to_cell(move - window, side, m)  # this frame's sample is labelled there
            self.center = np.clip(move, [0.0, 0.0], [float(size[0]), float(size[1])])
            wh = self.base_size * self.scale
            self.box = clip_box(np.r_[self.center - wh / 2, wh], size)

    def _follow(self, resp: np.ndarray, r1: np.ndarray, side: float, size: tuple[int, int],
                frame: np.ndarray, learn: bool = True) -> None:
        """Move to the peak of ``r1`` (the position's map: the unscaled response, or it merged with the
        colour score) times the motion prior, and take the best scale's size from the filter's ``resp``
        (or the scale filter's, crest/scale_filter.py, which learns from the frame only if ``learn``)."""
        cfg, m = self.config, self.map_size
        self._peak = subpixel_peak(self._with_prior(r1), cfg.subpixel)
        self.center = self.center + cell_to_offset(self._peak, side, m)
        self.center = np.clip(self.center, [0.0, 0.0], [float(size[0]), float(size[1])])
        small = min(self.base_size * self.scale) < cfg.scale_filter_min_side  # too small for the scale filter
        if self.scale_filter is not None and not small:
            if self._inside(size):  # samples of a box crossing the frame's edge are part fill, not target
                gray = self._scale_image(frame)
                found = self.scale_filter.estimate(gray, self.center, self.base_size * self.scale)
                self.scale = float(np.clip(self.scale * found, *cfg.scale_limits))
                if learn:
                    self.scale_filter.update(gray, self.center, self.base_size * self.scale)
        elif float(resp[cfg.scales.index(1.0)].max()) >= cfg.scale_min_score and len(cfg.scales) > 1:  # the filter's
            best = cfg.scales[int(np.argmax(resp.reshape(len(resp), -1).max(1)))]
            self.scale *= (1.0 - cfg.scale_lr) + cfg.scale_lr * best
            self.scale = float(np.clip(self.scale, *cfg.scale_limits))
            if self.scale_filter is not None and learn and self._inside(size):  # current once the target grows
                self.scale_filter.update(self._scale_image(frame), self.center, self.base_size * self.scale)
        wh = self.base_size * self.scale
        self.box = clip_box(np.r_[self.center - wh / 2, wh], size)

    def _scale_sampler(self) -> CnnSamples | None:
        """The scale filter's samples: DSST's (None) or the backbone's first blocks (``cnn``)."""
        if self.config.scale_filter_features != "cnn":
            return None
        return CnnSamples(self.features.trunk[:CNN_BLOCKS], self.features.normalize)

    def _scale_image(self, frame: np.ndarray) -> np.ndarray:
        """What the scale filter reads: the grey frame (DSST's features) or the RGB one (the CNN's)."""
        return frame if self.config.scale_filter_features == "cnn" else grey(frame)

    def _inside(self, size: tuple[int, int]) -> bool:
        """Whether the target's box at its current size lies wholly inside the frame of ``size`` (w, h)."""
        half = self.base_size * self.scale / 2
        return bool(np.all(self.center - half >= 0) and np.all(self.center + half <= np.asarray(size, float)))

    # ------------------------------------------------------------------ re-detection (adaptive/redetect.py)
    def _search_geometry(self) -> tuple[np.ndarray, float]:
        return self.center.copy(), self.base_side * self.scale

    def _shift_search(self, offset: np.ndarray, image_size: tuple[int, int]) -> None:
        # the window and its motion prior are centred on self.center: the next peak is read around there
        self.center = np.clip(self.center + offset, [0.0, 0.0], [float(image_size[0]), float(image_size[1])])
        if not self.target_found:  # coasting while hidden: the held box goes with the search
            self.box = clip_box(np.r_[self.center - self.box[2:] / 2, self.box[2:]], image_size)

    def _window_at(self, image: np.ndarray, centre: np.ndarray, scale: float) -> CropRequest:
        side = self.base_side * self.scale * scale
        crop = crop_square(image, (float(centre[0]), float(centre[1])), side, self.config.crop_size)
        return CropRequest(crop, (np.asarray(centre, dtype=np.float64), side))

    def _best_candidate(self, image: np.ndarray, request: CropRequest,
                        feat: torch.Tensor) -> tuple[float, np.ndarray] | None:
        """The window's response peak (no motion prior: the target may be anywhere in it), kept only if
        it passes the occlusion test against the running peak."""
        cfg, p, m = self.config, self.params, self.map_size
        centre, side = request.context
        with torch.no_grad():
            r = self._response(reduce_features(feat, p["reduce.weight"], p["reduce.bias"]), p)[0, 0].cpu().numpy()
        score = float(r.max()) if np.all(np.isfinite(r)) else float("nan")
        if not (np.isfinite(score) and self.reference is not None and not self._weak(score)):
            return None
        peak = subpixel_peak(r, cfg.subpixel)
        wh = self.base_size * (side / self.base_side)  # the window's side sets the target's size
        return score, np.r_[centre + cell_to_offset(peak, side, m) - wh / 2, wh]

    def _relocate(self, image: np.ndarray, box: np.ndarray, score: float, scale: float) -> np.ndarray:
        size = image_size(image)
        self.center = np.clip(box[:2] + box[2:] / 2, [0.0, 0.0], [float(size[0]), float(size[1])])
        self.scale = float(np.clip(self.scale * scale, *self.config.scale_limits))
        wh = self.base_size * self.scale
        self.box = clip_box(np.r_[self.center - wh / 2, wh], size)
        self.confidence = score
        if self.crossing is not None:  # the box jumped: a crossing's track no longer applies
            self.crossing.reset()
        return self.box.copy()

    def _hard_negative(self, r1: np.ndarray) -> bool:
        """Whether this frame's response has a second local maximum more than ``hard_negative_distance``
        target sizes from its peak reaching ``hard_negative_ratio`` of it (both above the map's median)."""
        cfg = self.config
        base = (r1 - np.median(r1)).astype(np.float32)  # local_maxima compares in float32
        peak = np.unravel_index(int(np.argmax(base)), base.shape)
        top = float(base[peak])
        if top <= 0:
            return False
        far = sizes_away(base.shape, peak, np.maximum(np.asarray(self.cells, dtype=float), 1.0))
        others = local_maxima(base) & (far > cfg.hard_negative_distance)
        return bool(others.any()) and float(base[others].max()) >= cfg.hard_negative_ratio * top

    def _online_update(self, newest: bool = False, lr_factor: float = 1.0) -> None:
        """``update_iterations`` Adam steps on random batches of the buffer (official model_update), or
        with ``online_update: meta`` the learned step. ``newest``: the last sample in every batch, and
        Adam's rate times ``lr_factor`` (a hard negative's frame; Adam's steps only)."""
        cfg, p = self.config, self.params
        if cfg.online_update == "meta":
            self._learned_update()
            return
        if cfg.dcf_update_rate:
            self._solved_update()
            return
        n = len(self.buffer)
        total = cfg.update_iterations * cfg.update_batch
        order = self.rng.permutation(n)
        if n < total:
            order = np.tile(order, total // n + 1)
        saved = {k: v.detach().clone() for k, v in p.items()}
        with scaled_rates(self.optimizer, lr_factor):
            for it in range(cfg.update_iterations):
                idx = order[it * cfg.update_batch:(it + 1) * cfg.update_batch]
                if newest and n - 1 not in idx:
                    idx = np.r_[idx[:-1], n - 1]
                feats, labels = self._stacked([self.buffer[i] for i in idx])
                with torch.enable_grad():
                    if cfg.update_reduction:  # the buffer holds backbone features
                        feats = reduce_features(feats, p["reduce.weight"], p["reduce.bias"])
                    resp = self._response(feats, p)
                    if cfg.update_until_loss is not None and float(
                            crest_loss(resp.detach(), labels, threshold=cfg.loss_threshold)) < cfg.update_until_loss:
                        break  # CREST: the buffer is fitted already, no further step
                    loss = self._loss(resp, labels, p)
                    self.optimizer.zero_grad()
                    loss.backward()
                self.optimizer.step()
        if not all(torch.isfinite(v).all() for v in p.values()):
            with torch.no_grad():  # a diverged update is undone
                for k, v in saved.items():
                    p[k].copy_(v)

    def _stacked(self, samples: list[tuple[torch.Tensor, torch.Tensor]],
                 first: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (float) and labels of buffer ``samples`` stacked for an update; with ``first``, the
        first frame's sample after them when it is kept (``update_keep_first``)."""
        if first and self.first_sample is not None:
            samples = [*samples, self.first_sample]
        return torch.stack([f for f, _ in samples]).float(), torch.stack([label for _, label in samples])

    def _solved_update(self) -> None:
        """``dcf_update_rate``: the filter solved in closed form on every frame of the buffer, its scale and
        bias fitted to their labels, blended into the current filter and bias at that rate."""
        cfg, p = self.config, self.params
        feats, labels = self._stacked(list(self.buffer))
        with torch.no_grad():
            if cfg.update_reduction:  # the buffer holds backbone features
                feats = reduce_features(feats, p["reduce.weight"], p["reduce.bias"])
            solved, c, b = solved_filter(feats, labels, tuple(p["filter"].shape[-2:]), cfg, self.cells)
            if not (torch.isfinite(c) and torch.isfinite(b) and torch.isfinite(solved).all()):
                return  # a degenerate solve changes nothing
            rate = cfg.dcf_update_rate
            p["filter"].mul_(1.0 - rate).add_(rate * c * solved)
            p["filter_bias"].mul_(1.0 - rate).add_(rate * b.reshape(p["filter_bias"].shape))

    def _learned_update(self) -> None:
        """One step of the meta-learned online step sizes on the buffer's last ``update_interval``
        frames: crest/online.py, the update meta-training went through."""
        cfg, p = self.config, self.params
        feats, labels = self._stacked(list(self.buffer)[-cfg.update_interval:], first=False)
        if cfg.update_reduction:  # the buffer holds backbone features
            feats = reduce_features(feats, p["reduce.weight"], p["reduce.bias"])
        size = tuple(p["filter"].shape[-2:])
        new = online_update(p, self.online, lambda q: self._response(feats, q), labels, cfg, size, create_graph=False)
        if all(torch.isfinite(new[k]).all() for k in FILTER_PARAMS):  # a diverged step is not taken
            with torch.no_grad():
                for k in FILTER_PARAMS:
                    p[k].copy_(new[k])

    def feature_extractor(self) -> tuple[torch.nn.Module, int]:
        return _CropFeatures(self.features).eval(), self.config.crop_size

    # ------------------------------------------------------------------ the paper's Table 2
    def first_frame_score(self, params: Params, samples: ResponseBatch) -> float:
        """Equation 6's data term of the head ``params`` on ``samples`` (the filter warped to the target)."""
        with torch.no_grad():
            filt = warp_filter(params["filter"], self.filter_size)
            resp = response_map(samples.features, params["reduce.weight"], params["reduce.bias"], filt,
                                params["filter_bias"], self.config.correlation)
            return float(crest_loss(resp, samples.label, threshold=self.config.loss_threshold))

    def frame_samples(self, image: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> ResponseBatch:
        """A later frame through the first frame's window and label, centred on its own true box
        (as the official meta-training look-ahead)."""
        centre = np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])
        return ResponseBatch(self._features(image, centre, self.base_side), self.label0, self.filter_size, self.cells)


class MetaCREST(CRESTTracker):
    """MetaCREST: meta-learned ``theta0`` and ``alpha`` from a model file, ``init_steps`` alpha-steps."""

    stochastic = False

    def __init__(self, model: str | Path | None = None, device: str | torch.device = "cpu",
                 config: CRESTConfig | dict | None = None, **overrides: Any):
        def head_state(cfg: CRESTConfig) -> Params:
            if cfg.canonical_filter_size is None:
                raise CheckpointError(f"{model or 'the shipped model'}: model file has no canonical_filter_size")
            channels = shared_extractor(cfg, device).channels
            return CorrelationHead(channels, cfg.reduced_channels, cfg.canonical_filter_size).state_dict()

        found = read_meta_model(MODEL_NAME, model, CRESTConfig, CRESTConfig.build(config), overrides,
                                backbone_sha256, head_state)
        cfg = found.config
        super().__init__(cfg, device)
        head = CorrelationHead(self.features.channels, cfg.reduced_channels, cfg.canonical_filter_size,
                               cfg.correlation)
        adapted = [n for n, _ in head.named_parameters() if n in found.alpha]
        self.learner = MetaSGD(head, 0.0, adapted=adapted).to(self.device)
        with torch.no_grad():
            head.load_state_dict(found.theta0)
            for name, a in self.learner.alphas().items():
                a.copy_(found.alpha[name])
        self.online = self._online_step_sizes(found)
        self.model_path = found.path

    def _fit_first_frame(self, batch: ResponseBatch) -> tuple[Params, Params, dict[str, float]]:
        cfg = self.config
        theta0 = {k: v.detach() for k, v in self.learner.theta0().items()}
        alpha = {k: v.detach() for k, v in self.learner.alphas().items()}
        theta1 = first_frame_update(self.learner.head, theta0, alpha, batch, cfg.init_steps, cfg, create_graph=False)
        params = dict(theta1)
        params["filter"] = warp_filter(theta1["filter"], batch.size)
        return params, dict(theta0), {"steps": float(cfg.init_steps)}


class CRESTN(CRESTTracker):
    """CREST-N: PCA reduction and a filter trained from a random start on the first frame."""

    stochastic = True

    def __init__(self, device: str | torch.device = "cpu", config: CRESTConfig | dict | None = None,
                 **overrides: Any):
        super().__init__(CRESTConfig.build(config, overrides), device)
        self._refuse_learned_update("MetaCREST", "CREST-N")
        self.seed(self.config.init_seed)

    def _random_start(self, batch: ResponseBatch) -> tuple[torch.Tensor, ...]:
        """CREST's start on the first frame: PCA reduction (weight, bias) of its features, a small random
        filter and a zero bias (both trainable), and the seeded generator that drew the filter, for any
        further draws."""
        weight, bias = fit_pca_reduction(batch.features, self.config.reduced_channels)
        gen = torch.Generator().manual_seed(self._seed)
        filt = (torch.randn(weight.shape[0], *batch.size, generator=gen) * self.config.init_filter_std)
        filt = filt.to(self.device).requires_grad_(True)
        fbias = torch.zeros(1, device=self.device, requires_grad=True)
        return weight, bias, filt, fbias, gen

    def _fit_first_frame(self, batch: ResponseBatch) -> tuple[Params, Params, dict[str, float]]:
        cfg = self.config
        feat, label = batch.features, batch.label
        weight, bias, filt, fbias, _ = self._random_start(batch)
        before = {"reduce.weight": weight, "reduce.bias": bias, "filter": filt.detach().clone(),
                  "filter_bias": fbias.detach().clone()}
        x = reduce_features(feat, weight, bias)
        opt = (torch.optim.Adam([filt, fbias], lr=cfg.init_lr) if cfg.init_optimizer == "adam"
               else torch.optim.SGD([filt, fbias], lr=cfg.init_lr, momentum=0.9))
        limit = cfg.init_max_iterations if cfg.init_until_loss is not None else cfg.init_iterations
        done, loss_value = 0, float("nan")
        with torch.enable_grad():
            for _ in range(limit + 1):
                loss = crest_loss(correlate(x, filt, fbias, cfg.correlation), label, filt, cfg.weight_decay,
                                  cfg.loss_threshold)
                loss_value = float(loss.detach())
                if done >= limit or (cfg.init_until_loss is not None and loss_value <= cfg.init_until_loss):
                    break
                opt.zero_grad()
                loss.backward()
                opt.step()
                done += 1
        params = {"reduce.weight": weight, "reduce.bias": bias, "filter": filt.detach(),
                  "filter_bias": fbias.detach()}
        return params, before, {"iterations": float(done), "loss": loss_value}
