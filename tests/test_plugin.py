"""A user's own tracker, registered with one line, through `run`, `score`, `report --format html`, `bench`.

The tracker lives in a file of the user's (not in metatrack, not on sys.path); the command line loads
it with ``--plugin FILE.py`` (or ``--plugin module`` from the current folder). The commands run as a
user runs them: the installed ``metatrack`` script in a fresh process, worker processes included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tiny_otb import write_otb

from metatrack.cli import load_plugin, main
from metatrack.errors import ConfigError

PLUGIN = textwrap.dedent('''
    """A constant-velocity tracker: the box keeps the velocity it is given, here none at first."""
    import numpy as np

    from metatrack.trackers import Tracker, register_tracker


    @register_tracker("my-constant-velocity")  # the one line
    class ConstantVelocity(Tracker):
        def __init__(self, vx: float = 1.0, vy: float = 0.5):
            self.velocity = np.array([vx, vy, 0.0, 0.0])

        def init(self, image, box):
            self.box = np.asarray(box, dtype=float)

        def update(self, image):
            self.box = self.box + self.velocity
            return self.box
''')


def metatrack(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("metatrack")
    command = [str(script)] if script.is_file() else [sys.executable, "-c",
                                                     "import sys; from metatrack.cli import main; sys.exit(main())"]
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return subprocess.run(command + list(args), cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_own_tracker_through_run_score_report_and_bench(tmp_path):
    user = tmp_path / "user"  # the user's project folder
    user.mkdir()
    (user / "my_tracker.py").write_text(PLUGIN)
    data = write_otb(tmp_path / "otb")
    ds = f"otb:{data}"
    work = tmp_path / "work"  # commands run elsewhere, naming the file by its path
    work.mkdir()
    plugin = ["--plugin", str(user / "my_tracker.py")]

    assert "my-constant-velocity" in ok(metatrack("trackers", *plugin, cwd=work)).split()
    # two worker processes: they import the plugin file too
    ok(metatrack("run", "--tracker", "my-constant-velocity,opencv-kcf", "--dataset", ds, "--results", "res",
                 "--jobs", "2", *plugin, cwd=work))
    assert sorted(p.name for p in (work / "res" / "my-constant-velocity").iterdir()
                  if "_time" not in p.name and "_confidence" not in p.name) == [
        "Alpha.txt", "Beta.txt", "Gamma.txt"]
    out = ok(metatrack("score", "--dataset", ds, "--results", "res", "--json", "scores.json", *plugin, cwd=work))
    scores = json.loads((work / "scores.json").read_text())
    assert set(scores) == {"my-constant-velocity", "opencv-kcf"} and "my-constant-velocity" in out
    auc = scores["my-constant-velocity"]["success_auc"]
    assert 0 < auc < 1

    out = ok(metatrack("report", "--dataset", ds, "--results", "res", "--out", "report", "--format", "html",
                       *plugin, cwd=work))
    page = (work / "report" / "report.html").read_text()
    assert "HTML report:" in out and 'data-tracker="my-constant-velocity"' in page and f"{auc:.3f}" in page

    ok(metatrack("bench", "--trackers", "my-constant-velocity", "--dataset", ds, "--out", "bench", *plugin, cwd=work))
    bench = json.loads((work / "bench" / "bench.json").read_text())["trackers"]["my-constant-velocity"]
    assert bench["success_auc"] == auc and bench["peak_memory_mb"] > 10

    # `--plugin module` finds a module of the current folder, as `python -m` would
    assert "my-constant-velocity" in ok(metatrack("trackers", "--plugin", "my_tracker", cwd=user)).split()


def test_plugin_errors_name_the_plugin(tmp_path, capsys):
    assert main(["trackers", "--plugin", str(tmp_path / "missing.py")]) == 2
    assert "--plugin" in capsys.readouterr().err
    (tmp_path / "broken_plugin_xyz.py").write_text("raise RuntimeError('nope')\n")
    with pytest.raises(ConfigError, match="RuntimeError: nope"):
        load_plugin(str(tmp_path / "broken_plugin_xyz.py"))
    with pytest.raises(ConfigError, match="cannot import"):
        load_plugin("no_such_module_abc")
