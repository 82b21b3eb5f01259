"""Meta-training episodes: a sequence S, a frame j and a look-ahead delta (Algorithm 1, line 4).

Episodes are drawn from several sources (the embedded train split, ImageNet VID clips, GOT-10k,
LaSOT, OTB or VOT sequences) mixed with given probabilities, as the paper mixes ImageNet VID with
VOT/OTB sequences drawn with probability 0.3. Each draw is a pure function of a seed, so that an
episode can be re-drawn exactly after a resume, and so that several processes can split one
mini-batch and still see the same episodes as one process.
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError
from ..geometry import is_valid_box
from .sequence import Sequence


@dataclass(frozen=True)
class Episode:
    """One training example: learn on frame ``j`` of ``sequence``, test on frame ``j + delta``."""

    sequence: Sequence
    j: int
    delta: int

    @property
    def future(self) -> int:
        return self.j + self.delta


class EpisodeSampler:
    """Draws episodes from sources mixed with probabilities ``weights``.

    ``delta_range`` is inclusive: the paper draws delta uniformly in 1..10. Only frames whose box
    is valid (finite, positive size) at both ``j`` and ``j + delta`` are drawn.
    """

    def __init__(
        self,
        sources: SequenceABC[SequenceABC[Sequence]],
        weights: SequenceABC[float] | None = None,
        delta_range: tuple[int, int] = (1, 10),
    ):
        if not sources or any(len(s) == 0 for s in sources):
            raise ConfigError("every episode source needs at least one sequence")
        lo, hi = delta_range
        if not 1 <= lo <= hi:
            raise ConfigError(f"delta_range must satisfy 1 <= low <= high, got {delta_range}")
        self.delta_range = (int(lo), int(hi))
        w = np.ones(len(sources)) if weights is None else np.asarray(weights, dtype=np.float64)
        if len(w) != len(sources) or np.any(w < 0) or w.sum() <= 0:
            raise ConfigError(f"source weights {list(w)} do not match {len(sources)} sources")
        self.weights = w / w.sum()
        # per source: the sequences that have at least one valid (j, j + delta) pair
        self.sources: list[list[tuple[Sequence, np.ndarray]]] = []
        for src in sources:
            usable = []
            for seq in src:
                valid = np.array([is_valid_box(b) for b in seq.boxes])
                if valid.sum() >= 2:
                    usable.append((seq, np.flatnonzero(valid)))
            if not usable:
                names = ", ".join(s.name for s in src[:5])
                raise DataError(f"no sequence with two valid boxes among {names}...")
            self.sources.append(usable)

    def sample(self, rng: np.random.Generator) -> Episode:
        """One episode, drawn with ``rng``."""
        src = self.sources[rng.choice(len(self.sources), p=self.weights)]
        for _ in range(100):
            seq, valid = src[rng.integers(len(src))]
            delta = int(rng.integers(self.delta_range[0], self.delta_range[1] + 1))
            j = int(valid[rng.integers(len(valid))])
            future = j + delta
            if future < len(seq) and is_valid_box(seq.boxes[future]):
                return Episode(seq, j, delta)
            # fall back to the last valid frame within reach
            ahead = valid[(valid > j) & (valid <= j + self.delta_range[1])]
            if len(ahead):
                f = int(ahead[rng.integers(len(ahead))])
                return Episode(seq, j, f - j)
        raise DataError("could not draw an episode: sequences are too short for the look-ahead range")

    def episode(self, seed: int, iteration: int, index: int) -> Episode:
        """The ``index``-th episode of ``iteration``: a pure function of its arguments."""
        rng = np.random.default_rng([seed, iteration, index])
        return self.sample(rng)
