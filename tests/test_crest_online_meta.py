"""Meta-training through MetaCREST's later (online) update: learned online step sizes (beyond the paper)."""

import json
import math

import numpy as np
import pytest
import torch
from test_crest_task import synthetic_sequences

from metatrack.data.episodes import Episode, EpisodeSampler
from metatrack.data.sequence import Sequence
from metatrack.errors import CheckpointError, ConfigError
from metatrack.modelfile import load_model, meta_parameters, online_parameters
from metatrack.trackers.crest import build_task
from metatrack.trackers.crest.head import correlate, warp_filter
from metatrack.trackers.crest.online import online_update
from metatrack.training import MetaTrainConfig, MetaTrainer, export_model

SCHEDULE = [{"from_iteration": 0, "params": ["reduce.*", "filter*"]}]


def online_config(**extra):
    d = {"iterations": 3, "episodes_per_batch": 2, "lr_theta": 1e-4, "lr_alpha": 1e-5, "alpha_init": 2e-4,
         "schedule": SCHEDULE, "checkpoint_every": 3, "online_frames": 2, "online_init": 1e-4,
         "delta_range": [3, 5]}
    d.update(extra)
    return MetaTrainConfig.from_dict(d)


def test_online_settings_are_checked():
    with pytest.raises(ConfigError, match="online_init"):
        MetaTrainConfig.from_dict({"online_frames": 2, "delta_range": [3, 5]})
    with pytest.raises(ConfigError, match="delta_range"):
        MetaTrainConfig.from_dict({"online_frames": 3, "online_init": 1e-4, "delta_range": [1, 10]})
    assert MetaTrainConfig.from_dict({}).online_frames == 0  # the paper's episodes by default
    with pytest.raises(ConfigError, match="first_step_delta_range"):
        MetaTrainConfig.from_dict({"first_step_delta_range": [1, 10]})  # only with online episodes
    with pytest.raises(ConfigError, match="first_step_delta_range"):
        online_config(first_step_delta_range=[0, 10])
    assert online_config(first_step_delta_range=[1, 10]).first_step_delta_range == (1, 10)


def test_a_task_without_online_step_sizes_is_refused(tmp_path):
    seqs = synthetic_sequences(1)
    cfg = online_config()
    task = build_task({}, meta_training={"alpha_init": 2e-4}, sequences=seqs)  # no online_init reaches it
    with pytest.raises(ConfigError, match="online step sizes"):
        MetaTrainer(task, EpisodeSampler([seqs], None, cfg.delta_range), cfg, tmp_path / "run")


def unannotated(boxes, index):
    out = np.array(boxes, dtype=np.float64)
    out[index] = np.nan
    return out


def first_step(task, seq, j, delta):
    train, _ = task.episode_batches(Episode(seq, j, delta), np.random.default_rng(0))
    theta0 = task.learner.theta0()
    return task.adapt(theta0, task.learner.alphas(), train, 1)


def test_tracked_frames_are_labelled_where_the_adapted_filter_peaks():
    seqs = synthetic_sequences(1, n=10)
    task = build_task({"canonical_filter_size": [7, 7]}, meta_training=online_config(), sequences=seqs)
    seq = seqs[0]
    theta1 = {k: v.detach() for k, v in first_step(task, seq, 1, 6).items()}
    tracked, test = task.tracked_batches(theta1, Episode(seq, 1, 6), 3)
    m = task.map_size
    assert tracked.features.shape == (3, task.features.channels, m, m)
    assert tracked.label.shape == (3, 1, m, m)
    with torch.no_grad():
        resp = task.response(theta1, tracked)[:, 0]
    for r, label in zip(resp, tracked.label[:, 0], strict=True):  # the tracker's own samples
        assert int(r.argmax()) == int(label.argmax())
    assert test.features.shape == (1, task.features.channels, m, m) and test.size == tracked.size
    # no frame between j and j + delta (or frame j + 1 without a box): nothing tracked, no update
    for episode in (Episode(seq, 1, 1), Episode(Sequence(seq.name, seq.frames, unannotated(seq.boxes, 2)), 1, 6)):
        none, test = task.tracked_batches(theta1, episode, 3)
        assert none is None and test.features.shape == (1, task.features.channels, m, m)
        assert task.online_adapt(theta1, task.learner.onlines(), none) is theta1


def test_online_update_is_one_step_of_its_step_sizes_on_the_filter_only():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 9, 9, generator=gen)
    labels = torch.rand(2, 1, 9, 9, generator=gen)
    params = {"filter": torch.randn(4, 3, 3, generator=gen), "filter_bias": torch.zeros(1),
              "reduce.weight": torch.randn(4, 4, 1, 1, generator=gen)}
    step = {k: torch.full_like(v, 0.01) for k, v in params.items()}
    from metatrack.trackers.crest.config import CRESTConfig

    cfg = CRESTConfig()
    after = online_update(params, step, lambda p: correlate(x, p["filter"], p["filter_bias"]), labels, cfg,
                          (3, 3), create_graph=False)
    f = params["filter"].clone().requires_grad_(True)
    b = params["filter_bias"].clone().requires_grad_(True)
    from metatrack.trackers.crest.loss import crest_loss

    crest_loss(correlate(x, f, b), labels, f, cfg.weight_decay, cfg.loss_threshold).backward()
    assert torch.allclose(after["filter"], params["filter"] - 0.01 * f.grad, atol=1e-6)
    assert torch.allclose(after["filter_bias"], params["filter_bias"] - 0.01 * b.grad, atol=1e-6)
    assert torch.equal(after["reduce.weight"], params["reduce.weight"])  # the buffer holds reduced features
    # a canonical filter and its step sizes are warped to the target's size first
    wide = online_update(params, step, lambda p: correlate(x, p["filter"], p["filter_bias"]), labels, cfg,
                         (3, 5), create_graph=False)
    assert wide["filter"].shape == (4, 3, 5)
    assert not torch.equal(wide["filter"], warp_filter(params["filter"], (3, 5)))


def test_meta_training_through_the_online_update_learns_its_step_sizes(tmp_path):
    seqs = synthetic_sequences(2, n=12)
    cfg = online_config()
    task = build_task({}, meta_training=cfg, sequences=seqs)
    online_before = {k: v.detach().clone() for k, v in task.learner.onlines().items()}
    assert set(online_before) == set(task.learner.alphas())
    trainer = MetaTrainer(task, EpisodeSampler([seqs], None, cfg.delta_range), cfg, tmp_path / "run")
    trainer.train(progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines() if line]
    assert len(rows) == 3 and all(math.isfinite(r["meta_loss"]) for r in rows)
    after = task.learner.onlines()
    # the meta-gradient reaches the filter's online step sizes through the later update
    assert not torch.equal(online_before["filter"], after["filter"].detach())
    # the model file carries them, checked against alpha
    path = export_model(task, tmp_path / "metacrest.safetensors")
    tensors, _ = load_model(path, "metacrest")
    theta0, alpha = meta_parameters(tensors, dict(task.learner.head.state_dict()), path)
    got = online_parameters(tensors, alpha, path)
    assert set(got) == set(alpha) and torch.equal(got["filter"], after["filter"].detach())
    with pytest.raises(CheckpointError, match="online step sizes"):
        online_parameters({"online.filter": got["filter"]}, alpha, path)


def test_the_first_steps_look_ahead_loss_is_added_to_the_loss_after_the_online_update(tmp_path, monkeypatch):
    """first_step_delta_range: the meta-loss also holds theta1's loss on a frame j + delta' within it."""
    seqs = synthetic_sequences(2, n=14)
    runs = {}
    for name, extra in (("online only", {}), ("with look-ahead", {"first_step_delta_range": [1, 2]})):
        cfg = online_config(iterations=1, **extra)
        task = build_task({}, meta_training=cfg, sequences=seqs)
        seen = []
        batches = task.episode_batches

        def recording(episode, rng, batches=batches, seen=seen):
            seen.append(episode.delta)
            return batches(episode, rng)

        monkeypatch.setattr(task, "episode_batches", recording)
        trainer = MetaTrainer(task, EpisodeSampler([seqs], None, cfg.delta_range), cfg, tmp_path / name)
        trainer.train(progress=False)
        runs[name] = (seen, json.loads((tmp_path / name / "log.jsonl").read_text().splitlines()[0]))
    plain, extra = runs["online only"], runs["with look-ahead"]
    assert len(plain[0]) == 2  # one batch pair per episode
    # each episode adds one batch of a frame 1..2 after j, drawn after the episode's own
    assert len(extra[0]) == 4 and all(d in (1, 2) for d in extra[0][1::2]) and extra[0][0::2] == plain[0]
    assert extra[1]["meta_loss"] > plain[1]["meta_loss"]  # a second loss term, both positive


def test_a_model_without_online_step_sizes_has_none(tmp_path):
    seqs = synthetic_sequences(1)
    task = build_task({}, meta_training={"alpha_init": 2e-4}, sequences=seqs)
    path = export_model(task, tmp_path / "m.safetensors")
    tensors, _ = load_model(path, "metacrest")
    _, alpha = meta_parameters(tensors, dict(task.learner.head.state_dict()), path)
    assert online_parameters(tensors, alpha, path) == {}


def online_model(path, online=1e-3):
    """A MetaCREST model file with online step sizes (untrained theta0, hand-set step sizes)."""
    task = build_task({"canonical_filter_size": [7, 7]}, meta_training={"alpha_init": 1e-4, "online_init": online})
    return export_model(task, path)


def test_the_tracker_takes_the_learned_step_with_the_same_function(tmp_path, monkeypatch):
    from test_crest_tracker import moving_square

    import metatrack.trackers.crest.tracker as crest_tracker
    from metatrack.trackers.crest import MetaCREST

    frames, boxes = moving_square(12)
    calls = []

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return online_update(*args, **kwargs)

    monkeypatch.setattr(crest_tracker, "online_update", recording)
    t = MetaCREST(model=online_model(tmp_path / "m.safetensors"), online_update="meta", update_interval=3)
    assert set(t.online) == {"reduce.weight", "reduce.bias", "filter", "filter_bias"}
    t.init(frames[0], boxes[0])
    filters = [t.params["filter"].detach().clone()]
    for f in frames[1:]:
        t.update(f)
        filters.append(t.params["filter"].detach().clone())
    # every update_interval frames (once frames were kept) one step of crest/online.py, no graph
    assert len(calls) >= 2 and all(c["create_graph"] is False for c in calls)
    changed = [i for i in range(1, len(filters)) if not torch.equal(filters[i], filters[i - 1])]
    assert changed and all(i % 3 == 0 for i in changed)
    # Adam (the paper's later updates) leaves the learned step sizes unused
    calls.clear()
    adam = MetaCREST(model=tmp_path / "m.safetensors", update_interval=3)
    adam.init(frames[0], boxes[0])
    for f in frames[1:]:
        adam.update(f)
    assert calls == []


def test_meta_updates_need_a_model_that_learned_them(tmp_path):
    from metatrack.trackers.crest import CRESTN, MetaCREST

    plain = build_task({"canonical_filter_size": [7, 7]}, meta_training={"alpha_init": 1e-4})
    path = export_model(plain, tmp_path / "plain.safetensors")
    with pytest.raises(CheckpointError, match="online_update 'meta'"):
        MetaCREST(model=path, online_update="meta")
    with pytest.raises(ConfigError, match="CREST-N has none"):
        CRESTN(online_update="meta")
    with pytest.raises((CheckpointError, ConfigError), match="online_update must be"):
        MetaCREST(model=path, online_update="sgd")


def test_metacrest_declared_deterministic_gives_the_same_boxes_for_every_seed(tmp_path):
    """Its Adam updates draw their batches' order: the same draw for every seed, as benchmarks run it once."""
    from test_crest_tracker import metacrest_model, moving_square

    from metatrack.trackers.crest import MetaCREST

    frames, boxes = moving_square(16)
    path = metacrest_model(tmp_path / "m.safetensors", alpha=2e-4)
    runs = []
    for seed in (0, 1):
        t = MetaCREST(model=path, update_interval=2, buffer_size=6, update_batch=2, update_iterations=3,
                      update_lr=1e-2)
        assert t.stochastic is False
        t.seed(seed)
        t.init(frames[0], boxes[0])
        runs.append(np.array([t.update(f) for f in frames[1:]]))
    assert np.array_equal(runs[0], runs[1])
