"""CREST's labels and loss (the paper's equation 6).

The label is a gaussian centred on the target, ``exp(-a * (dx^2 / sx^2 + dy^2 / sy^2))`` with
``s = 0.1 * target size in cells`` and ``a = 0.3``: the official code's ``output_sigma_factor = 0.1``
and its ``gaussian_shaped_labels`` (which uses ``a = 0.2`` only for large square targets, a special
case left out here). The same function with ``s = 0.6 * target size`` is the motion prior
(``motion_sigma_factor = 0.6``). The loss only counts cells whose error exceeds 0.1, weighted by
``e^y`` so that errors on the target's peak cost most.
"""

from __future__ import annotations

import numpy as np
import torch

#: official meta_crest / CREST values
LABEL_SIGMA_FACTOR = 0.1
LABEL_ALPHA = 0.3
MOTION_SIGMA_FACTOR = 0.6
LOSS_THRESHOLD = 0.1


def gaussian_label(size: tuple[int, int], center: tuple[float, float], target_cells: tuple[float, float],
                   sigma_factor: float = LABEL_SIGMA_FACTOR, alpha: float = LABEL_ALPHA) -> np.ndarray:
    """A (H, W) float32 gaussian peaking at ``center`` = (row, col) in cells.

    ``target_cells`` = (h, w) of the target in cells; the spread along each axis is
    ``sigma_factor`` times the target's extent along that axis.
    """
    h, w = int(size[0]), int(size[1])
    sy = max(sigma_factor * float(target_cells[0]), 1e-3)
    sx = max(sigma_factor * float(target_cells[1]), 1e-3)
    ys = (np.arange(h) - float(center[0]))[:, None]
    xs = (np.arange(w) - float(center[1]))[None, :]
    return np.exp(-alpha * (xs**2 / sx**2 + ys**2 / sy**2)).astype(np.float32)


def crest_loss(response: torch.Tensor, label: torch.Tensor, filt: torch.Tensor | None = None,
               weight_decay: float = 0.0, threshold: float = LOSS_THRESHOLD) -> torch.Tensor:
    """Equation 6: ``mean over P of (e^y |y - y_hat|)^2 + weight_decay * ||f||^2``.

    ``P`` = cells with ``|y - y_hat| > threshold`` over the whole batch (an empty ``P`` gives a data
    term of zero). The mask is a constant: it selects cells, it is not differentiated.
    """
    err = (response - label).abs()
    mask = (err > threshold).to(response.dtype).detach()
    count = mask.sum().clamp(min=1.0)
    loss = (torch.exp(label) * err * mask).square().sum() / count
    if filt is not None and weight_decay:
        loss = loss + weight_decay * filt.square().sum()
    return loss


#: ours: the softmax's temperature in label units (the first frame's fitted response peaks near 1)
LOCALISATION_TEMPERATURE = 0.1


def localisation_loss(response: torch.Tensor, label: torch.Tensor,
                      temperature: float = LOCALISATION_TEMPERATURE) -> torch.Tensor:
    """The Kullback-Leibler divergence of the response as a distribution over cells (a softmax of
    ``response / temperature``) from the label normalised to sum 1, per map, averaged: it scores WHERE
    the response puts the target, relative to the rest of the map, not how high it is, so a response
    that is right but weak costs little and one whose strongest cell is a look-alike costs most.
    Equation 6 (the inner loop's) fits every cell's height instead, and its threshold ignores the
    small errors that decide between a target and a look-alike."""
    r = response.flatten(1) / temperature
    y = label.flatten(1)
    p = y / y.sum(1, keepdim=True).clamp(min=1e-12)
    entropy = -(p * torch.log(p.clamp(min=1e-12))).sum(1)
    return (-(p * torch.log_softmax(r, 1)).sum(1) - entropy).mean()


def peak_offset_error(response: torch.Tensor, label: torch.Tensor) -> float:
    """Mean distance in cells between the response's peak and the label's peak (per map)."""
    r = response.detach().flatten(1)
    y = label.detach().flatten(1)
    w = response.shape[-1]
    pr, py = r.argmax(1), y.argmax(1)
    d = torch.stack([(pr // w - py // w).float(), (pr % w - py % w).float()], 1)
    return float(d.norm(dim=1).mean())
