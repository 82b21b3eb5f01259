"""Meta-training through MetaCREST's later (online) update: learned online step sizes (beyond the paper)."""

import numpy as np
import pytest
import torch
from online_meta_helpers import changed_at, check_exported, exported_online, first_step, recorder, track, train_online
from online_meta_helpers import online_config as shared_online_config
from test_crest_task import synthetic_sequences

from metatrack.data.episodes import Episode, EpisodeSampler
from metatrack.data.sequence import Sequence
from metatrack.errors import CheckpointError, ConfigError
from metatrack.modelfile import online_parameters
from metatrack.trackers.crest import build_task
from metatrack.trackers.crest.head import correlate, warp_filter
from metatrack.trackers.crest.online import online_update
from metatrack.training import MetaTrainConfig, MetaTrainer, export_model

SCHEDULE = [{"from_iteration": 0, "params": ["reduce.*", "filter*"]}]


def online_config(**extra) -> MetaTrainConfig:
    """The shared tiny online run (online_meta_helpers.py) with MetaCREST's rates (reduction and filter)."""
    return shared_online_config({"lr_theta": 1e-4, "lr_alpha": 1e-5, "alpha_init": 2e-4, "schedule": SCHEDULE,
                                 "checkpoint_every": 3, "online_init": 1e-4}, **extra)


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


def test_tracked_frames_are_labelled_where_the_adapted_filter_peaks():
    seqs = synthetic_sequences(1, n=10)
    task = build_task({"canonical_filter_size": [7, 7]}, meta_training=online_config(), sequences=seqs)
    seq = seqs[0]
    theta1 = first_step(task, Episode(seq, 1, 6))
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
    run = train_online(build_task({}, meta_training=cfg, sequences=seqs), seqs, cfg, tmp_path / "run")
    # the meta-gradient reaches the filter's online step sizes through the later update
    assert "filter" in run.moved()
    # the model file carries them, checked against alpha
    got, alpha, path = check_exported(run, tmp_path / "metacrest.safetensors", "metacrest")
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
        runs[name] = (seen, train_online(task, seqs, cfg, tmp_path / name).rows[0])
    plain, extra = runs["online only"], runs["with look-ahead"]
    assert len(plain[0]) == 2  # one batch pair per episode
    # each episode adds one batch of a frame 1..2 after j, drawn after the episode's own
    assert len(extra[0]) == 4 and all(d in (1, 2) for d in extra[0][1::2]) and extra[0][0::2] == plain[0]
    assert extra[1]["meta_loss"] > plain[1]["meta_loss"]  # a second loss term, both positive


def test_a_model_without_online_step_sizes_has_none(tmp_path):
    seqs = synthetic_sequences(1)
    task = build_task({}, meta_training={"alpha_init": 2e-4}, sequences=seqs)
    assert exported_online(task, tmp_path / "m.safetensors", "metacrest")[0] == {}


def online_model(path, online=1e-3):
    """A MetaCREST model file with online step sizes (untrained theta0, hand-set step sizes)."""
    task = build_task({"canonical_filter_size": [7, 7]}, meta_training={"alpha_init": 1e-4, "online_init": online})
    return export_model(task, path)


def test_the_tracker_takes_the_learned_step_with_the_same_function(tmp_path, monkeypatch):
    from test_crest_tracker import moving_square

    import metatrack.trackers.crest.tracker as crest_tracker
    from metatrack.trackers.crest import MetaCREST

    frames, boxes = moving_square(12)
    calls = recorder(monkeypatch, crest_tracker, "online_update")
    t = MetaCREST(model=online_model(tmp_path / "m.safetensors"), online_update="meta", update_interval=3)
    assert set(t.online) == {"reduce.weight", "reduce.bias", "filter", "filter_bias"}
    filters = track(t, frames, boxes[0], lambda t: t.params["filter"])
    # every update_interval frames (once frames were kept) one step of crest/online.py, no graph
    assert len(calls) >= 2 and all(c["create_graph"] is False for c in calls)
    changed = changed_at(filters)
    assert changed and all(i % 3 == 0 for i in changed)
    # Adam (the paper's later updates) leaves the learned step sizes unused
    calls.clear()
    track(MetaCREST(model=tmp_path / "m.safetensors", update_interval=3), frames, boxes[0])
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
