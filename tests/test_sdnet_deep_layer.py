"""The SDNet family's multi-layer map (``deep_layer``): the stride-8 map with a deeper one stacked on its
channels, the settings that refuse what it cannot do, a model that fixes it, and a file written
before the key existed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sdnet_synth import moving_square, square_sequence

from metatrack.data.episodes import EpisodeSampler
from metatrack.errors import ConfigError
from metatrack.trackers.sdnet import MetaSDNet, build_task
from metatrack.trackers.sdnet.config import SDNetConfig
from metatrack.trackers.sdnet.features import build_backbone
from metatrack.trackers.sdnet.network import feature_settings
from metatrack.training import MetaTrainConfig, MetaTrainer, ScheduleStep, export_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

TINY = {"crop_size": 128, "hidden": 32, "n_samples": 128, "n_bbreg": 300, "maxiter_update": 5,
        "batch_neg_cand": 256}


def test_the_deep_map_is_the_stride_8_map_with_the_deeper_layers_stacked_on_it():
    plain = build_backbone(SDNetConfig.from_dict({"crop_size": 128}))
    deep = build_backbone(SDNetConfig.from_dict({"crop_size": 128, "deep_layer": 14}))
    # features[7:14] add MobileNetV2's 96 stride-16 channels; the map keeps its stride-8 cells
    assert (deep.stride, deep.shift, deep.channels) == (plain.stride, plain.shift, plain.channels + 96)
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        fine, both = plain.net(x), deep.net(x)
        assert both.shape[-2:] == fine.shape[-2:] == (16, 16)
        assert torch.equal(both[:, :32], fine)
        coarse = deep.net.deep(fine)  # the deeper layers' own map: stride 16
        assert coarse.shape[-2:] == (8, 8)
        # resized to the stride-8 cells: its mean is kept and it is not a copy of the fine channels
        assert torch.allclose(both[:, 32:].mean(), coarse.mean(), atol=0.05 * coarse.abs().mean())
        assert not torch.allclose(both[:, 32:64], fine)


def test_settings_refuse_what_the_deep_map_cannot_do():
    for bad in ({"deep_layer": 7}, {"deep_layer": 19}, {"deep_layer": 14, "trainable_blocks": 1},
                {"deep_layer": 14, "backbone": "vggm", "vggm_path": "x.mat"}):
        with pytest.raises(ConfigError, match="deep_layer"):
            SDNetConfig.from_dict(bad)
    # the plain map's shared-pass settings are what they were; the deep map's name their layer
    assert "deep_layer" not in feature_settings(SDNetConfig())
    assert feature_settings(SDNetConfig(deep_layer=14))["deep_layer"] == 14


@pytest.fixture(scope="module")
def deep_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("deep")
    task = build_task({**TINY, "deep_layer": 14})
    seqs = [square_sequence(f"sq{i}", n=12, size=(160, 120), side=20 + 3 * i, seed=30 + i, step=(2, 2))
            for i in range(3)]
    cfg = MetaTrainConfig(iterations=4, episodes_per_batch=2, lr_theta=1e-3, lr_alpha=3e-3, alpha_init=0.01,
                          lr_decay_at=[], checkpoint_every=10**6, schedule=[ScheduleStep(0, ["fc*"])])
    MetaTrainer(task, EpisodeSampler([seqs], None, (1, 4)), cfg, out).train(progress=False)
    return export_model(task, out / "metasdnet.safetensors")


def test_a_model_fixes_the_deep_map_and_tracks_with_it(deep_model):
    tracker = MetaSDNet(model=deep_model, config=TINY)  # the file says deep_layer 14, the config nothing
    assert tracker.config.deep_layer == 14
    assert tracker.extractor.feature_dim == (32 + 96) * 9
    assert tracker.theta0["fc4.weight"].shape[1] == (32 + 96) * 9
    with pytest.raises(ConfigError, match="deep_layer"):
        MetaSDNet(model=deep_model, config=TINY, deep_layer=0)
    frames, boxes = moving_square(n=10, size=(160, 120), side=24, seed=5)
    tracker.init(frames[0], boxes[0])
    out = np.array([tracker.update(f) for f in frames[1:]])
    drift = np.abs(out[:, :2] - boxes[1:, :2]).max()
    assert np.isfinite(out).all() and drift < 12  # a textured square moving 2-3 px a frame is held


def test_a_model_written_before_the_key_existed_reads_as_the_stride_8_map():
    from metatrack.trackers.adaptive.tracker import shipped_model

    tracker = MetaSDNet(model=shipped_model("metasdnet"))
    assert tracker.config.deep_layer == 0
    assert tracker.extractor.feature_dim == 32 * 9


def test_the_deep_map_exports_to_onnx_with_its_128_channels(tmp_path):
    pytest.importorskip("onnxruntime")
    from metatrack.export import export_onnx

    done = export_onnx("sdnet-30", tmp_path / "deep.onnx", crop_size=128, deep_layer=14)
    assert done["output"] == [1, 128, 16, 16] and done["relative_error"] < 1e-4
