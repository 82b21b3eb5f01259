"""pyMDNet's multi-domain pre-training of the SDNet head: the family's part of the template's stage.

The network is SDNet's head with one fc6 per training domain: fc4-fc5 shared (the layers MDNet
pre-trains and its tracker keeps), ``branches[k]`` the fc6 of domain ``k``. The backbone stays
frozen and its crops are cached exactly as in meta-training (:class:`.task.TrainingFrames`), so
pre-training costs head work once every frame was seen. Departures from pyMDNet: its conv layers
are trained too (ours are the frozen MobileNetV2 backbone, as for MetaSDNet), its fc4-fc5 have
dropout (ours have none, as SDNet's head), and boxes are pooled from a crop's feature map instead of
cropped as patches. The trackers ``mdnet-NN`` (:mod:`.mdnet`) load fc4-fc5 from the model file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...data.sequence import Sequence
from ...geometry import clip_box
from ..adaptive import FeatureCache
from ..adaptive.pretrain import PretrainConfig, pretrain_builder, split_evenly
from . import sampling
from .config import SDNetConfig
from .features import FeatureExtractor
from .head import SampleBatch, SDNetHead, accuracy, classification_loss, target_scores
from .network import backbone_checksum, shared_backbone
from .task import TrainingFrames

#: the model name of pyMDNet-N's pre-trained file (``metatrack train --config configs/mdnet.yaml``)
MDNET_MODEL = "mdnet"
#: the parameters the model file keeps (MDNet's shared fully connected layers)
SHARED = ("fc4.weight", "fc4.bias", "fc5.weight", "fc5.bias")


class MultiDomainHead(nn.Module):
    """fc4 -> ReLU -> fc5 -> ReLU -> ``branches[k]`` (MDNet's domain-specific fc6)."""

    def __init__(self, in_features: int, hidden: int, n_domains: int):
        super().__init__()
        self.fc4 = nn.Linear(in_features, hidden)
        self.fc5 = nn.Linear(hidden, hidden)
        self.branches = nn.ModuleList(nn.Linear(hidden, 2) for _ in range(n_domains))

    def forward(self, x: torch.Tensor, domain: int) -> torch.Tensor:
        return self.branches[domain](F.relu(self.fc5(F.relu(self.fc4(x)))))


class MDNetPretrainTask(TrainingFrames):
    """The :class:`~metatrack.trackers.adaptive.pretrain.PretrainTask` of the SDNet family."""

    model_name = MDNET_MODEL
    shared = list(SHARED)

    def __init__(self, config: SDNetConfig, n_domains: int, device: str | torch.device = "cpu"):
        self.config = config
        self.device = torch.device(device)
        self.extractor = FeatureExtractor(config, self.device, shared_backbone(config, self.device))
        self.cache = FeatureCache(max_items=config.cache_max_frames)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            start = SDNetHead(self.extractor.feature_dim, config.hidden)  # fc4-fc5 start as SDNet-N's head
            model = MultiDomainHead(self.extractor.feature_dim, config.hidden, n_domains)
        model.load_state_dict({k: v for k, v in start.state_dict().items() if k in SHARED}, strict=False)
        self.model = model.to(self.device)

    def batch_boxes(self, frames: list[tuple[Sequence, int]], cfg: PretrainConfig,
                    rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
        """pyMDNet's mini-batch boxes, per frame (boxes, labels 1/0): ``batch_pos`` positives (IoU in
        ``overlap_pos``) and ``batch_neg`` (or ``hard_negatives``) negatives (IoU in ``overlap_neg``)
        spread evenly over ``frames``, drawn uniformly as pyMDNet's pre-training draws them."""
        n_neg = cfg.hard_negatives or cfg.batch_neg
        out = []
        for (seq, index), n_p, n_n in zip(frames, split_evenly(cfg.batch_pos, len(frames)),
                                          split_evenly(n_neg, len(frames)), strict=True):
            _, window = self.frame_features(seq, index)
            box = clip_box(seq.boxes[index], window.image_size)
            pos = sampling.draw(box, n_p, "uniform", window, rng, trans=cfg.trans_pos, scale=cfg.scale_pos,
                                iou_range=cfg.overlap_pos)
            neg = sampling.draw(box, n_n, "uniform", window, rng, trans=cfg.trans_neg, scale=cfg.scale_neg,
                                iou_range=cfg.overlap_neg)
            out.append((np.concatenate([pos, neg]),
                        np.concatenate([np.ones(len(pos), np.int64), np.zeros(len(neg), np.int64)])))
        return out

    def batch(self, frames: list[tuple[Sequence, int]], cfg: PretrainConfig, rng: np.random.Generator) -> SampleBatch:
        """:meth:`batch_boxes` pooled from the frames' cached feature maps (one RoIAlign per frame)."""
        feats = []
        per_frame = self.batch_boxes(frames, cfg, rng)
        for (seq, index), (boxes, _) in zip(frames, per_frame, strict=True):
            fmap, window = self.frame_features(seq, index)
            feats.append(self.extractor.pool(fmap, window, boxes))
        y = torch.from_numpy(np.concatenate([labels for _, labels in per_frame])).to(self.device)
        keep = cfg.batch_neg if cfg.hard_negatives else 0
        return SampleBatch(torch.cat(feats).float(), y, (y == 0) if keep else None, keep)

    def loss(self, batch: SampleBatch, domain: int, cfg: PretrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
        """pyMDNet's averaged loss through branch ``domain`` (over the ``keep`` hardest negatives, by
        the branch's target score, when mining); accuracy of the batch trained on."""
        logits = self.model(batch.features, domain)
        chosen = torch.arange(len(batch.labels), device=logits.device)
        if batch.keep and batch.mined is not None:
            neg = torch.nonzero(batch.mined, as_tuple=True)[0]
            scores = target_scores(logits.detach()[neg], self.config.score)
            hardest = neg[torch.topk(scores, min(batch.keep, len(neg))).indices]
            chosen = torch.cat([torch.nonzero(~batch.mined, as_tuple=True)[0], hardest])
        logits, labels = logits[chosen], batch.labels[chosen]
        return classification_loss(logits, labels), {"accuracy": accuracy(logits.detach(), labels)}

    def model_config(self) -> dict[str, Any]:
        return self.config.to_dict()

    def backbone_sha256(self) -> str | None:
        return backbone_checksum(self.config)

    def model_extra(self) -> dict[str, Any]:
        return {"feature_dim": self.extractor.feature_dim, "shared": list(SHARED)}


@pretrain_builder
def build_pretrain_task(tracker_config: dict | None, pretraining: PretrainConfig | None = None, n_domains: int = 1,
                        device: str = "cpu") -> MDNetPretrainTask:
    """The pre-training task for the ``tracker:`` section of ``configs/mdnet.yaml`` (``metatrack train``)."""
    return MDNetPretrainTask(SDNetConfig.from_dict(tracker_config or {}), n_domains, device)
