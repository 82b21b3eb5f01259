"""The template of a family's meta-training task (:class:`metatrack.training.MetaTask`).

A family's task owns its head and step sizes (a :class:`~metatrack.meta.MetaSGD`), turns episodes
into batches and defines the loss; the template owns the inner loop, which is the family's own
first-frame update (``first_step``, the function the tracker's first frame calls) run with the
graph kept, and what a model file records about the task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from ...meta import MetaSGD
from .config import TrackerConfig

Params = dict[str, torch.Tensor]


def meta_training_value(meta_training: Any, key: str, default: Any) -> Any:
    """``key`` of a ``meta_training`` section given as a dict or a MetaTrainConfig (``default`` if absent)."""
    if meta_training is None:
        return default
    value = meta_training.get(key) if isinstance(meta_training, dict) else getattr(meta_training, key, None)
    return default if value is None else value


class AdaptiveTask:
    """Base of a family's meta-training task."""

    #: the model name written into checkpoints and model files
    model_name: ClassVar[str]
    #: the family's first-frame update: ``(head, theta0, alpha, batch, steps, config, *, create_graph,
    #: first_order) -> params``; the tracker's first frame calls the same function
    first_step: ClassVar[Callable[..., Params]]
    #: whether theta0 can start from a pre-trained model file (``meta_training.start_model``)
    takes_start_model: ClassVar[bool] = False

    def __init__(self, config: TrackerConfig, head: nn.Module, alpha_init: float, device: str | torch.device,
                 online_init: float | None = None):
        self.config = config
        self.device = torch.device(device)
        self.alpha_init = float(alpha_init)
        self.learner = MetaSGD(head, self.alpha_init, online_init=online_init).to(self.device)

    def adapt(self, theta0: Params, alphas: Params, batch: Any, steps: int, first_order: bool = False) -> Params:
        """The inner loop on frame j: the tracker's own first-frame update, keeping the graph."""
        return type(self).first_step(self.learner.head, theta0, alphas, batch, steps, self.config,
                                     create_graph=True, first_order=first_order)

    def model_config(self) -> dict[str, Any]:
        """The settings a model file stores (the tracker section it was trained with)."""
        return self.config.to_dict()

    def backbone_sha256(self) -> str | None:
        """sha256 of the backbone weights the model is tied to (None: not tied)."""
        return None

    def model_extra(self) -> dict[str, Any]:
        """Anything else worth recording in the model file's metadata."""
        return {}
