"""MetaSDNet and SDNet-N: MDNet-style tracking by detection over RoIAlign-pooled features.

Both trackers share everything but the first frame. On every later frame (pyMDNet's rules):
``n_samples`` gaussian candidates around the last target are scored by the head; the target is the
mean of the top-5; their mean score above 0 is a success (then bounding-box regression refines the
reported box, and positives/negatives are stored), otherwise a failure (the search widens and a
short-term update runs). A long-term update runs every ``long_interval`` frames.

First frame: MetaSDNet takes ``init_steps`` steps of the meta-learned update
``theta <- theta - alpha * grad L`` from the meta-learned ``theta0`` on a small sample set, through
:func:`metatrack.meta.adapt`; SDNet-N trains a randomly initialised head for N SGD iterations on
pyMDNet's large first-frame set.
"""

from __future__ import annotations

import copy
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from ...errors import CheckpointError, ConfigError
from ...geometry import check_first_box, clip_box, is_valid_box
from ...modelfile import check_backbone, load_model
from ..base import Tracker, register_tracker
from . import sampling
from .bbreg import BoxRegressor
from .config import SDNetConfig
from .features import CropWindow, FeatureExtractor
from .first_frame import first_frame_update
from .head import SDNetHead, accuracy, balance_layers, target_scores
from .network import (
    MODEL_NAME,
    SHIPPED_MODEL,
    backbone_checksum,
    default_config,
    make_config,
    model_config,
    shared_backbone,
)
from .online import SampleStore, make_optimizer, train_head


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A frame as HxWx3 uint8 (grey, single-channel and RGBA frames are converted)."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(np.nan_to_num(img.astype(np.float64)), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"an image must be HxW or HxWxC, got shape {img.shape}")
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return img[:, :, :3]


def _size(image: np.ndarray) -> tuple[int, int]:
    return int(image.shape[1]), int(image.shape[0])


class _SDNetTracker(Tracker):
    """What MetaSDNet and SDNet-N share: features, head, candidates, bbreg and online updates."""

    stochastic = True

    def __init__(self, config: SDNetConfig, device: str | torch.device = "cpu"):
        self.config = config
        self.device = torch.device(device)
        self.extractor = FeatureExtractor(config, self.device, shared_backbone(config, self.device))
        self._seed = config.seed
        self.rng = np.random.default_rng(self._seed)
        self.head: SDNetHead | None = None
        self.confidence = float("nan")
        self._analysing = False
        self._record: dict[str, Any] = {}

    @property
    def online_lr(self) -> float:
        """The learning rate of the updates after the first frame."""
        return self.config.update_lr

    # ------------------------------------------------------------------ protocol
    def seed(self, seed: int) -> None:
        """Seed the head's random initialisation and every box sampling."""
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        image = as_rgb(image)
        size = _size(image)
        box = clip_box(check_first_box(box, size), size)
        cfg = self.config
        window = self.extractor.window(box, size)
        fmap = self.extractor.feature_map(image, window)
        self._initial_training(fmap, window, box)
        # bounding-box regression, fitted once (pyMDNet)
        self.bbreg = BoxRegressor(cfg.bbreg_alpha, cfg.overlap_bbreg, cfg.scale_range_bbreg)
        reg_boxes = sampling.bbreg_samples(box, window, cfg, self.rng)
        if len(reg_boxes):
            feats = self.extractor.pool(fmap, window, reg_boxes).cpu().numpy()
            self.bbreg.fit(feats, reg_boxes, box)
        # the sample stores start with the first frame's samples
        self.store = SampleStore(cfg.n_frames_long, cfg.n_frames_short)
        self._collect(fmap, window, box)
        self.update_optimizer = make_optimizer(self.head, self.online_lr, cfg)
        self.target = box
        self.trans = cfg.trans
        self.frame_index = 0
        self.confidence = float("nan")

    def update(self, image: np.ndarray) -> np.ndarray:
        if self.head is None:
            raise ConfigError(f"{type(self).__name__}.update() called before init()")
        image = as_rgb(image)
        size = _size(image)
        cfg = self.config
        self.frame_index += 1
        target = clip_box(self.target, size)
        window = self.extractor.window(target, size)
        fmap = self.extractor.feature_map(image, window)
        cands = sampling.candidates(target, window, cfg, self.trans, self.rng)
        feats = self.extractor.pool(fmap, window, cands)
        with torch.no_grad():
            scores = target_scores(self.head(feats), cfg.score).cpu().numpy().astype(np.float64)
        finite = np.isfinite(scores)
        if finite.any():
            s = np.where(finite, scores, -np.inf)
            k = int(min(cfg.top_k, finite.sum()))
            top = np.argpartition(-s, k - 1)[:k]
            target_score = float(s[top].mean())
            new_target = cands[top].mean(axis=0)
        else:  # NaN scores: keep the last box and take the failure path
            top = np.zeros(0, dtype=np.int64)
            target_score = float("nan")
            new_target = target
        success = bool(np.isfinite(target_score) and target_score > cfg.success_threshold)
        self.trans = cfg.trans if success else min(self.trans * cfg.trans_growth, cfg.trans_limit)
        result = new_target
        if success and self.bbreg.fitted:
            result = self.bbreg.predict(feats[top].cpu().numpy(), cands[top]).mean(axis=0)
        new_target = clip_box(new_target, size)
        result = clip_box(result, size) if is_valid_box(result) else new_target
        if success:
            self._collect(fmap, window, new_target)
            if self.frame_index % cfg.long_interval == 0 and self.store:
                self._online_update(*self.store.long_term())
        elif self.store:
            self._online_update(*self.store.short_term())
        self.target = new_target
        self.confidence = target_score
        return result

    # ------------------------------------------------------------------ helpers
    def _collect(self, fmap: torch.Tensor, window: CropWindow, box: np.ndarray) -> None:
        """Store pyMDNet's update samples around ``box`` (positives and negatives) as features."""
        cfg = self.config
        pos = sampling.positives(box, cfg.n_pos_update, window, cfg, self.rng, cfg.overlap_pos_update)
        neg = sampling.update_negatives(box, cfg.n_neg_update, window, cfg, self.rng)
        feats = self.extractor.pool(fmap, window, np.concatenate([pos, neg]))  # one RoIAlign call
        if bool(torch.isfinite(feats).all()):
            self.store.add(feats[: len(pos)], feats[len(pos):])

    def _online_update(self, pos: torch.Tensor, neg: torch.Tensor) -> None:
        train_head(self.head, self.update_optimizer, pos, neg, self.config.maxiter_update, self.config, self.rng)

    def _new_head(self) -> SDNetHead:
        """A randomly initialised head, seeded by the tracker's seed (the global RNG is left alone)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed)
            head = SDNetHead(self.extractor.feature_dim, self.config.hidden)
        return head.to(self.device)

    def _labelled_features(self, fmap, window, box, n_pos: int, n_neg: int):
        boxes, labels = sampling.labelled_set(box, n_pos, n_neg, window, self.config, self.rng)
        x = self.extractor.pool(fmap, window, boxes)
        return x, torch.from_numpy(labels).to(self.device)

    def _initial_training(self, fmap: torch.Tensor, window: CropWindow, box: np.ndarray) -> None:
        raise NotImplementedError

    def _remember_before(self, x_eval: torch.Tensor, y_eval: torch.Tensor) -> None:
        if self._analysing:
            self._record = {"head_before": copy.deepcopy(self.head), "x": x_eval, "y": y_eval}

    # ------------------------------------------------------------------ the paper's Table 2
    def analyse_init(self, frames: list[np.ndarray], boxes: np.ndarray) -> dict[str, Any]:
        """First-frame analysis: accuracy before (B) and after (A) the initial training on the
        first frame's samples (positives:negatives 1:3), on the next frames' samples (LH), the
        training step's time and the whole first frame's time (features, sampling, bbreg included)."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self._analysing = True
        try:
            start = time.perf_counter()
            self.init(frames[0], boxes[0])
            frame_seconds = time.perf_counter() - start
        finally:
            self._analysing = False
        rec = self._record
        with torch.no_grad():
            before = accuracy(rec["head_before"](rec["x"]), rec["y"])
            after = accuracy(self.head(rec["x"]), rec["y"])
        cfg = self.config
        ahead = []
        for image, box in zip(frames[1:], boxes[1:], strict=False):
            image = as_rgb(image)
            if not is_valid_box(box):
                continue
            box = clip_box(box, _size(image))
            window = self.extractor.window(box, _size(image))
            fmap = self.extractor.feature_map(image, window)
            x, y = self._labelled_features(fmap, window, box, cfg.n_pos_meta, cfg.n_neg_meta)
            with torch.no_grad():
                ahead.append(accuracy(self.head(x), y))
        return {
            "measure": "accuracy",
            "before": before,
            "after": after,
            "lookahead": float(np.mean(ahead)) if ahead else float("nan"),
            "train_seconds": rec["train_seconds"],
            "frame_seconds": frame_seconds,
        }


class MetaSDNet(_SDNetTracker):
    """MetaSDNet-``init_steps``: theta0 and alpha from a model file, ``init_steps`` alpha-steps on
    the first frame, then pyMDNet's online updates with plain SGD at ``meta_update_lr``."""

    def __init__(self, model: str | Path | None = None, init_steps: int | None = None,
                 config: SDNetConfig | dict | None = None, device: str | torch.device = "cpu", **overrides: Any):
        path = Path(model) if model is not None else SHIPPED_MODEL
        if model is None and not path.is_file():
            raise CheckpointError(
                f"{path}: the shipped MetaSDNet model is not there yet. Train it with "
                "`metatrack train --config src/metatrack/configs/metasdnet.yaml --out runs/metasdnet` and copy "
                f"runs/metasdnet/metasdnet.safetensors to {path}, or pass model=PATH"
            )
        if init_steps is not None:
            overrides["init_steps"] = init_steps
        base = make_config(config, {})
        # the model's own config fixes the features: the backbone is checked once it is known
        tensors, info = load_model(path, MODEL_NAME)
        cfg = model_config(info["config"], base, overrides, path)
        check_backbone(path, info, backbone_checksum(cfg))
        super().__init__(cfg, device)
        self.model_path = path
        template = SDNetHead(self.extractor.feature_dim, cfg.hidden).state_dict()
        self.theta0 = _named(tensors, "theta0.", template, path, exact=True)
        self.alpha = _named(tensors, "alpha.", template, path, exact=False)
        self.theta0 = {k: v.to(self.device) for k, v in self.theta0.items()}
        self.alpha = {k: v.to(self.device) for k, v in self.alpha.items()}

    @property
    def online_lr(self) -> float:
        return self.config.meta_update_lr

    def _initial_training(self, fmap, window, box) -> None:
        cfg = self.config
        x, y = self._labelled_features(fmap, window, box, cfg.n_pos_meta, cfg.n_neg_meta)
        self.head = SDNetHead(self.extractor.feature_dim, cfg.hidden).to(self.device)
        self.head.load_state_dict(self.theta0)
        self._remember_before(x, y)
        head = self.head
        start = time.perf_counter()
        params = first_frame_update(lambda p, inp: functional_call(head, dict(p), (inp,)), dict(self.theta0),
                                    self.alpha, x, y, cfg.init_steps, cfg.first_step_loss, cfg.first_step_threshold,
                                    create_graph=False)
        with torch.no_grad():
            for n, p in self.head.named_parameters():
                if bool(torch.isfinite(params[n]).all()):
                    p.copy_(params[n])
        if cfg.balance_head:
            balance_layers(self.head)
        self._record["train_seconds"] = time.perf_counter() - start


def _named(tensors: dict[str, torch.Tensor], prefix: str, template: dict[str, torch.Tensor], path: Path,
           exact: bool) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix``, checked against the head's parameter names and shapes."""
    got = {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
    missing = sorted(set(template) - set(got)) if exact else []
    unknown = sorted(set(got) - set(template))
    wrong = sorted(k for k in set(got) & set(template) if tuple(got[k].shape) != tuple(template[k].shape))
    if missing or unknown or wrong or not got:
        raise CheckpointError(
            f"{path}: {prefix.rstrip('.')} tensors do not fit the head "
            f"(missing {missing}, unknown {unknown}, wrong shape {wrong})"
        )
    return got


class SDNet(_SDNetTracker):
    """SDNet-``iterations``: a randomly initialised head trained by pyMDNet's first-frame SGD, then
    the same online updates as MetaSDNet."""

    def __init__(self, iterations: int = 30, config: SDNetConfig | dict | None = None,
                 device: str | torch.device = "cpu", **overrides: Any):
        super().__init__(make_config(config, overrides), device)
        self.iterations = int(iterations)

    def _initial_training(self, fmap, window, box) -> None:
        cfg = self.config
        pos = sampling.positives(box, cfg.n_pos_init, window, cfg, self.rng)
        neg = sampling.first_frame_negatives(box, cfg.n_neg_init, window, cfg, self.rng)
        pf = self.extractor.pool(fmap, window, pos)
        nf = self.extractor.pool(fmap, window, neg)
        self.head = self._new_head()
        if self._analysing:  # the 1:3 evaluation set: a subset of the training samples
            ip = self.rng.permutation(len(pf))[: cfg.n_pos_meta]
            ineg = self.rng.permutation(len(nf))[: cfg.n_neg_meta]
            x = torch.cat([pf[ip], nf[ineg]])
            y = torch.cat([torch.ones(len(ip), dtype=torch.long), torch.zeros(len(ineg), dtype=torch.long)])
            self._remember_before(x, y.to(self.device))
        start = time.perf_counter()
        optimizer = make_optimizer(self.head, cfg.lr_init, cfg)
        train_head(self.head, optimizer, pf, nf, self.iterations, cfg, self.rng)
        self._record["train_seconds"] = time.perf_counter() - start


for _n in (1, 3, 5):
    register_tracker(f"metasdnet-{_n:02d}", partial(MetaSDNet, init_steps=_n))
register_tracker("metasdnet", partial(MetaSDNet, init_steps=1))
for _n in (1, 3, 5, 10, 15, 30):
    register_tracker(f"sdnet-{_n:02d}", partial(SDNet, iterations=_n))

__all__ = ["MetaSDNet", "SDNet", "as_rgb", "default_config"]
