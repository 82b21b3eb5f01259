"""The head work of several SDNet targets on one frame, done together (a :class:`~..adaptive.TrackerGroup`).

Each target keeps its own head, optimizer, sample store and random generator; only the calls are
pooled, so that each is paid once per frame instead of once per target:

- candidate pooling: one RoIAlign call over every target's map (a batch index per box);
- scoring: fc4-fc6 with each target's own weights stacked, as batched matrix products
  (``torch.baddbmm``: on this CPU it runs each slice through the same BLAS call as ``nn.Linear``, so
  the scores are those of the target alone to the bit; tests/test_group_heads.py);
- the online updates of targets that update on the same frame (pyMDNet's long-term updates coincide
  for targets started together): one optimisation over the stacked heads whose loss is the sum of
  the targets' own losses, so that each target's gradient is exactly its own; gradient clipping,
  weight decay, momentum and the step are each target's own (its optimizer's state and settings),
  applied per target tensor with the same kernels as ``torch.optim.SGD``. Every random draw is the
  target's own generator's, in the order of a single run (:func:`metatrack.trackers.sdnet.online.train_head`).

Where the profile was measured (bench/results/multi_target.json, ``profile``): an online update is
mostly arithmetic (scoring 1024 hard-negative candidates per SGD step), so batching saves its
per-call part only.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import SDNetConfig
from .features import CropWindow, FeatureExtractor
from .head import SDNetHead, target_scores
from .online import _index_stream

#: the head's parameters in ``SDNetHead.parameters()`` order
HEAD_PARAMETERS = ("fc4.weight", "fc4.bias", "fc5.weight", "fc5.bias", "fc6.weight", "fc6.bias")


def pool_many(extractor: FeatureExtractor,
              items: Sequence[tuple[torch.Tensor, CropWindow, np.ndarray]]) -> list[torch.Tensor]:
    """:meth:`FeatureExtractor.pool` of every ``(fmap, window, boxes)``: one RoIAlign call per map shape,
    each map once however many targets read it (a shared crop's)."""
    out: list[torch.Tensor | None] = [None] * len(items)
    shapes: dict[tuple[int, ...], list[int]] = {}
    for k, (fmap, _, boxes) in enumerate(items):
        if len(boxes) == 0:
            out[k] = torch.zeros(0, extractor.feature_dim, device=extractor.device)
        else:
            shapes.setdefault(tuple((fmap if fmap.dim() == 4 else fmap[None]).shape[1:]), []).append(k)
    for members in shapes.values():
        maps: list[torch.Tensor] = []
        slot: dict[int, int] = {}
        rois = []
        for k in members:
            fmap, window, boxes = items[k]
            if id(fmap) not in slot:
                slot[id(fmap)] = len(maps)
                maps.append(fmap if fmap.dim() == 4 else fmap[None])
            r = extractor.rois(window, boxes)
            r[:, 0] = slot[id(fmap)]
            rois.append(r.to(maps[0].device))
        stacked = maps[0] if len(maps) == 1 else torch.cat(maps)
        pooled = extractor.roi_pool(stacked, torch.cat(rois))
        for k, part in zip(members, pooled.split([len(r) for r in rois]), strict=True):
            out[k] = part
    return out  # type: ignore[return-value]


def stacked_parameters(heads: Sequence[SDNetHead]) -> list[torch.Tensor]:
    """Each of fc4-fc6's tensors of every head, stacked on a new first dimension (copies)."""
    states = [dict(h.named_parameters()) for h in heads]
    return [torch.stack([s[name].detach() for s in states]) for name in HEAD_PARAMETERS]


def stacked_logits(params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """(T, N, 2) logits of the samples ``x`` (T, N, D), target t through head t (:class:`SDNetHead`'s
    forward with batched products)."""
    w4, b4, w5, b5, w6, b6 = params
    h = F.relu(torch.baddbmm(b4[:, None], x, w4.transpose(1, 2)))
    h = F.relu(torch.baddbmm(b5[:, None], h, w5.transpose(1, 2)))
    return torch.baddbmm(b6[:, None], h, w6.transpose(1, 2))


@torch.no_grad()
def score_many(heads: Sequence[SDNetHead], feats: Sequence[torch.Tensor], kind: str) -> list[torch.Tensor]:
    """Each head's target scores of its own features; one batched pass where the counts agree."""
    out: list[torch.Tensor | None] = [None] * len(heads)
    counts: dict[int, list[int]] = {}
    for k, f in enumerate(feats):
        counts.setdefault(len(f), []).append(k)
    for n, members in counts.items():
        if n == 0 or len(members) == 1:
            for k in members:
                out[k] = target_scores(heads[k](feats[k])[None], kind)[0]
            continue
        logits = stacked_logits(stacked_parameters([heads[k] for k in members]),
                                torch.stack([feats[k] for k in members]))
        for k, s in zip(members, target_scores(logits, kind), strict=True):
            out[k] = s
    return out  # type: ignore[return-value]


@dataclass
class UpdateJob:
    """One target's online update: its head, optimizer, samples and generator."""

    head: SDNetHead
    optimizer: torch.optim.SGD
    pos: torch.Tensor
    neg: torch.Tensor
    rng: np.random.Generator


def optimizer_key(optimizer: torch.optim.Optimizer) -> Hashable | None:
    """The settings of ``optimizer`` that the batched step replicates, or None where it cannot (not
    plain SGD: Nesterov, dampening or maximize, a tensor learning rate, a parameter of its own)."""
    if type(optimizer) is not torch.optim.SGD:
        return None
    key = []
    for group in optimizer.param_groups:
        if group.get("nesterov") or group.get("maximize") or group.get("dampening", 0) != 0:
            return None
        if any(isinstance(group[k], torch.Tensor) for k in ("lr", "momentum", "weight_decay")):
            return None
        key.append((len(group["params"]), float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])))
    return tuple(key)


def update_key(job: UpdateJob, iterations: int, cfg: SDNetConfig) -> Hashable | None:
    """Jobs with equal keys train together (:func:`train_many`); None: the single routine."""
    opt = optimizer_key(job.optimizer)
    if opt is None or not isinstance(job.head, SDNetHead) or hasattr(job.head, "block"):
        return None
    names = [n for n, _ in job.head.named_parameters()]
    if tuple(names) != HEAD_PARAMETERS:
        return None
    shapes = tuple(tuple(p.shape) for p in job.head.parameters())
    return (opt, shapes, str(job.pos.device), iterations, cfg.batch_pos, cfg.batch_neg, cfg.batch_neg_cand,
            cfg.grad_clip, cfg.score)


def train_many(jobs: Sequence[UpdateJob], iterations: int, cfg: SDNetConfig) -> list[float]:
    """:func:`~.online.train_head` of every job (equal :func:`update_key`), in one optimisation over the
    stacked heads; each job's head, optimizer state and generator end as after its own call.

    The summed loss gives each head exactly its own gradient (the heads share no parameter); the
    clipping, decay, momentum and step are then each head's, per tensor, as ``torch.optim.SGD`` does.
    """
    losses = [float("nan")] * len(jobs)
    live = [k for k, j in enumerate(jobs) if iterations > 0 and len(j.pos) and len(j.neg)]
    if not live:
        return losses
    n_cand = max(cfg.batch_neg_cand, cfg.batch_neg)
    streams = []
    for k in live:  # each generator's draws, in train_head's order
        j = jobs[k]
        streams.append((torch.from_numpy(_index_stream(len(j.pos), cfg.batch_pos * iterations, j.rng)),
                        torch.from_numpy(_index_stream(len(j.neg), n_cand * iterations, j.rng))))
    heads = [jobs[k].head for k in live]
    optimizers = [jobs[k].optimizer for k in live]
    own = [list(h.parameters()) for h in heads]  # the optimizers' keys
    backups = [[p.detach().clone() for p in ps] for ps in own]
    params = [p.requires_grad_() for p in stacked_parameters(heads)]
    n_params = len(params)
    views = [[params[i][t] for i in range(n_params)] for t in range(len(live))]
    step = _StackedSGD(params, views, optimizers, own, cfg.grad_clip)
    device = params[0].device
    dim = params[0].shape[-1]
    batch_pos = torch.empty(len(live), cfg.batch_pos, dim, device=device)
    cand = torch.empty(len(live), n_cand, dim, device=device)
    rows = torch.arange(len(live), device=device)[:, None]
    labels = None
    loss = None
    for i in range(iterations):
        for t, (k, s) in enumerate(zip(live, streams, strict=True)):  # copies of the rows, as indexing makes
            torch.index_select(jobs[k].pos, 0, s[0][i * cfg.batch_pos:(i + 1) * cfg.batch_pos].to(device),
                               out=batch_pos[t])
            torch.index_select(jobs[k].neg, 0, s[1][i * n_cand:(i + 1) * n_cand].to(device), out=cand[t])
        if n_cand > cfg.batch_neg:
            with torch.no_grad():
                scores = target_scores(stacked_logits(params, cand), cfg.score)
            scores = torch.nan_to_num(scores, nan=-float("inf"))
            batch_neg = cand[rows, scores.topk(cfg.batch_neg, dim=1).indices]
        else:
            batch_neg = cand
        x = torch.cat([batch_pos, batch_neg], dim=1)
        if labels is None:
            y = torch.cat([torch.ones(batch_pos.shape[1], dtype=torch.long),
                           torch.zeros(batch_neg.shape[1], dtype=torch.long)]).to(device)
            labels = y.repeat(len(live))
        logits = stacked_logits(params, x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels, reduction="none").view(len(live), -1)
        loss = loss.mean(1)
        step.zero_grad()
        loss.sum().backward()
        with torch.no_grad():
            step()
    assert loss is not None
    finals = loss.detach().tolist()
    with torch.no_grad():
        for t, (k, opt) in enumerate(zip(live, optimizers, strict=True)):
            losses[k] = finals[t]
            if not (math.isfinite(finals[t]) and all(bool(torch.isfinite(v).all()) for v in views[t])):
                for v, b in zip(views[t], backups[t], strict=True):  # diverged: back to the head as it was
                    v.copy_(b)
                opt.state.clear()
            for p, v in zip(own[t], views[t], strict=True):
                p.copy_(v)
    return losses


class _StackedSGD:
    """Each target's ``clip_grad_norm_`` and ``SGD.step`` on its slices of the stacked parameters and
    gradients: per tensor, with the kernels ``torch.optim.SGD`` runs (a list call per step for all)."""

    def __init__(self, params: list[torch.Tensor], views: list[list[torch.Tensor]],
                 optimizers: list[torch.optim.SGD], own: list[list[torch.Tensor]], max_norm: float):
        self.params, self.max_norm, self.count = params, max_norm, len(views)
        self.grads = [torch.zeros_like(p) for p in params]  # backward accumulates into them: fixed views
        self._bind()
        self.shapes = [(-1,) + (1,) * (p.dim() - 1) for p in params]
        places = [{id(p): i for i, p in enumerate(ps)} for ps in own]
        #: per parameter group (alike for every target: update_key): settings, and every target's
        #: parameter views, gradient views, optimizer state and key in it
        self.groups = []
        for gi, first in enumerate(optimizers[0].param_groups):
            ps, gs, entries = [], [], []
            for t, opt in enumerate(optimizers):
                for p in opt.param_groups[gi]["params"]:
                    i = places[t][id(p)]
                    ps.append(views[t][i])
                    gs.append((t, i))
                    entries.append(opt.state[p])
            self.groups.append({"lr": first["lr"], "momentum": first["momentum"],
                                "weight_decay": first["weight_decay"], "params": ps, "grads": gs, "state": entries,
                                "buffers": None})

    def _bind(self) -> None:
        for p, g in zip(self.params, self.grads, strict=True):
            p.grad = g
        self.grad_views = [[g[t] for g in self.grads] for t in range(self.count)]
        self.flat = [g for gs in self.grad_views for g in gs]

    def zero_grad(self) -> None:
        if any(p.grad is not g for p, g in zip(self.params, self.grads, strict=True)):
            self._bind()
        torch._foreach_zero_(self.grads)

    def __call__(self) -> None:
        if any(p.grad is not g for p, g in zip(self.params, self.grads, strict=True)):  # backward replaced them
            self.grads = [p.grad for p in self.params]
            self._bind()
        n = len(self.params)
        norms = torch._foreach_norm(self.flat, 2.0)
        totals = torch.stack([torch.linalg.vector_norm(torch.stack(norms[t * n:(t + 1) * n]), 2.0)
                              for t in range(self.count)])
        coef = torch.clamp(self.max_norm / (totals + 1e-6), max=1.0)
        for g, shape in zip(self.grads, self.shapes, strict=True):  # each target's own coefficient
            g.mul_(coef.view(shape))
        for group in self.groups:
            ps = group["params"]
            gs = [self.grad_views[t][i] for t, i in group["grads"]]
            if group["weight_decay"] != 0:
                gs = list(torch._foreach_add(gs, ps, alpha=group["weight_decay"]))
            if group["momentum"] != 0:
                bufs = group["buffers"]
                if bufs is None:
                    bufs = [state.get("momentum_buffer") for state in group["state"]]
                old = [k for k, b in enumerate(bufs) if b is not None]
                if len(old) == len(bufs):
                    torch._foreach_mul_(bufs, group["momentum"])
                    torch._foreach_add_(bufs, gs)
                else:
                    if old:
                        torch._foreach_mul_([bufs[k] for k in old], group["momentum"])
                        torch._foreach_add_([bufs[k] for k in old], [gs[k] for k in old])
                    for k, b in enumerate(bufs):
                        if b is None:  # a target's first step: the buffer starts as its gradient
                            bufs[k] = gs[k].detach().clone()
                            group["state"][k]["momentum_buffer"] = bufs[k]
                group["buffers"] = bufs
                gs = bufs
            torch._foreach_add_(ps, gs, alpha=-group["lr"])
