"""Validation AUC against the number of distinct target objects meta-training saw.

Each model (``NAME=MODEL_FILE``, meta-trained by ``metatrack train --config
bench/configs/objects/*.yaml``) is tracked one-pass as MetaSDNet on the validation data
(``embedded:eval`` and ``real:validation``) with every seed in ``--seeds``; the success AUC of each
(model, split, seed) is kept in ``--json`` as soon as it is measured, so a killed run resumes where it
stopped. The table (docs/results.md#meta-training-data-objects-and-validation-auc) is rendered from
that JSON by bench/results_tables.py.

    .venv/bin/python bench/objects_curve.py --json bench/results/objects_curve.json \\
        --model "v2, 27 objects=runs/objects/v2-27/metasdnet.safetensors" ...
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _ope import ope  # noqa: E402

from metatrack.data import open_dataset  # noqa: E402
from metatrack.errors import ConfigError  # noqa: E402
from metatrack.io import atomic_write_json  # noqa: E402

SPLITS = ("embedded:eval", "real:validation")


def _train_facts(model: Path) -> dict:
    """What the model was meta-trained on, read from its run folder's config.yaml."""
    import yaml

    cfg_path = model.parent / "config.yaml"
    if not cfg_path.is_file():
        return {}
    cfg = yaml.safe_load(cfg_path.read_text())
    mt = cfg.get("meta_training", {})
    src = (mt.get("sources") or [{}])[0]
    opts = src.get("options") or {}
    return {"iterations": mt.get("iterations"), "dataset": src.get("dataset"), "options": opts}


def _cells(values: list[float]) -> str:
    if not values:
        return ""
    inner = ", ".join(f"{v:.3f}" for v in values)
    return f"{np.mean(values):.3f} ({inner})" if len(values) > 1 else f"{values[0]:.3f}"


def render_rows(doc: dict) -> list[list[str]]:
    def order(item):  # by train split version, then object count, then length
        entry = item[1]
        train = entry.get("train", {})
        return ((train.get("options") or {}).get("version", 2), entry.get("objects", 0), train.get("iterations") or 0)

    rows = []
    for name, entry in sorted(doc["models"].items(), key=order):
        facts = entry.get("train", {})
        iterations = f"{facts['iterations']:,}" if facts.get("iterations") else ""
        cells = [name, str(entry.get("objects", "")), iterations]
        for split in SPLITS:
            got = entry.get("auc", {}).get(split, {})
            cells.append(_cells([got[s] for s in sorted(got, key=int)]))
        rows.append(cells)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=MODEL_FILE[@OBJECTS[:ITERATIONS]]",
                        help="a label, the model file and, after @, the number of distinct target objects it saw "
                             "(and its meta-training iterations where no config.yaml lies beside the file)")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--frames", type=int, help="only the first N frames of each sequence (a quick check)")
    parser.add_argument("--merge", action="append", default=[], type=Path, metavar="JSON",
                        help="take the models measured into another JSON (runs scored in two slots)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/objects_curve.json")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    doc = json.loads(args.json.read_text()) if args.json.is_file() else {}
    doc.setdefault("models", {})
    for other in args.merge:
        for name, entry in json.loads(other.read_text())["models"].items():
            doc["models"].setdefault(name, entry)
    data = {split: open_dataset(split) for split in SPLITS}
    for spec in args.model:
        name, sep, rest = spec.partition("=")
        if not sep:
            raise ConfigError(f"--model {spec!r}: expected NAME=MODEL_FILE[@OBJECTS[:ITERATIONS]]")
        path, _, counts = rest.partition("@")
        objects, _, iterations = counts.partition(":")
        model = Path(path)
        if not model.is_file():
            raise ConfigError(f"--model {spec!r}: no model file {model}")
        entry = doc["models"].setdefault(name, {})
        entry.update({"model": str(model), "train": _train_facts(model)})
        if objects:
            entry["objects"] = int(objects)
        if iterations:
            entry["train"]["iterations"] = int(iterations)
        for split in SPLITS:
            for seed in seeds:
                got = entry.setdefault("auc", {}).setdefault(split, {})
                if str(seed) in got:
                    continue
                start = time.perf_counter()
                result = ope("metasdnet", data[split], {"model": str(model)}, seed=seed, frames=args.frames)
                got[str(seed)] = round(float(result["success_auc"]), 4)
                entry.setdefault("per_sequence", {}).setdefault(split, {})[str(seed)] = {
                    k: round(v, 4) for k, v in result["sequences"].items()}
                print(f"{name} {split} seed {seed}: AUC {got[str(seed)]:.3f} "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
                doc.update(_table(doc, seeds))
                atomic_write_json(args.json, doc)
    doc.update(_table(doc, seeds))
    atomic_write_json(args.json, doc)
    return 0


def _table(doc: dict, seeds: list[int]) -> dict:
    return {
        "kind": "table",
        "title": "MetaSDNet's validation AUC against the number of distinct target objects in meta-training",
        "columns": ["model", "target objects", "iterations", "`embedded:eval` AUC, mean (per seed)",
                    "`real:validation` AUC, mean (per seed)"],
        "rows": render_rows(doc),
        "split": "`embedded:eval` (validation: choices were made on it; 16 x 150 frames) and `real:validation` "
                 "(validation: choices were made on these clips; 6 clips, keyframes); OPE success AUC",
        "seeds": ", ".join(map(str, seeds)),
        "date": datetime.date.today().isoformat(),
        "machine": "this project's machine: 2-core Intel Xeon VM, 24 GiB, no GPU, one torch thread",
        "command": ".venv/bin/python bench/objects_curve.py --model NAME=FILE@OBJECTS ...",
    }


if __name__ == "__main__":
    raise SystemExit(main())
