"""MetaSDNet: the meta-training task, the model file, and the meta-learned first frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sdnet_synth import moving_square, square_sequence
from torch.func import functional_call

import metatrack.meta
from metatrack.data.episodes import Episode, EpisodeSampler
from metatrack.errors import CheckpointError, ConfigError
from metatrack.evaluation.init_analysis import analyse_sequence
from metatrack.geometry import iou
from metatrack.modelfile import load_model, save_model
from metatrack.trackers import create_tracker
from metatrack.trackers.sdnet import MetaSDNet, SDNetTask, build_task, first_frame
from metatrack.trackers.sdnet.head import classification_loss, first_step_loss
from metatrack.training import MetaTrainConfig, MetaTrainer, ScheduleStep, export_model, read_log

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


#: a small network so that meta-training a few dozen iterations takes seconds
TINY = {"crop_size": 128, "hidden": 32, "n_samples": 128, "n_bbreg": 300, "maxiter_update": 5,
        "batch_neg_cand": 256}


def _sequences(n=4, frames=12):
    return [square_sequence(f"sq{i}", n=frames, size=(160, 120), side=20 + 3 * i, seed=20 + i,
                            step=(2 + i % 3, 2)) for i in range(n)]


def _train(out, iterations, episodes=4):
    task = build_task(TINY)
    cfg = MetaTrainConfig(iterations=iterations, episodes_per_batch=episodes, lr_theta=1e-3, lr_alpha=3e-3,
                          alpha_init=0.01, lr_decay_at=[], schedule=[ScheduleStep(0, ["fc*"])],
                          checkpoint_every=10**6)
    trainer = MetaTrainer(task, EpisodeSampler([_sequences()], None, (1, 5)), cfg, out)
    trainer.train(progress=False)
    return task, trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A head meta-trained for 60 iterations on synthetic squares, exported as a model file."""
    out = tmp_path_factory.mktemp("meta")
    task, trainer = _train(out, 60)
    path = export_model(task, out / "metasdnet.safetensors")
    return task, trainer, path


# ---------------------------------------------------------------------------- the task
def test_episode_batches_have_the_first_frame_rule_shapes():
    task = build_task({**TINY, "label_shuffle": 0.0})
    seq = _sequences(1)[0]
    train, test = task.episode_batches(Episode(seq, 2, 3), np.random.default_rng(0))
    for batch in (train, test):
        assert batch.features.shape == (len(batch.labels), task.extractor.feature_dim)
        assert int(batch.labels.sum()) == 32 and len(batch.labels) == 32 + 96
        assert batch.labels[:32].eq(1).all()
    assert not torch.equal(train.features, test.features)
    # the backbone ran once per frame: a second episode on the same frames hits the cache
    task.episode_batches(Episode(seq, 2, 3), np.random.default_rng(1))
    assert task.cache.misses == 2


def test_hard_negative_meta_loss_counts_the_hardest_negatives_only():
    from metatrack.trackers.sdnet.task import hard_sample_loss

    task = build_task({**TINY, "label_shuffle": 0.0, "meta_hard_negatives": 384})
    seq = _sequences(1)[0]
    train, test = task.episode_batches(Episode(seq, 2, 3), np.random.default_rng(0))
    assert len(train.labels) == 32 + 96 and train.keep == 0  # frame j: the first-frame rule
    assert len(test.labels) == 32 + 384 and test.keep == 96
    assert torch.equal(test.mined, test.labels == 0) and torch.equal(test.flipped().mined, test.mined)
    params = task.learner.theta0()
    logits = task.learner.forward_with(params, test.features)
    per = torch.nn.functional.cross_entropy(logits, test.labels, reduction="none").detach()
    hardest = per[test.labels == 0].sort(descending=True).values[:96]
    expected = torch.cat([per[test.labels == 1], hardest]).mean()
    loss = task.loss(params, test)
    assert torch.allclose(loss, expected, atol=1e-6)
    assert loss > classification_loss(logits, test.labels)  # the easy negatives no longer dilute it
    # keeping every mined sample is the plain loss
    plain = hard_sample_loss(logits, test.labels, test.mined, 10**6)
    assert torch.allclose(plain, classification_loss(logits, test.labels), atol=1e-6)
    with pytest.raises(ConfigError, match="meta_hard_negatives"):
        build_task({**TINY, "meta_hard_negatives": 50})


def test_label_shuffling_swaps_both_batches_in_about_half_the_episodes():
    task = build_task(TINY)
    seq = _sequences(1)[0]
    rng = np.random.default_rng(0)
    flips = []
    for _ in range(100):
        train, test = task.episode_batches(Episode(seq, 1, 2), rng)
        assert bool(train.labels[0] == test.labels[0])  # both batches or neither
        flips.append(int(train.labels[0]) == 0)
    assert 0.35 < np.mean(flips) < 0.65


def test_feature_cache_is_bounded_and_the_crop_jitter_fixed_per_frame():
    task = build_task({**TINY, "cache_max_frames": 3})
    seq = _sequences(1)[0]
    windows = [task.frame_features(seq, i)[1] for i in range(6)]
    assert len(task.cache) == 3
    assert task.crop_window(seq, 4, (160, 120)) == windows[4]
    assert windows[4] != task.extractor.window(seq.boxes[4], (160, 120))  # jittered


def test_meta_trainer_runs_three_iterations_with_a_finite_loss(tmp_path):
    _, trainer = _train(tmp_path, 3, episodes=2)
    log = read_log(trainer.log_path)
    assert [r["iteration"] for r in log] == [0, 1, 2]
    assert all(np.isfinite(r["meta_loss"]) and 0 <= r["test_accuracy"] <= 1 for r in log)


# ---------------------------------------------------------------------------- the model file
def test_exported_model_loads_back_identical(trained):
    task, _, path = trained
    tracker = MetaSDNet(model=path)
    for name, p in task.learner.theta0().items():
        torch.testing.assert_close(tracker.theta0[name], p.detach(), rtol=0, atol=0)
    for name, a in task.learner.alphas().items():
        torch.testing.assert_close(tracker.alpha[name], a.detach(), rtol=0, atol=0)
    assert tracker.config.hidden == TINY["hidden"] and tracker.config.crop_size == TINY["crop_size"]
    _, info = load_model(path, "metasdnet")
    assert info["config"]["hidden"] == 32 and info["backbone_sha256"]


def test_a_model_file_of_another_model_is_refused(tmp_path, trained):
    _, _, path = trained
    tensors, info = load_model(path, "metasdnet")
    other = save_model(tmp_path / "crest.safetensors", "metacrest", tensors, info["config"], None)
    with pytest.raises(CheckpointError, match="metacrest"):
        MetaSDNet(model=other)
    broken = {k: v[:1] if k == "theta0.fc4.weight" else v for k, v in tensors.items()}
    bad = save_model(tmp_path / "bad.safetensors", "metasdnet", broken, info["config"], None)
    with pytest.raises(CheckpointError, match="fc4.weight"):
        MetaSDNet(model=bad)
    other_backbone = save_model(tmp_path / "vggm.safetensors", "metasdnet", tensors, info["config"], "ab" * 32,
                                extra=info["extra"])
    with pytest.raises(CheckpointError, match="trained on backbone weights abababababab"):
        MetaSDNet(model=other_backbone)


def test_missing_shipped_model_says_how_to_train_it(tmp_path, monkeypatch):
    import metatrack.trackers.adaptive.tracker as template

    monkeypatch.setattr(template, "PACKAGE_DIR", tmp_path)
    with pytest.raises(CheckpointError, match="metatrack train"):
        create_tracker("metasdnet")


def test_the_model_fixes_the_features_but_not_the_tracking_settings(trained):
    _, _, path = trained
    with pytest.raises(ConfigError, match="hidden"):
        MetaSDNet(model=path, hidden=64)
    t = MetaSDNet(model=path, update_lr=0.123, init_steps=3)
    assert t.config.update_lr == 0.123 and t.config.init_steps == 3


# ---------------------------------------------------------------------------- the first frame
def test_first_frame_is_one_alpha_step_through_meta_adapt(trained, monkeypatch):
    _, _, path = trained
    calls = []
    original = metatrack.meta.adapt

    def spy(theta, alpha, loss_fn, steps=1, **kw):
        calls.append((steps, kw))
        return original(theta, alpha, loss_fn, steps, **kw)

    monkeypatch.setattr(metatrack.meta, "adapt", spy)
    frames, boxes = moving_square(1, (160, 120), 24, seed=7)
    t = create_tracker("metasdnet-01", model=path, balance_head=False)  # balancing: its own test below
    assert (t.config.first_step_loss, t.config.first_step_threshold) == ("balanced", "centre")
    first = t.fit_first_frame(frames[0], boxes[0])
    assert calls == [(1, {"create_graph": False, "first_order": False})]
    # the head equals a manual step theta0 - alpha * grad L(theta0) on the same samples (class-balanced
    # loss), fc6's bias then moved by (-s/2, +s/2) so that the classes' mean log-odds straddle 0
    x, y = first.samples.features, first.samples.labels
    theta0 = {k: v.clone().requires_grad_(True) for k, v in first.before.items()}
    loss = first_step_loss(functional_call(t.head, theta0, (x,)), y, "balanced")
    grads = torch.autograd.grad(loss, list(theta0.values()))
    head = dict(t.head.named_parameters())
    for (name, p0), g in zip(theta0.items(), grads, strict=True):
        manual = (p0 - t.alpha[name] * g).detach()
        if name == "fc6.bias":
            shift = head[name].detach() - manual
            assert abs(float(shift[0] + shift[1])) < 1e-5 and abs(float(shift[1])) > 0
        else:
            torch.testing.assert_close(head[name].detach(), manual, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        logits = t.head(x)
    odds = logits[:, 1] - logits[:, 0]
    assert abs(float(odds[y == 1].mean() + odds[y == 0].mean())) < 1e-4
    assert float(odds[y == 1].mean()) > 0 > float(odds[y == 0].mean())


def test_meta_training_inner_loop_is_the_trackers_first_frame_update(trained, monkeypatch):
    """One implementation: the trainer's inner loop and the tracker's first frame call the same function."""
    import metatrack.trackers.sdnet.task as task_module
    import metatrack.trackers.sdnet.tracker as tracker_module

    task, _, path = trained
    calls = []
    original = first_frame.first_frame_update

    def spy(*args, **kw):
        calls.append(kw["create_graph"])
        return original(*args, **kw)

    assert SDNetTask.first_step is tracker_module.first_frame_update is task_module.first_frame_update
    monkeypatch.setattr(SDNetTask, "first_step", staticmethod(spy))
    monkeypatch.setattr(tracker_module, "first_frame_update", spy)
    seq = _sequences(1)[0]
    train, _ = task.episode_batches(Episode(seq, 2, 3), np.random.default_rng(0))
    learner = task.learner
    theta1 = task.adapt(learner.theta0(), learner.alphas(), train, 1)
    assert theta1["fc4.weight"].requires_grad  # the graph is kept for the meta-gradient
    frames, boxes = moving_square(1, (160, 120), 24, seed=7)
    create_tracker("metasdnet", model=path).init(frames[0], boxes[0])
    assert calls == [True, False]


def test_centre_threshold_is_differentiable_and_leaves_one_class_sets_alone():
    torch.manual_seed(0)  # a stand-in head: logits = x @ W + b
    w = torch.randn(4, 2, requires_grad=True)
    b = torch.randn(2, requires_grad=True)

    def forward(params, x):
        return x @ params["fc6.weight"] + params["fc6.bias"]

    x = torch.randn(40, 4) + 3.0
    y = (torch.arange(40) < 10).long()
    out = first_frame.centre_threshold(forward, {"fc6.weight": w, "fc6.bias": b}, x, y)
    odds = (forward(out, x)[:, 1] - forward(out, x)[:, 0])
    assert abs(float((odds[y == 1].mean() + odds[y == 0].mean()).detach())) < 1e-4
    odds.sum().backward()
    assert w.grad is not None and b.grad is not None
    same = first_frame.centre_threshold(forward, {"fc6.weight": w, "fc6.bias": b}, x, torch.zeros(40).long())
    assert same["fc6.bias"] is b


def test_balanced_first_step_loss_weights_each_class_equally():
    logits = torch.tensor([[0.0, 2.0], [0.0, -1.0], [0.0, -3.0], [0.0, 0.5]])
    y = torch.tensor([1, 0, 0, 0])
    per = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    expected = (per[y == 1].mean() + per[y == 0].mean()) / 2
    torch.testing.assert_close(first_step_loss(logits, y, "balanced"), expected)
    torch.testing.assert_close(first_step_loss(logits, y, "mean"), per.mean())


def test_a_model_file_fixes_its_first_step_and_older_files_keep_the_papers(trained, tmp_path):
    _, _, path = trained
    with pytest.raises(ConfigError, match="first_step_threshold"):
        MetaSDNet(model=path, first_step_threshold="none")
    tensors, info = load_model(path, "metasdnet")
    config = {k: v for k, v in info["config"].items() if k not in ("first_step_loss", "first_step_threshold")}
    old = save_model(tmp_path / "old.safetensors", "metasdnet", tensors, config, info["backbone_sha256"] or None,
                     extra=info["extra"])
    t = MetaSDNet(model=old)
    assert (t.config.first_step_loss, t.config.first_step_threshold) == ("mean", "none")


def test_one_alpha_step_from_the_learned_theta0_lowers_the_first_frame_loss(trained):
    _, trainer, path = trained
    log = read_log(trainer.log_path)
    assert np.mean([r["meta_loss"] for r in log[-10:]]) < np.mean([r["meta_loss"] for r in log[:10]])
    for seed in (95, 96, 97):  # unseen sequences
        frames, boxes = moving_square(6, (160, 120), 20 + seed % 10, seed=seed)
        t = create_tracker("metasdnet", model=path)
        t.seed(0)
        first = t.fit_first_frame(frames[0], boxes[0])
        x, y = first.samples.features, first.samples.labels
        with torch.no_grad():
            before = float(classification_loss(functional_call(t.head, first.before, (x,)), y))
            after = float(classification_loss(functional_call(t.head, first.after, (x,)), y))
        assert after < before
        t = create_tracker("metasdnet", model=path)
        t.seed(0)
        r = analyse_sequence(t, frames, boxes)
        assert r["after"] >= 0.75 and r["lookahead"] >= 0.75


def test_metasdnet_follows_a_moving_square(trained):
    _, _, path = trained
    frames, boxes = moving_square(20, (160, 120), 24, seed=2, step=(3, 2))
    t = create_tracker("metasdnet", model=path)
    t.seed(0)
    t.init(frames[0], boxes[0])
    out = np.array([boxes[0]] + [t.update(f) for f in frames[1:]])
    assert iou(out, boxes).mean() > 0.6


def test_balancing_the_head_keeps_every_logit_and_equalises_the_layer_norms():
    from metatrack.trackers.sdnet.head import SDNetHead, balance_layers

    torch.manual_seed(0)
    head = SDNetHead(18, 16)
    with torch.no_grad():
        head.fc6.weight.mul_(0.1)
        head.fc4.weight.mul_(3.0)
    x = torch.randn(50, 18)
    with torch.no_grad():
        before = head(x)
    balance_layers(head)
    with torch.no_grad():
        after = head(x)
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)
    norms = [float(layer.weight.detach().norm()) for layer in (head.fc4, head.fc5, head.fc6)]
    assert max(norms) / min(norms) < 1.0001


def test_metasdnet_balances_its_adapted_head_without_changing_a_score(trained):
    _, _, path = trained
    frames, boxes = moving_square(1, (160, 120), 24, seed=7)
    heads = {}
    for balance in (False, True):
        t = create_tracker("metasdnet", model=path, balance_head=balance)
        t.seed(3)
        x = t.fit_first_frame(frames[0], boxes[0]).samples.features
        heads[balance] = t
    with torch.no_grad():
        torch.testing.assert_close(heads[True].head(x), heads[False].head(x), rtol=1e-4, atol=1e-4)
    norms = {b: [float(layer.weight.detach().norm()) for layer in (t.head.fc4, t.head.fc5, t.head.fc6)]
             for b, t in heads.items()}
    assert max(norms[True]) / min(norms[True]) < 1.0001
    assert max(norms[False]) / min(norms[False]) > 1.01
