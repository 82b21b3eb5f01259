"""What MetaSDNet's trackers and its meta-training share: the model name, the backbone and its checksum."""

from __future__ import annotations

from pathlib import Path

import torch

from ...weights import MOBILENET_V2, sha256_file
from .config import SDNetConfig
from .features import Backbone, build_backbone

MODEL_NAME = "metasdnet"

_BACKBONES: dict[tuple, Backbone] = {}


def shared_backbone(cfg: SDNetConfig, device: torch.device) -> Backbone:
    """One frozen backbone per (kind, layer, weights, device), shared by trackers: it holds no state."""
    key = (cfg.backbone, cfg.backbone_layer, cfg.pretrained_backbone, cfg.vggm_path, str(device))
    if key not in _BACKBONES:
        _BACKBONES[key] = build_backbone(cfg, device)
    return _BACKBONES[key]


def feature_settings(cfg: SDNetConfig) -> dict:
    """The settings that define the frozen features of a crop (the backbone's weights aside, which
    :func:`backbone_checksum` names): trackers alike in these share a backbone pass and an ONNX file."""
    return {"family": "sdnet", "backbone": cfg.backbone, "backbone_layer": cfg.backbone_layer,
            "pretrained_backbone": cfg.pretrained_backbone, "crop_size": cfg.crop_size}


def backbone_checksum(cfg: SDNetConfig) -> str | None:
    """sha256 of the backbone weights a model is trained on (None for a random backbone)."""
    if cfg.backbone == "vggm":
        return sha256_file(cfg.vggm_path) if cfg.vggm_path and Path(cfg.vggm_path).is_file() else None
    return MOBILENET_V2.sha256 if cfg.pretrained_backbone else None
