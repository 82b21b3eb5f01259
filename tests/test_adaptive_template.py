"""The template every adaptive tracker family shares: frames, settings, model files, the first-frame
fit that ``init`` and the analysis share, registries, and a new family added as a folder."""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save
from test_crest_tracker import metacrest_model, moving_square
from tiny_otb import write_otb

import metatrack.evaluation.init_analysis as init_analysis
import metatrack.trackers.base as registry
from metatrack.errors import CheckpointError, ConfigError
from metatrack.image import as_rgb, to_bgr
from metatrack.modelfile import load_model, upgrade_model
from metatrack.trackers import available_trackers, create_tracker, trainable_models
from metatrack.trackers.adaptive import AdaptiveTracker, FeatureCache
from metatrack.trackers.crest import CRESTConfig
from metatrack.trackers.sdnet import SDNetConfig
from metatrack.training import train_from_config

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
FAST_SDNET = {"crop_size": 96, "n_pos_init": 60, "n_neg_init": 300, "n_bbreg": 100, "n_samples": 64}


# ---------------------------------------------------------------------------- frames
@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 1), (6, 5, 3), (6, 5, 4)])
def test_every_accepted_frame_becomes_contiguous_rgb_uint8(shape):
    img = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) * 7.3
    out = as_rgb(img)
    assert out.shape == (6, 5, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    grey = np.clip(img, 0, 255).astype(np.uint8).reshape(6, 5, -1)
    assert np.array_equal(out[..., 0], grey[..., 0])
    assert np.array_equal(to_bgr(img), out[..., ::-1])


@pytest.mark.parametrize("shape", [(6, 5, 2), (6, 5, 5), (6,), (0, 5, 3)])
def test_other_channel_counts_are_refused_naming_the_shape(shape):
    with pytest.raises(ValueError, match=r"got shape"):
        as_rgb(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("name", ["sdnet-01", "crest-01", "opencv-kcf"])
def test_trackers_refuse_a_five_channel_frame_instead_of_guessing(name):
    frames, boxes = moving_square(1)
    tracker = create_tracker(name, **(FAST_SDNET if name.startswith("sdnet") else {}))
    with pytest.raises((ValueError, Exception), match="shape|channel|frame"):
        tracker.init(np.zeros((*frames[0].shape[:2], 5), np.uint8), boxes[0])


# ---------------------------------------------------------------------------- the first frame
def _heads_equal(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(torch.equal(a[k].detach(), b[k].detach()) for k in a)


@pytest.mark.parametrize("name", ["sdnet-03", "crest-03", "metacrest", "metasdnet"])
def test_fit_first_frame_builds_the_head_that_init_tracks_with(name):
    frames, boxes = moving_square(3)
    kwargs = FAST_SDNET if name == "sdnet-03" else {}
    fitted = create_tracker(name, **kwargs)
    fitted.seed(5)
    first = fitted.fit_first_frame(frames[0], boxes[0])
    tracked = create_tracker(name, **kwargs)
    tracked.seed(5)
    tracked.init(frames[0], boxes[0])
    state = tracked.params if hasattr(tracked, "params") else tracked.head.state_dict()
    assert _heads_equal(first.after, state)
    assert _heads_equal(first.after, tracked.first_frame.after)
    assert not _heads_equal(first.before, first.after)  # the fit moved the head


def test_the_analysis_measures_the_head_init_builds(monkeypatch):
    frames, boxes = moving_square(4)
    seen = []
    original = AdaptiveTracker.fit_first_frame

    def spy(self, image, box):
        first = original(self, image, box)
        seen.append(first.after)
        return first

    monkeypatch.setattr(AdaptiveTracker, "fit_first_frame", spy)
    tracker = create_tracker("sdnet-03", **FAST_SDNET)
    tracker.seed(2)
    result = init_analysis.analyse_sequence(tracker, frames, boxes)
    reference = create_tracker("sdnet-03", **FAST_SDNET)
    reference.seed(2)
    reference.init(frames[0], boxes[0])
    assert len(seen) == 1 and _heads_equal(seen[0], reference.head.state_dict())
    assert 0.0 <= result["before"] <= 1.0 and result["after"] >= 0.75


# ---------------------------------------------------------------------------- settings
def test_settings_parse_tuples_from_yaml_lists_and_name_a_bad_key():
    cfg = CRESTConfig.from_dict({"scales": [1, 0.9, 1.1], "canonical_filter_size": [5.0, 7.0]})
    assert cfg.scales == (1.0, 0.9, 1.1) and cfg.canonical_filter_size == (5, 7)
    assert SDNetConfig.from_dict({"overlap_bbreg": [0.5, 1]}).overlap_bbreg == (0.5, 1.0)
    with pytest.raises(ConfigError, match="overlap_bbreg"):
        SDNetConfig.from_dict({"overlap_bbreg": [0.5]})
    with pytest.raises(ConfigError, match="unknown keys.*'crop_sise'"):
        SDNetConfig.from_dict({"crop_sise": 3})
    assert CRESTConfig().replace(update_lr=0.5).update_lr == 0.5 and CRESTConfig().update_lr != 0.5


def test_a_model_fixes_its_fields_and_files_without_a_new_field_get_its_legacy_value(tmp_path):
    stored = {**CRESTConfig(canonical_filter_size=(5, 5)).to_dict(), "crop_size": 120}
    del stored["init_step_length"]
    cfg = CRESTConfig.for_model(stored, CRESTConfig(init_step_length="fit"), {"update_lr": 0.3}, tmp_path)
    assert (cfg.crop_size, cfg.canonical_filter_size, cfg.update_lr) == (120, (5, 5), 0.3)
    assert cfg.init_step_length == "alpha"  # what files written before the key were trained with
    with pytest.raises(ConfigError, match="crop_size=120"):
        CRESTConfig.for_model(stored, CRESTConfig(), {"crop_size": 248}, tmp_path)


# ---------------------------------------------------------------------------- feature cache
def test_feature_cache_is_bounded_by_count_and_by_bytes():
    by_count = FeatureCache(max_items=2)
    for k in range(3):
        by_count.get(k, lambda: torch.zeros(4))
    assert len(by_count) == 2 and by_count.misses == 3
    by_count.get(2, lambda: pytest.fail("a hit must not recompute"))
    assert by_count.hits == 1
    by_bytes = FeatureCache(max_bytes=40)  # 10 float32 values
    by_bytes.get("a", lambda: torch.zeros(6))
    by_bytes.get("b", lambda: torch.zeros(6))  # 48 bytes in all: "a" goes
    assert len(by_bytes) == 1 and by_bytes.bytes == 24
    huge = by_bytes.get("c", lambda: torch.zeros(20))  # larger than the budget: returned, not kept
    assert huge.numel() == 20 and len(by_bytes) == 1


# ---------------------------------------------------------------------------- model files
def test_every_model_file_uses_one_key_scheme():
    for model in ("metasdnet", "metacrest"):
        tensors, _ = load_model(Path(registry.__file__).parents[1] / "models" / f"{model}.safetensors", model)
        assert tensors and all(k.startswith(("theta0.", "alpha.")) for k in tensors)


def test_a_format_1_model_is_refused_with_the_conversion_and_converts_unchanged(tmp_path):
    old = tmp_path / "old.safetensors"
    good = metacrest_model(tmp_path / "new.safetensors", alpha=2e-4)
    tensors, info = load_model(good, "metacrest")
    bare = {k.removeprefix("theta0."): v for k, v in tensors.items()}  # format 1: theta0 under bare names
    meta = {"metatrack_model": "metacrest", "format": "1", "config": json.dumps(info["config"]),
            "backbone_sha256": info["backbone_sha256"], "extra": "{}"}
    old.write_bytes(save(bare, metadata=meta))
    with pytest.raises(CheckpointError, match="metatrack upgrade-model"):
        create_tracker("metacrest", model=old)
    upgrade_model(old)
    converted, _ = load_model(old, "metacrest")
    assert set(converted) == set(tensors) and all(torch.equal(converted[k], tensors[k]) for k in tensors)


# ---------------------------------------------------------------------------- registries
def test_a_plugin_that_fails_to_load_is_reported_and_the_rest_goes_on(monkeypatch):
    class Broken:
        name, value = "broken-tracker", "nowhere:Tracker"

        def load(self):
            raise ImportError("No module named 'nowhere'")

    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [Broken()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry._load_entry_points()
        assert "metasdnet" in available_trackers() and "broken-tracker" not in available_trackers()
    assert any("broken-tracker" in str(w.message) and "nowhere" in str(w.message) for w in caught)


def test_an_unknown_trainable_model_names_the_known_ones():
    assert {"metasdnet", "metacrest"} <= set(trainable_models())
    with pytest.raises(ConfigError, match="known: .*metacrest"):
        registry.resolve_trainable("metanothing")


# ---------------------------------------------------------------------------- a family of its own
@pytest.fixture()
def pixel_family(tmp_path, monkeypatch):
    """docs/examples/pixel dropped as a folder beside the built-in families, nothing else touched."""
    import metatrack.trackers as trackers

    extra = tmp_path / "families"
    shutil.copytree(EXAMPLES / "pixel", extra / "pixel")
    monkeypatch.setattr(trackers, "__path__", [*trackers.__path__, str(extra)])
    monkeypatch.setattr(registry, "_BUILTINS_LOADED", False)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_TRAINABLE", dict(registry._TRAINABLE))
    yield
    sys.modules.pop("metatrack.trackers.pixel", None)


def test_a_new_family_is_a_folder_and_one_registration(pixel_family, tmp_path):
    assert {"metapixel", "pixel-01", "pixel-20"} <= set(available_trackers())
    assert "metapixel" in trainable_models()
    data = write_otb(tmp_path / "otb")
    config = {"model": "metapixel", "tracker": {"window": 25},
              "meta_training": {"iterations": 30, "episodes_per_batch": 2, "alpha_init": 0.01, "lr_theta": 1e-2,
                                "lr_alpha": 1e-3, "lr_decay_at": [], "checkpoint_every": 10,
                                "schedule": [{"from_iteration": 0, "params": ["*"]}],
                                "delta_range": [1, 2], "sources": [{"dataset": f"otb:{data}"}]}}
    model = train_from_config(config, tmp_path / "run", progress=False)
    assert model.is_file() and (tmp_path / "run" / "checkpoint.pt").is_file()
    frames, boxes = moving_square(6, box=(40, 40, 20, 20))
    for name, kwargs in (("metapixel", {"model": model}), ("pixel-20", {})):
        tracker = create_tracker(name, **kwargs)
        result = init_analysis.analyse_sequence(tracker, frames, boxes)
        assert result["after"] < result["before"]
        tracker.init(frames[0], boxes[0])
        out = np.array([tracker.update(f) for f in frames[1:]])
        assert out.shape == (5, 4) and np.all(np.isfinite(out))
    with pytest.raises(ConfigError, match="window=25"):
        create_tracker("metapixel", model=model, window=33)
