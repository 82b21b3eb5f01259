"""MetaCREST's learned online update, used by the tracker's later updates and by meta-training alike.

The paper meta-learns only the first frame's update; for the later ones it searched a rate by hand
(section 3.3: its learned alpha was unstable there) and names when and how to update as future work.
Here meta-training can also go through one later update (``meta_training.online_frames``): after the
first frame the episode tracks a few frames with the adapted filter, labels them where its own
response peaks (the tracker's own, noisy samples), takes one step with per-parameter step sizes
``online`` on those samples, and puts the meta-loss on a frame after them. The tracker with such a
model makes the same step on its own buffer instead of its Adam iterations (``online_update: meta``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from ...meta import adapt
from .config import CRESTConfig
from .first_frame import FILTER_PARAMS
from .head import warp_filter
from .loss import crest_loss

Params = dict[str, torch.Tensor]


def online_update(params: Mapping[str, torch.Tensor], online: Mapping[str, torch.Tensor],
                  response: Callable[[Params], torch.Tensor], labels: torch.Tensor, config: CRESTConfig,
                  size: tuple[int, int], *, create_graph: bool, first_order: bool = False) -> Params:
    """theta after one later update: a step of ``online`` (step sizes by name; only the filter and its
    bias move, as the tracker's buffer holds reduced features) on equation 6 with the filter's weight
    decay, ``response(params)`` being the responses (B, 1, M, M) of the samples labelled ``labels``.

    The step is taken on the filter at the target's ``size`` (cells), where the tracker keeps it; a
    canonical filter and the canonical step sizes are warped there first (a no-op at that size)."""
    params = dict(params)
    params["filter"] = warp_filter(params["filter"], size)
    step = {k: warp_filter(v, size) if k == "filter" else v for k, v in online.items() if k in FILTER_PARAMS}

    def loss(p: Params) -> torch.Tensor:
        return crest_loss(response(p), labels, p["filter"], config.weight_decay, config.loss_threshold)

    return adapt(params, step, loss, 1, create_graph=create_graph, first_order=first_order)
