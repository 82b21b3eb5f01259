"""The meta-training loop on a toy task: learning, checkpoints, exact resume, divergence, torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from metatrack.errors import CheckpointError, ConfigError
from metatrack.training import MetaTrainConfig, MetaTrainer, ScheduleStep, TrainingDiverged, read_log

sys.path.insert(0, str(Path(__file__).parent))
from toy_task import ToyTask, toy_sampler  # noqa: E402


def small_config(**kw) -> MetaTrainConfig:
    base = dict(iterations=30, episodes_per_batch=4, lr_theta=0.05, lr_alpha=0.01, alpha_init=0.05,
                lr_decay_at=[20], checkpoint_every=10, schedule=[ScheduleStep(0, ["*"])], delta_range=(1, 3))
    base.update(kw)
    return MetaTrainConfig(**base)


def state_of(task) -> dict:
    return {k: v.detach().clone() for k, v in task.learner.state_dict().items()}


def test_meta_training_lowers_the_future_loss(tmp_path):
    task = ToyTask()
    trainer = MetaTrainer(task, toy_sampler(), small_config(iterations=60), tmp_path / "run", )
    trainer.train(progress=False)
    log = read_log(tmp_path / "run" / "log.jsonl")
    assert len(log) == 60 and [r["iteration"] for r in log] == list(range(60))
    first, last = np.mean([r["meta_loss"] for r in log[:10]]), np.mean([r["meta_loss"] for r in log[-10:]])
    assert last < 0.7 * first
    assert (tmp_path / "run" / "checkpoint.pt").exists()


def test_resume_continues_exactly(tmp_path):
    full = ToyTask()
    MetaTrainer(full, toy_sampler(), small_config(), tmp_path / "a").train(progress=False)

    part = ToyTask()
    cfg = small_config(iterations=30)
    trainer = MetaTrainer(part, toy_sampler(), cfg, tmp_path / "b")
    # stop after the checkpoint at iteration 20 as a kill would (log lines past it are lost work)
    trainer.cfg.iterations = 23
    trainer.train(progress=False)
    with open(tmp_path / "b" / "log.jsonl", "a") as f:
        f.write('{"iteration": 23, "meta_')  # a line cut by the kill
    resumed = ToyTask(seed=123)  # different init: everything must come from the checkpoint
    MetaTrainer(resumed, toy_sampler(), small_config(), tmp_path / "b").train(resume=True, progress=False)
    for k, v in state_of(full).items():
        assert torch.equal(v, state_of(resumed)[k]), k
    log_a = read_log(tmp_path / "a" / "log.jsonl")
    log_b = read_log(tmp_path / "b" / "log.jsonl")
    assert [r["iteration"] for r in log_b] == list(range(30))
    assert [r["meta_loss"] for r in log_a] == [r["meta_loss"] for r in log_b]


def test_existing_checkpoint_needs_resume(tmp_path):
    MetaTrainer(ToyTask(), toy_sampler(), small_config(iterations=2), tmp_path).train(progress=False)
    with pytest.raises(ConfigError, match="--resume"):
        MetaTrainer(ToyTask(), toy_sampler(), small_config(iterations=2), tmp_path).train(progress=False)


def test_nan_loss_stops_naming_the_iteration_and_keeps_checkpoint(tmp_path):
    task = ToyTask()
    trainer = MetaTrainer(task, toy_sampler(), small_config(iterations=30), tmp_path)
    trainer.cfg.iterations = 10
    trainer.train(progress=False)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    trainer.cfg.iterations = 30
    original = task.loss
    task.loss = lambda p, b: original(p, b) * (float("nan") if trainer.iteration >= 13 else 1.0)
    with pytest.raises(TrainingDiverged, match="iteration 13"):
        trainer.train(resume=True, progress=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_schedule_freezes_parameters_until_their_iteration(tmp_path):
    task = ToyTask()
    w0 = task.learner.head.bias_head.weight.detach().clone()
    cfg = small_config(iterations=5, schedule=[ScheduleStep(0, ["fc.*"]), ScheduleStep(3, ["*"])])
    trainer = MetaTrainer(task, toy_sampler(), cfg, tmp_path)
    trainer.cfg.iterations = 3
    trainer.train(progress=False)
    assert torch.equal(task.learner.head.bias_head.weight, w0)
    trainer.cfg.iterations = 5
    trainer.train(resume=True, progress=False)
    assert not torch.equal(task.learner.head.bias_head.weight, w0)
    assert cfg.trained_patterns(0) == ["fc.*"] and cfg.trained_patterns(7) == ["*"]


def test_lr_theta_factors_scale_or_freeze_theta0_but_not_alpha(tmp_path):
    task = ToyTask()
    fc0 = task.learner.head.fc.weight.detach().clone()
    bias0 = task.learner.head.bias_head.weight.detach().clone()
    alpha0 = {k: v.detach().clone() for k, v in task.learner.alphas().items()}
    cfg = small_config(iterations=5, lr_theta_factors={"fc.*": 0.0})
    trainer = MetaTrainer(task, toy_sampler(), cfg, tmp_path)
    trainer.train(progress=False)
    assert torch.equal(task.learner.head.fc.weight, fc0)  # theta0 of fc.* stays where it started
    assert not torch.equal(task.learner.head.bias_head.weight, bias0)
    assert not torch.equal(task.learner.alphas()["fc.weight"], alpha0["fc.weight"])  # its alpha learns
    assert trainer.opt_theta.param_groups[0]["lr"] == cfg.lr_theta
    assert cfg.lr_theta_factor("fc.weight") == 0.0 and cfg.lr_theta_factor("bias_head.weight") == 1.0
    with pytest.raises(ConfigError, match="lr_theta_factors"):
        MetaTrainConfig.from_dict({"lr_theta_factors": {"fc.*": -1}})
    # resuming that run with other factors (other optimiser groups) is refused, naming the checkpoint
    other = MetaTrainer(ToyTask(), toy_sampler(), small_config(iterations=6), tmp_path)
    with pytest.raises(CheckpointError, match="checkpoint.pt: its optimiser state does not match"):
        other.train(resume=True, progress=False)


def test_config_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="unknown keys"):
        MetaTrainConfig.from_dict({"iterations": 3, "learning_rate": 1})
    cfg = MetaTrainConfig.from_dict({"iterations": 3, "schedule": [{"from_iteration": 0, "params": ["*"]}]})
    assert cfg.schedule[0].params == ["*"]


DDP_SCRIPT = """
import os, sys, json, torch
sys.path.insert(0, {tests!r})
from toy_task import ToyTask, toy_sampler
from metatrack.training import MetaTrainConfig, MetaTrainer, ScheduleStep, leave_rank
cfg = MetaTrainConfig(iterations=3, episodes_per_batch=4, lr_theta=0.05, lr_alpha=0.01, alpha_init=0.05,
                      lr_decay_at=[], checkpoint_every=3, schedule=[ScheduleStep(0, ["*"])], delta_range=(1, 3))
task = ToyTask()
MetaTrainer(task, toy_sampler(), cfg, {out!r}).train(progress=False)
if int(os.environ.get("RANK", "0")) == 0:
    torch.save({{k: v for k, v in task.learner.state_dict().items()}}, {out!r} + "/final.pt")
leave_rank(0)
"""


@pytest.mark.slow
def test_two_processes_make_the_same_update_as_one(tmp_path):
    tests = str(Path(__file__).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    env["OMP_NUM_THREADS"] = "1"
    one = tmp_path / "one"
    subprocess.run([sys.executable, "-c", DDP_SCRIPT.format(tests=tests, out=str(one))], check=True, env=env)
    two = tmp_path / "two"
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(tests=tests, out=str(two)))
    # --standalone picks a free port: a fixed one failed CI once when something else held it.
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(script)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    a = torch.load(one / "final.pt", weights_only=True)
    b = torch.load(two / "final.pt", weights_only=True)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    log1 = [json.loads(x)["meta_loss"] for x in (one / "log.jsonl").read_text().splitlines()]
    log2 = [json.loads(x)["meta_loss"] for x in (two / "log.jsonl").read_text().splitlines()]
    assert log1 == pytest.approx(log2, rel=1e-5)
