"""The result tables of the documentation, generated from the measurements in bench/results/*.json.

Every JSON file in ``bench/results/`` is rendered as one Markdown table (with a line of where and
how it was measured, taken from the JSON's own fields) into a generated block of ``README.md`` or
``docs/*.md``::

    <!-- generated: metasdnet_bench -->
    ...the table, written by this script: never edit it by hand...
    <!-- end generated -->

The block's name is the JSON file's stem. The text around the blocks (what was chosen on which
split, why a run was made) is written by hand.

    .venv/bin/python bench/results_tables.py            # rewrite every generated block
    .venv/bin/python bench/results_tables.py --check    # exit 1 if a block differs from its JSON

``--check`` also fails when a JSON file has no block anywhere, or a block names no JSON file, so a
measurement cannot be left out of the docs nor a table outlive its data.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)

#: the data role of each split (issue 13: train, validation, test); printed beside every number
ROLES = {
    "embedded:eval": "validation: choices were made on it",
    "embedded:train": "train: the meta-training split",
    "embedded:test": "test: reported, never used to choose",
    "real:validation": "validation: choices were made on these clips",
    "real:test": "test: reported, never used to choose",
    "embedded:crossing": "validation: small targets, look-alikes crossing, static occluders",
    "embedded:hard": "validation: eval's imagery under the test split's conditions",
    "embedded:faces": "validation: portrait faces no other split holds, under the test split's conditions",
    "embedded:backdrops": "validation: backgrounds of the test split's kinds from sources no other split uses, "
    "under its conditions",
}


def documents(root: Path) -> list[Path]:
    """The Markdown files that may hold generated blocks: README.md and docs/*.md."""
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.is_file()]


def split_label(spec: str) -> str:
    role = ROLES.get(spec)
    return f"`{spec}` ({role})" if role else f"`{spec}`"


def _seconds(value: float) -> str:
    return f"{value / 60:.1f} min"


def _loads(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def _machine(m: dict[str, Any]) -> str:
    threads = f"{m['torch_threads']} torch thread" + ("s" if m["torch_threads"] != 1 else "")
    return f"{m['cpu']}, {m['cores']} cores, {threads}, torch {m['torch']}, Python {m['python']}"


def _sequences(names: list[str]) -> str:
    if len(names) <= 2:
        return ", ".join(f"`{n}`" for n in names)
    return f"{len(names)} sequences (`{names[0]}` ... `{names[-1]}`)"


# ---------------------------------------------------------------- renderers, one per JSON structure


def render_meta_bench(name: str, data: dict[str, Any]) -> str:
    """bench/meta_bench.py: one-pass tracking per seed and the first-frame analysis (Table 2)."""
    ope, first = data["ope"], data["first_frame"]
    measure = next(iter(first.values()))["measure"] if first else "measure"
    lines = [
        f"| tracker | success AUC | SR@0.5 | precision@20px | fps | B ({measure}) | A | LH (next 5 frames) "
        "| training step (s) | whole first frame (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    shown = [n for n in first if n not in ope and not (n.endswith("-01") and n[:-3] in ope)]
    for tracker in [*ope, *shown]:
        r = ope.get(tracker)
        f = first.get(tracker) or first.get(f"{tracker}-01") or {}
        label = f"{tracker} (-01)" if tracker not in first and f"{tracker}-01" in first else tracker
        cells = ["", "", "", ""]
        if r:
            auc = f"{r['success_auc']:.3f}"
            if len(r.get("success_auc_per_seed", [])) > 1:
                auc += " (" + ", ".join(f"{a:.3f}" for a in r["success_auc_per_seed"]) + ")"
            cells = [auc, f"{r['success_rate']:.3f}", f"{r['precision']:.3f}", f"{r['fps']:.1f}"]
        cells += [f"{f[k]:.3f}" if k in f else "" for k in ("before", "after", "lookahead")]
        cells += [f"{f[k]:.4f}" if k in f else "" for k in ("train_seconds", "frame_seconds")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    seeds = ", ".join(str(s) for s in data["seeds"])
    auc_note = "AUC: the mean over the seeds, each seed's in brackets" if len(data["seeds"]) > 1 else "one run"
    lines += [
        "",
        f"From `bench/results/{name}.json`: {split_label(data['dataset'])}, {_sequences(data['sequences'])}, "
        f"{data['frames']:,} frames; seeds {seeds} ({auc_note}; deterministic trackers run once); "
        f"{data['date']}; {_machine(data['machine'])}; load average before {_loads(data['load_before'])}, "
        f"after {_loads(data['load_after'])}; {_seconds(data['seconds'])}. fps: frames after the first over "
        "the seconds of `update()`.",
    ]
    if data.get("ratios"):
        ratios = data["ratios"]
        lines.append(f"Ratios of the reference to the meta-tracker: training step {ratios['training_step']:.1f}x, "
                     f"whole first frame {ratios['first_frame']:.1f}x.")
    if data.get("targets"):
        lines += ["", "| target | met |", "| --- | --- |"]
        lines += [f"| {target} | {'met' if ok else 'NOT met'} |" for target, ok in data["targets"].items()]
    return "\n".join(lines)


def render_tracker_bench(name: str, data: dict[str, Any]) -> str:
    """``metatrack bench``: first-frame time, fps, peak memory, AUC and precision per tracker."""
    lines = [
        "| tracker | first frame (s) | fps | peak memory (MB) | success AUC | precision@20px |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = sorted(data["trackers"].items(), key=lambda kv: -kv[1]["success_auc"])
    for tracker, r in rows:
        lines.append(f"| {tracker} | {r['init_seconds']:.3f} | {r['fps']:.1f} | {r['peak_memory_mb']:.0f} | "
                     f"{r['success_auc']:.3f} | {r['precision']:.3f} |")
    lines += ["", f"From `bench/results/{name}.json`: {_sequences(data['sequences'])}; the file records no date, "
                  "seed or machine (the text beside the table gives them)."]
    return "\n".join(lines)


def render_split_bench(name: str, data: dict[str, Any]) -> str:
    """bench/split_bench.py: every tracker on every data role, OPE and VOT side by side."""
    splits = data["splits"]
    head = "| tracker | " + " | ".join(f"{role}: AUC | {role}: EAO (failures)" for role in splits) + " |"
    lines = [head, "| --- |" + " ---: | ---: |" * len(splits)]
    for tracker, per_split in data["results"].items():
        cells = []
        for role in splits:
            r = per_split[role]
            seeds = r["success_auc_per_seed"]
            spread = f" ±{(max(seeds) - min(seeds)) / 2:.3f}" if len(seeds) > 1 else ""
            miou = f" (mIoU {r['mean_iou']:.2f})" if r.get("mean_iou") is not None and role.startswith("real") else ""
            cells += [f"{r['success_auc']:.3f}{spread}{miou}", f"{r['eao']:.3f} ({r['failures']:g})"]
        lines.append(f"| {tracker} | " + " | ".join(cells) + " |")
    roles = "; ".join(f"{role} = {split_label(spec)}" for role, spec in splits.items())
    m = data["machine"]
    timed = [t for t, per_split in data["results"].items()
             if all(r.get("first_frame_seconds") is not None for r in per_split.values())]
    # speed only where one run timed every tracker: fps of update() and seconds of init(), over every
    # split (a file whose rows come from runs that did not all time themselves leaves it out)
    if timed and len(timed) == len(data["results"]):
        lines += ["", "| tracker | " + " | ".join(f"{role}: fps | {role}: first frame (s)" for role in splits) + " |",
                  "| --- |" + " ---: | ---: |" * len(splits)]
        for tracker in timed:
            cells = [f"{data['results'][tracker][role]['fps']:.1f} | "
                     f"{data['results'][tracker][role]['first_frame_seconds']:.3f}" for role in splits]
            lines.append(f"| {tracker} | " + " | ".join(cells) + " |")
    lines += ["", f"From `bench/results/{name}.json`, {data['date']}: {roles}. Seeds {data['seeds']} for the "
                  "trackers that sample at random (AUC: mean ± half the range over seeds; VOT: the seeds' runs "
                  "pooled as repetitions), one run for the others; on the real clips, whose boxes are keyframes "
                  f"only, mIoU is the mean IoU over the annotated frames after the first. {m['cpu']}, "
                  f"{m['cores']} cores, "
                  f"{m.get('worker_processes', 1)} worker processes of one torch thread, {_seconds(data['seconds'])}."]
    if data.get("note"):
        lines[-1] += f" {data['note']}"
    if data.get("per_sequence"):
        lines += ["", *_per_sequence(data)]
    return "\n".join(lines)


def _per_sequence(data: dict[str, Any]) -> list[str]:
    """Each sequence's one-pass success AUC per tracker (the mean over its seeds), one table per split."""
    lines = []
    trackers = list(data["results"])
    for role, spec in data["splits"].items():
        first = data["results"][trackers[0]][role]["sequences"]
        lines += [f"Success AUC per sequence, {split_label(spec)} (mean over the seeds):", "",
                  "| sequence | " + " | ".join(trackers) + " |", "| --- |" + " ---: |" * len(trackers)]
        for seq in first:
            runs = [data["results"][t][role]["sequences"][seq] for t in trackers]
            cells = [f"{sum(r['auc'] for r in rs) / len(rs):.3f}" for rs in runs]
            lines.append(f"| `{seq}` | " + " | ".join(cells) + " |")
    return lines


def _claims_table(claims: list[dict[str, Any]], digits: int = 3) -> list[str]:
    """The paper's claims, one line per claim and role: both values, the seeds' spread (or the time
    ratio) and whether the claim holds here."""
    if not claims:
        return ["(none: the rows a claim compares are not in this table)"]
    lines = ["| claim | role | meta-tracker | reference | seeds' spread / ratio | verdict |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    for c in claims:
        extra = f"{c['ratio']:.1f}x" if "ratio" in c else f"±{c['spread']:.{digits}f}"
        verdict = {"tie": "tie (within the seeds' spread)"}.get(c["verdict"], c["verdict"])
        lines.append(f"| {c['claim']} | {c['role']} | {c['meta']:.{digits}f} | {c['reference']:.{digits}f} | "
                     f"{extra} | {verdict} |")
    return lines


def _paper_footer(name: str, data: dict[str, Any]) -> str:
    m = data["machine"]
    code = f" at commit {data['code']}" if data.get("code") else ""
    return (f"From `bench/results/{name}.json`, {data['date']}{code}: seeds {data['seeds']} for the trackers that "
            f"sample at random (mean over the seeds, ± half their range), one run for the others; {m['cpu']}, "
            f"{m['cores']} cores, {m.get('worker_processes', 1)} worker process(es) of one torch thread. "
            f"{data.get('note', '')}").rstrip()


def render_paper_table1(name: str, data: dict[str, Any]) -> str:
    """bench/paper_tables.py: the paper's Table 1 (VOT reset protocol) with the one-pass AUC and
    precision, one table per data role, and the paper's claims checked."""
    lines: list[str] = []
    for role, spec in data["splits"].items():
        lines += [f"**{role}**: {split_label(spec)}", "",
                  "| tracker | EAO | accuracy | failures | R (failures / sequence) | success AUC | precision@20px |",
                  "| --- |" + " ---: |" * 6]
        for tracker, per_split in data["results"].items():
            r = per_split[role]

            def spread(values: list[float]) -> str:
                return f" ±{(max(values) - min(values)) / 2:.3f}" if len(values) > 1 else ""

            precision = (f"{r['precision']:.3f}{spread(r['precision_per_seed'])}" if r.get("precision") is not None
                         else "n/a")
            lines.append(f"| {tracker} | {r['eao']:.3f}{spread(r['eao_per_seed'])} | {r['accuracy']:.3f} | "
                         f"{r['failures']:g} | {r['robustness']:.2f} | "
                         f"{r['success_auc']:.3f}{spread(r['success_auc_per_seed'])} | {precision} |")
        lines.append("")
    lines += ["The paper's claims (Table 1 and Figure 3), as measured here:", "", *_claims_table(data["claims"]), "",
              _paper_footer(name, data) + " EAO over the VOT reset protocol's range for these sequence lengths, "
              "the seeds' runs pooled as repetitions (± half the range of the seeds' own EAO); failures: the mean "
              "over the seeds of the total; precision n/a: runs cached before it was recorded. First-frame times: "
              "Table 2."]
    if data.get("ope_rerun_max_auc_difference") is not None:
        lines[-1] += (" The one-pass runs of the rows cached before the curves were recorded were run again; "
                      f"their success AUC per sequence differs from the cached runs' by at most "
                      f"{data['ope_rerun_max_auc_difference']:.2g}.")
    return "\n".join(lines)


def render_paper_table2(name: str, data: dict[str, Any]) -> str:
    """bench/paper_tables.py: the paper's Table 2 (the first frame), one table per data role, and the
    paper's claims checked."""
    lines: list[str] = []
    for role, spec in data["splits"].items():
        sequences = next(iter(data["results"].values()))[role]["sequences"]
        lines += [f"**{role}**: {split_label(spec)}, the first frame of each of its {sequences} sequences", "",
                  "| tracker | measure | B (before) | A (after) | LH (next frames) | training step (s) "
                  "| whole first frame (s) |", "| --- | --- |" + " ---: |" * 5]
        for tracker, per_split in data["results"].items():
            r = per_split[role]
            lines.append(f"| {tracker} | {r['measure']} | {r['before']:.3f} | {r['after']:.3f} | {r['lookahead']:.3f} "
                         f"| {r['train_seconds']:.4f} | {r['frame_seconds']:.4f} |")
        lines.append("")
    lines += ["The paper's claims (Table 2), as measured here:", "", *_claims_table(data["claims"], digits=4), "",
              _paper_footer(name, data) + f" LH: the next {data['lookahead']} frames' samples (on the real clips "
              "only those of them with a keyframe box); times: wall clock on this shared CPU, one thread."]
    return "\n".join(lines)


def render_memory(name: str, data: dict[str, Any]) -> str:
    """bench/long_video_memory.py: resident memory over long synthetic videos."""
    lines = [
        "| tracker | frames | peak RSS (MB) | RSS after init (MB) | growth over the last 80 % (MB / 1k frames) "
        "| fps | mean IoU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in data["rows"]:
        if "error" in r:
            lines.append(f"| {r['tracker']} | {r['frames']:,} | not run: {r['error'][:80]} | | | | |")
            continue
        lines.append(f"| {r['tracker']} | {r['frames']:,} | {r['peak_rss_mb']:.0f} | {r['rss_after_init_mb']:.0f} | "
                     f"{r['growth_mb_per_1000_frames']:+.1f} | {r['fps']:.1f} | {r['mean_iou']:.2f} |")
    width, height = data["size"]
    lines += ["", f"From `bench/results/{name}.json`: synthetic {width}x{height} video, {data['cpus']} CPUs, "
                  f"`{data['machine']}`."]
    return "\n".join(lines)


def _numeric_column(cells: list[str]) -> bool:
    """Right-align a column whose filled cells mostly start with a number."""
    filled = [c for c in cells if c.strip()]
    return sum(bool(re.match(r"[-+]?[0-9]", c)) for c in filled) > len(filled) / 2


def _string_rows(name: str, data: dict[str, Any]) -> list[str]:
    """The Markdown table of ``data``'s columns and rows of strings (numbers kept as written)."""
    columns = data["columns"]
    right = [i > 0 and _numeric_column([row[i] for row in data["rows"]]) for i in range(len(columns))]
    lines = ["| " + " | ".join(columns) + " |", "|" + "".join(" ---: |" if r else " --- |" for r in right)]
    for row in data["rows"]:
        if len(row) != len(columns):
            raise ValueError(f"{name}.json: row {row!r} has {len(row)} cells for {len(columns)} columns")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def render_transcribed(name: str, data: dict[str, Any]) -> str:
    """A table transcribed from a run whose own output was not kept: the values as it printed them,
    as strings (so that nothing is re-rounded), with where and how it was measured."""
    lines = _string_rows(name, data) + ["", f"From `bench/results/{name}.json`: {data['split']}; seeds "
                                         f"{data['seeds']}; {data['date']}; {data['machine']}."]
    commands = data.get("command") or []
    commands = [commands] if isinstance(commands, str) else commands
    if commands:
        label = "Command: " if len(commands) == 1 else "Commands: "
        lines.append(label + "; ".join(f"`{c}`" for c in commands) + ".")
    lines.append(f"Transcribed from {data['source']}.")
    return "\n".join(lines)


def render_table(name: str, data: dict[str, Any]) -> str:
    """A table a bench script wrote as it measured (``"kind": "table"``): its rows as strings, with
    where and how it was measured."""
    lines = _string_rows(name, data) + ["", f"From `bench/results/{name}.json`: {data['split']}; seeds "
                                         f"{data['seeds']}; {data['date']}; {data['machine']}. "
                                         f"Command: `{data['command']}`."]
    return "\n".join(lines)


def emit_table(data: dict[str, Any], json_path: str | None, name: str) -> None:
    """Print a bench script's table as the docs will show it and, given a path, write its JSON there
    (atomically); ``name`` is the table's when no path gives one."""
    print(render_table(Path(json_path).stem if json_path else name, data))
    if json_path:
        from metatrack.io import atomic_write_text

        atomic_write_text(json_path, json.dumps(data, indent=1) + "\n")


def renderer_for(data: Any) -> Callable[[str, dict[str, Any]], str] | None:
    """The renderer of a JSON structure, recognised by its keys."""
    if not isinstance(data, dict):
        return None
    if data.get("transcribed") and {"columns", "rows", "split", "seeds", "date", "machine", "source"} <= data.keys():
        return render_transcribed
    table_keys = {"columns", "rows", "split", "seeds", "date", "machine", "command"}
    if data.get("kind") == "table" and table_keys <= data.keys():
        return render_table
    if data.get("kind") == "split_bench":
        return render_split_bench
    if data.get("kind") == "paper_table1":
        return render_paper_table1
    if data.get("kind") == "paper_table2":
        return render_paper_table2
    if {"family", "ope", "first_frame", "seeds", "machine"} <= data.keys():
        return render_meta_bench
    if "trackers" in data and all(isinstance(r, dict) and "peak_memory_mb" in r for r in data["trackers"].values()):
        return render_tracker_bench
    if "rows" in data and all("peak_rss_mb" in r or "error" in r for r in data["rows"]):
        return render_memory
    return None


def tables(results: Path) -> dict[str, str]:
    """Name (the JSON's stem) -> the Markdown of every JSON file in ``results``."""
    out = {}
    for path in sorted(results.glob("*.json")):
        data = json.loads(path.read_text())
        render = renderer_for(data)
        if render is None:
            raise SystemExit(f"{path}: no table renderer knows this JSON structure (add one to {Path(__file__).name})")
        out[path.stem] = render(path.stem, data)
    return out


def rewrite(text: str, rendered: dict[str, str], where: str, problems: list[str]) -> tuple[str, set[str]]:
    """``text`` with every generated block replaced by its table; the names of the blocks found."""
    found: set[str] = set()

    def replace(m: re.Match) -> str:
        block = m.group("name")
        found.add(block)
        if block not in rendered:
            problems.append(f"{where}: block {block!r} names no bench/results/{block}.json")
            return m.group(0)
        return f"{m.group(1)}{rendered[block]}\n{m.group(4)}"

    return BLOCK.sub(replace, text), found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block differs from its JSON")
    p.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = p.parse_args(argv)
    root = args.root.resolve()
    rendered = tables(root / "bench" / "results")
    problems: list[str] = []
    used: set[str] = set()
    changed = []
    for doc in documents(root):
        text = doc.read_text()
        new, found = rewrite(text, rendered, str(doc.relative_to(root)), problems)
        used |= found
        if new != text:
            changed.append(doc)
            if args.check:
                diff = difflib.unified_diff(text.splitlines(), new.splitlines(), str(doc.relative_to(root)),
                                            "from bench/results", lineterm="", n=1)
                problems.append("\n".join(diff))
            else:
                doc.write_text(new)
    for missing in sorted(set(rendered) - used):
        problems.append(f"bench/results/{missing}.json has no <!-- generated: {missing} --> block in README.md "
                        "or docs/*.md")
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.check:
        if changed:
            print("generated tables differ from bench/results: run .venv/bin/python bench/results_tables.py",
                  file=sys.stderr)
        return 1 if problems else 0
    for doc in changed:
        print(f"rewrote {doc.relative_to(root)}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
