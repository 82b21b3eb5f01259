"""Learning-rate factors per parameter, by glob, and the optimiser groups they make.

Both offline stages (meta-training's theta0 and MDNet's pre-training) scale the rate of some
parameters (``{"filter": 0.0}``, ``{"fc6.*": 10}``); one lookup and one grouping serve both.
:func:`scaled_rates` scales every group of an optimiser for a while (an online update at a higher rate).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


def lr_factor(name: str, factors: Mapping[str, float]) -> float:
    """The factor of parameter ``name``: the first glob of ``factors`` that matches it, else 1."""
    for pattern, factor in factors.items():
        if fnmatch.fnmatchcase(name, pattern):
            return float(factor)
    return 1.0


def param_groups(named: Iterable[tuple[str, nn.Parameter]], factor: Callable[[str], float],
                 lr: float) -> list[dict[str, Any]]:
    """Optimiser groups of ``named`` parameters, one per factor with rate ``lr * factor``; the group of
    factor 1 first, so that ``param_groups[0]["lr"]`` is the base rate (what the logs show)."""
    groups: dict[float, list[nn.Parameter]] = {}
    for n, p in named:
        groups.setdefault(factor(n), []).append(p)
    return [{"params": groups[f], "lr": lr * f} for f in sorted(groups, key=lambda f: (f != 1.0, f))]


@contextmanager
def scaled_rates(optimizer: torch.optim.Optimizer, factor: float) -> Iterator[None]:
    """Every group's rate times ``factor`` inside the block, given back as it was on leaving it."""
    rates = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] *= factor
    try:
        yield
    finally:
        for group, rate in zip(optimizer.param_groups, rates, strict=True):
            group["lr"] = rate
