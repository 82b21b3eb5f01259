"""The classifier head fc4-fc6 over pooled box features, its loss and its scores.

Like pyMDNet's fully connected layers: two hidden layers with ReLU and two output logits
(background, target). Dropout is left out: the meta-learned first step and the online updates are
both plain gradient steps on the same module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SDNetHead(nn.Module):
    """fc4 -> ReLU -> fc5 -> ReLU -> fc6 (2 logits: background, target)."""

    def __init__(self, in_features: int, hidden: int = 256):
        super().__init__()
        self.fc4 = nn.Linear(in_features, hidden)
        self.fc5 = nn.Linear(hidden, hidden)
        self.fc6 = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc6(F.relu(self.fc5(F.relu(self.fc4(x)))))


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """pyMDNet's BCELoss: softmax cross-entropy, target label 1, background 0, averaged over samples."""
    return F.cross_entropy(logits, labels)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of samples whose larger logit is their label."""
    if len(labels) == 0:
        return float("nan")
    return float((logits.argmax(1) == labels).float().mean())


def target_scores(logits: torch.Tensor, kind: str = "positive_logit") -> torch.Tensor:
    """Per-box target score: pyMDNet's fc6 positive output, or the log-odds (target - background)."""
    if kind == "log_odds":
        return logits[:, 1] - logits[:, 0]
    return logits[:, 1]
