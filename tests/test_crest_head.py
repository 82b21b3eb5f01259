"""MetaCREST's head: the warped canonical filter, the correlation layer, eq. 6 and its labels."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from metatrack.errors import ConfigError
from metatrack.meta import MetaSGD, adapt
from metatrack.trackers.crest.config import CRESTConfig
from metatrack.trackers.crest.first_frame import first_frame_update
from metatrack.trackers.crest.head import CorrelationHead, ResponseBatch, correlate, filter_size, warp_filter
from metatrack.trackers.crest.loss import crest_loss, gaussian_label, peak_offset_error
from metatrack.trackers.crest.pca import fit_pca_reduction
from metatrack.trackers.crest.window import cell_to_offset, offset_to_cell, subpixel_peak, window_side


def _episode(seed=0, channels=12, m=15):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(1, channels, m, m, generator=g)
    label = torch.from_numpy(gaussian_label((m, m), ((m - 1) / 2, (m - 1) / 2), (5.0, 4.0)))[None, None]
    return feats, label


@pytest.mark.parametrize("zero_start", [False, True])
def test_warp_passes_meta_gradients_to_theta0_filter_and_alpha(zero_start):
    head = CorrelationHead(12, channels=8, canonical_size=(5, 7), generator=torch.Generator().manual_seed(0))
    assert torch.count_nonzero(head.filter) == 0  # theta0_f starts at zero
    if not zero_start:
        with torch.no_grad():
            head.filter.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(1))
    learner = MetaSGD(head, alpha_init=1e-2)
    feats, label = _episode()
    future, future_label = _episode(seed=1)
    size = (9, 5)  # another size and aspect than the canonical 5 x 7

    def loss(p, x, y):
        return crest_loss(learner.forward_with(p, x, size), y, p["filter"], 1e-4)

    theta1 = adapt(learner.theta0(), learner.alphas(), lambda p: loss(p, feats, label), steps=1)
    assert theta1["filter"].shape == (8, 5, 7)  # adapted in the canonical space, through the warp
    loss(theta1, future, future_label).backward()
    reached = [head.filter, learner.alpha["filter"], head.reduce.weight, learner.alpha["filter_bias"]]
    if not zero_start:  # from a zero filter the first step cannot move the reduction: no gradient for its alpha
        reached.append(learner.alpha["reduce__weight"])
    for p in reached:
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_warped_filter_has_the_target_size_and_keeps_a_constant_filter():
    filt = torch.full((4, 5, 5), 0.25)
    out = warp_filter(filt, (9, 3))
    assert out.shape == (4, 9, 3)
    assert torch.allclose(out, torch.full_like(out, 0.25))
    assert warp_filter(filt, (5, 5)) is filt


def test_head_response_has_the_feature_map_size():
    head = CorrelationHead(12, channels=8, canonical_size=(5, 5))
    feats, _ = _episode()
    for size in ((3, 3), (7, 11), (15, 15)):
        assert head(feats, size).shape == (1, 1, 15, 15)


@pytest.mark.parametrize("size", [(3, 3), (5, 9), (9, 9), (13, 7)])
def test_im2col_correlation_is_the_conv_layer(size):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 17, 17, generator=g)
    f = torch.randn(6, *size, generator=g)
    b = torch.tensor([0.3])
    ref = F.conv2d(x, f[None], b, padding=(size[0] // 2, size[1] // 2))
    assert torch.allclose(correlate(x, f, b, "im2col"), ref, atol=1e-4)
    assert torch.allclose(correlate(x, f, b, "conv"), ref)


def test_filter_size_follows_crest_rule():
    assert filter_size((6.2, 6.2)) == (9, 9)  # 2 * ceil(t / 2) + 1
    assert filter_size((4.0, 1.0)) == (5, 3)  # at least 3
    assert all(v % 2 == 1 for v in filter_size((7.3, 2.2)))


def test_eq6_loss_by_hand():
    label = torch.tensor([[[[1.0, 0.5], [0.0, 0.2]]]])
    resp = torch.tensor([[[[0.7, 0.45], [0.3, 0.25]]]])
    # errors 0.3, 0.05 (excluded), 0.3, 0.05 (excluded): P has two cells
    expected = ((np.e * 0.3) ** 2 + (1.0 * 0.3) ** 2) / 2
    assert float(crest_loss(resp, label)) == pytest.approx(expected, rel=1e-5)
    f = torch.ones(2, 3)
    assert float(crest_loss(resp, label, f, weight_decay=0.01)) == pytest.approx(expected + 0.06, rel=1e-5)
    assert float(crest_loss(label.clone(), label)) == 0.0  # empty P


def test_gaussian_label_peaks_at_the_target_with_crest_spread():
    lab = gaussian_label((31, 31), (10.0, 20.0), (6.0, 3.0))
    assert np.unravel_index(lab.argmax(), lab.shape) == (10, 20)
    assert lab.max() == pytest.approx(1.0)
    # sigma = 0.1 * extent: one cell off along the tall axis falls less than along the short one
    assert lab[11, 20] > lab[10, 21]
    assert lab[11, 20] == pytest.approx(np.exp(-0.3 / 0.6**2), rel=1e-5)


def test_peak_offset_error_in_cells():
    label = torch.zeros(1, 1, 9, 9)
    label[0, 0, 4, 4] = 1
    resp = torch.zeros(1, 1, 9, 9)
    resp[0, 0, 1, 8] = 1
    assert peak_offset_error(resp, label) == pytest.approx(5.0)


def test_pca_reduction_projects_on_leading_components():
    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(10, 10, generator=g))[0]
    scales = torch.tensor([5.0, 3.0] + [0.01] * 8)
    coeffs = torch.randn(400, 10, generator=g) * scales
    x = (coeffs @ basis.T + 2.0).T.reshape(1, 10, 20, 20)
    w, b = fit_pca_reduction(x, 2)
    assert w.shape == (2, 10, 1, 1) and b.shape == (2,)
    proj = F.conv2d(x, w, b).flatten(2)[0]
    assert torch.allclose(proj.mean(1), torch.zeros(2), atol=1e-4)
    assert torch.allclose(w[:, :, 0, 0] @ w[:, :, 0, 0].T, torch.eye(2), atol=1e-5)
    assert proj[0].var() > proj[1].var() > 1.0  # the two large directions, largest first


def test_window_geometry_round_trip_and_subpixel_peak():
    assert window_side((20, 50)) == 250  # 5 x the longer side (official get_search_size)
    assert window_side((20, 50), basis="shorter") == 100
    assert window_side((10, 80), basis="shorter") == 80  # never smaller than the target
    assert window_side((20, 80), basis="area") == 200  # 5 x sqrt(20 x 80): the geometric mean
    assert window_side((40, 40), basis="area") == window_side((40, 40)) == 200  # a square: all agree
    assert window_side((2, 200), basis="area") == 200  # never smaller than the target
    CRESTConfig(window_basis="area").validate()
    with pytest.raises(ConfigError, match="window_basis must be 'longer', 'shorter' or 'area'"):
        CRESTConfig(window_basis="square").validate()
    cell = offset_to_cell((12.0, -7.0), 100.0, 31)
    assert np.allclose(cell_to_offset(cell, 100.0, 31), [12.0, -7.0])
    ys, xs = np.mgrid[0:15, 0:15]
    blob = np.exp(-((ys - 6.3) ** 2 + (xs - 8.6) ** 2) / 4.0)
    r, c = subpixel_peak(blob)
    assert abs(r - 6.3) < 0.15 and abs(c - 8.6) < 0.15


def test_batchnorm_folding_keeps_the_backbone_output():
    from torch import nn

    from metatrack.trackers.crest.features import fuse_conv_bn

    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
                        nn.Sequential(nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4)))
    for bn in (net[1], net[3][1]):
        bn.running_mean.normal_(generator=g)
        bn.running_var.uniform_(0.5, 2.0, generator=g)
        bn.weight.data.normal_(generator=g)
    net.eval()
    x = torch.randn(2, 3, 9, 9, generator=g)
    ref = net(x)
    fused = fuse_conv_bn(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert torch.allclose(fused(x), ref, atol=1e-5)


def test_crop_square_maps_the_window_and_fills_outside():
    from metatrack.trackers.crest.features import CROP_FILL, crop_square

    img = np.zeros((100, 200, 3), np.uint8)
    img[40:60, 90:110] = 255  # a 20 x 20 white square centred on (100, 50)
    crop = crop_square(img, (100.0, 50.0), 80.0, 40)  # 2 px per output pixel
    assert crop.shape == (40, 40, 3)
    assert crop[15:25, 15:25].min() == 255 and crop[:8].max() == 0
    edge = crop_square(img, (0.0, 0.0), 80.0, 40)  # three quarters outside the frame
    assert tuple(edge[5, 5]) == CROP_FILL and tuple(edge[30, 30]) == (0, 0, 0)
    huge = crop_square(img, (100.0, 50.0), 2000.0, 40)  # shrunk with area averaging first
    assert huge.shape == (40, 40, 3) and tuple(huge[0, 0]) == CROP_FILL


def test_fitted_step_length_fits_the_label_whatever_the_feature_energy():
    head = CorrelationHead(12, channels=8, canonical_size=(5, 5), generator=torch.Generator().manual_seed(0))
    learner = MetaSGD(head, alpha_init=1e-3)
    feats, label = _episode()
    size, mid = (5, 5), label.shape[-1] // 2
    peaks: dict[str, list[float]] = {"alpha": [], "fit": []}
    for energy in (0.3, 3.0):  # the same window, its features 10x stronger

        def response(p, x=feats * energy):
            return learner.forward_with(p, x, size)

        def loss(p, response=response):
            return crest_loss(response(p), label, p["filter"], 1e-4)

        theta0, alphas = learner.theta0(), learner.alphas()
        batch = ResponseBatch(feats * energy, label, size)

        def step(length, batch=batch, theta0=theta0, alphas=alphas):
            cfg = CRESTConfig(weight_decay=1e-4, init_step_length=length)
            out = first_frame_update(head, theta0, alphas, batch, 1, cfg, create_graph=True)
            return {k: v.detach() for k, v in out.items()}

        plain, fitted = step("alpha"), step("fit")
        ref = adapt(theta0, alphas, loss, 1, create_graph=False)
        assert all(torch.equal(plain[k], ref[k]) for k in ref)  # "alpha" is the paper's step as it is
        with torch.no_grad():
            assert float(loss(fitted)) <= float(loss(plain)) + 1e-6
            for name, theta in (("alpha", plain), ("fit", fitted)):
                peaks[name].append(float(response(theta)[0, 0, mid, mid]))
        # the fitted step keeps the direction of the alpha-step: theta0 + c * (theta1 - theta0)
        d_plain, d_fit = plain["filter"] - theta0["filter"], fitted["filter"] - theta0["filter"]
        c = float(((d_fit * d_plain).sum() / d_plain.square().sum()).detach())
        assert torch.allclose(d_fit, c * d_plain, atol=1e-7) and c > 0
    # from a zero filter the plain step's response grows with the energy squared; the fitted one
    # peaks near the label's 1 for both
    assert peaks["alpha"][1] > 50 * peaks["alpha"][0]
    assert all(0.5 < v < 1.5 for v in peaks["fit"]), peaks


def test_fitted_step_length_passes_meta_gradients():
    head = CorrelationHead(12, channels=8, canonical_size=(5, 5), generator=torch.Generator().manual_seed(0))
    learner = MetaSGD(head, alpha_init=1e-2)
    feats, label = _episode()
    future, future_label = _episode(seed=1)

    def loss(p, x=feats, y=label):
        return crest_loss(learner.forward_with(p, x, (5, 5)), y, p["filter"], 1e-4)

    cfg = CRESTConfig(weight_decay=1e-4, init_step_length="fit")
    theta1 = first_frame_update(head, learner.theta0(), learner.alphas(), ResponseBatch(feats, label, (5, 5)), 1, cfg,
                                create_graph=True)
    loss(theta1, future, future_label).backward()
    for p in (head.reduce.weight, learner.alpha["filter"], learner.alpha["filter_bias"]):
        assert p.grad is not None and p.grad.abs().sum() > 0
