"""The paper's Table 1, Table 2 and Figure 3 in our numbers, with every row the paper has, on every data role.

Table 1 (the VOT reset protocol: EAO, accuracy, failures; and one-pass success AUC and precision at
20 px), Table 2 (the first frame: the tracker's measure before and after its first-frame training, on
the next 5 frames, and the training time) and Figure 3 (success and precision plots, the CREST family
and the MDNet family) for MetaCREST-01, CREST, CREST-Base, CREST-01/03/05/10/20/converged, MetaSDNet-01,
pyMDNet-01/03/05/10/15/30 and SDNet-30, on the validation (``embedded:eval``, ``real:validation``) and
test (``embedded:test``, ``real:test``) roles; with each of the paper's claims checked against the
numbers. Nothing is chosen here: every role is reported as it comes.

    .venv/bin/python bench/paper_tables.py --cache runs/paper_tables_cache \\
        --table1 bench/results/paper_table1.json --table2 bench/results/paper_table2.json --figures docs/figures

Table 1's runs are split_bench.py's (``run_job``), cached per (tracker, split, seed) under ``--cache`` with
split_bench's file names, so a split_bench cache can seed it; a cached run from before the one-pass curves
were recorded gets a one-pass rerun (``run_ope_job``) that completes it, and the rerun's AUC is compared
with the cached one (``ope_rerun_max_auc_difference`` in the JSON). Table 2's runs
(:func:`metatrack.evaluation.init_analysis.analyse_tracker`) are cached beside them. A killed run resumes
from its cache.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from meta_bench import load, machine
from split_bench import DEFAULT_SPLITS, build, run_job, run_ope_job, score_split

from metatrack.determinism import limit_thread_pools, math_threads_for_children

ROOT = Path(__file__).resolve().parents[1]

#: the rows of the paper's Tables 1 and 2, by family (the paper's names: MetaCREST-01 is our metacrest-01,
#: its one alpha-step (the default metacrest solves its first filter in closed form), CREST-65 is our
#: crest-converged, MetaSDNet-01, pyMDNet-N is our mdnet-N; SDNet-30, for reference, starts from no offline
#: training at all)
CREST_ROWS = ("metacrest-01", "crest", "crest-base", "crest-01", "crest-03", "crest-05", "crest-10", "crest-20",
              "crest-converged")
SDNET_ROWS = ("metasdnet", "mdnet-01", "mdnet-03", "mdnet-05", "mdnet-10", "mdnet-15", "mdnet-30", "sdnet-30")
PAPER_ROWS = CREST_ROWS + SDNET_ROWS

#: the paper's claims: (meta-tracker, reference); Table 1's are "at least as good" in EAO and AUC (and
#: Figure 3's in precision),
#: Table 2's a first-frame training time at least the ratio shorter with a look-ahead not worse
TABLE1_CLAIMS = (("metacrest-01", "crest"), ("metasdnet", "mdnet-30"))
TABLE2_CLAIMS = (("metacrest-01", "crest", 10.0), ("metasdnet", "mdnet-30", 20.0))


def _safe(text: str) -> str:
    return text.replace("/", "_").replace("@", "__at__").replace(":", "_")


def cache_path(cache: Path, tracker: str, spec: str, seed: int, table: int = 1) -> Path:
    """Where a run is kept: split_bench.py's name for Table 1, with a ``table2__`` prefix for Table 2."""
    name = f"{_safe(tracker)}__{_safe(spec)}__{seed}.json"
    return cache / (name if table == 1 else f"table2__{name}")


def table2_job(tracker: str, spec: str, seed: int, lookahead: int) -> dict[str, Any]:
    """Table 2 of one tracker on one split with one seed (the analysis of ``metatrack init-analysis``)."""
    from metatrack.data import open_dataset
    from metatrack.evaluation.init_analysis import analyse_tracker

    name, _, model = tracker.partition("@")
    if model:
        raise SystemExit(f"--trackers {tracker}: Table 2 takes registered names only")
    return analyse_tracker(name, open_dataset(spec), lookahead=lookahead, seed=seed)


def _half_range(values: list[float]) -> float:
    return (max(values) - min(values)) / 2 if len(values) > 1 else 0.0


def verdict(meta: float, reference: float, spread: float, higher_is_better: bool = True) -> str:
    """"holds", "tie" (the difference within the seeds' spread) or "does not hold"."""
    diff = (meta - reference) if higher_is_better else (reference - meta)
    if abs(diff) <= spread:
        return "tie"
    return "holds" if diff > 0 else "does not hold"


def table1_claims(results: dict[str, dict[str, Any]], splits: dict[str, str]) -> list[dict[str, Any]]:
    """Each Table 1 claim on each role: the two values, the seeds' spread and the verdict."""
    claims = []
    for meta, ref in TABLE1_CLAIMS:
        if meta not in results or ref not in results:
            continue
        for metric, per_seed in (("eao", "eao_per_seed"), ("success_auc", "success_auc_per_seed"),
                                 ("precision", "precision_per_seed")):
            for role in splits:
                a, b = results[meta][role], results[ref][role]
                spread = _half_range(a[per_seed]) + _half_range(b[per_seed])
                claims.append({"claim": f"{meta} {metric} >= {ref}'s", "role": role, "meta": a[metric],
                               "reference": b[metric], "spread": spread,
                               "verdict": verdict(a[metric], b[metric], spread)})
    return claims


def table2_claims(results: dict[str, dict[str, Any]], splits: dict[str, str]) -> list[dict[str, Any]]:
    """Each Table 2 claim on each role: the time ratio against its target, the look-ahead compared."""
    claims = []
    for meta, ref, target in TABLE2_CLAIMS:
        if meta not in results or ref not in results:
            continue
        for role in splits:
            a, b = results[meta][role], results[ref][role]
            ratio = b["train_seconds"] / max(a["train_seconds"], 1e-12)
            claims.append({"claim": f"{ref}'s first-frame training time / {meta}'s >= {target:g}x", "role": role,
                           "meta": a["train_seconds"], "reference": b["train_seconds"], "ratio": ratio,
                           "verdict": "holds" if ratio >= target else "does not hold"})
            higher = a["measure"] == "accuracy"  # accuracy: higher is better; a loss: lower
            spread = _half_range(a["lookahead_per_seed"]) + _half_range(b["lookahead_per_seed"])
            claims.append({"claim": f"{meta} look-ahead {a['measure']} not worse than {ref}'s", "role": role,
                           "meta": a["lookahead"], "reference": b["lookahead"], "spread": spread,
                           "verdict": verdict(a["lookahead"], b["lookahead"], spread, higher)})
    return claims


def figure3(results: dict[str, dict[str, Any]], splits: dict[str, str], out: Path, prefix: str) -> list[Path]:
    """One PNG per role, laid out as the paper's Figure 3: success and precision plots, the CREST family
    above, the MDNet family below (legends: AUC, precision at 20 px; trackers without curves are left out)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from metatrack.evaluation.otb import PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS
    from metatrack.evaluation.report import legend_entries, tracker_styles
    from metatrack.io import atomic_write

    written = []
    families = [("CREST family", [t for t in results if not _sdnet_family(t)]),
                ("MDNet family", [t for t in results if _sdnet_family(t)])]
    families = [(title, rows) for title, rows in families if rows]
    for role, spec in splits.items():
        fig = Figure(figsize=(12.0, 4.6 * len(families)), dpi=100)
        FigureCanvasAgg(fig)
        for i, (title, rows) in enumerate(families):
            scores = {t: results[t][role] for t in rows if "success_curve" in results[t][role]}
            styles = tracker_styles([t for t, _ in legend_entries(scores, "success_auc")])
            for j, (curve, key, x, xlabel, ylabel, where) in enumerate((
                    ("success_curve", "success_auc", SUCCESS_THRESHOLDS, "Overlap threshold", "Success rate",
                     "lower left"),
                    ("precision_curve", "precision", PRECISION_THRESHOLDS, "Location error threshold (pixels)",
                     "Precision", "lower right"))):
                ax = fig.add_subplot(len(families), 2, 2 * i + j + 1)
                for name, value in legend_entries(scores, key):
                    ax.plot(x, scores[name][curve], label=f"{name} [{value:.3f}]", **styles[name])
                ax.set_xlim(float(x[0]), float(x[-1]))
                ax.set_ylim(0.0, 1.0)
                ax.set_xlabel(xlabel)
                ax.set_ylabel(ylabel)
                ax.set_title(f"{'Success' if j == 0 else 'Precision'} plots of OPE: {title}")
                ax.grid(True, linestyle=":", linewidth=0.8, color="0.6")
                if scores:
                    ax.legend(loc=where, fontsize=8, framealpha=0.85)
        fig.suptitle(f"{role}: {spec}")
        fig.subplots_adjust(hspace=0.3)
        # 80 dpi (960 x 740 pixels a family row pair): readable, and a small file in the repository
        written.append(atomic_write(out / f"{prefix}_{role}.png",
                                    lambda f, fig=fig: fig.savefig(f, format="png", dpi=80, bbox_inches="tight")))
    return written


def _sdnet_family(tracker: str) -> bool:
    return tracker.split("@")[0].startswith(("metasdnet", "mdnet", "sdnet"))


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--splits", nargs="+", default=list(DEFAULT_SPLITS), help="ROLE=FORMAT:PATH pairs")
    p.add_argument("--trackers", nargs="+", default=list(PAPER_ROWS), help="the rows (default: the paper's)")
    p.add_argument("--seeds", default="0,1", help="comma-separated seeds of the stochastic trackers")
    p.add_argument("--jobs", type=int, default=1, help="worker processes, one math thread each")
    p.add_argument("--cache", required=True, help="each run is kept here and reused on the next call")
    p.add_argument("--table1", help="write Table 1 (and Figure 3's curves) here")
    p.add_argument("--table2", help="write Table 2 here")
    p.add_argument("--figures", help="write Figure 3 here, one PNG per role")
    p.add_argument("--figure-prefix", default="paper_fig3", help="the PNGs' name: PREFIX_ROLE.png")
    p.add_argument("--lookahead", type=int, default=5, help="Table 2's future frames (paper: 5)")
    p.add_argument("--only-run", action="store_true", help="run and cache the missing runs, write nothing else")
    p.add_argument("--code", help="the commit whose code made the cached runs (default: this checkout's HEAD)")
    p.add_argument("--note", default="", help="added to the JSON's note (how and when the cached runs were made)")
    args = p.parse_args(argv)
    from metatrack.data import open_dataset
    from metatrack.io import atomic_write_text

    if not (args.table1 or args.table2 or args.figures or args.only_run):
        p.error("nothing to write: give --table1, --table2, --figures or --only-run")
    splits = dict(s.split("=", 1) for s in args.splits)
    for spec in splits.values():  # read (and on first use write) every data set once, before the workers start
        open_dataset(spec)
    seeds = [int(s) for s in args.seeds.split(",")]
    stochastic = {t: bool(getattr(build(t), "stochastic", True)) for t in args.trackers}
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    started, load_before = time.time(), load()

    want1 = bool(args.table1 or args.figures or args.only_run)
    want2 = bool(args.table2 or args.only_run)
    jobs = [(t, role, spec, seed) for t in args.trackers for role, spec in splits.items()
            for seed in (seeds if stochastic[t] else seeds[:1])]
    runs1: dict[tuple[str, str], dict[int, dict]] = {}  # (tracker, role) -> seed -> run
    runs2: dict[tuple[str, str], dict[int, dict]] = {}
    rerun_diffs: list[float] = []
    # spawned workers: a forked one inherits the parent's thread pools (torch, OpenCV) and can hang in them
    # and born with one math thread: NumPy's OpenBLAS, loaded before the start-up function runs, keeps the
    # count it loaded with, and two threads' sums part the tracks after ~100 frames (docs/results.md)
    with math_threads_for_children(1), ProcessPoolExecutor(
            max_workers=args.jobs, initializer=limit_thread_pools, initargs=(1,),
            mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {}
        for t, role, spec, seed in jobs:
            path = cache_path(cache, t, spec, seed)
            if want1 and path.is_file():
                run = json.loads(path.read_text())
                runs1.setdefault((t, role), {})[seed] = run
                if not run.get("ope_curves"):  # cached before the curves were recorded: complete it
                    futures[(1, t, role, spec, seed)] = pool.submit(run_ope_job, t, spec, seed)
            elif want1:
                futures[(1, t, role, spec, seed)] = pool.submit(run_job, t, spec, seed)
            path2 = cache_path(cache, t, spec, seed, table=2)
            if want2 and path2.is_file():
                runs2.setdefault((t, role), {})[seed] = json.loads(path2.read_text())
            elif want2:
                futures[(2, t, role, spec, seed)] = pool.submit(table2_job, t, spec, seed, args.lookahead)
        for (table, t, role, spec, seed), future in futures.items():
            result = future.result()
            if table == 2:
                runs2.setdefault((t, role), {})[seed] = result
                atomic_write_text(cache_path(cache, t, spec, seed, table=2), json.dumps(result))
            elif "vot" in result:
                runs1.setdefault((t, role), {})[seed] = result
                atomic_write_text(cache_path(cache, t, spec, seed), json.dumps(result))
            else:  # a one-pass rerun completing a cached run
                path = cache_path(cache, t, spec, seed)
                run = json.loads(path.read_text())
                rerun_diffs += [abs(result["ope"][s]["auc"] - run["ope"][s]["auc"]) for s in run["ope"]]
                run.update(ope=result["ope"], ope_curves=result["ope_curves"])
                atomic_write_text(path, json.dumps(run))
                runs1[t, role][seed] = run
            print(f"done: table {table} {t} on {role} (seed {seed})", flush=True)
    if args.only_run:
        return 0
    from results_tables import render_paper_table1, render_paper_table2  # after the runs: only the writing needs it

    m = {**machine(), "torch_threads": 1, "worker_processes": args.jobs}
    common = {"date": datetime.date.today().isoformat(), "machine": m, "code": args.code or _commit(),
              "load_before": load_before, "splits": splits, "seeds": seeds, "stochastic": stochastic}
    note = ("Nothing was chosen on these numbers, on any role: the rows are the paper's trackers with the shipped "
            "models and settings, and the test roles (embedded:test, real:test) are reported as they came. "
            + args.note).strip()
    if want1:
        results = {}
        for t in args.trackers:
            results[t] = {}
            for role, spec in splits.items():
                runs = [runs1[t, role][seed] for seed in sorted(runs1[t, role])]
                r = score_split(spec, runs)
                r["eao_per_seed"] = [score_split(spec, [run])["eao"] for run in runs] if len(runs) > 1 else [r["eao"]]
                r["robustness"] = r["failures"] / len(r["sequences"])  # failures per sequence (VOT2016's R)
                results[t][role] = r
        doc1 = {"kind": "paper_table1", **common, "load_after": load(), "seconds": round(time.time() - started, 1),
                "ope_rerun_max_auc_difference": max(rerun_diffs) if rerun_diffs else None,
                "results": results, "claims": table1_claims(results, splits), "note": note}
        if args.figures:
            for path in figure3(results, splits, Path(args.figures), args.figure_prefix):
                print(f"written: {path}")
        if args.table1:
            print("\n" + render_paper_table1(Path(args.table1).stem, doc1))
            atomic_write_text(args.table1, json.dumps(doc1, indent=1) + "\n")
            print(f"written: {args.table1}")
    if want2:
        fields = ("before", "after", "lookahead", "train_seconds", "frame_seconds")
        results2: dict[str, dict[str, Any]] = {}
        for t in args.trackers:
            results2[t] = {}
            for role in splits:
                runs = [runs2[t, role][seed] for seed in sorted(runs2[t, role])]
                results2[t][role] = {"measure": runs[0]["measure"],
                                     **{k: float(np.mean([r[k] for r in runs])) for k in fields},
                                     **{f"{k}_per_seed": [r[k] for r in runs] for k in fields},
                                     "sequences": len(runs[0]["sequences"])}
        doc2 = {"kind": "paper_table2", **common, "lookahead": args.lookahead, "results": results2,
                "claims": table2_claims(results2, splits), "note": note}
        if args.table2:
            print("\n" + render_paper_table2(Path(args.table2).stem, doc2))
            atomic_write_text(args.table2, json.dumps(doc2, indent=1) + "\n")
            print(f"written: {args.table2}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
