"""Run a tracker over sequences and keep its results on disk, the layout every toolkit reads.

``results_dir/<tracker>/<seq>.txt`` holds one ``x,y,w,h`` line per frame in the data set's own
coordinate convention (``Sequence.to_file_coords``: 1-based for OTB), ``<seq>_time.txt`` the seconds
each frame took (frame 0: ``init``), ``<seq>_confidence.txt`` one ``confidence,raw_confidence`` line
per frame (the tracker's calibrated and raw confidence after each update; ``nan,nan`` on frame 0 and
where it has none), which the long-term score reads; toolkits ignore it, and results without it
still score (OPE, VOT), only without the long-term score. The VOT protocol writes ``<seq>_<rep:03d>.txt`` (lines ``1``
init, ``2`` failure, ``0`` skipped, else a box) and ``<seq>_<rep:03d>_time.txt`` (``nan`` on skipped
frames). Files are written atomically and a sequence whose files are present with one line per frame
is skipped, so a killed run resumes where it stopped. Sequences run in separate processes
(``jobs``) and, under ``torchrun``, rank ``r`` of ``w`` takes the sequences ``i`` with ``i % w == r``.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from ..data.sequence import Sequence
from ..determinism import limit_thread_pools, math_threads_for_children, set_deterministic
from ..errors import ConfigError, MetatrackError
from ..geometry import check_first_box, iou
from ..io import atomic_write_text
from ..trackers.base import Tracker, available_trackers, create_tracker, register_tracker, resolve_factory
from .otb import valid_gt_mask
from .vot import FAILURE, INIT, SKIP_INITIALIZE, SKIPPED, TRACKED, VotRun

log = logging.getLogger(__name__)

Protocol = Literal["ope", "vot"]


class RunError(MetatrackError):
    """Some sequences failed; ``failed`` maps each to its error, ``completed`` lists the others run."""

    def __init__(self, tracker: str, failed: dict[str, str], completed: list[str]):
        self.failed = failed
        self.completed = completed
        lines = "\n".join(f"  {name}: {msg}" for name, msg in failed.items())
        super().__init__(
            f"tracker {tracker!r} failed on {len(failed)} sequence(s), no results written for them:\n{lines}"
        )


class TrackingFailed(Exception):
    """A tracker (or a frame read) raised while running one sequence; says where."""


# ---------------------------------------------------------------- file layout


def ope_paths(results_dir: Path, tracker: str, seq_name: str) -> tuple[Path, Path]:
    """Boxes and times files of one OPE run."""
    d = Path(results_dir) / tracker
    return d / f"{seq_name}.txt", d / f"{seq_name}_time.txt"


def confidence_path(results_dir: Path, tracker: str, seq_name: str) -> Path:
    """Per-frame ``confidence,raw_confidence`` file of one OPE run (optional: older results lack it)."""
    return Path(results_dir) / tracker / f"{seq_name}_confidence.txt"


def _confidences(tracker: Tracker) -> tuple[float, float]:
    """(calibrated, raw) confidence of the tracker's last update; a tracker without ``raw_confidence``
    (a plugin not derived from :class:`Tracker`) gives its ``confidence`` as both."""
    c = getattr(tracker, "confidence", float("nan"))
    r = getattr(tracker, "raw_confidence", c)
    try:
        return float(c), float(r)
    except (TypeError, ValueError):
        return float("nan"), float("nan")


def vot_paths(results_dir: Path, tracker: str, seq_name: str, repetition: int) -> tuple[Path, Path]:
    """Boxes and times files of VOT repetition ``repetition`` (0-based; files are numbered from 001)."""
    d = Path(results_dir) / tracker
    return d / f"{seq_name}_{repetition + 1:03d}.txt", d / f"{seq_name}_{repetition + 1:03d}_time.txt"


def count_lines(path: Path) -> int:
    """Number of lines of a text file, trailing blank lines ignored; -1 when the file is missing."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return -1
    while lines and not lines[-1].strip():
        lines.pop()
    return len(lines)


def is_complete(paths: tuple[Path, Path], num_frames: int) -> bool:
    """Both files present with one line per frame."""
    return all(count_lines(p) == num_frames for p in paths)


def _format_number(v: float) -> str:
    return repr(float(v))  # shortest text that reads back to the same float


def _format_rows(rows: np.ndarray) -> str:
    return "".join(",".join(_format_number(v) for v in row) + "\n" for row in np.atleast_2d(rows))


def _format_times(times: np.ndarray) -> str:
    return "".join(_format_number(t) + "\n" for t in times)


# ---------------------------------------------------------------- tracking loops


def _checked_box(box: Any, previous: np.ndarray, frame: int, replaced: list[int]) -> np.ndarray:
    """The tracker's box as a (4,) float array; a non-finite one becomes ``previous`` (recorded)."""
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (4,):
        raise ValueError(f"update() returned {b.size} values, expected a box x, y, w, h")
    if not np.all(np.isfinite(b)):
        replaced.append(frame)
        return previous.copy()
    return b


def _timed(call, *args) -> tuple[Any, float]:
    start = time.perf_counter()
    out = call(*args)
    return out, time.perf_counter() - start


def track_ope(
    tracker: Tracker, seq: Sequence, replaced: list[int], confidences: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One pass: init on frame 0's ground truth, update on every later frame; boxes are 0-based.

    Returns boxes (N, 4), with frame 0's box the ground truth itself, and seconds per frame (N,).
    ``confidences`` (N, 2), when given, receives each frame's (calibrated, raw) confidence (NaN on frame 0).
    """
    n = len(seq)
    boxes = np.empty((n, 4))
    times = np.zeros(n)
    if confidences is not None:
        confidences[:] = np.nan
    frame = 0
    try:
        boxes[0] = seq.boxes[0]
        _, times[0] = _timed(tracker.init, seq.frame(0), seq.boxes[0].copy())
        for frame in range(1, n):
            image = seq.frame(frame)
            box, times[frame] = _timed(tracker.update, image)
            boxes[frame] = _checked_box(box, boxes[frame - 1], frame, replaced)
            if confidences is not None:
                confidences[frame] = _confidences(tracker)
    except Exception as exc:
        raise TrackingFailed(_where(seq, frame, exc)) from exc
    return boxes, times


def _next_valid(valid: np.ndarray, start: int) -> int:
    """First frame >= start with valid ground truth, or len(valid) when none."""
    later = np.flatnonzero(valid[start:])
    return start + int(later[0]) if len(later) else len(valid)


def track_vot(
    tracker: Tracker, seq: Sequence, replaced: list[int], skip: int = SKIP_INITIALIZE
) -> tuple[VotRun, np.ndarray]:
    """One reset-based run (VOT supervised experiment); boxes in the run are 0-based.

    A failure is a frame whose valid ground truth overlaps the prediction by ``<= 0``; the tracker
    is re-initialised on the ground truth ``skip`` frames later (on the next frame with valid
    ground truth if that one has none); frames in between are skipped (not read, flag 0, time NaN).
    """
    n = len(seq)
    valid = valid_gt_mask(seq.boxes)
    flags = np.full(n, SKIPPED, dtype=np.int64)
    boxes = np.full((n, 4), np.nan)
    times = np.full(n, np.nan)
    next_init, tracking = 0, False
    previous = seq.boxes[0].copy()
    frame = 0
    try:
        for frame in range(n):
            if not tracking:
                if frame != next_init:
                    continue
                image = seq.frame(frame)
                _, times[frame] = _timed(tracker.init, image, seq.boxes[frame].copy())
                flags[frame], tracking, previous = INIT, True, seq.boxes[frame].copy()
                continue
            image = seq.frame(frame)
            box, times[frame] = _timed(tracker.update, image)
            box = _checked_box(box, previous, frame, replaced)
            previous = box
            if valid[frame] and iou(box, seq.boxes[frame])[0] <= 0.0:
                flags[frame], tracking = FAILURE, False
                next_init = _next_valid(valid, frame + skip)
            else:
                flags[frame], boxes[frame] = TRACKED, box
    except Exception as exc:
        raise TrackingFailed(_where(seq, frame, exc)) from exc
    return VotRun(flags, boxes), times


def _where(seq: Sequence, frame: int, exc: BaseException) -> str:
    return f"at frame {frame + 1}/{len(seq)} ({seq.frames.describe(frame)}): {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- one sequence (runs in a worker)


@dataclass
class _Task:
    tracker: str
    sequence: Sequence
    results_dir: Path
    protocol: str
    repetitions: int
    seed: int
    tracker_kwargs: dict
    factory: Any = None  # sent to spawned workers, whose registry lacks the parent's registrations
    deterministic: bool = False  # set_deterministic() in the process that runs the sequence


@dataclass
class _Outcome:
    name: str
    ran: bool = False
    error: str | None = None
    replaced: dict[int, list[int]] = field(default_factory=dict)


def _write_ope(task: _Task, boxes: np.ndarray, times: np.ndarray, confidences: np.ndarray) -> None:
    seq = task.sequence
    box_path, time_path = ope_paths(task.results_dir, task.tracker, seq.name)
    # the confidence file first: the boxes file, written last, is what marks a sequence as done
    atomic_write_text(confidence_path(task.results_dir, task.tracker, seq.name), _format_rows(confidences))
    atomic_write_text(time_path, _format_times(times))
    atomic_write_text(box_path, _format_rows(seq.to_file_coords(boxes)))


def _write_vot(task: _Task, rep: int, run: VotRun, times: np.ndarray) -> None:
    seq = task.sequence
    box_path, time_path = vot_paths(task.results_dir, task.tracker, seq.name, rep)
    tracked = run.flags == TRACKED
    file_boxes = run.boxes.copy()
    file_boxes[tracked] = seq.to_file_coords(run.boxes[tracked])
    atomic_write_text(time_path, _format_times(times))
    atomic_write_text(box_path, "".join(line + "\n" for line in VotRun(run.flags, file_boxes).lines()))


def _run_sequence(task: _Task) -> _Outcome:
    """Run every missing repetition of one sequence; never raises (errors go in the outcome)."""
    seq = task.sequence
    out = _Outcome(seq.name)
    try:
        if task.factory is not None:
            available_trackers()  # load the built-ins first so that ours replaces, not clashes
            register_tracker(task.tracker, task.factory, replace=True)
        if task.deterministic:
            set_deterministic(task.seed)
        tracker = create_tracker(task.tracker, **task.tracker_kwargs)
        if task.protocol == "ope":
            todo = [] if is_complete(ope_paths(task.results_dir, task.tracker, seq.name), len(seq)) else [0]
        else:
            reps = task.repetitions if getattr(tracker, "stochastic", False) else 1
            todo = [
                r
                for r in range(reps)
                if not is_complete(vot_paths(task.results_dir, task.tracker, seq.name, r), len(seq))
            ]
        for rep in todo:
            replaced: list[int] = []
            if task.deterministic:
                set_deterministic(task.seed + rep)
            tracker.seed(task.seed + rep)
            if task.protocol == "ope":
                confidences = np.empty((len(seq), 2))
                boxes, times = track_ope(tracker, seq, replaced, confidences)
                _write_ope(task, boxes, times, confidences)
            else:
                run, times = track_vot(tracker, seq, replaced)
                _write_vot(task, rep, run, times)
            out.ran = True
            if replaced:
                out.replaced[rep] = replaced
    except TrackingFailed as exc:
        out.error = str(exc)
    except Exception as exc:  # a tracker that cannot be built, a disk error...
        out.error = f"with {type(exc).__name__}: {exc}"
    return out


# ---------------------------------------------------------------- the public entry point


def shard(sequences: list[Sequence]) -> list[Sequence]:
    """This rank's share of ``sequences`` under torchrun (env RANK, WORLD_SIZE); all of them otherwise."""
    rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
    if rank is None or world is None:
        return list(sequences)
    try:
        r, w = int(rank), int(world)
    except ValueError:
        raise ConfigError(f"RANK={rank!r} and WORLD_SIZE={world!r} must be integers") from None
    if not 0 <= r < w:
        raise ConfigError(f"RANK={r} must lie in [0, WORLD_SIZE={w})")
    return [s for i, s in enumerate(sequences) if i % w == r]


def picklable_factory(tracker: str, factory: Any) -> Any:
    """The factory to send to a spawned worker, or None when the worker can find it by name itself.

    A factory registered only in this process (a test's or a notebook's class) is sent along; one that
    cannot be pickled (a closure) must then be a name the worker's own registry knows.
    """
    try:
        pickle.dumps(factory)
        return factory
    except Exception as exc:
        if tracker in available_trackers() or ":" in tracker:
            return None
        raise ConfigError(
            f"tracker {tracker!r} cannot be sent to worker processes ({exc}); "
            "define it at module level or use jobs=1"
        ) from None


def _needs_run(tracker: str, factory: Any, seq: Sequence, results_dir: Path, protocol: str, reps: int) -> bool:
    if protocol == "ope":
        return not is_complete(ope_paths(results_dir, tracker, seq.name), len(seq))
    # a factory that is a class tells whether the tracker is stochastic without building one
    stochastic = getattr(factory, "stochastic", True)
    wanted = reps if stochastic else 1
    return not all(is_complete(vot_paths(results_dir, tracker, seq.name, r), len(seq)) for r in range(wanted))


def run_tracker(
    tracker: str,
    sequences: list[Sequence],
    results_dir: Path,
    protocol: Protocol = "ope",
    repetitions: int = 1,
    jobs: int = 1,
    tracker_kwargs: dict | None = None,
    seed: int = 0,
    progress: bool = True,
    deterministic: bool = False,
) -> list[str]:
    """Run ``tracker`` on every sequence not done yet; return the names of the sequences run.

    Sequences skipped because their files were complete are not in the returned list.
    ``protocol`` is ``"ope"`` (one pass) or ``"vot"`` (reset-based, ``repetitions`` runs of a
    stochastic tracker, one of a deterministic one, as the VOT toolkit does; whether a tracker is
    stochastic is read from its ``stochastic`` attribute). Run ``r`` (0-based) is seeded with
    ``tracker.seed(seed + r)`` before its first ``init``. ``jobs > 1`` runs sequences in that many
    spawned processes (the tracker's factory must then be importable: defined at module level).
    A tracker that raises on a sequence leaves no results file for it; the others go on, and a
    :class:`RunError` listing the failed sequences is raised at the end. ``deterministic`` calls
    :func:`~metatrack.determinism.set_deterministic` (one thread, seeded global RNGs) before every
    run of every sequence, in whichever process runs it, so that boxes are bit-identical from run
    to run and whatever ``jobs`` is (with ``jobs=1`` this changes the calling process's settings).
    """
    if protocol not in ("ope", "vot"):
        raise ConfigError(f"protocol {protocol!r}: use 'ope' or 'vot'")
    if repetitions < 1:
        raise ConfigError(f"repetitions must be at least 1, got {repetitions}")
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, got {jobs}")
    results_dir = Path(results_dir)
    factory = resolve_factory(tracker)  # an unknown name fails here, before any work
    mine = shard(sequences)
    for seq in mine:
        check_first_box(seq.boxes[0], source=f"sequence {seq.name!r}")
    todo = [s for s in mine if _needs_run(tracker, factory, s, results_dir, protocol, repetitions)]
    workers = min(jobs, len(todo))
    sent_factory = None
    if workers > 1:
        sent_factory = picklable_factory(tracker, factory)
    tasks = [
        _Task(tracker, s, results_dir, protocol, repetitions, seed, dict(tracker_kwargs or {}), sent_factory,
              deterministic)
        for s in todo
    ]
    skipped = len(mine) - len(todo)
    if skipped:
        log.info("%s: %d sequence(s) already done, skipped", tracker, skipped)

    failed: dict[str, str] = {}
    ran: list[str] = []
    bar = tqdm(total=len(tasks), desc=tracker, unit="seq", disable=not progress)

    def collect(outcome: _Outcome) -> None:
        bar.update(1)
        if outcome.error is not None:
            failed[outcome.name] = outcome.error
            bar.write(f"{tracker}: sequence {outcome.name!r} failed {outcome.error}")
        elif outcome.ran:
            ran.append(outcome.name)
        for rep, frames in outcome.replaced.items():
            log.warning(
                "%s returned a non-finite box on sequence %r (run %d) at frame(s) %s; the previous box was kept",
                tracker,
                outcome.name,
                rep + 1,
                ", ".join(str(f + 1) for f in frames[:20]),
            )

    try:
        if workers <= 1:
            for task in tasks:
                collect(_run_sequence(task))
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)  # workers x threads never oversubscribe
            # workers are spawned as sequences are submitted: each is born with the thread count
            with math_threads_for_children(threads):
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                           initializer=limit_thread_pools, initargs=(threads,))
                try:
                    futures = {pool.submit(_run_sequence, t): t.sequence.name for t in tasks}
                    for fut in as_completed(futures):
                        try:
                            collect(fut.result())
                        except Exception as exc:  # a worker that died (out of memory, killed)
                            died = f"(worker process died: {type(exc).__name__}: {exc})"
                            collect(_Outcome(futures[fut], error=died))
                except BaseException:  # Ctrl-C: do not wait for the queued sequences
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                pool.shutdown()
    finally:
        bar.close()
    order = {s.name: i for i, s in enumerate(mine)}
    ran.sort(key=order.__getitem__)
    if failed:
        raise RunError(tracker, dict(sorted(failed.items(), key=lambda kv: order[kv[0]])), ran)
    return ran
