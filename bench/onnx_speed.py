"""Time a tracker's feature extractor per crop: torch against onnxruntime on the exported graph.

    .venv/bin/python bench/onnx_speed.py --trackers metasdnet metacrest --threads 1

Prints a Markdown table (ms per crop, the mean of ``--repeat`` runs after a warm-up) and, with
``--json``, writes it. The tracking path itself still runs torch: this says whether an ONNX path
would pay.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from metatrack.export import export_onnx
from metatrack.io import atomic_write_text
from metatrack.trackers import create_tracker


def per_call_ms(call, repeat: int) -> float:
    for _ in range(5):
        call()
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - start) / repeat * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trackers", nargs="+", default=["metasdnet", "metacrest"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=100)
    p.add_argument("--json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.trackers:
            module, side = create_tracker(name).feature_extractor()
            path = Path(tmp) / f"{name}.onnx"
            export_onnx(name, path)
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            crop = np.random.default_rng(0).uniform(0, 255, (1, 3, side, side)).astype(np.float32)
            x = torch.from_numpy(crop)
            with torch.no_grad():
                torch_ms = per_call_ms(lambda m=module, x=x: m(x), args.repeat)
            ort_ms = per_call_ms(lambda s=session, c=crop: s.run(None, {"crop": c}), args.repeat)
            rows[name] = {"crop": side, "torch_ms": torch_ms, "onnxruntime_ms": ort_ms}
    print(f"| tracker | crop | torch (ms) | onnxruntime (ms) | torch / onnxruntime |  ({args.threads} thread(s))")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in rows.items():
        print(f"| {name} | {r['crop']} | {r['torch_ms']:.2f} | {r['onnxruntime_ms']:.2f} | "
              f"{r['torch_ms'] / r['onnxruntime_ms']:.2f}x |")
    if args.json:
        atomic_write_text(args.json, json.dumps({"threads": args.threads, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
