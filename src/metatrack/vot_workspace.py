"""An offline VOT toolkit workspace from any data set metatrack reads, and the toolkit's results back.

``metatrack vot-workspace --dataset FORMAT:PATH --out DIR [--trackers a,b]`` calls
:func:`write_workspace`. The workspace is what vot-toolkit 0.9.0 reads (docs/evaluation.md, "The VOT
toolkit over TraX"):

- ``sequences/list.txt`` and one folder per sequence: a key=value ``sequence`` file
  (``channels.color=color/%08d.jpg``, ``fps``, ``width``, ``height``, ``length``), ``groundtruth.txt``
  with one 0-based ``x,y,w,h`` line per frame (``nan,nan,nan,nan`` where the target is absent or not
  annotated, which the toolkit reads as an unknown region), ``color/00000001.jpg``... (JPEG files are
  copied byte for byte, other frames encoded as JPEG of quality 95), and a ``.tag`` file per attribute
  (the frames that carry it);
- ``stack.yaml``, which names no ``dataset:`` (so the toolkit downloads nothing): the reset-based
  ``baseline`` experiment (VOT2016's settings, through the adapter class below) and ``unsupervised``;
- ``metatrack_vot_experiments.py``, the adapter: the stock reset-based experiment of 0.9.0 fails on every
  TraX tracker, so the stack names ``metatrack_vot_experiments.ResetExperiment`` (``PYTHONPATH=DIR``);
- ``trackers.ini``: one entry per tracker, ``protocol = traxpython``, whose command starts metatrack's
  TraX server (:mod:`metatrack.vot_trax`) in this project's Python (``python =``), with metatrack's
  source and the toolkit's ``trax`` package alone (``.vot-venv/trax-only``) on its path;
- ``config.yaml``: the stack and the registry (the workspace's own ``trackers.ini``).

The folder is built beside ``--out`` and renamed into place once complete, so an interrupted write
leaves no half workspace; an existing non-empty ``--out`` is an error, never overwritten.

:func:`import_results` turns the toolkit's text results (``VOT_RESULTS_BINARY=false``) into metatrack's
results layout, so that ``metatrack score`` scores the very runs the toolkit made.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .data.sequence import ImageFiles, Sequence
from .errors import ConfigError, DataError
from .evaluation.runner import ope_paths, vot_paths
from .evaluation.vot import BURNIN, SKIP_INITIALIZE, auto_eao_range
from .geometry import check_first_box, is_valid_box
from .io import atomic_write_text

#: the adapter module written into every workspace (the stack names ``ADAPTER_MODULE.ResetExperiment``)
ADAPTER_MODULE = "metatrack_vot_experiments"
ADAPTER_SOURCE = Path(__file__).with_name("vot_experiments.py")
#: names of the two experiments of the stack
RESET_EXPERIMENT, OPE_EXPERIMENT = "baseline", "unsupervised"
#: the toolkit's identifiers (trackers) and the names we give sequence folders
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]+$")
_SEQUENCE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
JPEG_QUALITY = 95
#: default trackers of a workspace: the cheap peers
DEFAULT_TRACKERS = ("opencv-kcf", "opencv-csrt", "dlib-correlation")


def tracker_identifier(name: str) -> str:
    """The toolkit's identifier of a metatrack tracker name (``[A-Za-z0-9_-]+``; others become ``_``)."""
    ident = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return ident or "tracker"


def default_trax_path() -> Path:
    """Where ``scripts/vot_toolkit_venv.sh`` puts the trax package alone: ``$VOT_VENV/trax-only``, else
    ``.vot-venv/trax-only`` in the current folder, else in the checkout metatrack runs from (the first
    that exists; the checkout's when none does yet)."""
    candidates = [Path(".vot-venv").absolute(), _source_root().parent / ".vot-venv"]
    if os.environ.get("VOT_VENV"):
        candidates.insert(0, Path(os.environ["VOT_VENV"]).absolute())
    for venv in candidates:
        if (venv / "trax-only" / "trax").is_dir():
            return venv / "trax-only"
    return candidates[-1] / "trax-only"


def _source_root() -> Path:
    """The folder that holds the ``metatrack`` package (``src/`` of a checkout)."""
    return Path(__file__).resolve().parent.parent


def stack_yaml(lengths: list[int], repetitions: int = 15) -> str:
    """The workspace's stack: VOT2016's reset-based settings through the adapter, and the unsupervised run."""
    low, high = auto_eao_range(lengths)
    return f"""\
title: metatrack workspace (reset-based and one-pass experiments; no dataset, nothing to download)
experiments:
  {RESET_EXPERIMENT}:
    # the stock `supervised` experiment of vot-toolkit 0.9.0 fails on every TraX tracker; this adapter
    # runs the same reset-based protocol (see {ADAPTER_MODULE}.py); deterministic trackers stop after 3
    # identical repetitions (the toolkit's early stop)
    type: {ADAPTER_MODULE}.ResetExperiment
    repetitions: {repetitions}
    skip_initialize: {SKIP_INITIALIZE}
    analyses:
      - type: supervised_average_ar
        sensitivity: 30
        burnin: {BURNIN}
      - type: cumulative_failures
      - type: supervised_eao_score
        low: {low}
        high: {high}
      - type: supervised_eao_curve
  {OPE_EXPERIMENT}:
    type: unsupervised
    repetitions: 1
    analyses:
      - type: average_accuracy
        burnin: 1
"""


def trackers_ini(trackers: list[str], python: str, paths: list[Path], plugins: tuple[str, ...] = (),
                 timeout: int = 300) -> str:
    """One ``traxpython`` entry per tracker, running ``metatrack.vot_trax`` in ``python``.

    ``plugins`` (files or modules that register trackers) are handed to the server as ``--plugin``.
    """
    out = ["# metatrack's trackers over TraX (python -m metatrack.vot_trax NAME), written by metatrack vot-workspace",
           ""]
    extra = [a for p in plugins for a in ("--plugin", p)]
    for name in trackers:
        out += [
            f"[{tracker_identifier(name)}]",
            f"label = {name}",
            "protocol = traxpython",
            f"command = import sys; from metatrack.vot_trax import main; sys.exit(main({[name, *extra]!r}))",
            f"python = {python}",
            f"paths = {os.pathsep.join(str(p) for p in paths)}",
            f"timeout = {timeout}",
            "",
        ]
    return "\n".join(out)


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: exists and is not empty; a workspace is never written over another, "
                          "give a new folder")


def _folder_names(sequences: list[Sequence]) -> list[str]:
    names, seen = [], set()
    for seq in sequences:
        name = seq.name if _SEQUENCE_NAME.match(seq.name) else re.sub(r"[^A-Za-z0-9._-]", "_", seq.name)
        name = name.lstrip(".") or "sequence"
        base, k = name, 2
        while name.lower() in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name.lower())
        names.append(name)
    return names


def _tags(seq: Sequence) -> dict[str, np.ndarray]:
    """Per-frame tags: the VOT reader's own, else every sequence attribute on every frame."""
    tags = seq.meta.get("tags")
    if isinstance(tags, dict) and tags:
        return {k: np.asarray(v, dtype=bool) for k, v in tags.items()}
    return {a: np.ones(len(seq), dtype=bool) for a in seq.attributes if _IDENTIFIER.match(a)}


def _groundtruth_lines(seq: Sequence) -> str:
    lines = []
    for box in seq.boxes:  # 0-based already
        lines.append(",".join(repr(float(v)) for v in box) if is_valid_box(box) else "nan,nan,nan,nan")
    return "\n".join(lines) + "\n"


def _write_frames(seq: Sequence, color: Path) -> tuple[int, int]:
    """Frames as color/00000001.jpg...; returns (width, height) of the first frame."""
    color.mkdir(parents=True)
    size = None
    files = seq.frames.paths if isinstance(seq.frames, ImageFiles) else None
    for i in range(len(seq)):
        target = color / f"{i + 1:08d}.jpg"
        if files is not None and files[i].suffix.lower() in (".jpg", ".jpeg"):
            if size is None:
                size = seq.image_size
            shutil.copyfile(files[i], target)
            continue
        rgb = seq.frame(i)
        if size is None:
            size = (int(rgb.shape[1]), int(rgb.shape[0]))
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise DataError(f"frame {i + 1} of sequence {seq.name!r} cannot be encoded as JPEG")
        target.write_bytes(data.tobytes())
    assert size is not None
    return size


def write_workspace(
    sequences: list[Sequence],
    out: str | Path,
    trackers: list[str] | None = None,
    python: str | None = None,
    trax_path: str | Path | None = None,
    repetitions: int = 15,
    plugins: tuple[str, ...] = (),
    progress: bool = False,
) -> Path:
    """Write an offline vot-toolkit workspace for ``sequences`` and ``trackers`` at ``out``; return it.

    ``python`` is the interpreter that runs metatrack's TraX server (default: this one);
    ``trax_path`` the folder that holds the ``trax`` package alone (default: ``.vot-venv/trax-only``);
    ``plugins`` the ``--plugin`` files or modules the server imports first (files made absolute).
    """
    from .trackers.base import resolve_factory

    out = Path(out)
    trackers = list(DEFAULT_TRACKERS if trackers is None else trackers)
    if not trackers:
        raise ConfigError("--trackers: give at least one tracker name")
    if not sequences:
        raise DataError("no sequence to write")
    if repetitions < 1:
        raise ConfigError(f"repetitions must be at least 1, got {repetitions}")
    _check_out(out)
    for name in trackers:
        resolve_factory(name)  # an unknown name fails here, before anything is written
    idents = [tracker_identifier(t) for t in trackers]
    if len(set(idents)) != len(idents):
        raise ConfigError(f"--trackers {','.join(trackers)}: two names map to the same toolkit identifier")
    for seq in sequences:
        check_first_box(seq.boxes[0], source=f"sequence {seq.name!r} (the toolkit initialises on it)")
    python = str(Path(python or sys.executable).absolute())
    trax = Path(trax_path).absolute() if trax_path is not None else default_trax_path()
    plugins = tuple(str(Path(p).absolute()) if p.endswith(".py") or Path(p).is_file() else p for p in plugins)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        names = _folder_names(sequences)
        seq_root = tmp / "sequences"
        seq_root.mkdir()
        for k, (seq, name) in enumerate(zip(sequences, names, strict=True)):
            folder = seq_root / name
            width, height = _write_frames(seq, folder / "color")
            (folder / "groundtruth.txt").write_text(_groundtruth_lines(seq))
            meta = {"channels.color": "color/%08d.jpg", "fps": 30, "format": "default", "name": name,
                    "width": width, "height": height, "length": len(seq)}
            (folder / "sequence").write_text("".join(f"{key}={value}\n" for key, value in meta.items()))
            for tag, flags in _tags(seq).items():
                (folder / f"{tag}.tag").write_text("".join("1\n" if f else "0\n" for f in flags))
            if progress:
                print(f"  {k + 1}/{len(sequences)} {name}: {len(seq)} frames", file=sys.stderr)
        (seq_root / "list.txt").write_text("".join(n + "\n" for n in names))
        (tmp / "stack.yaml").write_text(stack_yaml([len(s) for s in sequences], repetitions))
        shutil.copyfile(ADAPTER_SOURCE, tmp / f"{ADAPTER_MODULE}.py")
        (tmp / "trackers.ini").write_text(trackers_ini(trackers, python, [_source_root(), trax], plugins))
        (tmp / "config.yaml").write_text("registry:\n- .\nstack: stack.yaml\nsequences: sequences\n")
        (tmp / "results").mkdir()
        _check_out(out)  # again: another process may have made it meanwhile
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


# ---------------------------------------------------------------- the toolkit's results, back


def _read_values(path: Path, n: int) -> np.ndarray:
    """A toolkit ``.value`` file (one number a line; blank or unparsable lines are NaN), padded to ``n``."""
    values = np.full(n, np.nan)
    if path.is_file():
        for i, line in enumerate(path.read_text().splitlines()[:n]):
            try:
                values[i] = float(line.strip().split(",")[0])
            except ValueError:
                pass
    return values


def import_results(
    workspace: str | Path, tracker: str, out: str | Path, experiment: str = RESET_EXPERIMENT,
) -> list[str]:
    """Copy the toolkit's results of ``tracker`` in ``experiment`` into metatrack's results folder ``out``.

    ``baseline`` (reset-based) becomes ``out/<tracker>/<seq>_<rep>.txt`` (the toolkit writes the same
    codes: ``1`` init, ``2`` failure, ``0`` skipped) with ``_time.txt``; ``unsupervised`` becomes the
    one-pass ``out/<tracker>/<seq>.txt`` (its first line, ``1``, replaced by the ground truth, as
    ``metatrack run`` writes it). ``tracker`` is the metatrack name; returns the sequences imported.
    Binary results (the toolkit's default) are refused: run the toolkit with ``VOT_RESULTS_BINARY=false``.
    """
    from .data.vot import read_vot

    workspace, out = Path(workspace), Path(out)
    sequences = read_vot(workspace)
    root = workspace / "results" / tracker_identifier(tracker) / experiment
    if not root.is_dir():
        raise DataError(f"no results of {tracker!r} in experiment {experiment!r} (run vot evaluate first)", root)
    done = []
    for seq in sequences:
        folder = root / seq.name
        if any(folder.glob(f"{seq.name}_*.bin")):
            raise DataError("binary results: run the toolkit with VOT_RESULTS_BINARY=false", folder)
        runs = sorted(folder.glob(f"{seq.name}_[0-9][0-9][0-9].txt"))
        if not runs:
            continue
        n = len(seq)
        for rep, run in enumerate(runs):
            lines = [line.strip() for line in run.read_text().splitlines()]
            while lines and not lines[-1]:
                lines.pop()
            if len(lines) != n:
                raise DataError(f"{len(lines)} lines for a sequence of {n} frames", run)
            times = _read_values(run.with_name(run.stem + "_time.value"), n)
            if experiment == OPE_EXPERIMENT:
                if rep:
                    break
                if lines[0] == "1":
                    lines[0] = ",".join(repr(float(v)) for v in seq.boxes[0])
                box_path, time_path = ope_paths(out, tracker, seq.name)
            else:
                box_path, time_path = vot_paths(out, tracker, seq.name, rep)
                times[[line == "0" for line in lines]] = np.nan  # skipped: not run, as metatrack writes them
            atomic_write_text(time_path, "".join(f"{t!r}\n" for t in times.tolist()))
            atomic_write_text(box_path, "".join(line + "\n" for line in lines))
        done.append(seq.name)
    return done
