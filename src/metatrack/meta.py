"""Meta-SGD for trackers: the paper's Algorithm 1, written once for any head.

A head is an ordinary ``nn.Module`` whose parameters are the tracker's ``theta``. Meta-training
learns a starting point ``theta0`` (the module's own parameters) and a step size ``alpha`` of the
same shape for every adapted parameter. :func:`adapt` takes ``T`` steps
``theta <- theta - alpha * grad L(theta)`` with :func:`torch.func.functional_call`, keeping the graph
so that a loss on a future frame can be differentiated back to ``theta0`` and ``alpha`` (second
order by default). The tracker's first-frame update calls the same function with
``create_graph=False``: there is no second copy of the inner loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]
LossFn = Callable[[Params], torch.Tensor]


def _key(name: str) -> str:
    """ParameterDict keys may not contain dots."""
    return name.replace(".", "__")


class MetaSGD(nn.Module):
    """A head together with its per-parameter step sizes ``alpha`` (Meta-SGD, Li et al. 2017).

    ``adapted`` selects the parameter names that the inner loop updates (the others stay at
    ``theta0`` and are not given an ``alpha``). The head's own parameters are ``theta0``.
    """

    def __init__(self, head: nn.Module, alpha_init: float, adapted: Iterable[str] | None = None,
                 online_init: float | None = None):
        super().__init__()
        self.head = head
        names = [n for n, _ in head.named_parameters()]
        self.adapted = list(names if adapted is None else adapted)
        unknown = set(self.adapted) - set(names)
        if unknown:
            raise ValueError(f"no such parameters in the head: {sorted(unknown)}")
        self.alpha = self._step_sizes(alpha_init)
        # step sizes of the tracker's later (online) updates, learned when meta-training goes through
        # them (``online_init`` given); None: the tracker's own searched rate serves instead
        self.online: nn.ParameterDict | None = None if online_init is None else self._step_sizes(online_init)

    def _step_sizes(self, value: float) -> nn.ParameterDict:
        """One step size per element of every adapted parameter, all ``value``."""
        return nn.ParameterDict(
            {_key(n): nn.Parameter(torch.full_like(p, value)) for n, p in self.head.named_parameters()
             if n in self.adapted}
        )

    def theta0(self) -> Params:
        """The head's parameters by name (the meta-learned starting point)."""
        return dict(self.head.named_parameters())

    def alphas(self) -> Params:
        """Step sizes by parameter name."""
        return {n: self.alpha[_key(n)] for n in self.adapted}

    def onlines(self) -> Params:
        """Online step sizes by parameter name (empty when they are not learned)."""
        return {} if self.online is None else {n: self.online[_key(n)] for n in self.adapted}

    def step_sizes(self) -> list[nn.Parameter]:
        """Every learned step size: alpha, then the online ones."""
        return list(self.alpha.parameters()) + ([] if self.online is None else list(self.online.parameters()))

    def forward_with(self, params: Mapping[str, torch.Tensor], *inputs, **kwargs):
        """Run the head with ``params`` in place of its own parameters (missing ones: its own)."""
        return functional_call(self.head, dict(params), inputs, kwargs, strict=False)


def adapt(
    theta: Mapping[str, torch.Tensor],
    alpha: Mapping[str, torch.Tensor | float],
    loss_fn: LossFn,
    steps: int = 1,
    *,
    first_order: bool = False,
    create_graph: bool = True,
) -> Params:
    """``steps`` Meta-SGD steps ``theta <- theta - alpha * grad loss_fn(theta)``.

    Only the names in ``alpha`` are updated; the other entries of ``theta`` pass through unchanged.
    ``create_graph`` keeps the graph for a meta-gradient (second order); ``first_order`` drops the
    second-order terms (the gradient is treated as a constant), as first-order MAML does. With
    ``create_graph=False`` (tracking) the result is detached.
    """
    params: Params = dict(theta)
    names = [n for n in alpha]
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    for _ in range(steps):
        with torch.enable_grad():
            tracked = {
                n: (p if p.requires_grad else p.detach().requires_grad_(True)) if n in alpha else p
                for n, p in params.items()
            }
            loss = loss_fn(tracked)
            grads = torch.autograd.grad(
                loss, [tracked[n] for n in names], create_graph=create_graph and not first_order,
                allow_unused=True,
            )
        new = dict(tracked)
        for n, g in zip(names, grads, strict=True):
            if g is None:
                continue
            if not create_graph:
                new[n] = (tracked[n] - alpha[n] * g).detach()
            else:
                new[n] = tracked[n] - alpha[n] * (g.detach() if first_order else g)
        params = new
    if not create_graph:
        params = {n: p.detach() for n, p in params.items()}
    return params
