"""A run killed with SIGKILL loses nothing: running the same command again (``--resume`` for training)
ends with exactly what an uninterrupted run writes.

Each test starts the CLI as a subprocess, waits until some progress is on disk, kills it with
``kill -9`` (no cleanup code runs), starts it again and compares every result with that of an
uninterrupted run started at the same time (two processes get more of a busy machine than one).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from metatrack.cli import main

CLI = [sys.executable, "-m", "metatrack.cli"]
#: how long a step may take on a loaded CI machine before the test gives up
TIMEOUT = 300.0


def start(*args: str) -> subprocess.Popen:
    """The CLI in a subprocess; its output goes to a temporary file (a full pipe would stall it)."""
    log = tempfile.TemporaryFile("w+")
    # one thread per process: on a shared machine torch's thread pool waits on busy cores
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*CLI, *args], stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen) -> None:
    proc.wait(timeout=TIMEOUT)
    proc.log.seek(0)
    out = proc.log.read()
    assert proc.returncode == 0, f"{proc.args} failed with status {proc.returncode}:\n{out[-3000:]}"


def kill_when(proc: subprocess.Popen, ready) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()``; True when it was still running then (killed mid-run)."""
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        if proc.poll() is not None:
            break
        assert time.monotonic() < deadline, "no progress on disk before the timeout"
        time.sleep(0.01)
    running = proc.poll() is None
    if running:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=TIMEOUT)
    if running:
        assert proc.returncode == -signal.SIGKILL
    else:
        warnings.warn("the run ended before it could be killed: only its rerun was compared", stacklevel=2)
    return running


# ------------------------------------------------------------------------------------ metatrack train

ITERATIONS, EVERY = 4, 2


@pytest.fixture(scope="module")
def train_config(tmp_path_factory) -> Path:
    """A tiny MetaSDNet meta-training on two short sequences of the embedded train split."""
    root = tmp_path_factory.mktemp("train")
    data = root / "train"
    assert main(["synth", "--out", str(data), "--split", "train", "--sequences", "2", "--frames", "12"]) == 0
    config = {
        "model": "metasdnet",
        "tracker": {"crop_size": 96, "hidden": 16, "n_pos_meta": 8, "n_neg_meta": 24},
        "meta_training": {
            "iterations": ITERATIONS,
            "episodes_per_batch": 2,
            "checkpoint_every": EVERY,
            "delta_range": [1, 3],
            "seed": 5,
            "sources": [{"dataset": f"otb:{data}", "weight": 1.0}],
        },
    }
    path = root / "tiny.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def checkpoint_iteration(path: Path) -> int:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["iteration"])
    except Exception:  # not written yet
        return -1


def logged(out: Path) -> list[dict]:
    """The training log without its wall-clock column."""
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.mark.slow
def test_train_killed_and_resumed_ends_as_an_uninterrupted_run(train_config, tmp_path):
    ref, victim = tmp_path / "uninterrupted", tmp_path / "killed"
    common = ["train", "--config", str(train_config), "--no-progress"]
    reference = start(*common, "--out", str(ref))
    doomed = start(*common, "--out", str(victim))
    ckpt = victim / "checkpoint.pt"
    mid_run = kill_when(doomed, lambda: ckpt.exists())
    if mid_run:
        done = checkpoint_iteration(ckpt)
        assert EVERY <= done < ITERATIONS  # killed after a checkpoint, before the end
    resumed = start(*common, "--out", str(victim), "--resume")
    finish(resumed)
    finish(reference)

    a = torch.load(ref / "checkpoint.pt", map_location="cpu", weights_only=True)
    b = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert a["iteration"] == b["iteration"] == ITERATIONS
    assert a["learner"].keys() == b["learner"].keys() and len(a["learner"]) > 0
    for name, tensor in a["learner"].items():
        assert torch.equal(tensor, b["learner"][name]), name
    for opt in ("opt_theta", "opt_alpha"):
        for key, state in a[opt]["state"].items():
            for k, v in state.items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(b[opt]["state"][key][k])), (opt, key, k)
    assert torch.equal(a["torch_rng"], b["torch_rng"])

    ma, mb = load_file(ref / "metasdnet.safetensors"), load_file(victim / "metasdnet.safetensors")
    assert ma.keys() == mb.keys() and any(k.startswith("theta0.") for k in ma)
    for name, tensor in ma.items():
        assert torch.equal(tensor, mb[name]), name
    # the log holds every iteration once, with the numbers of the uninterrupted run
    assert [r["iteration"] for r in logged(victim)] == list(range(ITERATIONS))
    assert logged(victim) == logged(ref)


# ------------------------------------------------------------------------------------ metatrack run

COPIES = 4


@pytest.fixture(scope="module")
def many_sequences(tmp_path_factory) -> Path:
    """16 short sequences: 4 of the embedded eval split, each also under 3 other names (symlinks)."""
    root = tmp_path_factory.mktemp("run") / "eval"
    assert main(["synth", "--out", str(root), "--split", "eval", "--sequences", "4", "--frames", "20",
                 "--seed", "2"]) == 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for copy in range(1, COPIES):
            (root / f"{folder.name}_copy{copy}").symlink_to(folder, target_is_directory=True)
    return root


def boxes_files(results: Path) -> list[Path]:
    return sorted(p for p in results.glob("*.txt") if not p.name.endswith(("_time.txt", "_confidence.txt")))


def test_run_killed_and_rerun_ends_as_an_uninterrupted_run(many_sequences, tmp_path):
    ref, victim = tmp_path / "uninterrupted", tmp_path / "killed"
    common = ["run", "--tracker", "opencv-kcf", "--dataset", f"otb:{many_sequences}"]
    reference = start(*common, "--results", str(ref))
    doomed = start(*common, "--results", str(victim))
    out = victim / "opencv-kcf"
    mid_run = kill_when(doomed, lambda: len(boxes_files(out)) >= 3)
    n_sequences = 4 * COPIES
    if mid_run:
        assert 3 <= len(boxes_files(out)) < n_sequences
    finish(start(*common, "--results", str(victim)))
    finish(reference)

    expected = boxes_files(ref / "opencv-kcf")
    assert len(expected) == n_sequences
    assert [p.name for p in boxes_files(out)] == [p.name for p in expected]
    for path in expected:
        a = np.loadtxt(path, delimiter=",")
        b = np.loadtxt(out / path.name, delimiter=",")
        assert a.shape == (20, 4)
        np.testing.assert_array_equal(a, b, err_msg=path.name)
        # a times file with one line per frame goes with every boxes file
        times = np.loadtxt(out / path.name.replace(".txt", "_time.txt"))
        assert times.shape == (20,) and np.all(np.isfinite(times))
    # a write cut by the kill leaves at most a hidden temporary file, never a visible one
    assert all(p.name.startswith(".") for p in out.iterdir() if p.suffix != ".txt")
