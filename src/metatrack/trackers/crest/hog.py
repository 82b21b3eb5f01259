"""Histograms of oriented gradients on the CNN's cell grid, for the correlation filter beside its CNN channels.

Correlation-filter trackers that lead the VOT and OTB tables combine a CNN's channels with HOG (C-COT,
ECO; CSRT's HOG and colour names): HOG answers the target's outline and fine edges, which stride-8
CNN channels trained to ignore them do not. The map here is Felzenszwalb's contrast-sensitive (18
bins over 360 degrees) and insensitive (9 bins over 180) histograms per 8 x 8 pixel cell, each bin
filled by linear interpolation of the gradient's angle, the cells normalised by the gradient energy
of their 3 x 3 neighbourhood and clipped at 0.2 (Dalal and Triggs' block normalisation in one pass).
It is written in PyTorch so that it runs on the tracker's device and exports with the CNN (ONNX).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SIGNED_BINS = 18
CHANNELS = SIGNED_BINS + SIGNED_BINS // 2  # 18 contrast-sensitive + 9 insensitive
CLIP = 0.2  # Dalal and Triggs' clip of a normalised histogram


class HogMap(nn.Module):
    """uint8-range RGB crops (N, 3, S, S) -> (N, 27, M, M) cell histograms, cell ``k`` centred on crop
    pixel ``cell * k`` (MobileNetV2's stride-8 cell ``k`` is centred on ``8 k + 0.5``)."""

    def __init__(self, cell: int = 8):
        super().__init__()
        self.cell = cell
        diff = torch.tensor([-0.5, 0.0, 0.5])
        self.register_buffer("dx", diff.view(1, 1, 1, 3), persistent=False)
        self.register_buffer("dy", diff.view(1, 1, 3, 1), persistent=False)
        self.register_buffer("bins", torch.arange(SIGNED_BINS, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)

    def forward(self, rgb: torch.Tensor, size: int) -> torch.Tensor:
        """Histograms of ``size`` x ``size`` cells of the crops ``rgb``."""
        gray = rgb.float().mean(dim=1, keepdim=True) / 255.0
        gx = F.conv2d(F.pad(gray, (1, 1, 0, 0), mode="replicate"), self.dx)
        gy = F.conv2d(F.pad(gray, (0, 0, 1, 1), mode="replicate"), self.dy)
        magnitude = torch.sqrt(gx * gx + gy * gy)
        position = torch.remainder(torch.atan2(gy, gx), 2 * math.pi) * (SIGNED_BINS / (2 * math.pi))
        off = torch.remainder(position - self.bins, SIGNED_BINS)  # circular distance to each bin
        weight = F.relu(1.0 - torch.minimum(off, SIGNED_BINS - off))
        half = self.cell // 2
        cells = F.avg_pool2d(weight * magnitude, self.cell, self.cell, padding=half, count_include_pad=True)
        cells = cells[..., :size, :size] * (self.cell * self.cell)
        unsigned = cells[:, : SIGNED_BINS // 2] + cells[:, SIGNED_BINS // 2:]
        energy = unsigned.square().sum(dim=1, keepdim=True)
        block = F.avg_pool2d(energy, 3, 1, padding=1, count_include_pad=False)
        norm = torch.sqrt(block * 4 + 1e-4)  # about a 2 x 2 block's norm, from the 3 x 3 mean
        return torch.clamp(torch.cat([cells, unsigned], dim=1) / norm, max=CLIP)
