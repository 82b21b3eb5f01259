"""The steps that the online meta-training tests of both families share (tests/test_sdnet_online_meta.py,
tests/test_crest_online_meta.py): a tiny meta-training run through the later (online) update and its log,
the online step sizes a model file carries back, and a tracker run that records a function's calls.
Each test file keeps what is its family's own (sizes, rates, sequences, the parameters that must move)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from metatrack.data.episodes import Episode, EpisodeSampler
from metatrack.modelfile import load_model, meta_parameters, online_parameters
from metatrack.training import MetaTrainConfig, MetaTrainer, export_model

#: what every tiny online run has: 3 iterations of 2 episodes that track 2 frames, a future frame 3..5 ahead
ONLINE_EPISODES = {"iterations": 3, "episodes_per_batch": 2, "online_frames": 2, "delta_range": [3, 5]}

Params = dict[str, torch.Tensor]


def online_config(family: dict[str, Any], **extra: Any) -> MetaTrainConfig:
    """:data:`ONLINE_EPISODES` with a family's rates and schedule (``family``) and a test's ``extra``, checked
    as a config file's ``meta_training:`` section is."""
    return MetaTrainConfig.from_dict({**ONLINE_EPISODES, **family, **extra})


def first_step(task, episode: Episode, seed: int = 0) -> Params:
    """theta1: one step of alpha from theta0 on frame j's batch of ``episode`` (drawn with ``seed``), detached."""
    train, _ = task.episode_batches(episode, np.random.default_rng(seed))
    theta1 = task.adapt(task.learner.theta0(), task.learner.alphas(), train, 1)
    return {k: v.detach() for k, v in theta1.items()}


def log_rows(run: Path) -> list[dict[str, Any]]:
    """The rows of a meta-training run's ``log.jsonl``."""
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line]


@dataclass
class OnlineRun:
    """A finished tiny run: its task, the online step sizes before and after it, its log's rows."""

    task: Any
    before: Params
    after: Params
    rows: list[dict[str, Any]]

    def moved(self) -> set[str]:
        """The parameters whose online step sizes the meta-gradient changed."""
        return {n for n in self.before if not torch.equal(self.before[n], self.after[n])}


def train_online(task, sequences: Sequence, cfg: MetaTrainConfig, run: Path) -> OnlineRun:
    """Meta-train ``task`` on ``sequences`` (one source) for ``cfg.iterations`` in ``run``; checks that the
    task has an online step size for every adapted parameter and that the log holds one finite
    meta-loss per iteration."""
    before = {k: v.detach().clone() for k, v in task.learner.onlines().items()}
    assert before and set(before) == set(task.learner.alphas())
    MetaTrainer(task, EpisodeSampler([list(sequences)], None, cfg.delta_range), cfg, run).train(progress=False)
    rows = log_rows(run)
    assert len(rows) == cfg.iterations and all(math.isfinite(r["meta_loss"]) for r in rows)
    after = {k: v.detach().clone() for k, v in task.learner.onlines().items()}
    return OnlineRun(task, before, after, rows)


def exported_online(task, path: Path, model: str) -> tuple[Params, Params, Path]:
    """Export ``task`` to ``path`` and read it back as the trackers do: (online step sizes, alpha, the file)."""
    path = export_model(task, path)
    tensors, _ = load_model(path, model)
    _, alpha = meta_parameters(tensors, dict(task.learner.head.state_dict()), path)
    return online_parameters(tensors, alpha, path), alpha, path


def check_exported(run: OnlineRun, path: Path, model: str) -> tuple[Params, Params, Path]:
    """The model file of a trained run carries its online step sizes: one per alpha, each as learned."""
    got, alpha, path = exported_online(run.task, path, model)
    assert set(got) == set(alpha)
    for name in got:
        assert torch.equal(got[name], run.after[name]), name
    return got, alpha, path


def recorder(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str) -> list[dict[str, Any]]:
    """Replace ``module.name`` by a wrapper that records each call's keyword arguments and calls it."""
    calls: list[dict[str, Any]] = []
    function = getattr(module, name)

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return function(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


def track(tracker, frames: Sequence[np.ndarray], box: np.ndarray, state: Callable[[Any], torch.Tensor] | None = None,
          seed: int | None = None) -> list[torch.Tensor]:
    """Run ``tracker`` over ``frames`` (seeded first when ``seed`` is given); ``state(tracker)`` copied
    after the first frame and after each update (empty without ``state``)."""
    if seed is not None:
        tracker.seed(seed)
    tracker.init(frames[0], box)
    states = [] if state is None else [state(tracker).detach().clone()]
    for frame in frames[1:]:
        tracker.update(frame)
        if state is not None:
            states.append(state(tracker).detach().clone())
    return states


def changed_at(states: Sequence[torch.Tensor]) -> list[int]:
    """The indices i >= 1 where ``states[i]`` differs from ``states[i - 1]``."""
    return [i for i in range(1, len(states)) if not torch.equal(states[i], states[i - 1])]
