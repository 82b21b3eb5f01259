"""The classifier head fc4-fc6 over pooled box features, its loss and its scores.

Like pyMDNet's fully connected layers: two hidden layers with ReLU and two output logits
(background, target). Dropout is left out: the meta-learned first step and the online updates are
both plain gradient steps on the same module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SampleBatch:
    """Pooled box features (N, D) and their labels (N,), 1 = target.

    ``mined`` marks the background boxes of which only the ``keep`` hardest count in the loss
    (none when ``keep`` is 0); it stays with the boxes when the labels are shuffled.
    """

    features: torch.Tensor
    labels: torch.Tensor
    mined: torch.Tensor | None = None
    keep: int = 0

    def flipped(self) -> SampleBatch:
        return SampleBatch(self.features, 1 - self.labels, self.mined, self.keep)


class SDNetHead(nn.Module):
    """fc4 -> ReLU -> fc5 -> ReLU -> fc6 (2 logits: background, target).

    With a trainable ``block`` (the backbone's last blocks, ``trainable_blocks``) the head is what
    MetaSDNet meta-trains and adapts on the first frame: its input is then a
    :class:`~.features.StemSamples` (boxes on the frozen stem's map), run through the block and pooled
    by ``pool`` before fc4. Pooled features (a tensor) go to fc4 directly, as without a block. The
    block's parameters are named ``block.*``; without one the parameters are fc4-fc6 alone.
    """

    def __init__(self, in_features: int, hidden: int = 256, block: nn.Module | None = None,
                 pool: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None):
        super().__init__()
        self.fc4 = nn.Linear(in_features, hidden)
        self.fc5 = nn.Linear(hidden, hidden)
        self.fc6 = nn.Linear(hidden, 2)
        if block is not None:
            if pool is None:
                raise ValueError("a head with a block needs its RoIAlign settings (pool)")
            self.block = block
        self.pool = pool

    def forward(self, x) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):  # StemSamples: the block, then RoIAlign
            x = self.pool(self.block(x.fmap), x.rois)
        return self.fc6(F.relu(self.fc5(F.relu(self.fc4(x)))))

    def fc_state(self) -> dict[str, torch.Tensor]:
        """fc4-fc6's parameters (what the online updates train)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("block.")}


def balance_layers(head: SDNetHead) -> None:
    """Rescale fc4, fc5, fc6 in place to equal weight norms, leaving the function unchanged.

    ReLU is positively homogeneous: multiplying fc4 by s4, fc5 by s5 and fc6's weight by s6 with
    s4 * s5 * s6 = 1 (biases by the product so far) gives the same logits. Plain SGD from a random
    start keeps a network's layers about balanced; the meta-learned head is not (its fc6 is several
    times smaller than fc4 and fc5: docs/trackers.md), and since the gradient reaching fc4 and fc5
    passes through fc6's weights, the online SGD updates then barely move them. Balancing restores SGD's
    usual per-layer step sizes without changing a single score.
    """
    layers = [head.fc4, head.fc5, head.fc6]
    with torch.no_grad():
        norms = torch.stack([layer.weight.norm() for layer in layers])
        if not bool(torch.isfinite(norms).all()) or bool((norms <= 0).any()):
            return
        target = norms.log().mean().exp()
        carried = torch.ones(())
        for layer, norm in zip(layers, norms, strict=True):
            s = target / norm
            layer.weight.mul_(s)
            carried = carried * s
            layer.bias.mul_(carried)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """pyMDNet's BCELoss: softmax cross-entropy, target label 1, background 0, averaged over samples."""
    return F.cross_entropy(logits, labels)


def first_step_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str = "mean") -> torch.Tensor:
    """The loss of MetaSDNet's meta-learned first-frame step (``first_frame.first_frame_update``).

    ``"mean"``: :func:`classification_loss`. ``"balanced"``: each class's mean loss weighted
    equally, so that the 1:3 positives:negatives of the first-frame set do not make the step push
    every score towards background.
    """
    if kind == "mean":
        return classification_loss(logits, labels)
    counts = torch.bincount(labels, minlength=2).clamp(min=1).to(logits.dtype)
    return F.cross_entropy(logits, labels, weight=1.0 / counts) if len(labels) else logits.sum() * 0


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of samples whose larger logit is their label."""
    if len(labels) == 0:
        return float("nan")
    return float((logits.argmax(1) == labels).float().mean())


#: the paper's Table 2 measures accuracy on 1 positive for every 3 negatives (chance: 0.75)
TABLE2_NEGATIVES_PER_POSITIVE = 3


def accuracy_at_1_to_3(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy as if positives and negatives came 1:3 (the paper's Table 2), whatever their counts.

    Equal to :func:`accuracy` on a 1:3 set; on pyMDNet's 500:5000 first-frame set it is the
    expected accuracy of a random 1:3 subset, without drawing one.
    """
    hit = (logits.argmax(1) == labels).float()
    pos, neg = hit[labels == 1], hit[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return accuracy(logits, labels)
    k = TABLE2_NEGATIVES_PER_POSITIVE
    return float((pos.mean() + k * neg.mean()) / (1 + k))


def target_scores(logits: torch.Tensor, kind: str = "positive_logit") -> torch.Tensor:
    """Per-box target score: pyMDNet's fc6 positive output, or the log-odds (target - background);
    ``logits`` (..., 2): one head's (N, 2) or several heads' stacked (T, N, 2)."""
    if kind == "log_odds":
        return logits[..., 1] - logits[..., 0]
    return logits[..., 1]
