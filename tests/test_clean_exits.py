"""Quiet, clean exits: a device that is not there is one line naming ``--device``; ``metatrack track``
stopped by SIGTERM keeps its boxes and video as Ctrl-C does, and ``kill -9`` leaves every finished
frame's box on disk; worker pools end without resource_tracker warnings.

The subprocess tests track a generated video with a plugin tracker that sleeps 20 ms a frame, so that
the run is surely in the middle of the video when it is signalled (a few seconds each).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_track_cli import moving_square_video
from tiny_otb import write_otb

from metatrack.cli import build_parser, main
from metatrack.devices import check_device
from metatrack.errors import ConfigError

CLI = [sys.executable, "-m", "metatrack.cli"]
TIMEOUT = 120.0

# ------------------------------------------------------------------------------------ --device


def commands_with_device() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: p for name, p in sub.choices.items()
            if any("--device" in a.option_strings for a in p._actions)}


def minimal_argv(name: str, parser: argparse.ArgumentParser, device: str) -> list[str]:
    """``name`` with placeholder values for its required arguments, and ``--device device``."""
    argv = [name]
    for action in parser._actions:
        if not action.option_strings and action.dest != "help":
            argv.append("x")
        elif action.required:
            argv += [action.option_strings[0], str(action.choices[0]) if action.choices else "x"]
    return argv + ["--device", device]


def test_track_and_train_take_device():
    assert {"track", "train"} <= set(commands_with_device())


@pytest.mark.parametrize("command", sorted(commands_with_device()))
def test_an_unknown_device_is_one_line_naming_the_argument(command, capsys):
    parser = commands_with_device()[command]
    assert main(minimal_argv(command, parser, "tpu")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["metatrack: error: --device tpu: unknown device; devices here: " + ", ".join(_here())]


@pytest.mark.parametrize("command", sorted(commands_with_device()))
def test_cuda_without_a_gpu_is_one_line_naming_the_argument(command, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    parser = commands_with_device()[command]
    for device in ("cuda", "cuda:1"):
        assert main(minimal_argv(command, parser, device)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"metatrack: error: --device {device}: no CUDA GPU"), err
        assert err[0].endswith("devices here: " + ", ".join(_here()))


def _here() -> list[str]:
    from metatrack.devices import available_devices

    return available_devices()


def test_check_device(monkeypatch):
    import torch

    assert check_device("cpu") == "cpu" and check_device("cpu:0") == "cpu:0"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda") == "cuda" and check_device("cuda:1") == "cuda:1"
    with pytest.raises(ConfigError, match=r"^--device cuda:2: this machine has 2 CUDA device\(s\), numbered from 0; "
                                          r"devices here: cpu, cuda, cuda:0, cuda:1"):
        check_device("cuda:2")
    with pytest.raises(ConfigError, match=r"^--gpu meta: metatrack does not run on meta devices"):
        check_device("meta", option="--gpu")


def test_a_cpu_device_does_not_import_torch():
    code = "import sys; from metatrack.devices import check_device; check_device('cpu'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=TIMEOUT)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------ SIGTERM, kill -9

SLOW_TRACKER = '''
import time

import numpy as np

from metatrack import Tracker, register_tracker


@register_tracker("slow-still")
class SlowStill(Tracker):
    def init(self, image, box):
        self.box = np.asarray(box, dtype=float)

    def update(self, image):
        time.sleep(0.02)
        return self.box
'''
FRAMES = 300


@pytest.fixture(scope="module")
def slow_run(tmp_path_factory):
    """(folder, argv) of a `metatrack track` of a 300-frame video that takes 6 s or more."""
    folder = tmp_path_factory.mktemp("slow")
    moving_square_video(folder / "clip.avi", n=FRAMES)
    (folder / "slow_tracker.py").write_text(SLOW_TRACKER)
    return folder, ["track", str(folder / "clip.avi"), "--box", "20,20,20,20", "--plugin",
                    str(folder / "slow_tracker.py"), "--tracker", "slow-still", "--no-progress"]


def start(argv: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*CLI, *argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def wait_for_lines(proc: subprocess.Popen, part: Path, n: int) -> int:
    deadline = time.monotonic() + TIMEOUT
    while not (part.exists() and len(part.read_text().splitlines()) >= n):
        assert proc.poll() is None, f"ended before {n} frames were on disk: {proc.communicate()}"
        assert time.monotonic() < deadline, "no boxes on disk before the timeout"
        time.sleep(0.02)
    return len(part.read_text().splitlines())


def read_boxes(path: Path) -> np.ndarray:
    text = path.read_text()
    assert text.endswith("\n")  # whole lines only
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines()])


def test_sigterm_keeps_the_boxes_and_a_playable_video_as_ctrl_c_does(slow_run):
    folder, argv = slow_run
    boxes, video = folder / "term.txt", folder / "term.avi"
    proc = start([*argv, "--boxes", str(boxes), "--out", str(video)], folder)
    seen = wait_for_lines(proc, folder / "term.txt.part", 5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130, err  # as Ctrl-C
    assert err.strip().splitlines()[-1] == "metatrack: interrupted"
    assert "Traceback" not in err
    assert not (folder / "term.txt.part").exists()
    got = read_boxes(boxes)
    assert seen <= len(got) < FRAMES
    assert np.all(got == [20, 20, 20, 20])
    cap = cv2.VideoCapture(str(video))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames in (len(got), len(got) + 1)  # the frame being written when the signal came may be in


def test_kill_9_leaves_every_finished_frame_in_the_part_file(slow_run):
    folder, argv = slow_run
    boxes = folder / "killed.txt"
    proc = start([*argv, "--boxes", str(boxes)], folder)
    seen = wait_for_lines(proc, folder / "killed.txt.part", 5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    assert not boxes.exists()
    got = read_boxes(folder / "killed.txt.part")
    assert seen <= len(got) < FRAMES
    assert np.all(got == [20, 20, 20, 20])


# ------------------------------------------------------------------------------------ worker pools


@pytest.mark.parametrize("argv", [
    ["run", "--tracker", "opencv-kcf", "--dataset", "otb:{data}", "--results", "{out}/results", "--jobs", "2"],
    ["bench", "--trackers", "opencv-kcf", "--dataset", "otb:{data}", "--out", "{out}/bench"],
], ids=["run --jobs 2", "bench"])
def test_worker_pools_end_without_resource_tracker_warnings(tmp_path, argv):
    data = write_otb(tmp_path / "otb")
    argv = [a.format(data=data, out=tmp_path) for a in argv]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*CLI, *argv], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    noisy = [line for line in done.stderr.splitlines() if "resource_tracker" in line or "leaked" in line]
    assert not noisy, noisy
