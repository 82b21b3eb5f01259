"""MetaCREST's first-frame update, used by the tracker and by meta-training's inner loop alike.

``init_steps`` Meta-SGD steps from theta0 (:func:`metatrack.meta.adapt`). With
``init_step_length: fit`` (ours) the step is then stretched or shrunk along its own direction to
the length that fits the first frame's label best. The response is linear in the filter and its
bias (exactly so when the 1x1 reduction does not move, as in a step from a zero filter), so along
``theta0 + c * (theta1 - theta0)`` it is ``r0 + c * dr`` and the weighted least-squares ``c`` is
closed-form (weights ``e^(2y)`` of equation 6, every cell). A step from a zero filter writes the
target's own features into the filter, and the response of those grows with the square of the
target's feature energy, which varies several-fold between objects; fitting the length keeps the
response's peak near the label's for every target. ``c`` is differentiable, so meta-training
learns theta0 and alpha through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from ...meta import adapt

Params = dict[str, torch.Tensor]


def fitted_length(r0: torch.Tensor, r1: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """The ``c`` minimising ``sum(e^(2y) * (r0 + c * (r1 - r0) - y)^2)``, clamped to [0.05, 20]."""
    dr = r1 - r0
    w = torch.exp(2.0 * label)
    c = (w * dr * (label - r0)).sum() / ((w * dr * dr).sum() + 1e-12)
    return c.clamp(0.05, 20.0)


def first_frame_update(theta0: Mapping[str, torch.Tensor], alpha: Mapping[str, torch.Tensor],
                       response: Callable[[Params], torch.Tensor],
                       loss: Callable[[torch.Tensor, Params], torch.Tensor], label: torch.Tensor, steps: int,
                       step_length: str = "alpha", *, create_graph: bool = False,
                       first_order: bool = False) -> Params:
    """theta after the first frame: ``steps`` alpha-steps, their length fitted when ``step_length == "fit"``.

    ``response(theta)`` is the response map, ``loss(response, theta)`` the loss of it (equation 6).
    """
    theta1 = adapt(theta0, alpha, lambda p: loss(response(p), p), steps, create_graph=create_graph,
                   first_order=first_order)
    if step_length == "alpha" or steps == 0:
        return theta1
    with torch.set_grad_enabled(create_graph):  # without a graph (tracking) the result is detached
        c = fitted_length(response(dict(theta0)), response(theta1), label)
        return {n: theta0[n] + c * (theta1[n] - theta0[n]) if n in alpha else theta1[n] for n in theta1}
