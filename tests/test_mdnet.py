"""pyMDNet-N: MDNet's multi-domain pre-training (batches, branches, resume, model file) and mdnet-NN."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sdnet_synth import square_sequence
from tiny_otb import write_otb

from metatrack.errors import CheckpointError, ConfigError
from metatrack.geometry import iou
from metatrack.modelfile import SUMS_FILE, load_model, save_model
from metatrack.trackers import available_trackers, create_tracker, trainable_models
from metatrack.trackers.adaptive.pretrain import (
    PretrainConfig,
    Pretrainer,
    domain_of,
    export_pretrained,
    make_domains,
)
from metatrack.trackers.sdnet import MDNet
from metatrack.trackers.sdnet.pretrain import SHARED, build_pretrain_task
from metatrack.training import read_log, train_from_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

#: a small head so that pre-training a few dozen iterations takes seconds
TINY = {"crop_size": 128, "hidden": 32}
TRACK = {"n_samples": 128, "n_bbreg": 300, "maxiter_update": 5, "batch_neg_cand": 256, "n_neg_init": 1000,
         "n_pos_init": 100}


def _sequences(n=3, frames=10):
    return [square_sequence(f"sq{i}", n=frames, size=(160, 120), side=20 + 4 * i, seed=30 + i,
                            step=(2 + i, 2)) for i in range(n)]


def _pretrainer(out, iterations=12, mode="sequence", **kw):
    domains = make_domains(_sequences(), mode)
    cfg = PretrainConfig(iterations=iterations, domains=mode, lr=0.05, checkpoint_every=4, **kw)
    task = build_pretrain_task(TINY, pretraining=cfg, n_domains=len(domains))
    return task, Pretrainer(task, domains, cfg, out)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A head pre-trained 30 iterations on three synthetic squares, exported as a model file."""
    out = tmp_path_factory.mktemp("mdnet")
    task, trainer = _pretrainer(out, iterations=30)
    trainer.train(progress=False)
    return task, export_pretrained(task, out / "mdnet.safetensors")


# ---------------------------------------------------------------------------- the mini-batch scheme
def test_each_cycle_visits_every_domain_once_in_a_seeded_order():
    k = 5
    orders = [[domain_of(c * k + i, k, seed=0) for i in range(k)] for c in range(3)]
    assert all(sorted(o) == list(range(k)) for o in orders)
    assert orders[0] != orders[1] or orders[1] != orders[2]  # a new permutation each cycle
    assert orders == [[domain_of(c * k + i, k, seed=0) for i in range(k)] for c in range(3)]


def test_a_batch_is_eight_frames_of_one_domain_with_pymdnets_counts_and_label_thresholds():
    domains = make_domains(_sequences(), "sequence")
    cfg = PretrainConfig()
    assert (cfg.batch_frames, cfg.batch_pos, cfg.batch_neg, cfg.overlap_pos, cfg.overlap_neg) == (
        8, 32, 96, (0.7, 1.0), (0.0, 0.5))  # pyMDNet's options_vot.yaml
    task = build_pretrain_task(TINY, pretraining=cfg, n_domains=len(domains))
    from metatrack.trackers.adaptive.pretrain import batch_frames

    rng = np.random.default_rng(0)
    frames = batch_frames(domains[1], cfg.batch_frames, rng)
    assert len(frames) == 8 and {seq.name for seq, _ in frames} == {"sq1"}
    assert len({i for _, i in frames}) == 8  # distinct frames while the domain has them
    per_frame = task.batch_boxes(frames, cfg, rng)
    labels = np.concatenate([lab for _, lab in per_frame])
    assert 28 <= labels.sum() <= 32 and (labels == 0).sum() >= 90  # rejection sampling may fall a few short
    for (seq, i), (boxes, lab) in zip(frames, per_frame, strict=True):
        overlaps = iou(boxes, seq.boxes[i])
        assert np.all(overlaps[lab == 1] >= 0.7) and np.all(overlaps[lab == 0] <= 0.5)
        assert lab.sum() <= 4  # 32 positives spread over 8 frames
    batch = task.batch(frames, cfg, np.random.default_rng(0))
    assert batch.features.shape == (len(labels), task.extractor.feature_dim)
    assert torch.equal(batch.labels, torch.from_numpy(labels))


def test_one_fc6_branch_per_domain_and_one_for_pysdnet():
    seqs = _sequences()
    assert len(make_domains(seqs, "sequence")) == 3
    assert len(make_domains(seqs, "one")) == 1 and len(make_domains(seqs, "one")[0].frames) == 30
    task, _ = _pretrainer("unused")
    assert len(task.model.branches) == 3
    task, _ = _pretrainer("unused", mode="one")
    assert len(task.model.branches) == 1


def test_an_iteration_trains_the_shared_layers_and_its_domains_branch_only_never_the_backbone(tmp_path):
    task, trainer = _pretrainer(tmp_path)
    backbone = [p.detach().clone() for p in task.extractor.backbone.net.parameters()]
    before = {k: v.detach().clone() for k, v in task.model.state_dict().items()}
    logged = trainer.step()
    k = logged["domain"]
    after = task.model.state_dict()
    for name in SHARED:
        assert not torch.equal(before[name], after[name]), name
    for b in range(len(task.model.branches)):
        changed = not torch.equal(before[f"branches.{b}.weight"], after[f"branches.{b}.weight"])
        assert changed == (b == k), b
    assert all(torch.equal(a, p) for a, p in zip(backbone, task.extractor.backbone.net.parameters(), strict=True))


def test_pretraining_lowers_the_loss_and_hard_mining_keeps_the_hardest_negatives(tmp_path):
    task, trainer = _pretrainer(tmp_path / "a", iterations=45)
    trainer.train(progress=False)
    log = read_log(tmp_path / "a" / "log.jsonl")
    assert np.mean([r["loss"] for r in log[-9:]]) < 0.8 * np.mean([r["loss"] for r in log[:9]])
    task, trainer = _pretrainer(tmp_path / "b", hard_negatives=200)
    batch = task.batch(make_domains(_sequences(), "sequence")[0].frames[:8], trainer.cfg, np.random.default_rng(1))
    assert batch.keep == 96 and int(batch.mined.sum()) > 96
    loss, numbers = task.loss(batch, 0, trainer.cfg)
    assert torch.isfinite(loss) and 0.0 <= numbers["accuracy"] <= 1.0


def test_config_keys_are_checked():
    with pytest.raises(ConfigError, match="pretraining: unknown keys"):
        PretrainConfig.from_dict({"cycles": 3})
    with pytest.raises(ConfigError, match="pretraining.domains"):
        PretrainConfig.from_dict({"domains": "video"})
    with pytest.raises(ConfigError, match="hard_negatives"):
        PretrainConfig.from_dict({"hard_negatives": 10})


# ---------------------------------------------------------------------------- resume and the command
def test_resume_continues_exactly(tmp_path):
    _, full = _pretrainer(tmp_path / "a")
    full.train(progress=False)
    _, part = _pretrainer(tmp_path / "b")
    part.cfg.iterations = 10  # killed after the checkpoint at 8: iterations 8, 9 are redone
    part.train(progress=False)
    part.cfg.iterations = 12
    with open(tmp_path / "b" / "log.jsonl", "a") as f:
        f.write('{"iteration": 10, "lo')  # a line cut by the kill
    torch.manual_seed(99)
    task, resumed = _pretrainer(tmp_path / "b")
    with torch.no_grad():
        task.model.fc4.weight.add_(1.0)  # everything must come from the checkpoint
    resumed.train(resume=True, progress=False)
    for k, v in full.task.model.state_dict().items():
        assert torch.equal(v, resumed.task.model.state_dict()[k]), k

    def rows(run):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in read_log(tmp_path / run / "log.jsonl")]

    assert rows("a") == rows("b") and len(rows("b")) == 12
    with pytest.raises(ConfigError, match="--resume"):
        _pretrainer(tmp_path / "b")[1].train(progress=False)


def test_a_checkpoint_of_other_domains_is_refused(tmp_path):
    _, trainer = _pretrainer(tmp_path, iterations=4)
    trainer.train(progress=False)
    domains = make_domains(_sequences(2), "sequence")
    task = build_pretrain_task(TINY, n_domains=2)
    other = Pretrainer(task, domains, PretrainConfig(iterations=8, checkpoint_every=4), tmp_path)
    with pytest.raises(CheckpointError, match="other domains"):
        other.train(resume=True, progress=False)


def test_metatrack_train_runs_pretraining_for_a_pretraining_model(tmp_path):
    assert "mdnet" in trainable_models()
    data = write_otb(tmp_path / "otb")
    config = {"model": "mdnet", "tracker": TINY,
              "pretraining": {"iterations": 6, "batch_frames": 4, "checkpoint_every": 3, "lr": 0.05,
                              "sources": [{"dataset": f"otb:{data}"}]}}
    path = train_from_config(config, tmp_path / "run", progress=False)
    tensors, info = load_model(path, "mdnet")
    assert sorted(tensors) == sorted(f"theta0.{n}" for n in SHARED)
    assert info["extra"]["domains"] == 3 and info["extra"]["iterations"] == 6
    assert info["config"]["hidden"] == 32 and info["backbone_sha256"]
    assert (tmp_path / "run" / "training_curve.png").is_file()
    path2 = train_from_config(config, tmp_path / "run", progress=False, resume=True)  # already done: same file
    assert load_model(path2, "mdnet")[0]["theta0.fc4.weight"].equal(tensors["theta0.fc4.weight"])
    with pytest.raises(ConfigError, match="pretraining:"):
        train_from_config({**config, "meta_training": {}}, tmp_path / "other", progress=False)


# ---------------------------------------------------------------------------- model file and tracker
def test_the_model_file_round_trips_and_its_listed_sha256_is_checked(pretrained, tmp_path):
    task, path = pretrained
    tracker = MDNet(iterations=3, model=path, **TRACK)
    for name in SHARED:
        assert torch.equal(tracker.shared[name], dict(task.model.named_parameters())[name].detach()), name
    assert tracker.config.hidden == 32 and tracker.config.crop_size == 128  # fixed by the file
    copy = tmp_path / "mdnet.safetensors"
    copy.write_bytes(path.read_bytes())
    (tmp_path / SUMS_FILE).write_text(f"{'0' * 64}  mdnet.safetensors\n")
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        MDNet(model=copy)
    (tmp_path / SUMS_FILE).write_text(f"{hashlib.sha256(copy.read_bytes()).hexdigest()}  mdnet.safetensors\n")
    assert MDNet(model=copy).model_path == copy
    with pytest.raises(ConfigError, match="hidden"):
        MDNet(model=path, hidden=64)


def test_a_model_file_without_the_shared_layers_or_of_another_model_is_refused(pretrained, tmp_path):
    task, path = pretrained
    tensors, info = load_model(path, "mdnet")
    bad = tmp_path / "partial.safetensors"
    save_model(bad, "mdnet", {k: v for k, v in tensors.items() if "fc5" not in k}, info["config"],
               info["backbone_sha256"])
    with pytest.raises(CheckpointError, match="missing.*fc5"):
        MDNet(model=bad)
    other = tmp_path / "metasdnet.safetensors"
    save_model(other, "metasdnet", tensors, info["config"], info["backbone_sha256"])
    with pytest.raises(CheckpointError, match="not of 'mdnet'"):
        MDNet(model=other)


def test_mdnet_n_is_registered_and_starts_sdnet_ns_first_frame_from_the_pretrained_layers(pretrained):
    _, path = pretrained
    names = available_trackers()
    assert {f"mdnet-{n:02d}" for n in (1, 3, 5, 10, 15, 30)} <= set(names)
    seq = square_sequence("track", n=12, size=(160, 120), side=24, seed=5, step=(3, 2))
    tracker = create_tracker("mdnet-03", model=str(path), **TRACK)
    assert isinstance(tracker, MDNet) and tracker.iterations == 3
    tracker.seed(0)
    first = tracker.fit_first_frame(seq.frame(0), seq.boxes[0])
    sdnet = create_tracker("sdnet-03", **TINY, **TRACK)
    sdnet.seed(0)
    fresh = sdnet.fit_first_frame(seq.frame(0), seq.boxes[0])
    for name in SHARED:  # the start: pre-trained fc4-fc5 ...
        assert torch.equal(first.before[name], tracker.shared[name]), name
    for name in ("fc6.weight", "fc6.bias"):  # ... and the fc6 SDNet-N would draw for this seed
        assert torch.equal(first.before[name], fresh.before[name]), name
    assert not torch.equal(first.after["fc4.weight"], first.before["fc4.weight"])  # then N iterations
    tracker.seed(0)
    tracker.init(seq.frame(0), seq.boxes[0])
    overlaps = [float(np.squeeze(iou(tracker.update(seq.frame(i)), seq.boxes[i]))) for i in range(1, len(seq))]
    assert np.isfinite(tracker.confidence)
    assert np.mean(overlaps) > 0.5


def test_the_shipped_config_is_pymdnets_scheme_and_pysdnet_differs_only_in_its_domains():
    import yaml

    import metatrack

    configs = Path(metatrack.__file__).parent / "configs"
    mdnet = yaml.safe_load((configs / "mdnet.yaml").read_text())
    pysdnet = yaml.safe_load((configs / "pysdnet.yaml").read_text())
    assert mdnet["model"] == pysdnet["model"] == "mdnet"
    cfg = PretrainConfig.from_dict(mdnet["pretraining"])
    assert cfg.domains == "sequence" and PretrainConfig.from_dict(pysdnet["pretraining"]).domains == "one"
    assert {k: v for k, v in mdnet["pretraining"].items() if k != "domains"} == {
        k: v for k, v in pysdnet["pretraining"].items() if k != "domains"}
    assert mdnet["tracker"] == pysdnet["tracker"]
    assert json.dumps(mdnet["pretraining"]["sources"]) == json.dumps([{"dataset": "embedded:train"}])


# ---------------------------------------------------------------------------- meta_training.start_model
def test_metasdnets_theta0_can_start_from_the_pretrained_layers(pretrained, tmp_path):
    from metatrack.trackers.sdnet.task import build_task as build_meta_task
    from metatrack.training import MetaTrainConfig, MetaTrainer

    task, path = pretrained
    started = build_meta_task(TINY, {"start_model": str(path)})
    fresh = build_meta_task(TINY, {})
    theta0, random0 = started.learner.theta0(), fresh.learner.theta0()
    for name in SHARED:  # fc4-fc5 from the file ...
        assert torch.equal(theta0[name], dict(task.model.named_parameters())[name].detach()), name
        assert not torch.equal(theta0[name], random0[name]), name
    for name in ("fc6.weight", "fc6.bias"):  # ... fc6 the seeded random start
        assert torch.equal(theta0[name], random0[name]), name
    with pytest.raises(ConfigError, match=f"{path.name}.*hidden=32"):  # another head width is refused
        build_meta_task({**TINY, "hidden": 64}, {"start_model": str(path)})

    class CrestLike:  # a task whose theta0 cannot start from a file (MetaCREST's)
        model_name = "metacrest"
        learner = fresh.learner

    with pytest.raises(ConfigError, match="metacrest's theta0 cannot start from a pre-trained model file"):
        MetaTrainer(CrestLike(), None, MetaTrainConfig.from_dict({"start_model": str(path)}), tmp_path)
    with pytest.raises(ConfigError, match="start_model must be a model file's path or 'shipped', got 5"):
        MetaTrainConfig.from_dict({"start_model": 5})
