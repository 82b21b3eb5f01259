"""MetaSDNet with a meta-trained backbone block (``trainable_blocks``): the split backbone, the pooling
that meta-training differentiates twice, the schedule, the first frame, the model file, and the
frozen-backbone tracker left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sdnet_synth import moving_square, square_sequence

from metatrack.data.episodes import Episode, EpisodeSampler
from metatrack.errors import CheckpointError, ConfigError
from metatrack.modelfile import save_meta_model
from metatrack.trackers.sdnet import MetaSDNet, build_task
from metatrack.trackers.sdnet.config import SDNetConfig
from metatrack.trackers.sdnet.features import RoIPooling, StemSamples, build_backbone
from metatrack.trackers.sdnet.network import backbone_checksum
from metatrack.training import MetaTrainConfig, MetaTrainer, ScheduleStep, export_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

#: small crops and head, the last block of features[:7] trainable
TINY = {"crop_size": 128, "hidden": 32, "n_samples": 128, "n_bbreg": 300, "maxiter_update": 5,
        "batch_neg_cand": 256, "trainable_blocks": 1}
SWITCH = 3  # the schedule adds the block at this iteration


def _sequences(n=3, frames=12):
    return [square_sequence(f"sq{i}", n=frames, size=(160, 120), side=20 + 3 * i, seed=30 + i,
                            step=(2 + i % 3, 2)) for i in range(n)]


def _trainer(out, iterations):
    task = build_task(TINY)
    cfg = MetaTrainConfig(iterations=iterations, episodes_per_batch=2, lr_theta=1e-3, lr_alpha=3e-3,
                          alpha_init=0.01, lr_decay_at=[], checkpoint_every=10**6,
                          schedule=[ScheduleStep(0, ["fc*"]), ScheduleStep(SWITCH, ["*"])])
    return task, MetaTrainer(task, EpisodeSampler([_sequences()], None, (1, 4)), cfg, out)


def _block(params):
    return {k: v.detach().clone() for k, v in params.items() if k.startswith("block.")}


def _fc(params):
    return {k: v.detach().clone() for k, v in params.items() if k.startswith("fc")}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny task meta-trained past the schedule's switch, exported as a model file."""
    out = tmp_path_factory.mktemp("block")
    task, trainer = _trainer(out, 2 * SWITCH)
    trainer.train(progress=False)
    return task, export_model(task, out / "metasdnet.safetensors")


# ---------------------------------------------------------------------------- the split backbone
def test_stem_and_block_compute_the_whole_backbone_map():
    cfg = SDNetConfig.from_dict({"crop_size": 128, "trainable_blocks": 1})
    whole = build_backbone(SDNetConfig.from_dict({"crop_size": 128}))
    split = build_backbone(cfg)
    assert split.block is not None and whole.block is None
    assert (split.stride, split.channels, split.shift) == (whole.stride, whole.channels, whole.shift)
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        full = whole.net(x)
        stem = split.net(x)
        assert stem.shape == full.shape  # features[:6]: the same 32-channel stride-8 map as features[:7]
        assert torch.allclose(split.block(stem), full, atol=1e-4)
    with pytest.raises(ConfigError, match="trainable_blocks"):
        SDNetConfig.from_dict({"trainable_blocks": 7})
    with pytest.raises(ConfigError, match="trainable_blocks"):
        SDNetConfig.from_dict({"trainable_blocks": 1, "backbone": "vggm", "vggm_path": "x.mat"})


def test_pooling_with_a_graph_is_roi_align_and_differentiable_twice():
    from torchvision.ops import roi_align

    pool = RoIPooling(3, 1 / 8, 2)
    fmap = torch.randn(1, 4, 10, 12)
    rois = torch.tensor([[0, 3.0, 5.0, 40.0, 60.0], [0, -8.0, 2.0, 30.0, 90.0], [0, 50.0, 20.0, 95.0, 79.0]])
    expected = roi_align(fmap, rois, 3, 1 / 8, 2, aligned=True).flatten(1)
    assert torch.allclose(pool(fmap, rois), expected)  # no graph: torchvision's own
    w = torch.randn(4, 4, 1, 1, requires_grad=True)
    mapped = torch.nn.functional.conv2d(fmap, w)
    out = pool(mapped, rois)
    with torch.no_grad():
        assert torch.allclose(out, roi_align(mapped, rois, 3, 1 / 8, 2, aligned=True).flatten(1), atol=1e-5)
    (g,) = torch.autograd.grad(out.square().sum(), w, create_graph=True)
    (gg,) = torch.autograd.grad(g.square().sum(), w)  # the meta-gradient's second order
    assert torch.isfinite(gg).all() and gg.abs().sum() > 0


# ---------------------------------------------------------------------------- meta-training
def test_episodes_cache_the_stem_and_the_block_runs_in_the_head():
    task = build_task({**TINY, "label_shuffle": 0.0})
    names = [n for n, _ in task.learner.head.named_parameters()]
    assert any(n.startswith("block.") for n in names) and set(task.learner.alphas()) == set(names)
    seq = _sequences(1)[0]
    train, _ = task.episode_batches(Episode(seq, 2, 3), np.random.default_rng(0))
    assert isinstance(train.features, StemSamples) and len(train.features) == len(train.labels)
    logits = task.learner.forward_with(task.learner.theta0(), train.features)
    assert logits.shape == (len(train.labels), 2)
    fmap, window = task.frame_features(seq, 2)
    assert fmap.dtype == torch.float16 and task.cache.misses == 2  # the stem's maps, cached


def test_the_block_joins_theta0_and_alpha_at_the_schedule_switch_and_not_before(tmp_path):
    task, trainer = _trainer(tmp_path, 2 * SWITCH)
    learner = task.learner
    start_theta, start_alpha = dict(learner.theta0()), learner.alphas()
    block0, alpha0 = _block(start_theta), _block(start_alpha)
    fc0 = _fc(start_theta)
    for _ in range(SWITCH):
        trainer.step()
    assert _same(_block(learner.theta0()), block0) and _same(_block(learner.alphas()), alpha0)
    assert not _same(_fc(learner.theta0()), fc0)  # the fc layers did move
    for _ in range(SWITCH):
        trainer.step()
    moved_theta, moved_alpha = _block(learner.theta0()), _block(learner.alphas())
    assert all(not torch.equal(moved_theta[k], block0[k]) for k in block0)
    assert all(not torch.equal(moved_alpha[k], alpha0[k]) for k in alpha0)


# ---------------------------------------------------------------------------- the tracker and its model
def test_model_round_trip_and_the_first_frame_adapts_the_block(trained):
    task, path = trained
    tracker = MetaSDNet(model=path, config=TINY)
    assert tracker.config.trainable_blocks == 1
    theta0 = task.learner.theta0()
    assert tracker.theta0.keys() == theta0.keys()
    assert all(torch.equal(tracker.theta0[k], theta0[k].detach()) for k in theta0)
    assert _same(_block(tracker.alpha), _block(task.learner.alphas()))
    frames, boxes = moving_square(n=8, size=(160, 120), side=24, seed=5)
    tracker.init(frames[0], boxes[0])
    first = tracker.first_frame
    adapted = {k: v for k, v in first.after.items() if k.startswith("block.")}
    assert adapted.keys() == _block(theta0).keys()
    assert any(not torch.equal(adapted[k], theta0[k].detach()) for k in adapted)  # the step moved the block
    assert _same({f"block.{k}": v for k, v in tracker.block.state_dict().items()}, adapted)
    assert not any(n.startswith("block") for n, _ in tracker.head.named_parameters())  # online: fc only
    frozen_block = _block(adapted)
    for frame in frames[1:]:
        box = tracker.update(frame)
        assert np.isfinite(box).all()
    # the online updates ran (fc4-fc6) and left the adapted block as it was
    assert _same({f"block.{k}": v for k, v in tracker.block.state_dict().items()}, frozen_block)
    # the paper's Table 2 measures the head with its block (before: theta0, after: the adapted one)
    from metatrack.evaluation.init_analysis import analyse_sequence

    r = analyse_sequence(MetaSDNet(model=path, config=TINY), frames, boxes)
    assert all(0 <= r[k] <= 1 for k in ("before", "after", "lookahead"))


def test_the_model_check_refuses_a_block_that_does_not_match(trained, tmp_path):
    task, path = trained
    with pytest.raises(ConfigError, match="trainable_blocks"):
        MetaSDNet(model=path, config=TINY, trainable_blocks=0)
    # a file that says trainable_blocks=1 but holds no block tensors
    theta0 = {k: v.detach() for k, v in task.learner.theta0().items() if not k.startswith("block.")}
    alpha = {k: v.detach() for k, v in task.learner.alphas().items() if not k.startswith("block.")}
    cfg = SDNetConfig.from_dict(TINY)
    bad = save_meta_model(tmp_path / "bad.safetensors", "metasdnet", theta0, alpha, cfg.to_dict(),
                          backbone_checksum(cfg), {})
    with pytest.raises(CheckpointError, match="trainable_blocks"):
        MetaSDNet(model=bad, config=TINY)


def test_the_frozen_backbone_tracker_gives_the_boxes_it_gave_before_the_block_existed():
    """trainable_blocks 0 (the shipped metasdnet): boxes as the code before the split wrote them."""
    from metatrack.data import open_dataset

    golden = json.loads((Path(__file__).parent / "data" / "metasdnet_frozen_boxes.json").read_text())
    seq = next(s for s in open_dataset(golden["dataset"]) if s.name == golden["sequence"])
    tracker = MetaSDNet(init_steps=1)
    assert tracker.config.trainable_blocks == 0 and tracker.block is None
    tracker.seed(golden["seed"])
    tracker.init(seq.frame(0), seq.boxes[0])
    boxes = [tracker.update(seq.frame(i)) for i in range(1, golden["frames"])]
    np.testing.assert_allclose(np.array(boxes), np.array(golden["boxes"]), atol=1e-3)


def test_the_shipped_block_model_loads_checked_and_holds_the_block():
    from metatrack.modelfile import listed_sha256
    from metatrack.trackers import create_tracker
    from metatrack.trackers.adaptive.tracker import shipped_model
    from metatrack.weights import sha256_file

    path = shipped_model("metasdnet_features")
    assert listed_sha256(path) == sha256_file(path)  # listed in models/SHA256SUMS, as the other shipped files
    tracker = create_tracker("metasdnet-features")
    assert tracker.model_path == path and tracker.config.trainable_blocks == 1
    block = _block(tracker.theta0)
    assert block and _block(tracker.alpha).keys() == block.keys()
    # meta-training moved the block's theta0 away from its ImageNet weights
    imagenet = {f"block.{k}": v for k, v in tracker.block.state_dict().items()}
    assert any(not torch.allclose(block[k], imagenet[k]) for k in block)


def test_re_detection_scores_its_windows_through_the_adapted_block(trained):
    _, path = trained
    tracker = MetaSDNet(model=path, config=TINY, redetect_after=1)
    frames, boxes = moving_square(n=3, size=(160, 120), side=24, seed=5)
    tracker.init(frames[0], boxes[0])
    seen = []
    tracker.block.register_forward_hook(lambda module, args, out: seen.append(tuple(args[0].shape)))
    request = tracker._window_at(frames[1], boxes[1][:2] + boxes[1][2:] / 2, 1.0)
    stem = tracker.crop_features([request.crop])
    tracker._best_candidate(frames[1], request, stem)
    assert seen == [tuple(stem.shape)]  # the stem's map went through the block before pooling
