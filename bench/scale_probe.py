"""How well a scale filter reads a target's true size change between two frames, on given features.

A tracker's size can only be as good as the evidence it reads. This asks DSST's one-dimensional
scale filter (``crest/scale_filter.py``'s equations) the question in isolation: trained on the true
box of frame ``a``, asked at the true centre of frame ``a + gap`` at frame a's size, which factor does
it answer, against the truth's? The tracker, its position and its running model play no part. The
features are DSST's own (gradient histograms and intensity per 4-pixel cell, ``hog``) or a
MobileNetV2 prefix's on each sample resized to ``--side`` pixels (``mobilenet``). Each pair is scored
by the log-scale error; the table gives the mean error over the pairs whose size changed by more than
5 %, the correlation of the answers with the truth there, and the error of answering 1 (no change).

    .venv/bin/python bench/scale_probe.py --dataset embedded:faces embedded:hard \\
        --features hog mobilenet:11:96 --json bench/results/scale_probe.json
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from meta_bench import cpu_name
from results_tables import emit_table

COLUMNS = ["features", "scales", "pairs", "pairs changing > 5 %", "mean log error, changing",
           "correlation with the truth, changing", "mean log error of answering 1, changing",
           "ms per estimate"]


def cnn_samples(layer: int, side: int):
    """The tracker's CNN sampler (crest/scale_filter.py) on MobileNetV2 ``features[:layer]``."""
    from metatrack.backbones import ImageNetNormalize, mobilenet_v2
    from metatrack.trackers.crest.scale_filter import CnnSamples

    return CnnSamples(mobilenet_v2().features[:layer].eval(), ImageNetNormalize(), side)


class RoiSamples:
    """MobileNetV2 ``features[:layer]`` computed once on a window around the target (``context`` x the
    square root of its area, resized to ``crop`` pixels, as MetaCREST's) and pooled per scale sample by
    RoIAlign into ``bins`` x ``bins``: no backbone pass per sample (RT-MDNet's way of scoring boxes)."""

    def __init__(self, layer: int, bins: int, crop: int = 248, context: float = 5.0):
        from metatrack.backbones import ImageNetNormalize, mobilenet_v2

        self.side, self.bins, self.context = crop, bins, context
        self.net, self.norm = mobilenet_v2().features[:layer].eval(), ImageNetNormalize()
        with torch.no_grad():
            self.stride = crop / self.net(torch.zeros(1, 3, crop, crop)).shape[-1]

    def __call__(self, image: np.ndarray, centre: np.ndarray, size: np.ndarray, factors: np.ndarray) -> np.ndarray:
        from torchvision.ops import roi_align

        from metatrack.trackers.crest.features import crop_rect

        side = self.context * float(np.sqrt(size[0] * size[1]))
        window = crop_rect(image, (float(centre[0]), float(centre[1])), (side, side), (self.side, self.side))
        k = self.side / side  # window pixels per frame pixel
        half = np.outer(factors, size) * k / 2
        c = self.side / 2
        boxes = np.column_stack([np.zeros(len(factors)), c - half[:, 0], c - half[:, 1],
                                 c + half[:, 0], c + half[:, 1]])
        with torch.no_grad():
            fmap = self.net(self.norm(torch.from_numpy(window[None]).permute(0, 3, 1, 2).float()))
            x = roi_align(fmap, torch.from_numpy(boxes).float(), self.bins, 1.0 / self.stride, 2, aligned=True)
        x = x.reshape(len(factors), -1).numpy().astype(np.float64)
        return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-6)


def estimate(first: np.ndarray, later: np.ndarray, box_a: np.ndarray, centre_b: np.ndarray,
             scales: int, step: float, sampler=None) -> float:
    """The scale filter's answer (crest/scale_filter.py, one implementation): trained on ``first`` at
    ``box_a``, the factor it reads in ``later`` at ``centre_b`` and box_a's size."""
    from metatrack.trackers.crest.scale_filter import ScaleFilter, ScaleFilterSettings, grey

    settings = ScaleFilterSettings(scale_filter=True, scale_filter_scales=scales, scale_filter_step=step)
    image = (lambda f: f) if sampler is not None else grey  # DSST reads the grey frame, the CNN colour
    size = box_a[2:]
    filt = ScaleFilter(settings, image(first), box_a[:2] + size / 2, size, sampler)
    return filt.estimate(image(later), centre_b, size)


def pairs(specs: list[str], gap: int, every: int):
    """(sequence, a, b) for frames a = every, 2 every, ... with the target fully visible on both."""
    from metatrack.data import open_dataset

    for spec in specs:
        for seq in open_dataset(spec):
            vis = np.asarray(seq.meta.get("visible", np.ones(len(seq))), dtype=float)
            for a in range(every, len(seq) - gap, every):
                b = a + gap
                if np.isfinite(seq.boxes[[a, b]]).all() and min(vis[a], vis[b]) >= 0.99:
                    yield seq, a, b


def probe(specs: list[str], features: str, scales: int, step: float, gap: int, every: int) -> list[str]:
    kind, *rest = features.split(":")
    if kind == "hog" and not rest:
        sampler = None
    elif kind == "mobilenet" and len(rest) == 2 and all(r.isdigit() for r in rest):
        sampler = cnn_samples(int(rest[0]), int(rest[1]))
    elif kind == "mobilenet-roi" and len(rest) == 2 and all(r.isdigit() for r in rest):
        sampler = RoiSamples(int(rest[0]), int(rest[1]))
    else:
        raise ValueError(f"--features {features!r}: hog, mobilenet:LAYER:SIDE or mobilenet-roi:LAYER:BINS")
    truth, answer, seconds = [], [], 0.0
    for seq, a, b in pairs(specs, gap, every):
        g = seq.boxes
        start = time.perf_counter()
        est = estimate(seq.frame(a), seq.frame(b), g[a], g[b, :2] + g[b, 2:] / 2, scales, step, sampler)
        seconds += time.perf_counter() - start
        truth.append(0.5 * np.log(g[b, 2] * g[b, 3] / (g[a, 2] * g[a, 3])))
        answer.append(np.log(est))
    t, e = np.array(truth), np.array(answer)
    if len(t) == 0:
        raise ValueError(f"{', '.join(specs)}: no pair of frames {gap} apart with the target in full view")
    moving = np.abs(t) > np.log(1.05)
    spread = moving.sum() > 2 and t[moving].std() > 0 and e[moving].std() > 0
    corr = float(np.corrcoef(t[moving], e[moving])[0, 1]) if spread else float("nan")  # none without a spread
    return [features, f"{scales} x {step:g}", str(len(t)), str(int(moving.sum())),
            f"{np.abs(t - e)[moving].mean():.3f}", f"{corr:.2f}", f"{np.abs(t[moving]).mean():.3f}",
            f"{1000 * seconds / len(t):.1f}"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", nargs="+", default=["embedded:faces", "embedded:hard"], help="FORMAT:PATH specs")
    p.add_argument("--features", nargs="+", default=["hog", "mobilenet:11:96"],
                   help="hog (DSST's) or mobilenet:LAYER:SIDE (features[:LAYER] of SIDE-pixel samples)")
    p.add_argument("--scales", type=int, default=33, help="DSST: 33")
    p.add_argument("--step", type=float, default=1.02, help="DSST: 1.02")
    p.add_argument("--gap", type=int, default=5, help="frames between the trained and the asked frame")
    p.add_argument("--every", type=int, default=10, help="a pair starts every this many frames")
    p.add_argument("--note", default="", help="the data sets' roles (validation or test) and what was chosen on them")
    p.add_argument("--json", help="write the table here")
    args = p.parse_args(argv)
    if args.scales < 3 or args.step <= 1 or args.gap < 1 or args.every < 1:
        p.error("--scales >= 3, --step > 1, --gap >= 1 and --every >= 1")
    from metatrack.errors import MetatrackError

    torch.set_num_threads(1)
    try:
        rows = [probe(args.dataset, f, args.scales, args.step, args.gap, args.every) for f in args.features]
    except (ValueError, MetatrackError) as e:
        p.error(str(e))
    out = {"kind": "table", "columns": COLUMNS, "rows": rows,
           "split": (f"{args.note or ', '.join(args.dataset)}: frames a = {args.every}, {2 * args.every}, ... "
                     f"and a + {args.gap} "
                     "with the target in full view on both; the filter trained on a's true box, asked at "
                     "a + gap's true centre at a's size; changing: the true size changed by more than 5 %"),
           "seeds": "none (deterministic)", "date": time.strftime("%Y-%m-%d"),
           "machine": f"{cpu_name()}, one torch thread (ms per estimate: both frames' samples and the answer)",
           "command": "bench/scale_probe.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    emit_table(out, args.json, "scale_probe")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
