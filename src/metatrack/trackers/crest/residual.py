"""The full CREST tracker (Song et al., ICCV 2017): the base layer plus its two residual modules.

CREST's response on frame ``t`` is the sum of three branches on PCA-reduced, windowed features
(``x_t`` of this frame, ``x_1`` of the first frame)::

    response(x_t) = base(x_t) + spatial(x_t) + temporal(x_1)

- ``base``: the correlation filter as a convolution, exactly CREST-N's (PCA to 64 channels on the
  first frame, a filter of the target's size);
- ``spatial``: the spatial residual, three 1x1 conv layers on the same ``x_t`` (64 -> 64 -> 64 -> 1,
  ReLUs between; CREST's release code), learning what the single linear filter cannot fit;
- ``temporal``: the temporal residual, a 1x1 conv (64 -> 1) on the *first* frame's features
  (CREST's pipeline feeds it the initial frame's search patch), trained on the first frame and then
  frozen, so that the first frame's appearance stays in the response however the other branches
  drift. Its input and its parameters are both fixed after the first frame, so its output is one
  map, computed once.

Training is CREST's: every branch from a near-zero start on the first frame until the loss reaches
0.02, then the base and the spatial residual every 2 frames on the last 2 (config.CREST_SCHEDULE);
the residuals' weights carry 1000 times the base filter's weight decay (the Meta-Tracker paper's
account of CREST's regularisation). ``crest-base`` is the same tracker without the residual modules
(CREST's ablation): CREST-N's first frame and CREST's schedule.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .config import CREST_SCHEDULE, CRESTConfig, settings_under
from .head import ResponseBatch, correlate, reduce_features
from .loss import crest_loss
from .tracker import CRESTN, Params

#: parameter-name prefixes of the two modules in a tracker's parameter dict
SPATIAL, TEMPORAL = "spatial.", "temporal."


class SpatialResidual(nn.Sequential):
    """Three 1x1 convolutions with ReLUs: (B, k, M, N) reduced features -> (B, 1, M, N) residual.

    CREST's start: the first layer near zero (``init_scale`` times ``randn / sqrt(k)``), so that the
    module adds nothing before training, the later layers at ``randn / sqrt(fan-in)``, biases zero.
    """

    def __init__(self, channels: int, hidden: int = 64, init_scale: float = 1e-8,
                 generator: torch.Generator | None = None):
        super().__init__(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
                         nn.Conv2d(hidden, 1, 1))
        with torch.no_grad():
            for i, conv in enumerate(m for m in self if isinstance(m, nn.Conv2d)):
                conv.weight.normal_(0.0, 1.0 / math.sqrt(conv.in_channels), generator=generator)
                if i == 0:
                    conv.weight.mul_(init_scale)
                conv.bias.zero_()


class TemporalResidual(nn.Conv2d):
    """A 1x1 convolution (k -> 1) of the first frame's reduced features, starting near zero."""

    def __init__(self, channels: int, init_scale: float = 1e-8, generator: torch.Generator | None = None):
        super().__init__(channels, 1, 1)
        with torch.no_grad():
            self.weight.normal_(0.0, init_scale / math.sqrt(channels), generator=generator)
            self.bias.zero_()


#: the spatial residual's parameter names in a tracker's parameter dict (what the online update trains)
SPATIAL_NAMES = tuple(SPATIAL + name for name, _ in SpatialResidual(1, 1).named_parameters())


def _prefixed(module: nn.Module, prefix: str) -> Params:
    return {prefix + k: v.detach().clone() for k, v in module.state_dict().items()}


def _unprefixed(params: Params, prefix: str) -> Params:
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def crest_base(device: str | torch.device = "cpu", config: CRESTConfig | dict | None = None,
               **overrides: Any) -> CRESTN:
    """CREST-Base, CREST's ablation: CREST-N trained to convergence on the first frame, on CREST's
    schedule, without the residual modules (a configuration of :class:`CRESTN`, not a copy)."""
    return CRESTN(device, settings_under(CREST_SCHEDULE, config), **overrides)


class CREST(CRESTN):
    """CREST: CREST-N's base layer, trained and updated on CREST's schedule, plus the spatial and
    temporal residual modules (``spatial``/``temporal`` switch each off, for ablations)."""

    def __init__(self, device: str | torch.device = "cpu", config: CRESTConfig | dict | None = None,
                 spatial: bool = True, temporal: bool = True, **overrides: Any):
        super().__init__(device, settings_under(CREST_SCHEDULE, config), **overrides)
        self.use_spatial, self.use_temporal = bool(spatial), bool(temporal)
        self._first_x: torch.Tensor | None = None  # the first frame's reduced, windowed features
        self.temporal_map: torch.Tensor | None = None  # the frozen temporal residual's output (1, 1, M, M)
        self._spatial_net: nn.Module = nn.Identity()  # the spatial residual's structure (parameters in self.params)

    # ------------------------------------------------------------------ the modules
    def _modules_for(self, channels: int, generator: torch.Generator) -> dict[str, nn.Module]:
        cfg, out = self.config, {}
        if self.use_spatial:
            out[SPATIAL] = SpatialResidual(channels, cfg.residual_channels, cfg.residual_init_scale, generator)
        if self.use_temporal:
            out[TEMPORAL] = TemporalResidual(channels, cfg.residual_init_scale, generator)
        return out

    def _residual(self, x: torch.Tensor, params: Params, first_x: torch.Tensor | None = None) -> torch.Tensor | float:
        """The residual modules' sum for features ``x``; the temporal one on ``first_x`` when given
        (the first frame, during its training), else its frozen map."""
        out: torch.Tensor | float = 0.0
        if self.use_spatial:
            out = out + functional_call(self._spatial_net, _unprefixed(params, SPATIAL), (x,))
        if self.use_temporal:
            if first_x is not None:
                out = out + F.conv2d(first_x, params[TEMPORAL + "weight"], params[TEMPORAL + "bias"])
            elif self.temporal_map is not None:
                out = out + self.temporal_map
        return out

    def _response(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return super()._response(x, params) + self._residual(x, params)

    def _residual_decay(self, params: Params) -> torch.Tensor | float:
        """The residuals' weight decay: ``residual_weight_decay_factor`` times the filter's (weights only)."""
        cfg = self.config
        rate = cfg.weight_decay * cfg.residual_weight_decay_factor
        weights = [v for k, v in params.items() if k.startswith((SPATIAL, TEMPORAL)) and k.endswith("weight")]
        if not rate or not weights:
            return 0.0
        return rate * sum(w.square().sum() for w in weights)

    def _loss(self, resp: torch.Tensor, labels: torch.Tensor, params: Params) -> torch.Tensor:
        return super()._loss(resp, labels, params) + self._residual_decay(params)

    def _trainable(self) -> list[str]:
        """Online: the filter and the spatial residual; the temporal residual stays as the first frame left it."""
        return super()._trainable() + (list(SPATIAL_NAMES) if self.use_spatial else [])

    # ------------------------------------------------------------------ first frame
    def _fit_first_frame(self, batch: ResponseBatch) -> tuple[Params, Params, dict[str, float]]:
        """Every branch trained together from CREST's start until the loss reaches ``init_until_loss``.

        The filter's random start is CREST-N's (the same draw for the same seed); the residuals'
        starts are drawn after it. The stopping rule is CREST-N's (equation 6 with the filter's decay),
        so that with both modules off this is CREST-N's first frame exactly (tested).
        """
        cfg = self.config
        feat, label = batch.features, batch.label
        weight, bias, filt, fbias, gen = self._random_start(batch)
        modules = self._modules_for(weight.shape[0], gen)
        self._spatial_net = modules.get(SPATIAL, nn.Identity()).to(self.device)
        residual = {k: v.to(self.device).requires_grad_(True)
                    for prefix, m in modules.items() for k, v in _prefixed(m, prefix).items()}
        x = reduce_features(feat, weight, bias)
        self._first_x = x.detach()
        params = {"reduce.weight": weight, "reduce.bias": bias, "filter": filt, "filter_bias": fbias, **residual}
        before = {k: v.detach().clone() for k, v in params.items()}
        groups = [{"params": [filt, fbias], "lr": cfg.init_lr}]
        if residual:
            groups.append({"params": list(residual.values()), "lr": cfg.init_lr * cfg.residual_lr_factor})
        opt = (torch.optim.Adam(groups, lr=cfg.init_lr) if cfg.init_optimizer == "adam"
               else torch.optim.SGD(groups, lr=cfg.init_lr, momentum=0.9))
        limit = cfg.init_max_iterations if cfg.init_until_loss is not None else cfg.init_iterations
        done, loss_value = 0, float("nan")
        with torch.enable_grad():
            for _ in range(limit + 1):
                resp = correlate(x, filt, fbias, cfg.correlation) + self._residual(x, params, first_x=x)
                loss = crest_loss(resp, label, filt, cfg.weight_decay, cfg.loss_threshold)
                loss_value = float(loss.detach())
                if done >= limit or (cfg.init_until_loss is not None and loss_value <= cfg.init_until_loss):
                    break
                opt.zero_grad()
                (loss + self._residual_decay(params)).backward()
                opt.step()
                done += 1
        return ({k: v.detach() for k, v in params.items()}, before,
                {"iterations": float(done), "loss": loss_value})

    def _start_tracking(self, image: Any, box: Any, first: Any) -> None:
        super()._start_tracking(image, box, first)
        cfg = self.config
        base = super()._trainable()
        spatial = [k for k in self._trainable() if k not in base]
        groups = [{"params": [self.params[k] for k in base], "lr": cfg.update_lr}]
        if spatial:
            groups.append({"params": [self.params[k] for k in spatial], "lr": cfg.update_lr * cfg.residual_lr_factor})
        self.optimizer = torch.optim.Adam(groups, lr=cfg.update_lr)
        self.temporal_map = None
        if self.use_temporal and self._first_x is not None:
            with torch.no_grad():
                self.temporal_map = F.conv2d(self._first_x, self.params[TEMPORAL + "weight"],
                                             self.params[TEMPORAL + "bias"])

    # ------------------------------------------------------------------ the paper's Table 2
    def first_frame_score(self, params: Params, samples: ResponseBatch) -> float:
        """Equation 6's data term of the whole response (base and residuals; the temporal residual
        on the first frame's features) of ``params`` on ``samples``."""
        with torch.no_grad():
            x = reduce_features(samples.features, params["reduce.weight"], params["reduce.bias"])
            first = x if self._first_x is None else self._first_x
            resp = correlate(x, params["filter"], params["filter_bias"], self.config.correlation)
            resp = resp + self._residual(x, params, first_x=first)
            return float(crest_loss(resp, samples.label, threshold=self.config.loss_threshold))
