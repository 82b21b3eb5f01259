"""pyMDNet-N: SDNet-N started from MDNet's multi-domain pre-trained fc4-fc5.

The paper compares MetaSDNet with pyMDNet-N: MDNet's offline multi-domain pre-training of the
shared layers (:mod:`.pretrain`), then on the first frame a new randomly initialised fc6 trained
N iterations together with fc4-fc5, then pyMDNet's online updates. Here that is SDNet-N's first
frame and updates unchanged; only the head it starts from differs (fc4-fc5 from the model file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..adaptive.pretrain import read_pretrained_model
from .config import SDNetConfig
from .features import FeatureExtractor
from .head import SDNetHead
from .network import backbone_checksum, shared_backbone
from .pretrain import MDNET_MODEL, SHARED
from .tracker import SDNet


class MDNet(SDNet):
    """pyMDNet-``iterations``: pre-trained fc4-fc5 and a fresh fc6 trained ``iterations`` SGD
    iterations on the first frame (SDNet-N's), then SDNet-N's online updates.

    ``model``: a file written by ``metatrack train --config configs/mdnet.yaml`` (default: the
    shipped ``models/mdnet.safetensors``); it fixes the features and the head's width.
    """

    def __init__(self, iterations: int = 30, model: str | Path | None = None, config: SDNetConfig | dict | None = None,
                 device: str | torch.device = "cpu", **overrides: Any):
        def shared_state(cfg: SDNetConfig) -> dict[str, torch.Tensor]:
            dev = torch.device(device)
            dim = FeatureExtractor(cfg, dev, shared_backbone(cfg, dev)).feature_dim
            return {k: v for k, v in SDNetHead(dim, cfg.hidden).state_dict().items() if k in SHARED}

        found = read_pretrained_model(MDNET_MODEL, model, SDNetConfig, SDNetConfig.build(config), overrides,
                                      backbone_checksum, shared_state)
        super().__init__(iterations, config=found.config, device=device)
        self.model_path = found.path
        self.shared = {k: v.to(self.device) for k, v in found.theta0.items()}

    def _new_head(self) -> SDNetHead:
        """SDNet-N's seeded random head with fc4-fc5 replaced by the pre-trained ones (fc6 stays new)."""
        head = super()._new_head()
        missing, unexpected = head.load_state_dict(self.shared, strict=False)
        assert not unexpected and set(missing) == {"fc6.weight", "fc6.bias"}
        return head


__all__ = ["MDNet"]
