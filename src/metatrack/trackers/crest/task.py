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

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...data.episodes import Episode
from ...data.sequence import Sequence
from ...errors import ConfigError
from ...geometry import is_valid_box
from ...image import as_rgb
from ..adaptive import AdaptiveTask, FeatureCache, meta_training_value
from .config import CRESTConfig
from .features import FeatureExtractor, crop_square
from .first_frame import first_frame_update
from .head import CorrelationHead, ResponseBatch, filter_size
from .loss import crest_loss, gaussian_label, localisation_loss, peak_offset_error
from .online import online_update
from .tracker import MODEL_NAME, backbone_sha256, shared_extractor
from .window import cell_to_offset, offset_to_cell, target_cells, window_side

#: alpha's starting value when no meta_training section is given (ours; the paper's 1e-6 was for
#: VGG-16 features of magnitude ~100, ours are normalised to RMS 1)
DEFAULT_ALPHA_INIT = 1e-4
#: the feature cache's budget in meta-training
DEFAULT_CACHE_MB = 2048.0


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


class CRESTTask(AdaptiveTask):
    """MetaCREST's meta-training task: episodes -> cached features, labels, filter sizes; eq. 6 loss."""

    model_name = MODEL_NAME
    first_step = staticmethod(first_frame_update)

    def __init__(self, config: CRESTConfig, device: str | torch.device = "cpu", alpha_init: float = DEFAULT_ALPHA_INIT,
                 features: FeatureExtractor | None = None, cache_mb: float = DEFAULT_CACHE_MB, seed: int = 0,
                 online_init: float | None = None):
        self.features = features or shared_extractor(config, device)
        self.map_size = self.features.map_size(config.crop_size)
        if config.canonical_filter_size is None:
            config = config.replace(canonical_filter_size=list(default_canonical_size(config, self.map_size)))
        gen = torch.Generator().manual_seed(seed)
        head = CorrelationHead(self.features.channels, config.reduced_channels, config.canonical_filter_size,
                               config.correlation, generator=gen)
        super().__init__(config, head, alpha_init, device, online_init)
        self.cache = FeatureCache(max_bytes=int(cache_mb * 2**20))

    # ------------------------------------------------------------------ features
    def _frame_features(self, seq: Sequence, index: int) -> torch.Tensor:
        """Normalised features of frame ``index``'s window centred on its ground truth (cached)."""

        def compute() -> torch.Tensor:
            b = np.asarray(seq.boxes[index], dtype=np.float64)
            side = window_side((b[2], b[3]), self.config.window_factor, self.config.window_basis)
            crop = crop_square(as_rgb(seq.frame(index)), (b[0] + b[2] / 2, b[1] + b[3] / 2), side,
                               self.config.crop_size)
            return self.features.trunk_features(crop).half()

        trunk = self.cache.get((seq.name, id(seq), int(index)), compute)
        return self.features.finish(trunk.to(self.device))

    def _centre_side(self, seq: Sequence, index: int) -> tuple[np.ndarray, float, np.ndarray]:
        """Frame ``index``'s ground-truth centre, its window side and its box."""
        b = np.asarray(seq.boxes[index], dtype=np.float64)
        side = window_side((b[2], b[3]), self.config.window_factor, self.config.window_basis)
        return np.array([b[0] + b[2] / 2, b[1] + b[3] / 2]), side, b

    def _seen_through(self, seq: Sequence, index: int, centre: np.ndarray, side: float) -> torch.Tensor:
        """Frame ``index``'s features in the window of ``side`` pixels centred on ``centre``, as
        tracking would see them: resampled from the cached map of its own ground-truth window."""
        own_centre, own_side, _ = self._centre_side(seq, index)
        feat = self._frame_features(seq, index)
        s = side / own_side
        t = 2.0 * (centre - own_centre) / own_side
        theta = torch.tensor([[[s, 0.0, t[0]], [0.0, s, t[1]]]], dtype=torch.float32, device=self.device)
        grid = F.affine_grid(theta, list(feat.shape), align_corners=False)
        return F.grid_sample(feat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def _batch(self, feat: torch.Tensor, label: np.ndarray, size: tuple[int, int],
               cells: tuple[float, float]) -> ResponseBatch:
        return ResponseBatch(feat, torch.from_numpy(label)[None, None].to(self.device), size, cells)

    # ------------------------------------------------------------------ MetaTask protocol
    def episode_batches(self, episode: Episode, rng: np.random.Generator) -> tuple[ResponseBatch, ResponseBatch]:
        cfg, m = self.config, self.map_size
        seq = episode.sequence
        cj, side_j, bj = self._centre_side(seq, episode.j)
        cf, _, _ = self._centre_side(seq, episode.future)
        cells = target_cells((bj[2], bj[3]), side_j, m)
        size = filter_size(cells)
        mid = ((m - 1) / 2, (m - 1) / 2)
        feat_j = self._frame_features(seq, episode.j)
        # frame j + delta seen through frame j's window
        feat_test = self._seen_through(seq, episode.future, cj, side_j)
        label_j = gaussian_label((m, m), mid, cells, cfg.label_sigma_factor, cfg.label_alpha)
        where = offset_to_cell(cf - cj, side_j, m)
        label_f = gaussian_label((m, m), where, cells, cfg.label_sigma_factor, cfg.label_alpha)
        return self._batch(feat_j, label_j, size, cells), self._batch(feat_test, label_f, size, cells)

    def tracked_batches(self, theta1: dict[str, torch.Tensor], episode: Episode,
                        frames: int) -> tuple[ResponseBatch | None, ResponseBatch]:
        """Track the frames after j (up to ``frames``, all before j + delta) with ``theta1``: each
        frame's window is centred where the last peak put the target (frame j's side, as the tracker
        between scale changes), its label a gaussian on its own peak (the tracker's own sample, right
        or wrong), until a frame without a valid box; then frame j + delta seen from the last window,
        labelled at its ground truth."""
        cfg, m = self.config, self.map_size
        seq = episode.sequence
        centre, side, bj = self._centre_side(seq, episode.j)
        cells = target_cells((bj[2], bj[3]), side, m)
        size = filter_size(cells)
        feats, labels = [], []
        for index in range(episode.j + 1, min(episode.j + frames, episode.future - 1) + 1):
            if not is_valid_box(np.asarray(seq.boxes[index], dtype=np.float64)):
                break  # the cached windows sit on the ground truth: an unannotated frame ends the run
            feat = self._seen_through(seq, index, centre, side)
            with torch.no_grad():
                resp = self.response(theta1, ResponseBatch(feat, None, size))[0, 0].cpu().numpy()
            peak = np.unravel_index(int(np.argmax(resp)), resp.shape)
            centre = centre + cell_to_offset(peak, side, m)
            feats.append(feat)
            labels.append(gaussian_label((m, m), peak, cells, cfg.label_sigma_factor, cfg.label_alpha))
        tracked = (ResponseBatch(torch.cat(feats), torch.from_numpy(np.stack(labels))[:, None].to(self.device), size,
                                 cells)
                   if feats else None)  # None: frame j + 1 has no box, nothing was tracked
        cf, _, _ = self._centre_side(seq, episode.future)
        label_f = gaussian_label((m, m), offset_to_cell(cf - centre, side, m), cells, cfg.label_sigma_factor,
                                 cfg.label_alpha)
        return tracked, self._batch(self._seen_through(seq, episode.future, centre, side), label_f, size, cells)

    def online_adapt(self, theta1: dict[str, torch.Tensor], online: dict[str, torch.Tensor],
                     tracked: ResponseBatch | None, first_order: bool = False) -> dict[str, torch.Tensor]:
        """The tracker's learned later update (crest/online.py) on the tracked frames, graph kept
        (none when nothing was tracked)."""
        if tracked is None:
            return theta1
        return online_update(theta1, online, lambda p: self.response(p, tracked), tracked.label, self.config,
                             tracked.size, create_graph=True, first_order=first_order)

    def response(self, params: dict[str, torch.Tensor], batch: ResponseBatch) -> torch.Tensor:
        return self.learner.forward_with(params, batch.features, batch.size)

    def loss(self, params: dict[str, torch.Tensor], batch: ResponseBatch) -> torch.Tensor:
        cfg = self.config
        return crest_loss(self.response(params, batch), batch.label, params["filter"], cfg.weight_decay,
                          cfg.loss_threshold)

    def localisation_loss(self, params: dict[str, torch.Tensor], batch: ResponseBatch) -> torch.Tensor:
        """``meta_training.meta_loss: localisation``: where the response puts the target (crest/loss.py)."""
        return localisation_loss(self.response(params, batch), batch.label)

    def metrics(self, params: dict[str, torch.Tensor], batch: ResponseBatch) -> dict[str, float]:
        return {"peak_error_cells": peak_offset_error(self.response(params, batch), batch.label)}

    def backbone_sha256(self) -> str | None:
        return backbone_sha256(self.config)


def build_task(tracker_config: dict | None, meta_training: Any = None, sequences: Iterable[Sequence] | None = None,
               device: str = "cpu", cache_mb: float = DEFAULT_CACHE_MB) -> CRESTTask:
    """The MetaCREST task from a YAML ``tracker:`` section (:class:`CRESTConfig` fields).

    ``meta_training`` (a dict or :class:`~metatrack.training.MetaTrainConfig`) sets alpha's
    starting value (default :data:`DEFAULT_ALPHA_INIT`) and the seed of theta0's random start (the
    1x1 reduction; the filter starts at zero). ``sequences`` (the training sequences) give the
    canonical filter size when the config has none.
    """
    cfg = CRESTConfig.from_dict(tracker_config)
    alpha_init = float(meta_training_value(meta_training, "alpha_init", DEFAULT_ALPHA_INIT))
    seed = int(meta_training_value(meta_training, "seed", 0))
    online_init = meta_training_value(meta_training, "online_init", None)
    features = shared_extractor(cfg, device)
    if cfg.canonical_filter_size is None and sequences is not None:
        size = canonical_filter_size(sequences, cfg, features.map_size(cfg.crop_size))
        cfg = cfg.replace(canonical_filter_size=list(size))
    return CRESTTask(cfg, device, alpha_init, features, cache_mb, seed,
                     None if online_init is None else float(online_init))
