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
from ...geometry import check_first_box, clip_box
from ...meta import MetaSGD
from ...modelfile import check_backbone, load_model
from ...weights import MOBILENET_V2, sha256_file
from ..base import Tracker, register_tracker
from .config import CRESTConfig
from .features import FeatureExtractor, as_rgb, crop_square, hann_window
from .first_frame import first_frame_update
from .head import CorrelationHead, correlate, filter_size, reduce_features, response_map, warp_filter
from .loss import crest_loss, gaussian_label
from .pca import fit_pca_reduction
from .window import cell_to_offset, subpixel_peak, target_cells, window_side

MODEL_NAME = "metacrest"
#: the shipped model file (produced by ``metatrack train --config .../configs/metacrest.yaml``)
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "metacrest.safetensors"

Params = dict[str, torch.Tensor]


@lru_cache(maxsize=4)
def shared_extractor(backbone: str, weights: str | None, upsample: int, device: str) -> FeatureExtractor:
    """One frozen feature extractor per (backbone, weights, upsampling, device), shared by trackers."""
    return FeatureExtractor(backbone, weights, upsample).to(device)


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


class CRESTTracker(Tracker):
    """The tracking loop shared by MetaCREST and CREST-N; subclasses fit the first frame."""

    def __init__(self, config: CRESTConfig, device: str = "cpu"):
        self.cfg = config
        self.device = torch.device(device)
        self.features = shared_extractor(config.backbone, config.backbone_weights, config.feature_upsample,
                                         str(self.device))
        self.map_size = self.features.map_size(config.crop_size)
        self._seed = 0
        self.confidence = float("nan")
        self.params: Params = {}
        self.init_info: dict[str, Any] = {}

    def seed(self, seed: int) -> None:
        self._seed = int(seed)

    # ------------------------------------------------------------------ first frame
    def _fit_first_frame(self, feat: torch.Tensor, label: torch.Tensor,
                         size: tuple[int, int]) -> tuple[Params, Params, dict[str, Any]]:
        """Return (tracking params, params before training, info); implemented by subclasses."""
        raise NotImplementedError

    def _trainable(self) -> list[str]:
        names = ["filter", "filter_bias"]
        return (["reduce.weight", "reduce.bias"] + names) if self.cfg.update_reduction else names

    def _features(self, image: np.ndarray, center: np.ndarray, side: float) -> torch.Tensor:
        crop = crop_square(image, (center[0], center[1]), side, self.cfg.crop_size)
        return self.features(crop)

    def _initialise(self, image: np.ndarray, box: np.ndarray) -> dict[str, Any]:
        t0 = time.perf_counter()
        img = as_rgb(image)
        h_img, w_img = img.shape[:2]
        b = check_first_box(box, (w_img, h_img), "init box")
        cfg, m = self.cfg, self.map_size
        self.rng = np.random.default_rng(self._seed)
        self.center = np.array([b[0] + b[2] / 2, b[1] + b[3] / 2])
        self.base_size = np.array([b[2], b[3]], dtype=np.float64)
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
        feat = self._features(img, self.center, self.base_side)
        self.feat0 = feat
        t1 = time.perf_counter()
        params, before, info = self._fit_first_frame(feat, self.label0, self.filter_size)
        train_seconds = time.perf_counter() - t1
        self.params = {k: v.detach().clone().requires_grad_(k in self._trainable()) for k, v in params.items()}
        self.optimizer = torch.optim.Adam([self.params[k] for k in self._trainable()], lr=cfg.update_lr)
        self.buffer: deque[tuple[torch.Tensor, torch.Tensor]] = deque(maxlen=cfg.buffer_size)
        self.frame = 0
        self.box = clip_box(b, (w_img, h_img))
        self.confidence = float("nan")
        info.update(train_seconds=train_seconds, frame_seconds=time.perf_counter() - t0, before=before)
        self.init_info = info
        return info

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        self._initialise(image, box)

    # ------------------------------------------------------------------ tracking
    def _reduced(self, feat: torch.Tensor, params: Params) -> torch.Tensor:
        """Reduced, windowed maps of the scaled windows (S, k, M, M).

        The 1x1 reduction is applied before the resampling (bias after it): both are linear, so
        this equals resampling the backbone features first, on a third of the channels.
        """
        x = F.conv2d(feat, params["reduce.weight"])
        x = zoom_features(x, self.cfg.scales) + params["reduce.bias"].view(1, -1, 1, 1)
        return x * hann_window(x.shape[-2], x.shape[-1]).to(x.device)

    def update(self, image: np.ndarray) -> np.ndarray:
        cfg, m = self.cfg, self.map_size
        img = as_rgb(image)
        h_img, w_img = img.shape[:2]
        side = self.base_side * self.scale
        unit = cfg.scales.index(1.0)
        with torch.no_grad():
            feat = self._features(img, self.center, side)
            x = self._reduced(feat, self.params)
            resp = correlate(x, self.params["filter"], self.params["filter_bias"], cfg.correlation)
            resp = resp[:, 0].cpu().numpy()
        self.frame += 1
        if not np.all(np.isfinite(resp)):
            self.confidence = 0.0  # no usable response: keep the last box
            self.box = clip_box(self.box, (w_img, h_img))
            return self.box.copy()
        r1 = resp[unit]
        score = float(r1.max())
        # the prior multiplies a non-negative map, so that it never favours cells far away (a
        # negative response times a small prior would grow), and a flat map keeps the centre
        peak = subpixel_peak((r1 - r1.min() + 1e-6) * self.motion, cfg.subpixel)
        self.center = self.center + cell_to_offset(peak, side, m)
        self.center = np.clip(self.center, [0.0, 0.0], [float(w_img), float(h_img)])
        if score >= cfg.scale_min_score and len(cfg.scales) > 1:
            best = cfg.scales[int(np.argmax(resp.reshape(len(resp), -1).max(1)))]
            self.scale *= (1.0 - cfg.scale_lr) + cfg.scale_lr * best
            self.scale = float(np.clip(self.scale, *cfg.scale_limits))
        size = self.base_size * self.scale
        self.box = clip_box(np.r_[self.center - size / 2, size], (w_img, h_img))
        self.confidence = score
        if score > cfg.update_score_threshold:
            label = gaussian_label((m, m), peak, self.cells, cfg.label_sigma_factor, cfg.label_alpha)
            kept = feat[0] if cfg.update_reduction else x[unit]
            self.buffer.append((kept.half(), torch.from_numpy(label)[None].to(self.device)))
        # official: every update_interval frames once as many frames were kept (or the buffer is full)
        if self.frame % cfg.update_interval == 0 and len(self.buffer) >= min(cfg.update_interval, cfg.buffer_size):
            self._online_update()
        return self.box.copy()

    def _online_update(self) -> None:
        """``update_iterations`` Adam steps on random batches of the buffer (official model_update)."""
        cfg, p = self.cfg, self.params
        n = len(self.buffer)
        total = cfg.update_iterations * cfg.update_batch
        order = self.rng.permutation(n)
        if n < total:
            order = np.tile(order, total // n + 1)
        saved = {k: v.detach().clone() for k, v in p.items()}
        for it in range(cfg.update_iterations):
            idx = order[it * cfg.update_batch:(it + 1) * cfg.update_batch]
            feats = torch.stack([self.buffer[i][0] for i in idx]).float()
            labels = torch.stack([self.buffer[i][1] for i in idx])
            with torch.enable_grad():
                if cfg.update_reduction:  # the buffer holds backbone features
                    feats = reduce_features(feats, p["reduce.weight"], p["reduce.bias"])
                resp = correlate(feats, p["filter"], p["filter_bias"], cfg.correlation)
                loss = crest_loss(resp, labels, p["filter"], cfg.weight_decay, cfg.loss_threshold)
                self.optimizer.zero_grad()
                loss.backward()
            self.optimizer.step()
        if not all(torch.isfinite(v).all() for v in p.values()):
            with torch.no_grad():  # a diverged update is undone
                for k, v in saved.items():
                    p[k].copy_(v)

    # ------------------------------------------------------------------ analysis (paper's table 2)
    def _loss(self, feat: torch.Tensor, label: torch.Tensor, params: Params) -> float:
        with torch.no_grad():
            filt = warp_filter(params["filter"], self.filter_size)
            resp = response_map(feat, params["reduce.weight"], params["reduce.bias"], filt,
                                params["filter_bias"], self.cfg.correlation)
            return float(crest_loss(resp, label, threshold=self.cfg.loss_threshold))

    def analyse_init(self, frames: list[np.ndarray], boxes: np.ndarray) -> dict[str, Any]:
        """First-frame analysis of the paper's table 2 (right): losses and times of the initial training.

        ``before``/``after``: eq. 6 loss (data term) of the response on the first frame before/after
        the initial training; ``lookahead``: its mean on the frames after the first (the paper
        gives 5), each cropped around its own ground truth with the first frame's window and label
        (as the official meta-training look-ahead); ``train_seconds``: the initial training alone
        (PCA included for CREST-N); ``frame_seconds``: the whole first frame, feature extraction
        included. The tracker is left initialised on ``frames[0]``.
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        info = self._initialise(frames[0], boxes[0])
        out: dict[str, Any] = {
            "measure": "loss",
            "before": self._loss(self.feat0, self.label0, info["before"]),
            "after": self._loss(self.feat0, self.label0, self.params),
            "train_seconds": float(info["train_seconds"]),
            "frame_seconds": float(info["frame_seconds"]),
        }
        ahead = []
        for frame, box in zip(frames[1:], boxes[1:], strict=False):
            if not (np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0):
                continue
            feat = self._features(as_rgb(frame), np.array([box[0] + box[2] / 2, box[1] + box[3] / 2]),
                                  self.base_side)
            ahead.append(self._loss(feat, self.label0, self.params))
        out["lookahead"] = float(np.mean(ahead)) if ahead else float("nan")
        if "iterations" in info:
            out["iterations"] = float(info["iterations"])
        return out


class MetaCREST(CRESTTracker):
    """MetaCREST: meta-learned ``theta0`` and ``alpha`` from a model file, ``init_steps`` alpha-steps."""

    stochastic = False

    def __init__(self, model: str | Path | None = None, device: str = "cpu", **overrides: Any):
        path = Path(model) if model is not None else DEFAULT_MODEL
        if not path.is_file():
            raise CheckpointError(
                f"{path}: MetaCREST model file is missing. Train one with `metatrack train --config "
                "src/metatrack/configs/metacrest.yaml` (it writes the model file), or pass model=PATH."
            )
        tensors, meta = load_model(path, MODEL_NAME)
        stored = meta.get("config") or {}
        # the model file carries the whole tracker: section it was trained with; keyword
        # arguments override the tracking settings but not what defines the model
        known = {f for f in CRESTConfig.__dataclass_fields__}
        try:
            cfg = CRESTConfig.from_dict({k: v for k, v in stored.items() if k in known})
        except ConfigError as exc:
            raise CheckpointError(f"{path}: bad tracker config in the model file ({exc})") from None
        for k, v in overrides.items():
            if k in CRESTConfig.MODEL_FIELDS and k in stored and _norm(v) != _norm(stored[k]):
                raise ConfigError(f"{k}={v!r}: the model {path} was trained with {k}={stored[k]!r}")
        cfg = cfg.replace(**overrides)
        if cfg.canonical_filter_size is None:
            raise CheckpointError(f"{path}: model file has no canonical_filter_size")
        check_backbone(path, meta, backbone_sha256(cfg))
        super().__init__(cfg, device)
        head = CorrelationHead(self.features.channels, cfg.reduced_channels, cfg.canonical_filter_size,
                               cfg.correlation)
        self.learner = MetaSGD(head, 0.0).to(self.device)
        try:
            head.load_state_dict({k: tensors[k] for k in head.state_dict()})
            for name, a in self.learner.alphas().items():
                a.data.copy_(tensors[f"alpha.{name}"])
        except (KeyError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: tensors do not match a MetaCREST head ({exc})") from None
        self.model_path = path

    def _fit_first_frame(self, feat, label, size):
        cfg = self.cfg
        theta0 = {k: v.detach() for k, v in self.learner.theta0().items()}
        alpha = {k: v.detach() for k, v in self.learner.alphas().items()}

        def response(p: Params) -> torch.Tensor:
            return self.learner.forward_with(p, feat, size)

        if cfg.init_steps == 1 and not torch.any(theta0["filter"]):
            # one step from a zero filter: the loss's gradient for the 1x1 reduction is exactly zero
            # (the response is the filter times the reduced features), so only the filter and its
            # bias move and the reduced features are computed once, not in every response
            alpha = {k: v for k, v in alpha.items() if k in ("filter", "filter_bias")}
            x = reduce_features(feat, theta0["reduce.weight"], theta0["reduce.bias"])

            def response(p: Params) -> torch.Tensor:  # noqa: F811 - the same map, reduced once
                if p["filter"] is theta0["filter"]:  # theta0 itself: a zero filter's map is its bias
                    return p["filter_bias"].view(1, 1, 1, 1).expand(1, 1, *x.shape[-2:])
                return correlate(x, warp_filter(p["filter"], size), p["filter_bias"], cfg.correlation)

        def loss_fn(r: torch.Tensor, p: Params) -> torch.Tensor:
            return crest_loss(r, label, p["filter"], cfg.weight_decay, cfg.loss_threshold)

        theta1 = first_frame_update(theta0, alpha, response, loss_fn, label, cfg.init_steps, cfg.init_step_length)
        params = dict(theta1)
        params["filter"] = warp_filter(theta1["filter"], size)
        before = {k: v.detach() for k, v in theta0.items()}
        return params, before, {"steps": cfg.init_steps}


class CRESTN(CRESTTracker):
    """CREST-N: PCA reduction and a filter trained from a random start on the first frame."""

    stochastic = True

    def __init__(self, device: str = "cpu", **overrides: Any):
        super().__init__(CRESTConfig().replace(**overrides), device)
        self._seed = self.cfg.init_seed

    def _fit_first_frame(self, feat, label, size):
        cfg = self.cfg
        weight, bias = fit_pca_reduction(feat, cfg.reduced_channels)
        gen = torch.Generator().manual_seed(self._seed)
        filt = (torch.randn(weight.shape[0], *size, generator=gen) * cfg.init_filter_std).to(self.device)
        filt.requires_grad_(True)
        fbias = torch.zeros(1, device=self.device, requires_grad=True)
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
        return params, before, {"iterations": done, "loss": loss_value}


def _norm(v: Any) -> Any:
    return list(v) if isinstance(v, (tuple, list)) else v


# ---------------------------------------------------------------------- registration
def _metacrest(steps: int):
    def make(**kwargs: Any) -> MetaCREST:
        kwargs.setdefault("init_steps", steps)
        return MetaCREST(**kwargs)

    make.__doc__ = f"MetaCREST with {steps} alpha-step(s) on the first frame."
    return make


def _crest(iterations: int | None):
    def make(**kwargs: Any) -> CRESTN:
        if iterations is None:  # CREST's own rule: until the loss reaches 0.02 (the paper's CREST-65)
            kwargs.setdefault("init_until_loss", 0.02)
        else:
            kwargs.setdefault("init_iterations", iterations)
        return CRESTN(**kwargs)

    make.__doc__ = ("CREST trained until its loss reaches 0.02" if iterations is None
                    else f"CREST with {iterations} first-frame iterations")
    return make


register_tracker("metacrest", _metacrest(1))
register_tracker("metacrest-01", _metacrest(1))
register_tracker("metacrest-03", _metacrest(3))
for _n in (1, 3, 5, 10, 20):
    register_tracker(f"crest-{_n:02d}", _crest(_n))
register_tracker("crest-converged", _crest(None))
