"""The full CREST (``crest``) and its ablation ``crest-base``: residual modules, their training,
their regularisation, the schedule, registration and a short run on a composite sequence."""

import numpy as np
import pytest
import torch
from test_crest_tracker import moving_square

from metatrack.data import open_dataset
from metatrack.data.composite import write_split
from metatrack.errors import ConfigError
from metatrack.evaluation.init_analysis import analyse_sequence
from metatrack.geometry import iou
from metatrack.trackers import available_trackers, create_tracker
from metatrack.trackers.crest import CREST, CREST_SCHEDULE, CRESTN
from metatrack.trackers.crest.head import correlate
from metatrack.trackers.crest.residual import SPATIAL_NAMES, SpatialResidual, TemporalResidual


def started(name="crest", frames=None, boxes=None, **options):
    if frames is None:
        frames, boxes = moving_square(12)
    t = create_tracker(name, **options)
    t.seed(0)
    t.init(frames[0], boxes[0])
    return t, frames, boxes


def test_residual_modules_map_reduced_features_to_one_response_channel():
    x = torch.randn(3, 64, 31, 31)
    spatial = SpatialResidual(64, 64, init_scale=1.0, generator=torch.Generator().manual_seed(0))
    temporal = TemporalResidual(64, init_scale=1.0, generator=torch.Generator().manual_seed(0))
    assert spatial(x).shape == (3, 1, 31, 31) and temporal(x[:1]).shape == (1, 1, 31, 31)
    assert [tuple(p.shape) for p in spatial.parameters()] == [(64, 64, 1, 1), (64,), (64, 64, 1, 1), (64,),
                                                              (1, 64, 1, 1), (1,)]
    assert spatial(x).abs().max() > 0.01 and temporal(x).abs().max() > 0.01
    # CREST's near-zero start: before training neither module adds to the base layer's response
    quiet = SpatialResidual(64, 64, init_scale=1e-8, generator=torch.Generator().manual_seed(0))
    assert quiet(x).abs().max() < 1e-5 and TemporalResidual(64)(x).abs().max() < 1e-5


def test_trained_residuals_change_the_response():
    t, _, _ = started()
    x, p = t._first_x, t.params
    with torch.no_grad():
        base = correlate(x, p["filter"], p["filter_bias"])
        full = t._response(x, p)
        residual = full - base
    assert full.shape == base.shape == (1, 1, t.map_size, t.map_size)
    assert residual.abs().max() > 1e-3  # the first frame's training moved the modules off their start
    assert torch.allclose(residual, t._residual(x, p))
    # the residual is not a constant: it shapes the map
    assert residual.max() - residual.min() > 1e-3


def test_temporal_residual_is_frozen_after_the_first_frame_and_the_spatial_one_learns():
    t, frames, _ = started()
    first = t.first_frame.after
    map_before = t.temporal_map.clone()
    assert not any(t.params[k].requires_grad for k in ("temporal.weight", "temporal.bias"))
    assert all(t.params[k].requires_grad for k in SPATIAL_NAMES)
    for f in frames[1:]:
        t.update(f)
    assert t.frame >= 2 * CREST_SCHEDULE["update_interval"]
    for k in ("temporal.weight", "temporal.bias"):
        assert torch.equal(t.params[k], first[k])
    assert torch.equal(t.temporal_map, map_before)
    assert not torch.equal(t.params["spatial.4.weight"], first["spatial.4.weight"])
    assert not torch.equal(t.params["filter"], first["filter"])
    # the temporal branch was trained on the first frame (it left its near-zero start)
    assert (first["temporal.weight"] - t.first_frame.before["temporal.weight"]).abs().max() > 1e-5


def test_residual_weight_decay_is_the_factor_times_the_filters():
    t, _, _ = started()
    cfg, p = t.config, t.params
    assert cfg.residual_weight_decay_factor == 1000.0
    expected = cfg.weight_decay * cfg.residual_weight_decay_factor * sum(
        p[k].square().sum() for k in p if k.startswith(("spatial.", "temporal.")) and k.endswith("weight"))
    assert float(t._residual_decay(p).detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    resp = t._response(t._first_x, p)
    label = t.label0
    with_decay = t._loss(resp, label, p)
    without = CRESTN._loss(t, resp, label, p)
    assert float((with_decay - without).detach()) == pytest.approx(float(expected.detach()), rel=1e-5)


def test_weight_decay_shrinks_the_residuals_during_training():
    frames, boxes = moving_square(1)
    norms = {}
    for factor in (0.0, 1e5):
        t, _, _ = started(frames=frames, boxes=boxes, residual_weight_decay_factor=factor, init_until_loss=None,
                          init_iterations=40)
        norms[factor] = float(t.params["spatial.2.weight"].detach().norm())
    start = float(t.first_frame.before["spatial.2.weight"].norm())
    assert norms[1e5] < norms[0.0] and norms[1e5] < start


def test_crest_without_modules_is_crest_base_exactly():
    frames, boxes = moving_square(12)
    runs = {}
    for name, options in (("crest-base", {}), ("crest", {"spatial": False, "temporal": False})):
        t = create_tracker(name, **options)
        t.seed(3)
        t.init(frames[0], boxes[0])
        runs[name] = np.array([t.update(f) for f in frames[1:]])
    np.testing.assert_array_equal(runs["crest-base"], runs["crest"])


def test_registration_and_schedules():
    names = set(available_trackers())
    assert {"crest", "crest-base", "crest-converged"} <= names
    crest, base, converged = (create_tracker(n) for n in ("crest", "crest-base", "crest-converged"))
    assert isinstance(crest, CREST) and type(base) is CRESTN and crest.stochastic and base.stochastic
    for key, value in CREST_SCHEDULE.items():
        assert getattr(crest.config, key) == value and getattr(base.config, key) == value
    # crest-base and crest-converged differ in the online schedule, where the search is centred
    # (CREST's last position; CREST-N's velocity prediction, velocity_damping) and how the size is read
    # (CREST's three scales; CREST-N's scale filter) only
    differ = {k for k, v in base.config.to_dict().items() if converged.config.to_dict()[k] != v}
    assert differ == {"update_interval", "buffer_size", "update_batch", "update_until_loss", "velocity_damping",
                      "scale_filter"}
    # a user's settings override the schedule key by key
    assert create_tracker("crest", config={"update_interval": 5}).config.update_interval == 5
    assert create_tracker("crest-base", config={"buffer_size": 7}).config.update_until_loss == 0.01
    with pytest.raises(ConfigError, match="residual_channels"):
        create_tracker("crest", residual_channels=0)


def test_online_update_stops_once_the_buffer_fits():
    # a threshold no loss is below: every update takes its iterations; one every loss is below: none
    moved = {}
    for threshold in (0.0, 1e9):
        t, frames, _ = started(update_until_loss=threshold)
        before = t.params["filter"].clone()
        for f in frames[1:3]:
            t.update(f)
        moved[threshold] = not torch.equal(t.params["filter"], before)
    assert moved[0.0] and not moved[1e9]


def test_first_frame_analysis_counts_the_residuals():
    frames, boxes = moving_square(3)
    res = analyse_sequence(create_tracker("crest"), frames, boxes)
    assert res["after"] < res["before"] and res["after"] <= 0.02 + 1e-9


def test_crest_stays_on_a_composite_target(tmp_path):
    folder = tmp_path / "eval"
    write_split(folder, "eval", sequences=1, frames=40, seed=0, image_size=(320, 240))
    (seq,) = open_dataset(f"otb:{folder}")
    t = create_tracker("crest")
    t.seed(0)
    t.init(seq.frame(0), seq.boxes[0])
    out = np.array([seq.boxes[0]] + [t.update(seq.frame(i)) for i in range(1, len(seq))])
    valid = np.isfinite(seq.boxes).all(axis=1)
    overlaps = iou(out[valid], seq.boxes[valid])
    assert overlaps.mean() > 0.5 and (overlaps > 0.3).mean() > 0.8, np.round(overlaps, 2).tolist()
