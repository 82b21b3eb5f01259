"""Shared construction: default config, backbone cache, model files and backbone checksums."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import torch

from ...errors import CheckpointError, ConfigError
from ...weights import MOBILENET_V2, sha256_file
from .config import ARCHITECTURE_KEYS, TRAINED_WITH_KEYS, SDNetConfig
from .features import Backbone, build_backbone

PACKAGE_DIR = Path(__file__).resolve().parents[2]
#: the shipped meta-trained model (produced with ``metatrack train --config configs/metasdnet.yaml``)
SHIPPED_MODEL = PACKAGE_DIR / "models" / "metasdnet.safetensors"
SHIPPED_CONFIG = PACKAGE_DIR / "configs" / "metasdnet.yaml"
MODEL_NAME = "metasdnet"


@cache
def _shipped_tracker_section() -> tuple[tuple[str, Any], ...]:
    import yaml

    if not SHIPPED_CONFIG.is_file():
        return ()
    section = (yaml.safe_load(SHIPPED_CONFIG.read_text()) or {}).get("tracker") or {}
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in section.items()))


def default_config() -> SDNetConfig:
    """The ``tracker:`` section of the shipped ``configs/metasdnet.yaml`` (dataclass defaults if absent)."""
    return SDNetConfig.from_dict(dict(_shipped_tracker_section()))


def make_config(config: SDNetConfig | dict | None, overrides: dict[str, Any]) -> SDNetConfig:
    """``config`` (default: the shipped one) with keyword ``overrides`` applied."""
    if config is None:
        base = default_config()
    elif isinstance(config, SDNetConfig):
        base = config
    elif isinstance(config, dict):
        base = SDNetConfig.from_dict(config)
    else:
        raise ConfigError(f"config must be an SDNetConfig or a dict, got {type(config).__name__}")
    return base.replace(**overrides) if overrides else base


_BACKBONES: dict[tuple, Backbone] = {}


def shared_backbone(cfg: SDNetConfig, device: torch.device) -> Backbone:
    """One frozen backbone per (kind, layer, weights, device), shared by trackers: it holds no state."""
    key = (cfg.backbone, cfg.backbone_layer, cfg.pretrained_backbone, cfg.vggm_path, str(device))
    if key not in _BACKBONES:
        _BACKBONES[key] = build_backbone(cfg, device)
    return _BACKBONES[key]


def backbone_checksum(cfg: SDNetConfig) -> str | None:
    """sha256 of the backbone weights a model is trained on (None for a random backbone)."""
    if cfg.backbone == "vggm":
        return sha256_file(cfg.vggm_path) if cfg.vggm_path and Path(cfg.vggm_path).is_file() else None
    return MOBILENET_V2.sha256 if cfg.pretrained_backbone else None


def model_config(stored: dict[str, Any], base: SDNetConfig, overrides: dict[str, Any], path: Path) -> SDNetConfig:
    """The tracker config for a model file: its architecture keys and the loss its step was
    meta-trained with, everything else from ``base``.

    Overriding one of these with another value than the model's is a ConfigError: the weights
    would not fit the features, or the step would not be the one that was learned.
    """
    arch = {k: stored[k] for k in (*ARCHITECTURE_KEYS, "pretrained_backbone") if k in stored}
    arch.update({k: stored.get(k, legacy) for k, legacy in TRAINED_WITH_KEYS.items()})
    clash = [k for k in arch if k in overrides and overrides[k] != arch[k]]
    if clash:
        raise ConfigError(
            f"{path}: the model was trained with {', '.join(f'{k}={arch[k]!r}' for k in clash)}; "
            "these cannot be changed for this model"
        )
    try:
        return base.replace(**{**arch, **overrides})
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its stored config does not load ({exc})") from None
