"""``--deterministic``: the same seed, data and model give bit-identical boxes on CPU, whatever else
ran before in the process and however many worker processes share the sequences."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from metatrack.cli import main
from metatrack.data import open_dataset
from metatrack.determinism import MATH_THREAD_VARIABLES, math_threads_for_children, set_deterministic
from metatrack.errors import CheckpointError
from metatrack.evaluation.runner import ope_paths, run_tracker
from metatrack.trackers import Tracker, create_tracker, register_tracker


@pytest.fixture(autouse=True)
def restore_settings():
    """set_deterministic is process-wide: put torch's and OpenCV's settings back after each test."""
    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    algorithms = torch.are_deterministic_algorithms_enabled()
    blas = threadpool_limits(limits=None)  # records the BLAS thread counts, changes nothing
    yield
    blas.restore_original_limits()
    torch.use_deterministic_algorithms(algorithms)
    torch.set_num_threads(threads)
    cv2.setNumThreads(cv_threads)


def test_set_deterministic_pins_threads_algorithms_and_every_global_rng():
    set_deterministic(3)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
    first = (np.random.rand(3), torch.rand(3), random.random())
    np.random.rand(5), torch.rand(5)  # whatever ran in between
    set_deterministic(3)
    again = (np.random.rand(3), torch.rand(3), random.random())
    np.testing.assert_array_equal(first[0], again[0])
    assert torch.equal(first[1], again[1]) and first[2] == again[2]
    set_deterministic(4)
    assert not np.array_equal(np.random.rand(3), first[0])


def _openblas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"]


def test_set_deterministic_pins_the_blas_numpy_loaded_before_it():
    """NumPy's OpenBLAS is loaded long before --deterministic is read: its threads are set at run time."""
    threadpool_limits(2)
    if max(_openblas_threads()) < 2:
        pytest.skip("one core: OpenBLAS runs one thread whatever it is told")
    set_deterministic(0)
    assert _openblas_threads() and set(_openblas_threads()) == {1}


#: a child's NumPy, as a spawned benchmark worker loads it: with the thread count it is born with
_CHILD_BLAS = ("import json, numpy; from threadpoolctl import threadpool_info; "
               "print(json.dumps([i['num_threads'] for i in threadpool_info() if i['internal_api'] == 'openblas']))")


def test_children_started_inside_math_threads_for_children_load_blas_at_that_count(monkeypatch):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: OpenBLAS runs one thread whatever it is told")
    for var in MATH_THREAD_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's own setting, to be put back

    def child() -> list[int]:
        out = subprocess.run([sys.executable, "-c", _CHILD_BLAS], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    with math_threads_for_children(1):
        assert child() == [1]
    assert child() == [2]  # the default again: the block's setting did not leak
    assert os.environ["OMP_NUM_THREADS"] == "2" and "OPENBLAS_NUM_THREADS" not in os.environ
    with pytest.raises(RuntimeError), math_threads_for_children(1):
        raise RuntimeError("a failing benchmark")
    assert "MKL_NUM_THREADS" not in os.environ


class GlobalRandomTracker(Tracker):
    """Draws its answer from the global RNGs of numpy, torch and Python: the worst case."""

    def init(self, image, box):
        self.box = np.asarray(box, dtype=np.float64)

    def update(self, image):
        jitter = np.random.rand() + float(torch.rand(1)) + random.random()
        return self.box + [jitter, 0.0, 0.0, 0.0]


register_tracker("test-global-random", GlobalRandomTracker, replace=True)


@pytest.fixture(scope="module")
def tiny_split(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "eval"
    assert main(["synth", "--out", str(out), "--split", "eval", "--sequences", "2", "--frames", "8",
                 "--seed", "4"]) == 0
    return out


def boxes_of(results: Path, tracker: str, names: list[str]) -> dict[str, str]:
    return {n: ope_paths(results, tracker, n)[0].read_text() for n in names}


def test_runner_reseeds_every_sequence(tiny_split, tmp_path):
    seqs = open_dataset(f"otb:{tiny_split}")
    names = [s.name for s in seqs]
    run_tracker("test-global-random", seqs, tmp_path / "a", deterministic=True, progress=False)
    np.random.rand(7), torch.rand(7), random.random()  # the process's RNGs move on
    # the other order: each sequence's result depends only on the seed, not on what ran before it
    run_tracker("test-global-random", seqs[::-1], tmp_path / "b", deterministic=True, progress=False)
    assert boxes_of(tmp_path / "a", "test-global-random", names) == boxes_of(tmp_path / "b", "test-global-random",
                                                                             names)
    # without it the same two runs differ (so the comparison above can fail)
    run_tracker("test-global-random", seqs, tmp_path / "c", progress=False)
    assert boxes_of(tmp_path / "c", "test-global-random", names) != boxes_of(tmp_path / "a", "test-global-random",
                                                                             names)


@pytest.mark.slow
def test_runner_deterministic_results_do_not_depend_on_jobs(tiny_split, tmp_path):
    seqs = open_dataset(f"otb:{tiny_split}")
    names = [s.name for s in seqs]
    run_tracker("test-global-random", seqs, tmp_path / "one", deterministic=True, progress=False)
    run_tracker("test-global-random", seqs, tmp_path / "two", deterministic=True, jobs=2, progress=False)
    assert boxes_of(tmp_path / "one", "test-global-random", names) == boxes_of(tmp_path / "two",
                                                                               "test-global-random", names)


#: compared by the CLI test; sdnet-01 and crest-01 need no model file and share the feature,
#: sampling and update code of metasdnet and metacrest
CLI_TRACKERS = ["opencv-kcf", "sdnet-01", "crest-01", "metasdnet", "metacrest"]


def _runnable(name: str) -> bool:
    try:
        create_tracker(name)
        return True
    except CheckpointError:
        return False


@pytest.fixture(scope="module")
def two_cli_runs(tiny_split, tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """``metatrack run --deterministic`` twice, as two processes, with every tracker that can run here."""
    trackers = [t for t in CLI_TRACKERS if _runnable(t)]
    root = tmp_path_factory.mktemp("det")
    env = {**os.environ, "OMP_NUM_THREADS": "4"}  # --deterministic must bring it down to one itself
    procs = [
        subprocess.Popen([sys.executable, "-m", "metatrack.cli", "run", "--tracker", ",".join(trackers),
                          "--dataset", f"otb:{tiny_split}", "--deterministic", "--seed", "1",
                          "--results", str(root / label)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=env)
        for label in ("a", "b")
    ]
    for proc in procs:  # run side by side: two processes get more of a busy machine than one
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    return root / "a", root / "b", trackers


@pytest.mark.slow
@pytest.mark.parametrize("tracker", CLI_TRACKERS)
def test_cli_run_deterministic_twice_is_bit_identical(tracker, two_cli_runs, tiny_split):
    a, b, ran = two_cli_runs
    if tracker not in ran:
        pytest.skip(f"{tracker}: model file missing")
    names = sorted(p.name for p in tiny_split.iterdir() if p.is_dir())
    first, second = boxes_of(a, tracker, names), boxes_of(b, tracker, names)
    assert all(len(text.splitlines()) == 8 for text in first.values())
    assert first == second, f"{tracker}: results differ between two --deterministic runs"


def test_track_deterministic_twice_gives_the_same_boxes(tiny_split, tmp_path):
    folder = sorted(p for p in tiny_split.iterdir() if p.is_dir())[0]
    gt = folder / "groundtruth_rect.txt"
    out = []
    for i in range(2):
        boxes = tmp_path / f"boxes{i}.txt"
        assert main(["track", str(folder / "img"), "--box-from", str(gt), "--box-origin", "1",
                     "--tracker", "crest-01", "--boxes", str(boxes), "--no-progress", "--deterministic"]) == 0
        np.random.rand(3), torch.rand(3)  # the process's RNGs move on between the two
        out.append(boxes.read_text())
    assert len(out[0].splitlines()) == 8 and out[0] == out[1]
