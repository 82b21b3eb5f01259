"""MetaSDNet's first-frame update: meta-training's inner loop and the tracker's first frame both call it.

``init_steps`` meta-learned steps ``theta <- theta - alpha * grad L`` (:func:`metatrack.meta.adapt`)
on the first frame's labelled set, then the decision threshold placed midway between the mean
target-vs-background log-odds of its positives and of its negatives (a shift of fc6's bias).

Why the threshold: one large meta-learned step separates an unseen kind of object from its
surroundings (positives ranked above negatives) but places the threshold as it was learned on the
training objects, so that on unseen objects it can call every box background or every box target
(docs/trackers.md has the measurements). Centring the threshold is differentiable, so
meta-training learns theta0 and alpha with it in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn
from torch.func import functional_call

from ... import meta as meta_core
from .config import SDNetConfig
from .head import SampleBatch, first_step_loss

Params = dict[str, torch.Tensor]
Forward = Callable[[Mapping[str, torch.Tensor], torch.Tensor], torch.Tensor]
FC6_BIAS = "fc6.bias"


def centre_threshold(forward: Forward, params: Params, x: torch.Tensor, y: torch.Tensor) -> Params:
    """``params`` with fc6's bias moved so that log-odds 0 lies midway between the class means.

    Unchanged when ``x`` lacks one of the classes.
    """
    if FC6_BIAS not in params or not (bool((y == 1).any()) and bool((y == 0).any())):
        return params
    logits = forward(params, x)
    odds = logits[:, 1] - logits[:, 0]
    shift = -(odds[y == 1].mean() + odds[y == 0].mean()) / 2
    out = dict(params)
    out[FC6_BIAS] = params[FC6_BIAS] + torch.stack([-shift, shift]) / 2
    return out


def first_frame_update(
    head: nn.Module,
    theta0: Mapping[str, torch.Tensor],
    alpha: Mapping[str, torch.Tensor],
    batch: SampleBatch,
    steps: int,
    config: SDNetConfig,
    *,
    create_graph: bool,
    first_order: bool = False,
) -> Params:
    """The adapted parameters of ``head``: ``steps`` alpha-steps on ``batch``, then the threshold.

    ``create_graph=True`` keeps the graph (meta-training); ``False`` returns detached tensors.
    """

    def forward(params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(head, dict(params), (x,), strict=False)

    x, y = batch.features, batch.labels

    def loss(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return first_step_loss(forward(params, x), y, config.first_step_loss)

    params = meta_core.adapt(theta0, alpha, loss, steps, create_graph=create_graph, first_order=first_order)
    if config.first_step_threshold == "centre":  # without create_graph, adapt's detached result stays detached
        with torch.set_grad_enabled(create_graph and torch.is_grad_enabled()):
            params = centre_threshold(forward, params, x, y)
    return params
