"""Frozen CNN features of a square search window, as CREST computes them once per frame.

The window around the target is cropped from the frame and resized to ``crop_size`` pixels; a
pretrained CNN turns it into a ``C x M x M`` map at stride 8 (``M = 31`` for the default 248-pixel
crop, an odd size so that the window's centre is a cell centre). Two backbones:

- ``mobilenet_v2`` (default, ships offline): torchvision's ImageNet MobileNetV2 ``features[:7]``
  (stride 8, 32 channels) followed by the 1x1 expansion of block 7 (conv + BN + ReLU6, 192
  channels). The expansion costs almost nothing and gives a channel count above 64, so that the
  64-channel reduction (a learned 1x1 conv for MetaCREST, PCA for CREST-N) is a true reduction as it
  is for CREST's 512-channel VGG-16 conv4_3.
- ``vgg16`` (the paper's): VGG-16 up to the ReLU of conv4_3 (stride 8, 512 channels), from
  torchvision's ``vgg16-397923af.pth`` given by path; it cannot be had offline.

The backbone runs in two parts: a ``trunk`` whose output meta-training caches per frame (small for
MobileNetV2: 32 channels) and a cheap ``tail``. Every map is then divided by its root mean square
so that feature magnitudes (VGG's are in the hundreds) do not dictate learning rates.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...backbones import ImageNetNormalize
from ...errors import CheckpointError, ConfigError
from ...weights import load_checked_state_dict
from .hog import CHANNELS as HOG_CHANNELS
from .hog import HogMap

BACKBONES = ("mobilenet_v2", "vgg16")
#: torchvision's VGG-16 weights file name (what users are expected to give by path)
VGG16_FILENAME = "vgg16-397923af.pth"
#: indices of VGG-16's conv layers up to conv4_3 in ``torchvision.models.vgg16().features``
_VGG_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21)
#: fill colour of the crop outside the frame: ImageNet's mean, zero after normalisation
CROP_FILL = (124, 116, 104)


def crop_square(image: np.ndarray, center: tuple[float, float], side: float, out_size: int) -> np.ndarray:
    """The square ``side`` x ``side`` window centred on ``center``, resized to ``out_size`` pixels.

    Coordinates are continuous (pixel ``i`` covers ``[i, i + 1)``). Parts outside the frame are
    filled with :data:`CROP_FILL`. Windows much larger than the output are first shrunk with
    area averaging, so that a huge target does not alias.
    """
    return crop_rect(image, center, (side, side), (out_size, out_size))


def crop_rect(image: np.ndarray, center: tuple[float, float], sides: tuple[float, float],
              out: tuple[int, int]) -> np.ndarray:
    """The ``sides`` = (w, h) rectangle centred on ``center``, resized to ``out`` = (w, h) pixels at
    one scale (``out[0] / sides[0]``): :func:`crop_square` for a crop shared by several targets."""
    img = image
    cx, cy = float(center[0]), float(center[1])
    side = float(max(sides[0], 1e-3))
    ratio = side / out[0]
    side_h = ratio * out[1] if sides[0] != sides[1] else side
    if ratio >= 2.0:  # shrink the frame first (area averaging), then crop from it
        k = int(ratio)
        h, w = img.shape[:2]
        small = cv2.resize(img, (max(1, round(w / k)), max(1, round(h / k))), interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / w, small.shape[0] / h
        img, cx, cy, side, side_h, ratio = small, cx * fx, cy * fy, side * fx, side_h * fx, side * fx / out[0]
    x0 = cx - side / 2
    y0 = cy - side_h / 2
    m = np.array([[ratio, 0.0, x0 + 0.5 * ratio - 0.5], [0.0, ratio, y0 + 0.5 * ratio - 0.5]])
    return cv2.warpAffine(img, m, (int(out[0]), int(out[1])), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=CROP_FILL)


@lru_cache(maxsize=16)
def hann_window(height: int, width: int | None = None) -> torch.Tensor:
    """The 2-D cosine (Hann) window of CREST (``np.hanning`` outer product), shape (1, 1, H, W)."""
    w = height if width is None else width
    return torch.from_numpy(np.outer(np.hanning(height), np.hanning(w))).float()[None, None]


def fuse_conv_bn(module: nn.Module) -> nn.Module:
    """Fold every BatchNorm that follows a convolution in a Sequential into that convolution.

    Exact in eval mode (the backbone is frozen) and about twice as fast on a CPU, where the
    separate BatchNorm passes over MobileNetV2's large early maps cost as much as the convolutions.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for child in module.children():
        fuse_conv_bn(child)
    if isinstance(module, nn.Sequential):
        items = list(module._modules.items())
        for (n1, a), (n2, b) in zip(items, items[1:], strict=False):
            if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                module._modules[n1] = fuse_conv_bn_eval(a.eval(), b.eval())
                module._modules[n2] = nn.Identity()
    return module


def _vgg16_features(weights: str | Path) -> nn.Sequential:
    """VGG-16 up to conv4_3's ReLU, loaded weights-only from torchvision's state dict file."""
    from torchvision.models import vgg

    path = Path(weights)
    if not path.is_file():
        raise CheckpointError(f"{path}: VGG-16 weights file is missing (expected torchvision's {VGG16_FILENAME})")
    state = load_checked_state_dict(path)
    # torchvision's own VGG-16 feature layout (vgg16().features), without the 120M-parameter classifier
    features = vgg.make_layers(vgg.cfgs["D"], batch_norm=False)[:23]
    wanted = features.state_dict()
    loaded = {}
    for key, ref in wanted.items():
        src = state.get(f"features.{key}")
        if not isinstance(src, torch.Tensor) or tuple(src.shape) != tuple(ref.shape):
            found = None if src is None else tuple(getattr(src, "shape", ()))
            raise CheckpointError(
                f"{path}: not torchvision's VGG-16 state dict (features.{key}: expected shape "
                f"{tuple(ref.shape)}, found {found})"
            )
        loaded[key] = src.float()
    features.load_state_dict(loaded)
    return features


def _unit_rms(x: torch.Tensor) -> torch.Tensor:
    """Each map divided by its root mean square."""
    return x / (x.square().mean(dim=(1, 2, 3), keepdim=True).sqrt() + 1e-6)


class FeatureExtractor(nn.Module):
    """Frozen backbone: crop pixels -> root-mean-square normalised ``C x M x M`` features."""

    stride = 8

    def __init__(self, backbone: str = "mobilenet_v2", weights: str | Path | None = None,
                 upsample: int = 1, pretrained: bool = True, hog_weight: float = 0.0):
        super().__init__()
        if backbone == "mobilenet_v2":
            from ...backbones import mobilenet_v2

            net = mobilenet_v2(pretrained=pretrained).features
            self.trunk = fuse_conv_bn(net[:7])
            self.tail = fuse_conv_bn(net[7].conv[0])
            self.channels = 192
        elif backbone == "vgg16":
            if weights is None:
                raise ConfigError(
                    f"backbone 'vgg16' needs backbone_weights: the path of torchvision's {VGG16_FILENAME}"
                )
            self.trunk = _vgg16_features(weights)
            self.tail = nn.Identity()
            self.channels = 512
        else:
            raise ConfigError(f"backbone {backbone!r}: use one of {', '.join(BACKBONES)}")
        if upsample not in (1, 2):
            raise ConfigError(f"feature_upsample must be 1 or 2, got {upsample}")
        self.name = backbone
        #: crop pixel (continuous) at the centre of map cell 0 before upsampling: 3x3 stride-2
        #: convolutions padded by 1 (MobileNetV2) centre cell k on pixel 8k; VGG's 2x2 pools on 8k + 3.5
        self.first_centre = 0.5 if backbone == "mobilenet_v2" else 4.0
        self.upsample = upsample
        self.normalize = ImageNetNormalize()
        if hog_weight < 0:
            raise ConfigError(f"hog_weight must be >= 0, got {hog_weight}")
        #: HOG channels appended after the CNN's (crest/hog.py), their RMS hog_weight; 0: none
        self.hog_weight = float(hog_weight)
        self.hog = HogMap() if hog_weight > 0 else None
        if self.hog is not None:
            self.channels += HOG_CHANNELS
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> FeatureExtractor:
        """Always in eval mode: the backbone is frozen (BatchNorm statistics included)."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.normalize.mean.device

    @torch.no_grad()
    def trunk_features(self, crops: np.ndarray | list[np.ndarray]) -> torch.Tensor:
        """Trunk output of uint8 crops (N, S, S, 3) or a list of (S, S, 3): (N, C_trunk, M, M)."""
        arr = np.stack(crops) if isinstance(crops, list) else np.asarray(crops)
        if arr.ndim == 3:
            arr = arr[None]
        x = torch.from_numpy(np.ascontiguousarray(arr)).to(self.device).permute(0, 3, 1, 2).float()
        return self.trunk_map(x)

    def trunk_map(self, rgb: torch.Tensor) -> torch.Tensor:
        """Trunk output of float RGB crops (N, 3, S, S), 0-255, with the HOG channels after the
        CNN's when there are any (so that meta-training's cache of trunk outputs holds them too)."""
        out = self.trunk(self.normalize(rgb))
        if self.hog is not None:
            out = torch.cat([out, self.hog(rgb, out.shape[-1]).to(out.dtype)], dim=1)
        return out

    def tail_map(self, trunk: torch.Tensor) -> torch.Tensor:
        """The tail on the trunk's CNN channels; the HOG channels pass as they are."""
        if self.hog is None:
            return self.tail(trunk)
        return torch.cat([self.tail(trunk[:, :-HOG_CHANNELS]), trunk[:, -HOG_CHANNELS:]], dim=1)

    @torch.no_grad()
    def finish(self, trunk: torch.Tensor) -> torch.Tensor:
        """Tail, optional upsampling and RMS normalisation of trunk outputs: (N, C, M, M) float32."""
        return self.rescale(self.tail_map(trunk.float()))

    @torch.no_grad()
    def rescale(self, x: torch.Tensor) -> torch.Tensor:
        """Optional upsampling and RMS normalisation of tail outputs (what a window cut out of a
        shared crop's map needs on its own); the HOG channels to an RMS of hog_weight on their own."""
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="bilinear", align_corners=False)
        if self.hog is not None:
            cnn, hog = x[:, :-HOG_CHANNELS], x[:, -HOG_CHANNELS:]
            return torch.cat([_unit_rms(cnn), self.hog_weight * _unit_rms(hog)], dim=1)
        return _unit_rms(x)

    def forward(self, crops: np.ndarray | list[np.ndarray]) -> torch.Tensor:
        return self.finish(self.trunk_features(crops))

    def map_size(self, crop_size: int) -> int:
        """Side ``M`` of the feature map of a ``crop_size`` crop."""
        m = crop_size
        for _ in range(3):  # three stride-2 stages, 'same' padding (MobileNetV2) or 2x2 pools (VGG)
            m = (m + 1) // 2 if self.name == "mobilenet_v2" else m // 2
        return m * self.upsample
