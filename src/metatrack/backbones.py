"""Pretrained feature extractors and where their weights come from.

The default backbone is torchvision's ImageNet MobileNetV2, whose checkpoint is fetched offline and
checked by sha256 (:mod:`metatrack.weights`). Features are computed once per frame on a crop around
the target; trackers pool them per candidate box or correlate them with a filter.
"""

from __future__ import annotations

import torch
from torch import nn

from .weights import MOBILENET_V2, ensure_weights, load_checked_state_dict

#: ImageNet normalisation used by every torchvision backbone
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def mobilenet_v2(pretrained: bool = True) -> nn.Module:
    """torchvision's MobileNetV2 with the checked ImageNet weights (or random ones)."""
    import torchvision

    model = torchvision.models.mobilenet_v2()
    if pretrained:
        path = ensure_weights(MOBILENET_V2)
        model.load_state_dict(load_checked_state_dict(path, MOBILENET_V2.sha256))
    return model.eval()


class ImageNetNormalize(nn.Module):
    """Maps uint8-range RGB tensors (N, 3, H, W) in [0, 255] to ImageNet-normalised floats."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
