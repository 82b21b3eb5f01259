"""Meta-training MetaCREST: the :class:`~metatrack.training.MetaTask` of the correlation filter.

An episode (sequence, j, delta) gives a training batch on frame ``j`` (the window centred on the
target, a centred gaussian label) and a test batch on frame ``j + delta`` seen as tracking would
see it: the window of frame ``j`` (same centre, same side) laid over frame ``j + delta``, with the
label on the target's true position there. The backbone is frozen, so each frame's features are
computed once, for a window centred on that frame's own ground truth, and kept in memory (float16
trunk outputs, an LRU cache of ``cache_mb``); the test window is then resampled from that cached
map by an affine grid (shift and zoom; parts outside it read as zero features). An iteration thus
costs a few small convolutions once the frames it touches have been seen.

The canonical filter size is the filter size of the training targets' mean shape in cells; as the
window scales with the target's longer side, the longer side is always ``M / window_factor`` cells
and only the mean aspect ratio matters.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...data.episodes import Episode
from ...data.sequence import Sequence
from ...errors import ConfigError
from ...geometry import is_valid_box
from ...meta import MetaSGD
from ...modelfile import save_model
from .config import CRESTConfig
from .features import FeatureExtractor, as_rgb, crop_square
from .first_frame import first_frame_update
from .head import CorrelationHead, filter_size
from .loss import crest_loss, gaussian_label, peak_offset_error
from .tracker import MODEL_NAME, backbone_sha256, shared_extractor
from .window import offset_to_cell, target_cells, window_side

#: alpha's starting value when no meta_training section is given (ours; the paper's 1e-6 was for
#: VGG-16 features of magnitude ~100, ours are normalised to RMS 1)
DEFAULT_ALPHA_INIT = 1e-4


def canonical_filter_size(sequences: Iterable[Sequence], config: CRESTConfig, map_size: int) -> tuple[int, int]:
    """Filter size (h, w) of the mean target shape in cells over every valid box of ``sequences``."""
    cells = []
    for seq in sequences:
        for b in np.asarray(seq.boxes, dtype=np.float64):
            if is_valid_box(b):
                side = window_side((b[2], b[3]), config.window_factor, config.window_basis)
                cells.append(target_cells((b[2], b[3]), side, map_size))
    if not cells:
        raise ConfigError("canonical filter size: no valid box in the training sequences")
    mean = np.mean(np.array(cells), axis=0)
    return filter_size((float(mean[0]), float(mean[1])))


def default_canonical_size(config: CRESTConfig, map_size: int) -> tuple[int, int]:
    """Filter size of a square target (used when neither a size nor sequences are given)."""
    side = window_side((1.0, 1.0), config.window_factor, config.window_basis)
    return filter_size(target_cells((1.0, 1.0), side, map_size))


class CRESTTask:
    """MetaCREST's meta-training task: episodes -> cached features, labels, filter sizes; eq. 6 loss."""

    model_name = MODEL_NAME

    def __init__(self, config: CRESTConfig, device: str = "cpu", alpha_init: float = DEFAULT_ALPHA_INIT,
                 features: FeatureExtractor | None = None, cache_mb: float = 2048.0, seed: int = 0):
        self.device = torch.device(device)
        self.features = features or shared_extractor(config.backbone, config.backbone_weights,
                                                     config.feature_upsample, str(self.device))
        self.map_size = self.features.map_size(config.crop_size)
        if config.canonical_filter_size is None:
            config = config.replace(canonical_filter_size=list(default_canonical_size(config, self.map_size)))
        self.config = config
        gen = torch.Generator().manual_seed(seed)
        head = CorrelationHead(self.features.channels, config.reduced_channels, config.canonical_filter_size,
                               config.correlation, generator=gen)
        self.learner = MetaSGD(head, alpha_init).to(self.device)
        self.cache_bytes = int(cache_mb * 2**20)
        self._cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._cached_bytes = 0
        self.cache_hits = 0
        self.cache_misses = 0

    # ------------------------------------------------------------------ features
    def _frame_features(self, seq: Sequence, index: int) -> torch.Tensor:
        """Normalised features of frame ``index``'s window centred on its ground truth (cached)."""
        key = (seq.name, id(seq), int(index))
        trunk = self._cache.get(key)
        if trunk is not None:
            self._cache.move_to_end(key)
            self.cache_hits += 1
        else:
            self.cache_misses += 1
            b = np.asarray(seq.boxes[index], dtype=np.float64)
            side = window_side((b[2], b[3]), self.config.window_factor, self.config.window_basis)
            crop = crop_square(as_rgb(seq.frame(index)), (b[0] + b[2] / 2, b[1] + b[3] / 2), side,
                               self.config.crop_size)
            trunk = self.features.trunk_features(crop).half()
            size = trunk.numel() * trunk.element_size()
            if size <= self.cache_bytes:
                self._cache[key] = trunk
                self._cached_bytes += size
                while self._cached_bytes > self.cache_bytes:
                    _, old = self._cache.popitem(last=False)
                    self._cached_bytes -= old.numel() * old.element_size()
        return self.features.finish(trunk.to(self.device))

    # ------------------------------------------------------------------ MetaTask protocol
    def episode_batches(self, episode: Episode, rng: np.random.Generator) -> tuple[dict, dict]:
        cfg, m = self.config, self.map_size
        seq = episode.sequence
        bj = np.asarray(seq.boxes[episode.j], dtype=np.float64)
        bf = np.asarray(seq.boxes[episode.future], dtype=np.float64)
        side_j = window_side((bj[2], bj[3]), cfg.window_factor, cfg.window_basis)
        side_f = window_side((bf[2], bf[3]), cfg.window_factor, cfg.window_basis)
        cj = np.array([bj[0] + bj[2] / 2, bj[1] + bj[3] / 2])
        cf = np.array([bf[0] + bf[2] / 2, bf[1] + bf[3] / 2])
        cells = target_cells((bj[2], bj[3]), side_j, m)
        size = filter_size(cells)
        mid = ((m - 1) / 2, (m - 1) / 2)
        feat_j = self._frame_features(seq, episode.j)
        feat_f = self._frame_features(seq, episode.future)
        # frame j + delta seen through frame j's window: resample its own window's features
        s = side_j / side_f
        t = 2.0 * (cj - cf) / side_f
        theta = torch.tensor([[[s, 0.0, t[0]], [0.0, s, t[1]]]], dtype=torch.float32, device=self.device)
        grid = F.affine_grid(theta, list(feat_f.shape), align_corners=False)
        feat_test = F.grid_sample(feat_f, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        label_j = gaussian_label((m, m), mid, cells, cfg.label_sigma_factor, cfg.label_alpha)
        where = offset_to_cell(cf - cj, side_j, m)
        label_f = gaussian_label((m, m), where, cells, cfg.label_sigma_factor, cfg.label_alpha)

        def batch(feat: torch.Tensor, label: np.ndarray) -> dict:
            return {"features": feat, "label": torch.from_numpy(label)[None, None].to(self.device),
                    "size": size}

        return batch(feat_j, label_j), batch(feat_test, label_f)

    def response(self, params: dict[str, torch.Tensor], batch: dict) -> torch.Tensor:
        return self.learner.forward_with(params, batch["features"], batch["size"])

    def _response_loss(self, response: torch.Tensor, params: dict[str, torch.Tensor], batch: dict) -> torch.Tensor:
        cfg = self.config
        return crest_loss(response, batch["label"], params["filter"], cfg.weight_decay, cfg.loss_threshold)

    def loss(self, params: dict[str, torch.Tensor], batch: dict) -> torch.Tensor:
        return self._response_loss(self.response(params, batch), params, batch)

    def adapt(self, theta0: dict[str, torch.Tensor], alphas: dict[str, torch.Tensor], batch: dict,
              steps: int, first_order: bool = False) -> dict[str, torch.Tensor]:
        """The inner loop on frame j: the tracker's own first-frame update, keeping the graph."""
        return first_frame_update(theta0, alphas, lambda p: self.response(p, batch),
                                  lambda r, p: self._response_loss(r, p, batch), batch["label"], steps,
                                  self.config.init_step_length, create_graph=True, first_order=first_order)

    def metrics(self, params: dict[str, torch.Tensor], batch: dict) -> dict[str, float]:
        return {"peak_error_cells": peak_offset_error(self.response(params, batch), batch["label"])}

    def model_metadata(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "backbone_sha256": backbone_sha256(self.config)}


def build_task(tracker_config: dict | None, device: str = "cpu", alpha_init: float | None = None, *,
               meta_training: Any = None, sequences: Iterable[Sequence] | None = None,
               cache_mb: float = 2048.0) -> CRESTTask:
    """The MetaCREST task from a YAML ``tracker:`` section (:class:`CRESTConfig` fields).

    ``alpha_init``, or else ``meta_training`` (a dict or :class:`~metatrack.training.MetaTrainConfig`),
    sets alpha's starting value (default :data:`DEFAULT_ALPHA_INIT`); ``meta_training`` also gives
    the seed of theta0's random start (the 1x1 reduction; the filter starts at zero). ``sequences``
    (the training sequences) give the canonical filter size when the config has none.
    """
    cfg = CRESTConfig.from_dict(tracker_config)
    mt = meta_training
    if isinstance(mt, dict):
        mt_alpha, seed = mt.get("alpha_init"), mt.get("seed", 0)
    elif mt is not None:
        mt_alpha, seed = mt.alpha_init, mt.seed
    else:
        mt_alpha, seed = None, 0
    alpha_init = alpha_init if alpha_init is not None else (mt_alpha if mt_alpha is not None else DEFAULT_ALPHA_INIT)
    features = shared_extractor(cfg.backbone, cfg.backbone_weights, cfg.feature_upsample, str(torch.device(device)))
    if cfg.canonical_filter_size is None and sequences is not None:
        size = canonical_filter_size(sequences, cfg, features.map_size(cfg.crop_size))
        cfg = cfg.replace(canonical_filter_size=list(size))
    return CRESTTask(cfg, device, float(alpha_init), features, cache_mb, int(seed))


def export_model(task: CRESTTask, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the meta-learned theta0 and alpha of ``task`` as a MetaCREST model file."""
    head = task.learner.head
    tensors = {k: v.detach() for k, v in head.state_dict().items()}
    tensors.update({f"alpha.{k}": v.detach() for k, v in task.learner.alphas().items()})
    meta = task.model_metadata()
    return save_model(path, MODEL_NAME, tensors, meta["config"], meta["backbone_sha256"], extra)
