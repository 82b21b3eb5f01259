"""Meta-training through MetaSDNet's later (online) update: learned online step sizes (beyond the paper,
issue 13), the tracker's ``online_update: meta`` taking the same step, alone and with heads together."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from online_meta_helpers import changed_at, check_exported, first_step, recorder, track, train_online
from online_meta_helpers import online_config as shared_online_config
from sdnet_synth import square_sequence
from test_group_heads import BOXES, counted, run, scene  # noqa: F401  (counted: a fixture)
from torch.func import functional_call

import metatrack.trackers.sdnet.task as sdnet_task
import metatrack.trackers.sdnet.tracker as sdnet_tracker
from metatrack.data.episodes import Episode
from metatrack.errors import CheckpointError, ConfigError
from metatrack.geometry import clip_box, iou
from metatrack.trackers.adaptive import TrackerGroup
from metatrack.trackers.sdnet import MetaSDNet, SDNet, build_task
from metatrack.trackers.sdnet.config import SDNetConfig
from metatrack.trackers.sdnet.head import SDNetHead
from metatrack.trackers.sdnet.online import learned_update
from metatrack.trackers.sdnet.tracker import top_k_mean
from metatrack.tracking import create_trackers
from metatrack.training import MetaTrainConfig, export_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

#: a small network (as test_sdnet_meta.py's), so that a few iterations take seconds
TINY = {"crop_size": 128, "hidden": 32, "n_samples": 128, "n_bbreg": 300, "maxiter_update": 5,
        "batch_neg_cand": 256, "n_pos_update": 20, "n_neg_update": 60}


def online_config(**extra) -> MetaTrainConfig:
    """The shared tiny online run (online_meta_helpers.py) with MetaSDNet's rates (fc layers only)."""
    return shared_online_config({"lr_theta": 1e-3, "lr_alpha": 3e-3, "alpha_init": 0.01, "lr_decay_at": [],
                                 "schedule": [{"from_iteration": 0, "params": ["fc*"]}], "checkpoint_every": 10**6,
                                 "online_init": 0.01}, **extra)


def sequences(n=2, frames=12):
    return [square_sequence(f"sq{i}", n=frames, size=(160, 120), side=22 + 3 * i, seed=40 + i, step=(2 + i, 2))
            for i in range(n)]


def test_tracked_samples_are_labelled_at_the_tracked_box(monkeypatch):
    """The store holds frame j's samples around its true box, then each tracked frame's around the
    TRACKED box (right or wrong), positives by IoU to it; the test batch is the episode's own."""
    task = build_task({**TINY, "label_shuffle": 0.0, "success_threshold": -1e9},  # every frame a success
                      meta_training={"alpha_init": 0.01, "online_init": 0.01})
    seq = sequences(1)[0]
    drawn = []
    positives = sdnet_task.sampling.positives

    def recording(box, n, window, cfg, rng, iou_range=None):
        out = positives(box, n, window, cfg, rng, iou_range)
        drawn.append((np.array(box, dtype=np.float64), out))
        return out

    monkeypatch.setattr(sdnet_task.sampling, "positives", recording)
    episode = Episode(seq, 1, 6)
    theta1 = first_step(task, episode)
    _, own_test = task.episode_batches(episode, np.random.default_rng(1))
    drawn.clear()
    tracked, test = task.tracked_batches(theta1, episode, 3)
    assert test is own_test  # the episode's test batch of frame j + delta
    assert tracked.target == 1 and tracked.boxes.shape == (4, 4)
    assert np.allclose(tracked.boxes[0], seq.boxes[1])  # frame j: the true box
    assert len(drawn) == 4  # frame j and the three tracked frames
    for (box, pos), tracked_box in zip(drawn, tracked.boxes, strict=True):
        assert np.allclose(box, tracked_box)
        assert (iou(pos, np.repeat(box[None], len(pos), 0)) >= 0.7 - 1e-6).all()
    # an untrained head tracks badly: the samples sit on its boxes, not on the true ones
    assert not np.allclose(tracked.boxes[1:], seq.boxes[2:5], atol=0.5)
    n_pos = sum(len(p) for _, p in drawn)
    assert tracked.pos.shape == (n_pos, task.extractor.feature_dim)
    assert len(tracked.neg) > 0 and tracked.neg.shape[1] == task.extractor.feature_dim
    # no frame between j and j + delta: frame j's samples alone
    short, _ = task.tracked_batches(theta1, Episode(seq, 1, 1), 3)
    assert short.boxes.shape == (1, 4)


def test_a_label_shuffled_episode_tracks_and_labels_class_0():
    task = build_task({**TINY, "label_shuffle": 1.0}, meta_training={"alpha_init": 0.01, "online_init": 0.01})
    seq = sequences(1)[0]
    episode = Episode(seq, 1, 6)
    train, test = task.episode_batches(episode, np.random.default_rng(0))
    assert int(train.labels.sum()) > len(train.labels) / 2  # shuffled: the many negatives are class 1
    theta1 = {k: v.detach() for k, v in task.adapt(task.learner.theta0(), task.learner.alphas(), train, 1).items()}
    tracked, tracked_test = task.tracked_batches(theta1, episode, 2)
    assert tracked.target == 0 and tracked_test is test
    # the look-ahead's batch of the same frame j keeps the episode's shuffling
    from dataclasses import replace

    _, ahead = task.episode_batches(replace(episode, delta=2), np.random.default_rng(5))
    assert int(ahead.labels.sum()) > len(ahead.labels) / 2


def test_one_step_of_the_online_step_sizes_equals_a_hand_computed_step():
    cfg = SDNetConfig(**{k: v for k, v in TINY.items() if k != "crop_size"})
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    head = SDNetHead(12, 8)
    params = {n: p.detach().clone() for n, p in head.named_parameters()}
    online = {n: torch.rand(p.shape, generator=gen) * 0.1 for n, p in params.items()}
    pos, neg = torch.randn(10, 12, generator=gen), torch.randn(300, 12, generator=gen)

    def forward(p, x):
        return functional_call(head, p, (x,))

    after = learned_update(forward, params, online, pos, neg, cfg, create_graph=False)
    # by hand: pyMDNet's batch proportions over the store, the hardest 96/256 of the negatives
    keep = math.ceil(300 * cfg.batch_neg / cfg.batch_neg_cand)
    leaves = {n: p.clone().requires_grad_(True) for n, p in params.items()}
    with torch.no_grad():
        hardest = forward(params, neg)[:, 1].topk(keep).indices  # positive_logit: the tracker's score
    lp, ln = forward(leaves, pos), forward(leaves, neg[hardest])
    loss = (cfg.batch_pos * torch.nn.functional.cross_entropy(lp, torch.ones(10, dtype=torch.long))
            + cfg.batch_neg * torch.nn.functional.cross_entropy(ln, torch.zeros(keep, dtype=torch.long))) / (
        cfg.batch_pos + cfg.batch_neg)
    loss.backward()
    for n in params:
        assert torch.allclose(after[n], params[n] - online[n] * leaves[n].grad, atol=1e-6), n
        assert not after[n].requires_grad
    # with the target as class 0 (a shuffled episode) the roles of the logits swap
    swapped = learned_update(forward, params, online, pos, neg, cfg, create_graph=False, target=0)
    assert not torch.allclose(swapped["fc6.bias"], after["fc6.bias"])


def test_meta_training_through_the_online_update_learns_its_step_sizes(tmp_path):
    cfg = online_config(first_step_delta_range=[1, 2])
    run = train_online(build_task(TINY, meta_training=cfg), sequences(2), cfg, tmp_path / "run")
    # the meta-gradient reaches every online step size through the later update
    assert run.moved() == set(run.before)
    check_exported(run, tmp_path / "metasdnet.safetensors", "metasdnet")  # the model file carries them


def test_online_episodes_need_a_head_without_a_trainable_block():
    with pytest.raises(ConfigError, match="trainable_blocks"):
        build_task({**TINY, "trainable_blocks": 1}, meta_training={"online_init": 0.01})


@pytest.fixture(scope="module")
def online_model(tmp_path_factory):
    """A MetaSDNet model file with online step sizes (theta0 and the step sizes as initialised)."""
    out = tmp_path_factory.mktemp("online")
    task = build_task(TINY, meta_training={"alpha_init": 0.01, "online_init": 0.01})
    return export_model(task, out / "metasdnet.safetensors")


def test_the_tracker_takes_the_learned_step_with_the_same_function(online_model, monkeypatch):
    from sdnet_synth import moving_square

    calls = recorder(monkeypatch, sdnet_tracker, "learned_update")
    trained = recorder(monkeypatch, sdnet_tracker, "train_head")
    frames, boxes = moving_square(12, (160, 120), 24, seed=2, step=(3, 2))
    t = MetaSDNet(model=online_model, online_update="meta", long_interval=3)
    assert set(t.online) == {"fc4.weight", "fc4.bias", "fc5.weight", "fc5.bias", "fc6.weight", "fc6.bias"}
    heads = track(t, frames, boxes[0], lambda t: t.head.fc6.weight, seed=0)
    assert calls and all(c["create_graph"] is False for c in calls) and trained == []
    assert len(changed_at(heads)) == len(calls)  # each learned step moved the head, and nothing else did
    # "sgd" (the default, pyMDNet's rule) leaves the learned step sizes unused
    calls.clear()
    track(MetaSDNet(model=online_model, long_interval=3), frames, boxes[0], seed=0)
    assert calls == [] and trained


def test_meta_updates_need_a_model_that_learned_them(tmp_path):
    plain = export_model(build_task(TINY, meta_training={"alpha_init": 0.01}), tmp_path / "plain.safetensors")
    with pytest.raises(CheckpointError, match="online_update 'meta'"):
        MetaSDNet(model=plain, online_update="meta")
    assert MetaSDNet(model=plain).online == {}
    with pytest.raises(ConfigError, match="SDNet-N has none"):
        SDNet(online_update="meta")
    with pytest.raises((CheckpointError, ConfigError), match="online_update: 'adam'"):
        MetaSDNet(model=plain, online_update="adam")


def test_several_targets_with_learned_updates_give_their_single_runs_boxes(online_model, counted,  # noqa: F811
                                                                          monkeypatch):
    frames = scene(13, blank=(5,))  # a long-term update on frame 10; the blank frame: short-term updates
    steps = recorder(monkeypatch, sdnet_tracker, "learned_update")
    settings = {"model": online_model, "online_update": "meta"}
    alone = create_trackers("metasdnet", 3, seed=1, **settings)
    expected = run(alone, frames, None)
    members = create_trackers("metasdnet", 3, seed=1, **settings)
    found = run(members, frames, TrackerGroup(members, batch=False, merge=False, heads=True))
    assert np.array_equal(found, expected)
    for a, b in zip(alone, members, strict=True):
        for p, q in zip(a.head.parameters(), b.head.parameters(), strict=True):
            assert torch.equal(p, q)
        assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert counted["finish"] == [3] * (len(frames) - 1)  # the heads ran together
    assert counted["train"] == []  # learned steps are no SGD jobs: each ran as alone
    assert steps and len(steps) % 2 == 0  # the same learned steps in the single runs and in the group
    assert len(BOXES) == 3


def test_metasdnet_online_is_registered_with_the_learned_update(online_model):
    from metatrack.trackers import available_trackers, create_tracker

    assert "metasdnet-online" in available_trackers()
    t = create_tracker("metasdnet-online", model=online_model)
    assert t.config.online_update == "meta" and set(t.online) == set(t.alpha)
    assert create_tracker("metasdnet", model=online_model).config.online_update == "sgd"


def test_the_top_k_mean_takes_the_best_finite_scores_only():
    """pyMDNet's top-k mean and success test (tracker.top_k_mean, the one rule of the tracker, its
    re-detection and meta-training's tracked frames): a non-finite (masked) score is no candidate."""
    cfg = SDNetConfig(top_k=5, success_threshold=0.0)
    masked = np.array([0.2, -np.inf, 0.9, np.nan, -np.inf, 0.4, -np.inf])
    pick = top_k_mean(masked, cfg)
    # three finite scores of five: their mean, a success (counting the -inf ones would give -inf, a failure)
    assert sorted(pick.top.tolist()) == [0, 2, 5] and pick.score == pytest.approx(0.5) and pick.success is True
    full = np.array([0.1, 0.7, -0.3, 0.5, 0.2, 0.9, -1.0])  # k finite scores or more: pyMDNet's top 5
    pick = top_k_mean(torch.tensor(full), cfg)
    assert sorted(pick.top.tolist()) == [0, 1, 3, 4, 5] and pick.score == pytest.approx(0.48) and pick.success
    assert top_k_mean(full - 1.0, cfg).success is False  # below success_threshold
    none = top_k_mean(np.array([np.nan, -np.inf, np.inf]), cfg)
    assert len(none.top) == 0 and math.isnan(none.score) and none.success is False


def only_two_finite(monkeypatch, module, value=5.0):
    """``module.target_scores`` with the first two candidates' scores ``value`` and the others NaN (masked)."""
    scores = module.target_scores

    def masked(*args, **kwargs):
        out = torch.full_like(scores(*args, **kwargs), float("nan"))
        out[:2] = value
        return out

    monkeypatch.setattr(module, "target_scores", masked)


def drawn_candidates(monkeypatch) -> list[np.ndarray]:
    """Record every candidate set that sampling.candidates draws (tracker and task alike)."""
    drawn = []
    candidates = sdnet_task.sampling.candidates

    def recording(*args, **kwargs):
        drawn.append(candidates(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(sdnet_task.sampling, "candidates", recording)
    return drawn


def test_tracker_and_re_detection_take_the_mean_of_the_finite_top_scores(online_model, monkeypatch):
    from sdnet_synth import moving_square

    frames, boxes = moving_square(4, (160, 120), 24, seed=2, step=(3, 2))
    t = MetaSDNet(model=online_model)
    track(t, frames[:1], boxes[0], seed=0)
    only_two_finite(monkeypatch, sdnet_tracker)
    drawn = drawn_candidates(monkeypatch)
    t.update(frames[1])  # a tracked frame: two finite scores of 5 are a success, the target their mean
    assert t.target_found and np.allclose(t.target, clip_box(drawn[-1][:2].mean(axis=0), (160, 120)))
    request = t._window_at(frames[2], t.target[:2] + t.target[2:] / 2, 1.0)  # a re-detection window
    found = t._best_candidate(frames[2], request, t.crop_features([request.crop]))
    assert found is not None and found[0] == pytest.approx(5.0)
    assert np.allclose(found[1], drawn[-1][:2].mean(axis=0))


def test_tracked_frames_take_the_mean_of_the_finite_top_scores(monkeypatch):
    task = build_task({**TINY, "label_shuffle": 0.0}, meta_training={"alpha_init": 0.01, "online_init": 0.01})
    seq = sequences(1)[0]
    episode = Episode(seq, 1, 6)
    theta1 = first_step(task, episode)
    only_two_finite(monkeypatch, sdnet_task)
    drawn = drawn_candidates(monkeypatch)
    stored = recorder(monkeypatch, sdnet_task.sampling, "update_samples")
    tracked, _ = task.tracked_batches(theta1, episode, 3)
    assert len(stored) == 4  # frame j's samples, then each tracked frame's: every one a success
    for box, cands in zip(tracked.boxes[1:], drawn, strict=True):
        assert np.allclose(box, clip_box(cands[:2].mean(axis=0), (160, 120)))
    # no finite score at all: a failure, and the box stays where it was (as the tracker's)
    monkeypatch.setattr(sdnet_task, "target_scores", lambda logits, kind: torch.full((len(logits),), float("nan")))
    stored.clear()
    held, _ = task.tracked_batches(theta1, episode, 3)
    assert len(stored) == 1 and np.allclose(held.boxes, held.boxes[0])
