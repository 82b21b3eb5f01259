"""MetaSDNet's meta-training task (the :class:`metatrack.training.MetaTask` protocol).

The backbone (or, with ``trainable_blocks``, its stem: the blocks before the meta-trained ones) is
frozen, so the feature map of each training frame's crop is computed once and cached (float16,
bounded LRU); every episode then draws fresh positives and negatives on frames ``j`` and
``j + delta`` with the first-frame rule of the tracker and pools them from the cached maps (through
the head's own block first, when there is one), so that an iteration costs only head work. The crop
is centred on the ground-truth box moved by a small jitter that is fixed per frame (seeded),
standing in for the tracker's previous estimate.
Label shuffling (paper, section 4.2): in half the episodes the labels of both batches are swapped.

Beyond the paper (issue 13, ``meta_training.online_frames``): after the first step the episode
tracks the next frames with theta1 as the tracker does, stores the tracker's own update samples
around each tracked box (right or wrong), takes one step of learned online step sizes on them
(online.learned_update, the tracker's ``online_update: meta``) and puts the meta-loss on frame
``j + delta`` after them. In a label-shuffled episode the target is class 0 throughout (tracking
reads class 0's score, the stored samples and every test batch are labelled so).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...data.episodes import Episode
from ...data.sequence import Sequence
from ...errors import ConfigError, DataError
from ...geometry import clip_box, is_valid_box
from ...image import as_rgb
from ..adaptive import AdaptiveTask, FeatureCache, meta_training_value
from ..adaptive.pretrain import read_pretrained_model
from . import sampling
from .config import SDNetConfig
from .features import CropWindow, FeatureExtractor
from .first_frame import first_frame_update
from .head import SampleBatch, accuracy, classification_loss, target_scores
from .network import MODEL_NAME, backbone_checksum, new_head, shared_backbone
from .online import learned_update
from .tracker import top_k_mean

#: alpha's starting value for the averaged loss: the paper's 1e-4 was set for pyMDNet (2017)'s loss
#: summed over a 128-sample batch, i.e. about 1e-4 * 128 = 0.0128 per averaged loss
DEFAULT_ALPHA_INIT = 0.01


def hard_sample_loss(logits: torch.Tensor, labels: torch.Tensor, mined: torch.Tensor, keep: int) -> torch.Tensor:
    """:func:`classification_loss` over every unmined sample and the ``keep`` mined ones with the
    highest loss (pyMDNet's hard negative mining: the selection itself carries no gradient)."""
    per_sample = F.cross_entropy(logits, labels, reduction="none")
    idx = torch.nonzero(mined, as_tuple=True)[0]
    hardest = idx[torch.topk(per_sample.detach()[idx], min(keep, len(idx))).indices]
    chosen = torch.cat([torch.nonzero(~mined, as_tuple=True)[0], hardest])
    return per_sample[chosen].mean()


class TrainingFrames:
    """Features of training frames for offline training (meta-training, MDNet's pre-training): a crop
    around each frame's true box moved by a per-frame jitter, through the frozen backbone once,
    cached. Needs ``config`` (:class:`SDNetConfig`), ``extractor``, ``cache`` and ``device``."""

    config: SDNetConfig
    extractor: FeatureExtractor
    cache: FeatureCache
    device: torch.device

    def crop_window(self, sequence: Sequence, index: int, image_size: tuple[int, int]) -> CropWindow:
        """The crop around frame ``index``'s box, moved by a jitter fixed for that frame."""
        cfg = self.config
        box = clip_box(sequence.boxes[index], image_size)
        rng = np.random.default_rng([cfg.seed, zlib.crc32(sequence.name.encode()), index])
        side = float(np.sqrt(box[2] * box[3]))
        shift = cfg.crop_jitter * side * (rng.random(2) * 2 - 1)
        scale = cfg.crop_scale_jitter ** (rng.random() * 2 - 1)
        c = box[:2] + box[2:] / 2 + shift
        wh = box[2:] * scale
        return self.extractor.window(np.concatenate([c - wh / 2, wh]), image_size)

    def frame_features(self, sequence: Sequence, index: int) -> tuple[torch.Tensor, CropWindow]:
        """The cached (C, h, w) float16 map of frame ``index``'s crop and its window."""
        key = (id(sequence), sequence.name, len(sequence), index)

        def compute():
            image = as_rgb(sequence.frame(index))
            size = (int(image.shape[1]), int(image.shape[0]))
            window = self.crop_window(sequence, index, size)
            fmap = self.extractor.feature_map(image, window)[0].to(torch.float16)
            return fmap, window

        return self.cache.get(key, compute)

    def frame_batch(self, sequence: Sequence, index: int, rng: np.random.Generator,
                    n_neg: int | None = None) -> SampleBatch:
        """Fresh positives and ``n_neg`` (default ``n_neg_meta``) negatives on frame ``index``
        (the tracker's first-frame rule), pooled."""
        box = sequence.boxes[index]
        if not is_valid_box(box):
            raise DataError(f"sequence {sequence.name!r} frame {index + 1} has no valid box for an episode")
        fmap, window = self.frame_features(sequence, index)
        box = clip_box(box, window.image_size)
        cfg = self.config
        boxes, labels = sampling.labelled_set(box, cfg.n_pos_meta, n_neg or cfg.n_neg_meta, window, cfg, rng)
        if cfg.trainable_blocks:  # the head runs its block on the cached stem map, then pools
            x = self.extractor.stem_samples(fmap, window, boxes)
        else:
            x = self.extractor.pool(fmap, window, boxes)
        return SampleBatch(x, torch.from_numpy(labels).to(self.device))


@dataclass
class TrackedSamples:
    """The tracker's sample store after an episode's tracked frames: pooled positives and negatives
    (frame j's around its true box, each tracked frame's around the tracked box), the target's class
    index (0 in a label-shuffled episode) and the tracked boxes (frame j's first)."""

    pos: torch.Tensor
    neg: torch.Tensor
    target: int
    boxes: np.ndarray


class SDNetTask(TrainingFrames, AdaptiveTask):
    """MetaSDNet's head (fc4-fc6, and the backbone's last ``trainable_blocks`` blocks as ``block.*``)
    and alpha, trained by :class:`metatrack.training.MetaTrainer`; the schedule says from which
    iteration the block joins (the cache then holds the frozen stem's maps)."""

    model_name = MODEL_NAME
    first_step = staticmethod(first_frame_update)
    takes_start_model = True

    def __init__(self, config: SDNetConfig, device: str | torch.device = "cpu",
                 alpha_init: float = DEFAULT_ALPHA_INIT, online_init: float | None = None,
                 start_model: str | Path | None = None):
        if online_init is not None and config.trainable_blocks:
            raise ConfigError("meta_training.online_frames: MetaSDNet's online episodes need trainable_blocks 0 "
                              "(the online updates train fc4-fc6 on pooled features)")
        self.extractor = FeatureExtractor(config, torch.device(device),
                                          shared_backbone(config, torch.device(device)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            head = new_head(config, self.extractor)
        if start_model is not None:
            self._start_shared(config, head, start_model)
        super().__init__(config, head, alpha_init, device, online_init)
        self.cache = FeatureCache(max_items=config.cache_max_frames)
        #: online episodes: the last episode_batches call's (episode, test batch, shuffled), so that the
        #: tracked frames, the test batch and the look-ahead's batch of the same j share its shuffling
        self._last: tuple[Episode, SampleBatch, bool] | None = None

    def _start_shared(self, config: SDNetConfig, head: torch.nn.Module, path: str | Path) -> None:
        """theta0's fc4-fc5 from a file of MDNet's multi-domain stage (``configs/mdnet.yaml``; "shipped":
        the shipped ``mdnet.safetensors``) instead of the seeded random start; fc6 stays random. The
        file must have been trained on this config's features and head width."""
        from .pretrain import MDNET_MODEL, SHARED  # pretrain.py builds on this module

        same = {k: getattr(config, k) for k in SDNetConfig.MODEL_FIELDS}  # a file of other features: refused
        found = read_pretrained_model(MDNET_MODEL, None if str(path) == "shipped" else path, SDNetConfig,
                                      config, same, backbone_checksum,
                                      lambda cfg: {k: v for k, v in head.state_dict().items() if k in SHARED})
        missing, unexpected = head.load_state_dict(found.theta0, strict=False)  # as MDNet._new_head
        assert not unexpected and set(missing) == {"fc6.weight", "fc6.bias"}

    # ------------------------------------------------------------------ the MetaTask protocol
    def episode_batches(self, episode: Episode, rng: np.random.Generator) -> tuple[SampleBatch, SampleBatch]:
        """(frame j's batch, frame j + delta's batch); both label-shuffled with probability ``label_shuffle``."""
        cfg = self.config
        train = self.frame_batch(episode.sequence, episode.j, rng)
        test = self.frame_batch(episode.sequence, episode.future, rng, cfg.meta_hard_negatives or None)
        if cfg.meta_hard_negatives:
            test = SampleBatch(test.features, test.labels, test.labels == 0, cfg.n_neg_meta)
        shuffled = bool(rng.random() < self.config.label_shuffle)
        last = self._last
        if self.learner.online is not None and last is not None and last[0].sequence is episode.sequence \
                and last[0].j == episode.j:
            shuffled = last[2]  # the look-ahead of an online episode: frame j's shuffling
        if shuffled:
            train, test = train.flipped(), test.flipped()
        if self.learner.online is not None:
            self._last = (episode, test, shuffled)
        return train, test

    def tracked_batches(self, theta1: dict[str, torch.Tensor], episode: Episode,
                        frames: int) -> tuple[TrackedSamples, SampleBatch]:
        """Track frames j + 1 .. j + ``frames`` (all before j + delta, up to a frame without a box)
        with ``theta1`` as the tracker does: ``n_samples`` candidates around the last box (the tracker's
        rule, widening after a failure), the top-k mean; on success pyMDNet's update samples around the
        tracked box (positives by IoU to it, right or wrong) join the store, which starts with frame
        j's around its true box (as the tracker's). Then frame j + delta's test batch: episode_batches'
        own for this episode (or a fresh one). Candidates are pooled from each frame's cached crop,
        which is centred on its (jittered) true box rather than on the tracked one: boxes beyond it
        read the border's features."""
        cfg, seq = self.config, episode.sequence
        last = self._last
        same = last is not None and last[0] is episode
        target = 0 if same and last[2] else 1
        rng = np.random.default_rng([cfg.seed, zlib.crc32(seq.name.encode()), episode.j, episode.delta, 2])
        fmap, window = self.frame_features(seq, episode.j)
        box = clip_box(seq.boxes[episode.j], window.image_size)
        pos, neg = self._update_samples(fmap, window, box, rng)
        store_pos, store_neg, boxes = [pos], [neg], [box]
        trans = cfg.trans
        for index in range(episode.j + 1, min(episode.j + frames, episode.future - 1) + 1):
            if not is_valid_box(seq.boxes[index]):
                break  # the cached crops sit on the true boxes: an unannotated frame ends the run
            fmap, window = self.frame_features(seq, index)
            box = clip_box(box, window.image_size)
            cands = sampling.candidates(box, window, cfg, trans, rng)
            with torch.no_grad():
                logits = self.learner.forward_with(theta1, self.extractor.pool(fmap, window, cands))
                scores = target_scores(logits[:, [1 - target, target]], cfg.score)
            top, _, success = top_k_mean(scores, cfg)  # the tracker's rule
            trans = cfg.trans if success else min(trans * cfg.trans_growth, cfg.trans_limit)
            if len(top):  # no finite score: the box stays, as the tracker's does
                box = clip_box(cands[top].mean(axis=0), window.image_size)
            boxes.append(box)
            if success:  # the tracker stores samples only on success
                pos, neg = self._update_samples(fmap, window, box, rng)
                store_pos.append(pos)
                store_neg.append(neg)
        tracked = TrackedSamples(torch.cat(store_pos), torch.cat(store_neg), target, np.stack(boxes))
        test = last[1] if same else self.frame_batch(seq, episode.future, rng)
        return tracked, test

    def _update_samples(self, fmap: torch.Tensor, window, box: np.ndarray,
                        rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """pyMDNet's update samples around ``box`` (the tracker's rule), pooled: positives, negatives."""
        boxes, n_pos = sampling.update_samples(box, window, self.config, rng)
        feats = self.extractor.pool(fmap, window, boxes)
        return feats[:n_pos], feats[n_pos:]

    def online_adapt(self, theta1: dict[str, torch.Tensor], online: dict[str, torch.Tensor],
                     tracked: TrackedSamples, first_order: bool = False) -> dict[str, torch.Tensor]:
        """The tracker's learned later update (online.learned_update) on the tracked store, graph kept."""
        return learned_update(self.learner.forward_with, theta1, online, tracked.pos.float(), tracked.neg.float(),
                              self.config, create_graph=True, first_order=first_order, target=tracked.target)

    def loss(self, params: dict[str, torch.Tensor], batch: SampleBatch) -> torch.Tensor:
        """The meta-loss on frame j + delta: pyMDNet's averaged loss (over the hardest negatives
        when ``meta_hard_negatives`` is set)."""
        logits = self.learner.forward_with(params, batch.features)
        if batch.keep and batch.mined is not None:
            return hard_sample_loss(logits, batch.labels, batch.mined, batch.keep)
        return classification_loss(logits, batch.labels)

    def metrics(self, params: dict[str, torch.Tensor], batch: SampleBatch) -> dict[str, float]:
        with torch.no_grad():
            return {"accuracy": accuracy(self.learner.forward_with(params, batch.features), batch.labels)}

    def backbone_sha256(self) -> str | None:
        return backbone_checksum(self.config)

    def model_extra(self) -> dict[str, Any]:
        return {"alpha_init": self.alpha_init, "feature_dim": self.extractor.feature_dim}


def build_task(tracker_config: dict | None, meta_training: Any = None, sequences: Iterable[Sequence] | None = None,
               device: str = "cpu") -> SDNetTask:
    """The meta-training task for the ``tracker:`` section of a config (``metatrack train``).

    ``meta_training`` (a dict or :class:`~metatrack.training.MetaTrainConfig`) gives alpha's start
    (default :data:`DEFAULT_ALPHA_INIT`) and, for online episodes, the online step sizes' start
    (``online_init``); the training ``sequences`` are not needed.
    """
    alpha_init = meta_training_value(meta_training, "alpha_init", DEFAULT_ALPHA_INIT)
    online_init = meta_training_value(meta_training, "online_init", None)
    return SDNetTask(SDNetConfig.from_dict(tracker_config or {}), device=device, alpha_init=float(alpha_init),
                     online_init=None if online_init is None else float(online_init),
                     start_model=meta_training_value(meta_training, "start_model", None))
