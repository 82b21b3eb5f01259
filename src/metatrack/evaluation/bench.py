"""``metatrack bench``: every tracker on the same sequences in one run, one table.

For each tracker: the first-frame time (``init`` alone, which for the meta-trackers includes the
feature extraction of the first frame), frames per second after the first frame, the peak resident
memory of the process that ran it (Python, its imports and the tracker), success AUC and precision.
Each tracker runs in a fresh process so that its peak memory is its own.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
from pathlib import Path
from typing import Any

from ..data.sequence import Sequence
from ..io import atomic_write_json, atomic_write_text
from ..trackers.base import create_tracker, register_tracker, resolve_factory
from .runner import picklable_factory, run_tracker
from .scoring import score_results


def _run_child(name: str, factory: Any, sequences: list[Sequence], results: Path, seed: int,
               tracker_kwargs: dict[str, Any]) -> float:
    if factory is not None:
        register_tracker(name, factory, replace=True)
    run_tracker(name, sequences, results, protocol="ope", jobs=1, seed=seed, progress=False,
                tracker_kwargs=tracker_kwargs)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux -> MB


def bench(trackers: list[str], sequences: list[Sequence], out_dir: str | Path, seed: int = 0,
          progress: bool = True, tracker_kwargs: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Run and score ``trackers``; returns {tracker: {init_seconds, fps, peak_memory_mb, success_auc, precision}}.

    Results go to ``out_dir/results`` (resumable like ``metatrack run``), or ``out_dir/results-onnx``
    for ``tracker_kwargs`` with ``runtime="onnx"`` so that the two runtimes' runs never mix; a tracker
    whose results were already complete is not run again and its peak memory is reported as unknown (None).
    """
    tracker_kwargs = dict(tracker_kwargs or {})
    runtime = tracker_kwargs.get("runtime", "torch")
    out = Path(out_dir)
    results = out / ("results" if runtime == "torch" else f"results-{runtime}")
    memory: dict[str, float | None] = {}
    ctx = mp.get_context("spawn")
    from tqdm import tqdm

    for name in tqdm(trackers, desc="bench", unit="tracker", disable=not progress):
        factory = picklable_factory(name, resolve_factory(name))
        # the runtime moves a backbone: trackers without one (the peers) run as they always do
        kwargs = tracker_kwargs if runtime == "torch" or hasattr(create_tracker(name), "use_runtime") else {}
        fresh = any(not (results / name / f"{s.name}.txt").exists() for s in sequences)
        pool = ctx.Pool(1)
        try:
            peak = pool.apply(_run_child, (name, factory, sequences, results, seed, kwargs))
            pool.close()  # the worker exits normally and unregisters its semaphores (tqdm's lock)
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
        memory[name] = peak if fresh else None
    scores = score_results(sequences, results, protocol="ope", trackers=trackers)
    table = {
        name: {
            "init_seconds": scores[name]["init_seconds"],
            "fps": scores[name]["fps"],
            "peak_memory_mb": memory[name],
            "success_auc": scores[name]["success_auc"],
            "precision": scores[name]["precision"],
        }
        for name in trackers
    }
    atomic_write_json(out / "bench.json", {"sequences": [s.name for s in sequences], "runtime": runtime,
                                           "trackers": table})
    atomic_write_text(out / "bench.md", format_bench(table, markdown=True))
    return table


def format_bench(table: dict[str, dict[str, Any]], markdown: bool = False) -> str:
    """One row per tracker, sorted by success AUC."""
    header = ["tracker", "first frame (s)", "fps", "peak memory (MB)", "success AUC", "precision@20px"]
    rows = []
    for name, r in sorted(table.items(), key=lambda kv: -(kv[1]["success_auc"] or 0)):
        mem = "-" if r["peak_memory_mb"] is None else f"{r['peak_memory_mb']:.0f}"
        fps = "-" if r["fps"] is None else f"{r['fps']:.1f}"
        init = "-" if r["init_seconds"] is None else f"{r['init_seconds']:.3f}"
        rows.append([name, init, fps, mem, f"{r['success_auc']:.3f}", f"{r['precision']:.3f}"])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])
