"""MetaCREST meta-training task, model files and the optional VGG-16 backbone."""

import json
import math

import numpy as np
import pytest
import torch
from test_crest_tracker import moving_square

from metatrack.data.episodes import Episode, EpisodeSampler
from metatrack.data.sequence import FrameSource, Sequence
from metatrack.errors import CheckpointError, ConfigError
from metatrack.modelfile import load_model, save_model
from metatrack.trackers.crest import MetaCREST, build_task
from metatrack.trackers.crest.features import FeatureExtractor
from metatrack.training import MetaTrainConfig, MetaTrainer, export_model
from metatrack.weights import MOBILENET_V2


class ArrayFrames(FrameSource):
    def __init__(self, frames):
        self.frames = frames
        self.reads = 0

    def __len__(self):
        return len(self.frames)

    def read(self, index):
        self.reads += 1
        return self.frames[index]


def synthetic_sequences(count=2, n=12):
    out = []
    for i in range(count):
        frames, boxes = moving_square(n, box=(30 + 10 * i, 40, 24 + 8 * i, 20), seed=i)
        out.append(Sequence(f"square{i}", ArrayFrames(frames), boxes))
    return out


def test_meta_trainer_runs_three_iterations_of_the_crest_task(tmp_path):
    seqs = synthetic_sequences()
    cfg = MetaTrainConfig.from_dict({
        "iterations": 3, "episodes_per_batch": 2, "lr_theta": 1e-4, "lr_alpha": 1e-5, "alpha_init": 1e-4,
        "schedule": [{"from_iteration": 0, "params": ["reduce.*", "filter*"]}], "checkpoint_every": 2,
    })
    task = build_task({}, meta_training=cfg, sequences=seqs)
    before = task.learner.head.filter.detach().clone()
    trainer = MetaTrainer(task, EpisodeSampler([seqs], None, cfg.delta_range), cfg, tmp_path / "run")
    trainer.train(progress=False)
    log = [line for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines() if line]
    assert len(log) == 3
    rows = [json.loads(line) for line in log]
    assert all(math.isfinite(r["meta_loss"]) and math.isfinite(r["test_peak_error_cells"]) for r in rows)
    assert not torch.equal(before, task.learner.head.filter.detach())
    # the frozen backbone ran at most once per frame: later uses come from the cache
    assert task.cache.misses == sum(s.frames.reads for s in seqs)
    assert task.cache.hits + task.cache.misses == 3 * 2 * 2


def test_episode_batches_place_the_future_label_where_the_target_moved():
    seqs = synthetic_sequences(1)
    task = build_task({"canonical_filter_size": [7, 7]})
    seq = seqs[0]
    train, test = task.episode_batches(Episode(seq, 0, 4), np.random.default_rng(0))
    m = task.map_size
    assert train.features.shape == test.features.shape == (1, task.features.channels, m, m)
    r0, c0 = np.unravel_index(int(train.label.argmax()), (m, m))
    assert (r0, c0) == ((m - 1) // 2, (m - 1) // 2)
    r1, c1 = np.unravel_index(int(test.label.argmax()), (m, m))
    moved = seq.boxes[4, :2] - seq.boxes[0, :2]
    assert np.sign(c1 - c0) == np.sign(moved[0]) and c1 != c0
    assert train.size == test.size and all(s % 2 == 1 for s in train.size)
    # the target's own extent travels with the batch (dcf_rim weighs the filter's taps beyond it)
    assert train.cells == test.cells and all(c <= s for c, s in zip(train.cells, train.size, strict=True))
    box = seq.boxes[0]
    assert train.cells[1] / train.cells[0] == pytest.approx(box[2] / box[3])


def test_canonical_size_comes_from_the_training_targets_mean_shape():
    wide = [Sequence("wide", ArrayFrames([np.zeros((50, 50, 3), np.uint8)] * 2), [[0, 0, 40, 10]] * 2)]
    task = build_task({}, sequences=wide)
    h, w = task.config.canonical_filter_size
    assert w > h and task.learner.head.filter.shape[1:] == (h, w)
    fixed = build_task({"canonical_filter_size": [5, 11]}, sequences=wide)
    assert fixed.config.canonical_filter_size == (5, 11)
    with pytest.raises(ConfigError, match="unknown keys"):
        build_task({"canonical_size": [5, 5]})


def test_export_and_load_round_trip(tmp_path):
    task = build_task({"canonical_filter_size": [5, 9]}, meta_training={"alpha_init": 3e-4})
    with torch.no_grad():
        task.learner.head.filter.normal_()
        task.learner.alpha["filter"].fill_(2e-4)
    path = export_model(task, tmp_path / "metacrest.safetensors")
    tensors, meta = load_model(path, "metacrest")
    assert meta["backbone_sha256"] == MOBILENET_V2.sha256
    assert meta["config"]["canonical_filter_size"] == [5, 9]
    assert torch.equal(tensors["theta0.filter"], task.learner.head.filter.detach())  # one key scheme
    t = MetaCREST(model=path)
    assert torch.equal(t.learner.head.filter, task.learner.head.filter.detach())
    assert torch.allclose(t.learner.alphas()["filter"], torch.full((64, 5, 9), 2e-4))
    assert torch.allclose(t.learner.alphas()["reduce.weight"], torch.tensor(3e-4))
    with pytest.raises(CheckpointError, match="metacrest"):
        load_model(path, "metasdnet")
    # a model trained on other backbone weights than the ones here is refused
    other = save_model(tmp_path / "other.safetensors", "metacrest", tensors, meta["config"], "ab" * 32)
    with pytest.raises(CheckpointError, match="trained on backbone weights abababababab"):
        MetaCREST(model=other)


def _fake_vgg16(path, generator):
    """torchvision VGG-16 feature keys and shapes up to conv4_3 (the classifier is not needed)."""
    cfg = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 512),
           (512, 512), (512, 512)]
    idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21]
    state = {}
    for i, (cin, cout) in zip(idx, cfg, strict=True):
        state[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=generator) * (2 / (9 * cin)) ** 0.5
        state[f"features.{i}.bias"] = torch.zeros(cout)
    torch.save(state, path)
    return state


def test_vgg16_backbone_from_a_user_file(tmp_path):
    path = tmp_path / "vgg16-397923af.pth"
    _fake_vgg16(path, torch.Generator().manual_seed(0))
    ext = FeatureExtractor("vgg16", weights=path)
    crop = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = ext(crop)
    assert out.shape == (1, 512, 8, 8) == (1, ext.channels, ext.map_size(64), ext.map_size(64))
    assert float(out.square().mean()) == pytest.approx(1.0, rel=1e-3)


def test_vgg16_wrong_files_are_checkpoint_errors(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="refused to load"):
        FeatureExtractor("vgg16", weights=text)
    with pytest.raises(CheckpointError, match="missing"):
        FeatureExtractor("vgg16", weights=tmp_path / "absent.pth")
    wrong = tmp_path / "resnet.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 7, 7)}, wrong)
    with pytest.raises(CheckpointError, match=r"features\.0\.weight"):
        FeatureExtractor("vgg16", weights=wrong)
    with pytest.raises(ConfigError, match="backbone_weights"):
        FeatureExtractor("vgg16")


def test_train_from_config_gives_metacrest_its_canonical_size_from_the_training_data(tmp_path):
    """The library entry (and so `metatrack train`) hands the training sequences to the task: a config
    without canonical_filter_size gets the training targets' mean shape, not a square's."""
    from tiny_otb import write_otb

    from metatrack.data import open_dataset
    from metatrack.trackers.crest.task import canonical_filter_size, default_canonical_size
    from metatrack.training import train_from_config

    data = write_otb(tmp_path / "otb")
    tracker = {"window_factor": 1.5}  # targets of many cells, so that their mean shape is not a square's
    config = {"model": "metacrest", "tracker": tracker,
              "meta_training": {"iterations": 1, "episodes_per_batch": 1, "checkpoint_every": 1, "lr_decay_at": [],
                                "delta_range": [1, 2], "schedule": [{"from_iteration": 0, "params": ["*"]}],
                                "sources": [{"dataset": f"otb:{data}"}]}}
    model = train_from_config(config, tmp_path / "run", progress=False)
    _, info = load_model(model, "metacrest")
    task = build_task(tracker)
    expected = canonical_filter_size(open_dataset(f"otb:{data}"), task.config, task.map_size)
    square = default_canonical_size(task.config, task.map_size)
    assert tuple(info["config"]["canonical_filter_size"]) == expected != square


# ---------------------------------------------------------------- meta_training.meta_loss: localisation
def test_localisation_loss_scores_where_the_peak_is_not_how_high():
    from metatrack.trackers.crest.loss import gaussian_label, localisation_loss

    label = torch.from_numpy(gaussian_label((15, 15), (7, 7), (5, 5)))[None, None]
    decoy = torch.from_numpy(gaussian_label((15, 15), (2, 11), (5, 5)))[None, None]
    right_but_weak = 0.4 * label
    strong_look_alike = 0.4 * label + 0.6 * decoy  # the strongest cell is the look-alike's
    assert localisation_loss(right_but_weak, label) < localisation_loss(strong_look_alike, label)
    # equation 6 ranks the two the other way: it averages over the cells missing their height by more
    # than 0.1, and the look-alike's cells miss by less than the weak peak does
    from metatrack.trackers.crest.loss import crest_loss
    assert crest_loss(right_but_weak, label) > crest_loss(strong_look_alike, label)
    # a divergence: never below zero, zero only where the softmax is the label's distribution
    target = 0.1 * torch.log((label / label.sum()).clamp(min=1e-30))
    assert abs(float(localisation_loss(target, label))) < 1e-5
    assert float(localisation_loss(torch.randn(3, 1, 15, 15), label.expand(3, 1, 15, 15))) > 0


def test_meta_training_with_the_localisation_loss_learns_the_reduction_through_the_closed_form_filter(tmp_path):
    seqs = synthetic_sequences()
    cfg = MetaTrainConfig.from_dict({
        "iterations": 3, "episodes_per_batch": 2, "lr_theta": 1e-3, "alpha_init": 1e-4,
        "schedule": [{"from_iteration": 0, "params": ["reduce.*", "filter*"]}], "meta_loss": "localisation",
    })
    task = build_task({"init_filter": "dcf"}, meta_training=cfg, sequences=seqs)
    before = task.learner.head.reduce.weight.detach().clone()
    MetaTrainer(task, EpisodeSampler([seqs], None, cfg.delta_range), cfg, tmp_path / "run").train(progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines() if line]
    assert len(rows) == 3 and all(math.isfinite(r["meta_loss"]) and r["meta_loss"] >= 0 for r in rows)
    assert not torch.equal(before, task.learner.head.reduce.weight.detach())


def test_meta_loss_is_checked():
    with pytest.raises(ConfigError, match="meta_loss must be 'task' or 'localisation'"):
        MetaTrainConfig.from_dict({"meta_loss": "peak"})

    class NoLocalisation:  # a task without a localisation loss (MetaSDNet's)
        model_name = "metasdnet"
        learner = build_task({"canonical_filter_size": [5, 5]}).learner

    cfg = MetaTrainConfig.from_dict({"meta_loss": "localisation"})
    with pytest.raises(ConfigError, match="metasdnet's task has no localisation loss"):
        MetaTrainer(NoLocalisation(), None, cfg, "unused")
