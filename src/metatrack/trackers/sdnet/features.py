"""Features computed once per frame on a crop around the target, pooled per box with RoIAlign.

Per-patch CNN features (pyMDNet) cost seconds per frame on a CPU; RT-MDNet's way costs one
backbone pass: a square crop of side ``crop_context * sqrt(w * h)`` around the previous box (padded
with the image mean where it leaves the frame) is resized to ``crop_size`` pixels, run through the
frozen backbone, and every candidate or training box is pooled from that one feature map. The same
crop rule serves meta-training (around the ground truth, jittered) and tracking (around the last
estimate), so that the head sees the same kind of input in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn
from torchvision.ops import roi_align

from ...backbones import ImageNetNormalize, mobilenet_v2
from ...geometry import as_boxes
from .config import SDNetConfig
from .vggm import VGGM_FIRST_CENTRE, VGGM_MEAN, load_vggm


@dataclass(frozen=True)
class CropWindow:
    """A square region of the image (``x0, y0, side`` in image pixels) resized to ``out`` pixels."""

    x0: float
    y0: float
    side: float
    out: int
    image_size: tuple[int, int]

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return self.out / self.side

    @classmethod
    def around(cls, box: np.ndarray, image_size: tuple[int, int], context: float, out: int) -> CropWindow:
        """The crop of side ``context * sqrt(w * h)`` centred on ``box``."""
        x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
        side = max(context * float(np.sqrt(max(w, 1e-3) * max(h, 1e-3))), 4.0)
        return cls(x + w / 2 - side / 2, y + h / 2 - side / 2, side, int(out), image_size)

    def to_crop(self, boxes) -> np.ndarray:
        """Boxes (x, y, w, h) in image pixels -> the same boxes in crop pixels."""
        return _rescaled(boxes, self.x0, self.y0, self.scale)

    def region(self) -> tuple[float, float, float, float]:
        """The part of the crop inside the image as x1, y1, x2, y2 (image pixels)."""
        w, h = self.image_size
        x1, y1 = max(self.x0, 0.0), max(self.y0, 0.0)
        x2, y2 = min(self.x0 + self.side, float(w)), min(self.y0 + self.side, float(h))
        if x2 - x1 < 1 or y2 - y1 < 1:  # the crop misses the image: fall back to the whole image
            return 0.0, 0.0, float(w), float(h)
        return x1, y1, x2, y2


@dataclass(frozen=True)
class SharedCropWindow(CropWindow):
    """A target's own window (what its boxes are drawn in) whose features are pooled from a crop
    shared with other targets: corner ``map_x0, map_y0`` and ``map_scale`` crop pixels per image pixel."""

    map_x0: float = 0.0
    map_y0: float = 0.0
    map_scale: float = 1.0

    def to_crop(self, boxes) -> np.ndarray:
        """Boxes (x, y, w, h) in image pixels -> the same boxes in the shared crop's pixels."""
        return _rescaled(boxes, self.map_x0, self.map_y0, self.map_scale)


def _rescaled(boxes, x0: float, y0: float, scale: float) -> np.ndarray:
    """Boxes (x, y, w, h) in image pixels -> in the pixels of a crop with corner ``x0, y0`` and
    ``scale`` crop pixels per image pixel."""
    b = as_boxes(boxes).copy()
    b[:, 0] = (b[:, 0] - x0) * scale
    b[:, 1] = (b[:, 1] - y0) * scale
    b[:, 2:] *= scale
    return b


def crop_image(image: np.ndarray, window: CropWindow) -> np.ndarray:
    """The ``window`` of ``image`` as an ``out`` x ``out`` uint8 crop, padded with the image mean."""
    return crop_rect(image, window.x0, window.y0, window.side, window.side, window.out, window.out)


def crop_rect(image: np.ndarray, x0: float, y0: float, side_w: float, side_h: float, out_w: int,
              out_h: int) -> np.ndarray:
    """The rectangle at ``x0, y0`` of ``side_w`` x ``side_h`` image pixels as an ``out_w`` x ``out_h``
    uint8 crop (one scale, ``out_w / side_w``), padded with the image mean.

    Only the part of the frame under the window is touched; a strong reduction first shrinks it with
    area averaging, so that the crop is not aliased.
    """
    h, w = image.shape[:2]
    mean = cv2.mean(image)[:3]
    # the frame's pixels under the window (one pixel of margin for the interpolation)
    ix0 = int(np.clip(np.floor(x0) - 1, 0, w - 1))
    iy0 = int(np.clip(np.floor(y0) - 1, 0, h - 1))
    ix1 = int(np.clip(np.ceil(x0 + side_w) + 1, ix0 + 1, w))
    iy1 = int(np.clip(np.ceil(y0 + side_h) + 1, iy0 + 1, h))
    src = image[iy0:iy1, ix0:ix1]
    x0, y0 = x0 - ix0, y0 - iy0
    s = out_w / side_w
    fx = fy = 1.0
    if s < 0.5:
        sh, sw = src.shape[:2]
        nw, nh = max(1, round(sw * 2 * s)), max(1, round(sh * 2 * s))
        src = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)
        fx, fy = nw / sw, nh / sh
    # continuous coordinates: pixel k covers [k, k + 1]; crop pixel u covers (x - x0) * s in [u, u + 1]
    m = np.array([[s / fx, 0.0, (0.5 / fx - x0) * s - 0.5], [0.0, s / fy, (0.5 / fy - y0) * s - 0.5]])
    return cv2.warpAffine(
        np.ascontiguousarray(src), m, (out_w, out_h), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=mean,
    )


class _Subtract(nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.value


class WithDeepMap(nn.Module):
    """A stride-8 map with a deeper one stacked on its channels: ``deep`` runs on ``stem``'s output,
    its coarser map is resized to the stem's cells (bilinear), and the two are concatenated.

    Detail to place the box and semantics to tell the target from what looks like it, in one map:
    every consumer of the map (RoIAlign, the meta-training cache, the shared pass) stays as it is.
    """

    def __init__(self, stem: nn.Module, deep: nn.Module):
        super().__init__()
        self.stem = stem
        self.deep = deep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.stem(x)
        coarse = nn.functional.interpolate(self.deep(fine), size=fine.shape[-2:], mode="bilinear",
                                           align_corners=False)
        return torch.cat([fine, coarse], dim=1)


@dataclass
class Backbone:
    """A frozen feature extractor with what RoIAlign needs to know about its map.

    ``net`` is the frozen, cached stem; ``block`` (None unless ``trainable_blocks``) the backbone's
    last blocks at their ImageNet weights, which MetaSDNet meta-trains and adapts on the first frame
    (frozen here: a task or tracker runs its own copy). ``stride`` and ``channels`` are those of the
    map RoIAlign pools: the block's output when there is one.
    """

    net: nn.Module
    normalize: nn.Module
    stride: int
    channels: int
    #: continuous image coordinate of feature cell 0's centre minus stride / 2 (RoIAlign's alignment)
    shift: float
    block: nn.Module | None = None


def fold_batch_norms(net: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm that follows a convolution into it (same outputs, fewer ops)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in net.modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        for (name, conv), (bn_name, bn) in zip(children, children[1:], strict=False):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
    return net


def build_backbone(config: SDNetConfig, device: str | torch.device = "cpu") -> Backbone:
    """The configured backbone, frozen, in eval mode, on ``device``; stride and channels measured."""
    block: nn.Module | None = None
    if config.backbone == "vggm":
        net: nn.Module = load_vggm(config.vggm_path or "")
        normalize: nn.Module = _Subtract(VGGM_MEAN)
        first_centre = VGGM_FIRST_CENTRE
    else:
        features = mobilenet_v2(pretrained=config.pretrained_backbone).features
        net = fold_batch_norms(features[: config.stem_layer].eval())
        if config.trainable_blocks:
            # folded too: the block's theta0 is then plain convolution weights and biases (BatchNorm
            # in eval mode is an affine map that the convolution absorbs)
            block = fold_batch_norms(features[config.stem_layer: config.backbone_layer].eval())
        if config.deep_layer:
            net = WithDeepMap(net, fold_batch_norms(features[config.backbone_layer: config.deep_layer].eval()))
        normalize = ImageNetNormalize()
        first_centre = 0.5  # every stride-2 layer is a 3x3 convolution padded by 1
    # channels-last runs MobileNet's depthwise convolutions ~20% faster on a CPU (oneDNN)
    net = net.eval().to(device, memory_format=torch.channels_last)
    normalize = normalize.to(device)
    for p in net.parameters():
        p.requires_grad_(False)
    if block is not None:
        block = block.eval().to(device)
        for p in block.parameters():
            p.requires_grad_(False)
    probe = 256
    with torch.no_grad():
        out = net(torch.zeros(1, 3, probe, probe, device=device))
        if block is not None:
            out = block(out)
    if config.backbone == "vggm":
        stride = 16
    else:
        stride = int(round(probe / out.shape[-1]))
    return Backbone(net, normalize, stride, int(out.shape[1]), first_centre - stride / 2, block)


class FeatureExtractor:
    """Crop, backbone and RoIAlign for one configuration; every tensor lives on ``device``."""

    def __init__(self, config: SDNetConfig, device: str | torch.device = "cpu", backbone: Backbone | None = None):
        self.config = config
        self.device = torch.device(device)
        self.backbone = backbone if backbone is not None else build_backbone(config, self.device)

    @property
    def feature_dim(self) -> int:
        """Length of one pooled box feature (channels x bins x bins)."""
        return self.backbone.channels * self.config.roi_bins**2

    def window(self, box: np.ndarray, image_size: tuple[int, int]) -> CropWindow:
        return CropWindow.around(box, image_size, self.config.crop_context, self.config.crop_size)

    def crop(self, image: np.ndarray, window: CropWindow) -> np.ndarray:
        """The ``window`` of ``image`` as the backbone's uint8 input (S x S x 3)."""
        return crop_image(image, window)

    @torch.no_grad()
    def crop_features(self, crops: list[np.ndarray]) -> torch.Tensor:
        """The backbone's maps of uint8 crops (each S x S x 3) in one batched pass, shape (N, C, h, w)."""
        x = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2).float()
        x = self.backbone.normalize(x).contiguous(memory_format=torch.channels_last)
        return self.backbone.net(x).contiguous()

    def feature_map(self, image: np.ndarray, window: CropWindow) -> torch.Tensor:
        """The backbone's map of the crop, shape (1, C, h, w)."""
        return self.crop_features([self.crop(image, window)])

    def rois(self, window: CropWindow, boxes) -> torch.Tensor:
        """``boxes`` (image pixels, x y w h) as RoIAlign's (N, 5) rows on the crop's map, float32."""
        b = window.to_crop(boxes)
        shift = self.backbone.shift
        rois = np.concatenate(
            [np.zeros((len(b), 1)), b[:, :2] - shift, b[:, :2] + b[:, 2:] - shift], axis=1
        ).astype(np.float32)
        return torch.from_numpy(rois).to(self.device)

    def pool(self, fmap: torch.Tensor, window: CropWindow, boxes) -> torch.Tensor:
        """RoIAlign features of ``boxes`` (image pixels, x y w h), shape (N, feature_dim), float32."""
        if len(as_boxes(boxes)) == 0:
            return torch.zeros(0, self.feature_dim, device=self.device)
        fmap = fmap if fmap.dim() == 4 else fmap[None]
        return self.roi_pool(fmap, self.rois(window, boxes).to(fmap.device))

    def roi_pool(self, maps: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """RoIAlign of (N, 5) ``rois`` rows (batch index, x1 y1 x2 y2 on the crop) on ``maps``
        (B, C, H, W): (N, feature_dim), float32."""
        return roi_align(maps.float(), rois, output_size=self.config.roi_bins,
                         spatial_scale=1.0 / self.backbone.stride, sampling_ratio=self.config.roi_sampling_ratio,
                         aligned=True).flatten(1)

    def pooling(self) -> RoIPooling:
        """The RoIAlign settings of this map, for a head that pools itself (:class:`StemSamples`)."""
        return RoIPooling(self.config.roi_bins, 1.0 / self.backbone.stride, self.config.roi_sampling_ratio)

    def stem_samples(self, fmap: torch.Tensor, window: CropWindow, boxes) -> StemSamples:
        """``boxes`` on the stem's map ``fmap`` (C, h, w or 1, C, h, w), for a head whose trainable
        block runs on the map before it pools them."""
        fmap = fmap if fmap.dim() == 4 else fmap[None]
        return StemSamples(fmap.float(), self.rois(window, boxes).to(fmap.device))


@dataclass(frozen=True)
class RoIPooling:
    """RoIAlign's settings for one map (bins per side, map cells per crop pixel, samples per bin)."""

    bins: int
    spatial_scale: float
    sampling_ratio: int

    def __call__(self, fmap: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """(N, C * bins * bins) features of ``rois`` on ``fmap``.

        torchvision's compiled RoIAlign has no double backward, which the meta-gradient through a
        trainable block needs (the inner step's gradient passes RoIAlign's backward). When a graph is
        being built, the same RoIAlign runs as the linear map it is in the map's values: its weights
        come from torchvision's RoIAlign applied to the unit maps (one channel per map cell, no
        gradient: the boxes are constants), then one matrix product, differentiable to any order and
        ~10x faster there than torchvision's pure-PyTorch RoIAlign. The two agree to float rounding
        (tests/test_sdnet_features_block.py).
        """
        if len(rois) == 0:
            return fmap.new_zeros(0, fmap.shape[1] * self.bins**2)
        if not (torch.is_grad_enabled() and fmap.requires_grad):
            out = roi_align(fmap, rois, output_size=self.bins, spatial_scale=self.spatial_scale,
                            sampling_ratio=self.sampling_ratio, aligned=True)
            return out.flatten(1)
        if fmap.shape[0] != 1:
            raise ValueError(f"RoIPooling with a graph takes one map, got {fmap.shape[0]}")
        _, c, h, w = fmap.shape
        with torch.no_grad():
            unit = torch.eye(h * w, device=fmap.device, dtype=fmap.dtype).reshape(1, h * w, h, w)
            weights = roi_align(unit, rois.to(fmap.dtype), output_size=self.bins, spatial_scale=self.spatial_scale,
                                sampling_ratio=self.sampling_ratio, aligned=True)  # (K, h * w, b, b)
            weights = weights.permute(0, 2, 3, 1).reshape(-1, h * w)
        out = weights @ fmap[0].reshape(c, h * w).T  # (K * b * b, C)
        return out.reshape(len(rois), self.bins, self.bins, c).permute(0, 3, 1, 2).flatten(1)


@dataclass
class StemSamples:
    """Boxes as (N, 5) RoIAlign rows on a stem map (1, C, h, w): the input of a head with a trainable
    block, which runs the block on the map and pools the boxes from its output."""

    fmap: torch.Tensor
    rois: torch.Tensor

    def __len__(self) -> int:
        return len(self.rois)
