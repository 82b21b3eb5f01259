"""pyMDNet's online learning: bounded sample stores and SGD with hard negative mining.

The same training routine serves SDNet-N's first frame (``lr_init``) and the later updates of both
trackers (``update_lr``): mini-batches of ``batch_pos`` positives and ``batch_neg`` negatives, the
negatives being the top scored among ``batch_neg_cand`` candidates (hard negative mining), SGD with
momentum, weight decay, a 10x learning rate on fc6 and gradient-norm clipping.

Beyond the paper (issue 13): :func:`learned_update` is one step of per-parameter step sizes that
meta-training learned THROUGH a later update (``meta_training.online_frames``, sdnet/task.py); the
tracker with ``online_update: meta`` takes it instead of the SGD iterations, and meta-training's
episodes call the same function.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from ...meta import adapt
from .config import SDNetConfig
from .head import classification_loss, target_scores

Params = dict[str, torch.Tensor]
Forward = Callable[[Mapping[str, torch.Tensor], torch.Tensor], torch.Tensor]


class SampleStore:
    """Features of positives of the last ``n_frames_long`` frames, negatives of the last ``n_frames_short``.

    Memory is bounded whatever the video's length: old frames fall out of the deques.
    """

    def __init__(self, n_frames_long: int, n_frames_short: int):
        self.n_frames_short = n_frames_short
        self.pos: deque[torch.Tensor] = deque(maxlen=n_frames_long)
        self.neg: deque[torch.Tensor] = deque(maxlen=n_frames_short)

    def add(self, pos: torch.Tensor, neg: torch.Tensor) -> None:
        if len(pos):
            self.pos.append(pos.detach())
        if len(neg):
            self.neg.append(neg.detach())

    def __bool__(self) -> bool:
        return bool(self.pos) and bool(self.neg)

    def long_term(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every stored positive and negative (pyMDNet's long-term update)."""
        return torch.cat(list(self.pos)), torch.cat(list(self.neg))

    def short_term(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Positives of the last ``n_frames_short`` frames, every negative (pyMDNet's short-term update)."""
        recent = list(self.pos)[-self.n_frames_short:]
        return torch.cat(recent), torch.cat(list(self.neg))


def make_optimizer(head: nn.Module, lr: float, cfg: SDNetConfig) -> torch.optim.SGD:
    """pyMDNet's ``set_optimizer``: SGD, momentum, weight decay, fc6 at ``lr_mult_fc6`` times ``lr``."""
    fc6 = [p for n, p in head.named_parameters() if n.startswith("fc6")]
    rest = [p for n, p in head.named_parameters() if not n.startswith("fc6")]
    groups = [{"params": rest, "lr": lr}, {"params": fc6, "lr": lr * cfg.lr_mult_fc6}]
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _index_stream(n: int, needed: int, rng: np.random.Generator) -> np.ndarray:
    """Concatenated permutations of range(n), at least ``needed`` long (pyMDNet's pos_idx/neg_idx)."""
    reps = -(-needed // n)
    return np.concatenate([rng.permutation(n) for _ in range(max(reps, 1))])


def train_head(
    head: nn.Module,
    optimizer: torch.optim.Optimizer,
    pos: torch.Tensor,
    neg: torch.Tensor,
    iterations: int,
    cfg: SDNetConfig,
    rng: np.random.Generator,
) -> float:
    """``iterations`` SGD steps on ``pos``/``neg`` features with hard negative mining; the last loss.

    If the loss or a parameter turns non-finite, the head goes back to where it started.
    """
    if iterations <= 0 or len(pos) == 0 or len(neg) == 0:
        return float("nan")
    n_cand = max(cfg.batch_neg_cand, cfg.batch_neg)
    pos_idx = torch.from_numpy(_index_stream(len(pos), cfg.batch_pos * iterations, rng))
    neg_idx = torch.from_numpy(_index_stream(len(neg), n_cand * iterations, rng))
    params = list(head.parameters())
    backup = [p.detach().clone() for p in params]
    loss_value = float("nan")
    for i in range(iterations):
        batch_pos = pos[pos_idx[i * cfg.batch_pos:(i + 1) * cfg.batch_pos].to(pos.device)]
        cand = neg[neg_idx[i * n_cand:(i + 1) * n_cand].to(neg.device)]
        if len(cand) > cfg.batch_neg:
            with torch.no_grad():
                scores = target_scores(head(cand), cfg.score)
            scores = torch.nan_to_num(scores, nan=-float("inf"))
            batch_neg = cand[scores.topk(cfg.batch_neg).indices]
        else:
            batch_neg = cand
        x = torch.cat([batch_pos, batch_neg])
        y = torch.cat([torch.ones(len(batch_pos), dtype=torch.long), torch.zeros(len(batch_neg), dtype=torch.long)])
        loss = classification_loss(head(x), y.to(x.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        loss_value = float(loss.detach())
    if not (math.isfinite(loss_value) and all(bool(torch.isfinite(p).all()) for p in params)):
        with torch.no_grad():  # diverged: back to the head as it was, momentum forgotten
            for p, b in zip(params, backup, strict=True):
                p.copy_(b)
        optimizer.state.clear()
    return loss_value


def store_loss(logits_pos: torch.Tensor, logits_neg: torch.Tensor, cfg: SDNetConfig, target: int = 1) -> torch.Tensor:
    """The expected loss of one pyMDNet mini-batch over the whole store: the positives' mean and the
    mean of the hardest ``batch_neg / batch_neg_cand`` share of the negatives (hard negative mining:
    the negatives the head scores most like the target, chosen without gradient), weighted
    ``batch_pos : batch_neg`` as in a pyMDNet batch. ``target`` is the target's class index (0 in a
    label-shuffled meta-training episode)."""
    n_cand = max(cfg.batch_neg_cand, cfg.batch_neg)
    keep = max(1, min(len(logits_neg), math.ceil(len(logits_neg) * cfg.batch_neg / n_cand)))
    with torch.no_grad():
        flipped = logits_neg.detach()[:, [1 - target, target]]  # the tracker's score reads the target class
        scores = torch.nan_to_num(target_scores(flipped, cfg.score), nan=-float("inf"))
        hardest = scores.topk(keep).indices
    pos_loss = nn.functional.cross_entropy(logits_pos, torch.full((len(logits_pos),), target, dtype=torch.long,
                                                                  device=logits_pos.device))
    neg = logits_neg[hardest]
    neg_loss = nn.functional.cross_entropy(neg, torch.full((len(neg),), 1 - target, dtype=torch.long,
                                                           device=neg.device))
    return (cfg.batch_pos * pos_loss + cfg.batch_neg * neg_loss) / (cfg.batch_pos + cfg.batch_neg)


def learned_update(forward: Forward, params: Mapping[str, torch.Tensor], online: Mapping[str, torch.Tensor],
                   pos: torch.Tensor, neg: torch.Tensor, cfg: SDNetConfig, *, create_graph: bool,
                   first_order: bool = False, target: int = 1) -> Params:
    """theta after one step of the learned online step sizes ``online`` (by parameter name) on the
    stored positives ``pos`` and negatives ``neg`` (pooled features): ``theta - online * grad``
    of :func:`store_loss`, no momentum, decay or clipping (the step sizes are learned for the step
    as it is). One step on the whole store rather than ``maxiter_update`` mini-batches, since the
    step sizes were meta-learned for exactly this step. ``forward(params, x)`` gives the logits."""

    def loss(p: Params) -> torch.Tensor:
        return store_loss(forward(p, pos), forward(p, neg), cfg, target)

    return adapt(dict(params), online, loss, 1, create_graph=create_graph, first_order=first_order)
