"""CREST's correlation filter as a convolutional layer, after a 1x1 channel reduction.

``response = (reduce(x) * cosine window) conv filter + bias`` (the paper's ``F(x, theta)``, eq. 5),
with ``theta = (theta_d, theta_f)``: a 1x1 convolution reducing the backbone's channels to 64 and a
64-channel filter. MetaCREST meta-learns one filter of a canonical size (the training targets' mean
shape in feature cells); for each target it is warped to that target's size by bilinear
resampling, which is differentiable, so that gradients of a loss on the warped filter reach the
canonical filter ``theta0_f`` and, through the inner step, its step size ``alpha_f``
(the paper's ``Warp(theta0_f)``, section 4.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .features import hann_window


@dataclass
class ResponseBatch:
    """Features of one window (1, C, M, M), the label of the target in it (1, 1, M, M), the size
    (h, w) in cells that the canonical filter is warped to for this target, and the target's own
    extent (h, w) in cells (the filter's odd size rounds it up: the rest is the rim, ``dcf_rim``)."""

    features: torch.Tensor
    label: torch.Tensor
    size: tuple[int, int]
    cells: tuple[float, float] | None = None


def filter_size(target_cells: tuple[float, float]) -> tuple[int, int]:
    """Odd filter size (h, w) covering a target of ``target_cells`` (h, w) cells.

    CREST's rule (official code): ``2 * ceil(t / 2) + 1`` per side, at least 3.
    """
    return tuple(max(3, 2 * math.ceil(max(t, 1e-6) / 2) + 1) for t in target_cells)  # type: ignore[return-value]


def warp_filter(filt: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resample a (C, h, w) filter to ``size`` (H, W) by bilinear interpolation (differentiable)."""
    size = (int(size[0]), int(size[1]))
    if tuple(filt.shape[-2:]) == size:
        return filt
    return F.interpolate(filt[None], size=size, mode="bilinear", align_corners=True)[0]


def correlate(x: torch.Tensor, filt: torch.Tensor, bias: torch.Tensor | None = None,
              method: str = "im2col") -> torch.Tensor:
    """Correlate features (B, C, M, N) with an odd-sized filter (C, kh, kw): (B, 1, M, N).

    This is the convolutional layer ``F.conv2d(x, filt[None], bias, padding=(kh // 2, kw // 2))``
    (``method="conv"``). ``"im2col"`` computes the same thing as one matrix product of every cell
    with every filter tap followed by ``F.fold``, which sums the taps into place: on a CPU it is
    several times faster than PyTorch's direct convolution with a single output channel, forward,
    backward and second order alike.
    """
    kh, kw = filt.shape[-2:]
    if method == "conv":
        return F.conv2d(x, filt[None], bias, padding=(kh // 2, kw // 2))
    b, c, m, n = x.shape
    taps = filt.flip(-2, -1).reshape(c, kh * kw)
    y = torch.einsum("bcl,ct->btl", x.reshape(b, c, m * n), taps)
    out = F.fold(y, (m, n), (kh, kw), padding=(kh // 2, kw // 2))
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def reduce_features(features: torch.Tensor, reduce_weight: torch.Tensor,
                    reduce_bias: torch.Tensor | None) -> torch.Tensor:
    """1x1 channel reduction followed by CREST's cosine window: (B, C, M, N) -> (B, k, M, N)."""
    x = F.conv2d(features, reduce_weight, reduce_bias)
    return x * hann_window(x.shape[-2], x.shape[-1]).to(x.device)


def response_map(features: torch.Tensor, reduce_weight: torch.Tensor, reduce_bias: torch.Tensor,
                 filt: torch.Tensor, filt_bias: torch.Tensor, method: str = "im2col") -> torch.Tensor:
    """Response of (B, C, M, M) backbone features: 1x1 reduction, cosine window, correlation."""
    return correlate(reduce_features(features, reduce_weight, reduce_bias), filt, filt_bias, method)


class CorrelationHead(nn.Module):
    """theta = 1x1 reduction (``reduce.weight``, ``reduce.bias``) + canonical filter (``filter``,
    ``filter_bias``). ``forward(features, size)`` warps the filter to ``size`` (filter cells, h w).
    """

    def __init__(self, in_channels: int, channels: int = 64, canonical_size: tuple[int, int] = (9, 9),
                 correlation: str = "im2col", generator: torch.Generator | None = None):
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, channels, kernel_size=1)
        hc, wc = int(canonical_size[0]), int(canonical_size[1])
        self.filter = nn.Parameter(torch.zeros(channels, hc, wc))
        self.filter_bias = nn.Parameter(torch.zeros(1))
        self.correlation = correlation
        with torch.no_grad():
            self.reduce.weight.normal_(0.0, 1.0 / math.sqrt(in_channels), generator=generator)
            self.reduce.bias.zero_()
        # theta0_f starts at zero (the official code's near-zero start, made exact): one alpha-step
        # from zero is the target's own features, weighted per tap and channel by alpha_f (a
        # template); MetaCREST's config keeps it there (meta_training.lr_theta_factors)

    @property
    def canonical_size(self) -> tuple[int, int]:
        return int(self.filter.shape[1]), int(self.filter.shape[2])

    def forward(self, features: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        filt = self.filter if size is None else warp_filter(self.filter, size)
        return response_map(features, self.reduce.weight, self.reduce.bias, filt, self.filter_bias,
                            self.correlation)
