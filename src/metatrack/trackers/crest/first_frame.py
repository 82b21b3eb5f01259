"""MetaCREST's first-frame update, used by the tracker and by meta-training's inner loop alike.

``init_steps`` Meta-SGD steps from theta0 (:func:`metatrack.meta.adapt`). With
``init_step_length: fit`` (ours) the step is then stretched or shrunk along its own direction to
the length that fits the first frame's label best. The response is linear in the filter and its
bias (exactly so when the 1x1 reduction does not move, as in a step from a zero filter), so along
``theta0 + c * (theta1 - theta0)`` it is ``r0 + c * dr`` and the weighted least-squares ``c`` is
closed-form (weights ``e^(2y)`` of equation 6, every cell). A step from a zero filter writes the
target's own features into the filter, and the response of those grows with the square of the
target's feature energy, which varies several-fold between objects; fitting the length keeps the
response's peak near the label's for every target. ``c`` is differentiable, so meta-training
learns theta0 and alpha through it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ...meta import adapt
from .config import CRESTConfig
from .head import ResponseBatch, correlate, reduce_features, warp_filter
from .loss import crest_loss

Params = dict[str, torch.Tensor]
#: the parameters a step from a zero filter moves (the reduction's gradient is exactly zero there)
FILTER_PARAMS = ("filter", "filter_bias")


def fitted_length(r0: torch.Tensor, r1: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """The ``c`` minimising ``sum(e^(2y) * (r0 + c * (r1 - r0) - y)^2)``, clamped to [0.05, 20]."""
    dr = r1 - r0
    w = torch.exp(2.0 * label)
    c = (w * dr * (label - r0)).sum() / ((w * dr * dr).sum() + 1e-12)
    return c.clamp(0.05, 20.0)


def fitted_scale_and_bias(r: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(c, b)`` minimising ``sum(e^(2y) * (c * r + b - y)^2)`` (the weights of :func:`fitted_length`)."""
    w = torch.exp(2.0 * label)
    sw, sr, sy = w.sum(), (w * r).sum(), (w * label).sum()
    srr, sry = (w * r * r).sum(), (w * r * label).sum()
    det = sw * srr - sr * sr + 1e-12
    return (sw * sry - sr * sy) / det, (srr * sy - sr * sry) / det


@functools.lru_cache(maxsize=32)
def _dft_matrices(m: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """The real DFT of size ``m`` as matrices: cos and sin of every row frequency against every cell
    (m, m), and of the half spectrum's column frequencies (m, m // 2 + 1); real input has a
    Hermitian spectrum, so the half holds it all. Cached, so made outside inference mode: a first call
    under ``torch.inference_mode`` would otherwise cache tensors that a later backward cannot save."""
    with torch.inference_mode(False):
        k = torch.arange(m, dtype=torch.float64)
        full, half = 2 * math.pi * torch.outer(k, k) / m, 2 * math.pi * torch.outer(k, k[: m // 2 + 1]) / m
        return tuple(t.to(device, dtype) for t in (full.cos(), full.sin(), half.cos(), half.sin()))


@functools.lru_cache(maxsize=64)
def _inverse_rows(m: int, n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``e^(2 pi i a u / m)`` (n, m) for the ``n`` offsets ``a`` around the origin: the inverse DFT
    evaluated only where a cropped filter keeps taps (cached, made outside inference mode as above)."""
    with torch.inference_mode(False):
        a = torch.arange(-(n // 2), n // 2 + 1, dtype=torch.float64)
        angle = 2 * math.pi * torch.outer(a, torch.arange(m, dtype=torch.float64)) / m
        return torch.polar(torch.ones_like(angle), angle).to(device, dtype)


def _half_spectrum(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of the 2-D DFT of real ``x`` (..., m, m), columns halved."""
    cos_full, sin_full, cos_half, sin_half = _dft_matrices(x.shape[-1], x.device, x.dtype)
    p, q = x @ cos_half, x @ sin_half
    return cos_full @ p - sin_full @ q, -(sin_full @ p + cos_full @ q)


def dcf_filter(x: torch.Tensor, label: torch.Tensor, size: tuple[int, int], ridge: float) -> torch.Tensor:
    """The multi-channel correlation filter (C, h, w) whose response on the reduced features ``x``
    (C, M, M) best fits ``label`` (M, M) in closed form, cropped around its centre to ``size``.

    Per frequency, ``H_c = X_c conj(Y) / (sum_k |X_k|^2 + ridge * mean power)`` (MOSSE and KCF's
    multi-channel ridge regression, a circular correlation), back in space with the origin moved to
    the centre: the filter weighs the target's features against their own correlations, so that the
    response peaks on the target's centre, where one gradient step from zero is a plain template whose
    response along an elongated target is a ridge (docs/results.md). Differentiable. Several samples,
    ``x`` (N, C, M, M) with ``label`` (N, M, M), give the filter that fits them all (the numerator and the
    power summed over the samples, as MOSSE learns from several frames).

    The DFTs are matrix products over the half spectrum, and the inverse is evaluated only at the
    ``size`` taps kept: the map's odd size (31 cells) is slow for an FFT, and the first frame's step
    is mostly this function (docs/results.md, the closed form by matrix DFTs).
    """
    if x.dim() == 3:
        x, label = x[None], label[None]
    m = x.shape[-1]
    xr, xi = _half_spectrum(x)
    yr, yi = (part[:, None] for part in _half_spectrum(label))
    power = (xr ** 2 + xi ** 2).sum((0, 1))
    twice = torch.full((m // 2 + 1,), 2.0, dtype=x.dtype, device=x.device)  # columns standing for two
    twice[0] = 1.0
    if m % 2 == 0:
        twice[-1] = 1.0
    denominator = power + ridge * (power * twice).sum() / (m * m)
    hf = torch.complex((xr * yr + xi * yi).sum(0) / denominator, (xi * yr - xr * yi).sum(0) / denominator)
    complex_dtype = x.dtype.to_complex()
    rows = _inverse_rows(m, size[0], x.device, complex_dtype)
    cols = _inverse_rows(m, size[1], x.device, complex_dtype)[:, : m // 2 + 1] * twice
    return (rows @ hf @ cols.T).real / (m * m)


def filter_taper(size: tuple[int, int], strength: float) -> torch.Tensor:
    """Weights (h, w) that fall from 1 at the filter's centre to ``1 - strength`` beyond its edges (a sine
    window): the closed form's taps on the rim of the target's box, the background around it, count
    less, as spatially regularised correlation filters keep a filter on its target."""
    rows, cols = (torch.sin(torch.pi * torch.arange(1, n + 1, dtype=torch.float64) / (n + 1)) for n in size)
    return (1.0 - strength) + strength * torch.outer(rows, cols).float()


def rim_weights(size: tuple[int, int], cells: tuple[float, float], strength: float) -> torch.Tensor:
    """Weights (h, w) of a filter of ``size`` cells around a target of ``cells`` (h, w) cells: 1 on the
    target's box, ``1 - strength`` on the rim that the filter's odd size adds around it, each cell
    in proportion to its share of the box. Unlike :func:`filter_taper`, the target's own ends keep
    their weight, so a long plain target stays pinned along its length."""
    shares = []
    for n, extent in zip(size, cells, strict=True):
        pos = torch.arange(n, dtype=torch.float64) - (n - 1) / 2  # cell centres from the filter's centre
        half = float(extent) / 2
        shares.append(((pos + 0.5).clamp(max=half) - (pos - 0.5).clamp(min=-half)).clamp(0.0, 1.0))
    return ((1.0 - strength) + strength * torch.outer(*shares)).float()


def solved_filter(x: torch.Tensor, label: torch.Tensor, size: tuple[int, int], config: CRESTConfig,
                  cells: tuple[float, float] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The closed-form filter (:func:`dcf_filter`) on reduced features ``x`` (N, C, M, M) with their
    labels (N, 1, M, M), and the scale and bias that fit its response to the labels
    (:func:`fitted_scale_and_bias`): the first frame's filter, and the later updates' with
    ``dcf_update_rate``. ``cells``: the target's extent, which ``dcf_rim`` needs."""
    filt = dcf_filter(x, label[:, 0], size, config.dcf_lambda)
    if config.dcf_taper:
        filt = filt * filter_taper(size, config.dcf_taper).to(filt)
    if config.dcf_rim:
        if cells is None:
            raise ValueError("dcf_rim needs the target's extent in cells")
        filt = filt * rim_weights(size, cells, config.dcf_rim).to(filt)
    c, b = fitted_scale_and_bias(correlate(x, filt, None, config.correlation), label)
    return filt, c, b


def augmented_features(features: torch.Tensor, zoom: float, angle: float) -> torch.Tensor:
    """The first frame's feature map (1, C, M, M) and, resampled around the window's centre, its views
    with the target ``1 +- zoom`` times as large and turned by ``+-angle`` degrees (each when non-zero):
    (N, C, M, M). The target stays centred, so every view keeps the first frame's label; a filter solved
    over them answers the target a little larger, smaller or turned as well, as later frames show it."""
    views = ([(1.0 - zoom, 0.0), (1.0 + zoom, 0.0)] if zoom else []) + ([(1.0, -angle), (1.0, angle)] if angle else [])
    if not views:
        return features
    theta = torch.zeros(len(views), 2, 3, dtype=features.dtype, device=features.device)
    for i, (s, a) in enumerate(views):
        c, n = math.cos(math.radians(a)), math.sin(math.radians(a))
        theta[i, :, :2] = torch.tensor([[c, -n], [n, c]], dtype=features.dtype) / s
    x = features.expand(len(views), -1, -1, -1)
    out = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), mode="bilinear",
                        padding_mode="zeros", align_corners=False)
    return torch.cat([features, out])


def first_frame_update(head: nn.Module, theta0: Mapping[str, torch.Tensor], alpha: Mapping[str, torch.Tensor],
                       batch: ResponseBatch, steps: int, config: CRESTConfig, *, create_graph: bool,
                       first_order: bool = False) -> Params:
    """theta after the first frame: ``steps`` alpha-steps of ``head``'s eq. 6 loss on ``batch``,
    their length fitted when ``config.init_step_length == "fit"``; or, with ``config.init_filter ==
    "dcf"``, the filter solved in closed form (:func:`dcf_filter`) on theta0's reduction, its scale
    and bias fitted to the label (alpha is not used); with ``"mix"``, the two mixed at ``dcf_mix``.

    ``create_graph=True`` keeps the graph (meta-training). Without it (tracking), one step from a
    zero filter takes a shortcut with the same result: only the filter and its bias move (the
    response is the filter times the reduced features, so the reduction's gradient is zero), and
    the reduced features are computed once instead of in every response.
    """
    label, size = batch.label, batch.size

    def response(p: Params) -> torch.Tensor:
        return functional_call(head, dict(p), (batch.features, size), strict=False)

    if config.init_filter == "mix":  # the closed form and the step, each fitted to the label, mixed
        step = first_frame_update(head, theta0, alpha, batch, steps, replace(config, init_filter="step"),
                                  create_graph=create_graph, first_order=first_order)
        solved = first_frame_update(head, theta0, alpha, batch, steps, replace(config, init_filter="dcf"),
                                    create_graph=create_graph, first_order=first_order)
        m = config.dcf_mix
        with torch.set_grad_enabled(create_graph):
            return dict(theta0, filter=m * solved["filter"] + (1 - m) * warp_filter(step["filter"], size),
                        filter_bias=m * solved["filter_bias"] + (1 - m) * step["filter_bias"])

    if config.init_filter == "dcf":  # the filter in closed form on the meta-learned reduction
        with torch.set_grad_enabled(create_graph):
            features = batch.features
            if config.dcf_augment_zoom or config.dcf_augment_angle:
                features = augmented_features(features, config.dcf_augment_zoom, config.dcf_augment_angle)
            x = reduce_features(features, theta0["reduce.weight"], theta0["reduce.bias"])
            filt, c, b = solved_filter(x, label.expand(len(x), -1, -1, -1), size, config, batch.cells)
            return dict(theta0, filter=c * filt, filter_bias=b.reshape(theta0["filter_bias"].shape))

    if not create_graph and steps == 1 and not torch.any(theta0["filter"]):
        alpha = {k: v for k, v in alpha.items() if k in FILTER_PARAMS}
        x = reduce_features(batch.features, theta0["reduce.weight"], theta0["reduce.bias"])

        def response(p: Params) -> torch.Tensor:  # noqa: F811 - the same map, reduced once
            if p["filter"] is theta0["filter"]:  # theta0 itself: a zero filter's map is its bias
                return p["filter_bias"].view(1, 1, 1, 1).expand(1, 1, *x.shape[-2:])
            return correlate(x, warp_filter(p["filter"], size), p["filter_bias"], config.correlation)

    def loss(p: Params) -> torch.Tensor:
        return crest_loss(response(p), label, p["filter"], config.weight_decay, config.loss_threshold)

    theta1 = adapt(theta0, alpha, loss, steps, create_graph=create_graph, first_order=first_order)
    if config.init_step_length == "alpha" or steps == 0:
        return theta1
    with torch.set_grad_enabled(create_graph):  # without a graph (tracking) the result is detached
        c = fitted_length(response(dict(theta0)), response(theta1), label)
        return {n: theta0[n] + c * (theta1[n] - theta0[n]) if n in alpha else theta1[n] for n in theta1}
