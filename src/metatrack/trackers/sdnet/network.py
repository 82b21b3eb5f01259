"""What MetaSDNet's trackers and its meta-training share: the model name, the backbone and its checksum."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from ...weights import MOBILENET_V2, sha256_file
from .config import SDNetConfig
from .features import Backbone, FeatureExtractor, build_backbone
from .head import SDNetHead

MODEL_NAME = "metasdnet"

_BACKBONES: dict[tuple, Backbone] = {}


def shared_backbone(cfg: SDNetConfig, device: torch.device) -> Backbone:
    """One frozen backbone per (kind, layer, weights, device), shared by trackers: it holds no state."""
    key = (cfg.backbone, cfg.backbone_layer, cfg.trainable_blocks, cfg.deep_layer, cfg.pretrained_backbone,
           cfg.vggm_path, str(device))
    if key not in _BACKBONES:
        _BACKBONES[key] = build_backbone(cfg, device)
    return _BACKBONES[key]


def feature_settings(cfg: SDNetConfig) -> dict:
    """The settings that define the frozen features of a crop (the backbone's weights aside, which
    :func:`backbone_checksum` names): trackers alike in these share a backbone pass and an ONNX file."""
    # the stem: a trainable block runs after the shared pass, per tracker
    settings = {"family": "sdnet", "backbone": cfg.backbone, "backbone_layer": cfg.stem_layer,
                "pretrained_backbone": cfg.pretrained_backbone, "crop_size": cfg.crop_size}
    if cfg.deep_layer:  # named only when used, so that the stride-8 map's settings stay what they were
        settings["deep_layer"] = cfg.deep_layer
    return settings


def backbone_checksum(cfg: SDNetConfig) -> str | None:
    """sha256 of the backbone weights a model is trained on (None for a random backbone)."""
    if cfg.backbone == "vggm":
        return sha256_file(cfg.vggm_path) if cfg.vggm_path and Path(cfg.vggm_path).is_file() else None
    return MOBILENET_V2.sha256 if cfg.pretrained_backbone else None


def new_head(cfg: SDNetConfig, extractor: FeatureExtractor, with_block: bool = True) -> SDNetHead:
    """A head for ``cfg`` on ``extractor``'s features; with ``cfg.trainable_blocks`` (and ``with_block``)
    it holds its own trainable copy of the backbone's block at its ImageNet weights. fc4-fc6 draw
    from torch's global RNG exactly as without a block (the block is copied, not drawn)."""
    head = SDNetHead(extractor.feature_dim, cfg.hidden)
    block = extractor.backbone.block
    if with_block and block is not None:
        head.block = copy.deepcopy(block).requires_grad_(True)
        head.pool = extractor.pooling()
    return head.to(extractor.device)
