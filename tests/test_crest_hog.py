"""HOG channels beside the CNN's for the correlation-filter trackers (hog_weight; crest/hog.py)."""

import numpy as np
import pytest
import torch
from test_crest_tracker import metacrest_model, moving_square

from metatrack.errors import ConfigError
from metatrack.geometry import iou
from metatrack.trackers import create_tracker
from metatrack.trackers.crest.features import FeatureExtractor
from metatrack.trackers.crest.hog import CHANNELS, SIGNED_BINS, HogMap


def as_crop(gray: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.repeat(gray[None, None].astype(np.float32), 3, axis=1))


def test_an_edges_gradient_fills_the_bin_of_its_direction():
    """Dark left, bright right: the gradient points along +x (signed bin 0); the mirror image points
    along -x (signed bin 9); both fill the same contrast-insensitive bin 0. A flat crop has nothing."""
    img = np.zeros((64, 64))
    img[:, 32:] = 255
    hog = HogMap()
    right, left = hog(as_crop(img), 8)[0], hog(as_crop(img[:, ::-1].copy()), 8)[0]
    edge = right[:, 3:5, 4].sum(dim=1)  # the cells around column 32 (cell 4 is centred on pixel 32)
    assert int(edge[:SIGNED_BINS].argmax()) == 0
    assert int(left[:, 3:5, 4].sum(dim=1)[:SIGNED_BINS].argmax()) == SIGNED_BINS // 2
    assert int(edge[SIGNED_BINS:].argmax()) == 0
    assert torch.allclose(right[SIGNED_BINS:], left[SIGNED_BINS:], atol=1e-6)
    assert float(hog(as_crop(np.full((64, 64), 90.0)), 8).abs().max()) == 0.0


def test_cells_lie_on_the_cnns_grid_and_are_normalised_and_clipped():
    """A dot at crop pixel (8 k, 8 j) lands in cell (k, j), as MobileNetV2's stride-8 cell (k, j) is
    centred there; every value is in [0, 0.2]."""
    img = np.zeros((96, 96))
    img[39:42, 55:58] = 255  # centred on pixel (40, 56): cell (5, 7)
    out = HogMap()(as_crop(img), 12)[0]
    assert out.shape == (CHANNELS, 12, 12)
    energy = out.square().sum(dim=0)
    assert np.unravel_index(int(energy.argmax()), energy.shape) == (5, 7)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 0.2 + 1e-6


def test_the_extractor_appends_hog_at_its_weight_and_keeps_the_cnns_channels():
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    plain, with_hog = FeatureExtractor(pretrained=False), FeatureExtractor(pretrained=False, hog_weight=0.5)
    with_hog.load_state_dict(plain.state_dict())
    a, b = plain([crop]), with_hog([crop])
    assert with_hog.channels == plain.channels + CHANNELS and b.shape[1] == with_hog.channels
    assert torch.allclose(a, b[:, :plain.channels], atol=1e-4)
    hog_rms = float(b[:, plain.channels:].square().mean().sqrt())
    assert hog_rms == pytest.approx(0.5, rel=1e-3)
    # what meta-training caches (the trunk's output) carries the HOG channels through finish()
    trunk = with_hog.trunk_features([crop])
    assert torch.allclose(with_hog.finish(trunk), b, atol=1e-5)


@pytest.mark.parametrize("tracker", ["crest-10", "metacrest"])
def test_a_tracker_with_hog_tracks_a_textured_square(tmp_path, tracker):
    frames, boxes = moving_square(16)
    extra = {"model": metacrest_model(tmp_path / "m.safetensors", hog_weight=1.0)} if tracker == "metacrest" else {}
    t = create_tracker(tracker, hog_weight=1.0, **extra)
    t.seed(0)
    t.init(frames[0], boxes[0])
    assert t.features.channels == 192 + CHANNELS
    out = [boxes[0]] + [t.update(f) for f in frames[1:]]
    assert np.mean(iou(np.array(out), boxes)) > 0.6


def test_hog_weight_is_fixed_by_the_model_file_and_checked(tmp_path):
    with pytest.raises(ConfigError, match="hog_weight"):
        create_tracker("crest-10", hog_weight=-1.0)
    plain = metacrest_model(tmp_path / "plain.safetensors")
    with pytest.raises(ConfigError, match="hog_weight"):
        create_tracker("metacrest", model=plain, hog_weight=1.0)  # weights made for 192 channels
    with_hog = metacrest_model(tmp_path / "hog.safetensors", hog_weight=1.0)
    assert create_tracker("metacrest", model=with_hog).config.hog_weight == 1.0


def test_the_hog_channels_export_to_onnx_with_the_cnn(tmp_path):
    from metatrack.export import export_onnx

    written = export_onnx("crest-10", tmp_path / "hog.onnx", hog_weight=1.0)
    assert written["output"] == [1, 192 + CHANNELS, 31, 31]
    assert written["relative_error"] <= 1e-4
