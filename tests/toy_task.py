"""A toy meta-learning task (linear regression per sequence) for testing the meta-training loop."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from metatrack.data.episodes import EpisodeSampler
from metatrack.data.sequence import FrameSource, Sequence
from metatrack.meta import MetaSGD, adapt


class NoFrames(FrameSource):
    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def read(self, index: int) -> np.ndarray:
        return np.zeros((8, 8, 3), np.uint8)


def toy_sequences(count: int = 6, frames: int = 20, seed: int = 0) -> list[Sequence]:
    rng = np.random.default_rng(seed)
    seqs = []
    for i in range(count):
        boxes = np.tile([1.0, 1.0, 4.0, 4.0], (frames, 1))
        seqs.append(Sequence(f"toy{i}", NoFrames(frames), boxes, meta={"w": rng.normal(size=4)}))
    return seqs


class ToyHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.bias_head = nn.Linear(1, 1)

    def forward(self, x):
        return self.bias_head(self.fc(x))


class ToyTask:
    """y = w_S . x + noise; each sequence S has its own w, shared structure w = w_common + small."""

    model_name = "toy"

    def __init__(self, alpha_init: float = 0.05, seed: int = 0):
        torch.manual_seed(seed)
        self.learner = MetaSGD(ToyHead(), alpha_init)

    def episode_batches(self, episode, rng):
        w = torch.tensor(episode.sequence.meta["w"], dtype=torch.float32)

        def batch(frame):
            g = np.random.default_rng([frame, int(rng.integers(1 << 30))])
            x = torch.tensor(g.normal(size=(16, 4)), dtype=torch.float32)
            return x, (x @ w)[:, None] + 1.0

        return batch(episode.j), batch(episode.future)

    def adapt(self, theta0, alphas, batch, steps, first_order=False):
        return adapt(theta0, alphas, lambda p: self.loss(p, batch), steps, first_order=first_order)

    def loss(self, params, batch):
        x, y = batch
        return ((self.learner.forward_with(params, x) - y) ** 2).mean()

    def metrics(self, params, batch):
        return {"abs_err": float((self.learner.forward_with(params, batch[0]) - batch[1]).abs().mean())}

    def model_config(self):
        return {}

    def backbone_sha256(self):
        return None

    def model_extra(self):
        return {}


def toy_sampler() -> EpisodeSampler:
    return EpisodeSampler([toy_sequences()], delta_range=(1, 3))
