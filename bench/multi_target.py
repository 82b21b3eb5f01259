"""Several targets in one video: independent trackers against a batched group and a shared crop.

``metatrack.track_many`` gives each target its own tracker; a
:class:`metatrack.trackers.adaptive.TrackerGroup` lets the adaptive trackers share the backbone's
work per frame in two ways: one batched call over every target's crop (``group``: the boxes of the
independent runs) or, for targets whose crops overlap at a similar scale, one crop and one backbone
pass covering them all (``shared``: fewer pixels; a target's boxes can differ a little). This script
measures both on the CPU: for each tracker, layout and target count, three sets of trackers follow
the same targets frame by frame in lockstep (so that all meet the same load on a shared machine):
independent, group and shared. Each frame's time is split into crops, backbone, head (scoring,
localisation, sample collection), online update and the rest (frame conversion, the group's
bookkeeping). It also gives the largest box difference from the independent runs and the mean IoU
with the truth.

The video is synthetic: textured targets over a textured 640x360 background, drawn in memory before
timing so that decoding is not timed; ``nearby``: the targets walk together, a target's width or so
apart; ``apart``: each glides in its own part of the frame. torch runs on ``--threads`` threads
(default 1).

``--accuracy`` measures instead what the shared crop does to accuracy, on validation data
(``embedded:eval``, ``real:validation``): every sequence's target is tracked alone and in a group
with two companions, boxes 0.9 and 1.1 times its size a target's width to its left and right (or
above and below where the frame has no room), on the same frames; the target's success AUC in both,
per seed. This is where :class:`metatrack.trackers.adaptive.group.SharedCropConfig` was chosen.

    OMP_NUM_THREADS=1 .venv/bin/python bench/multi_target.py --frames 100 --json bench/results/multi_target.json
    OMP_NUM_THREADS=1 .venv/bin/python bench/multi_target.py --accuracy --seeds 0,1,2,3
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from typing import Any

import cv2
import numpy as np
from meta_bench import cpu_name

from metatrack.geometry import iou
from metatrack.io import atomic_write_text
from metatrack.tracking import create_trackers

PRESETS = {"small": 60, "full": 300}
SIZE = (640, 360)
TARGET_SIZES = [(48, 40), (36, 52), (44, 44), (40, 32), (30, 46)]
#: ``apart``: each target's own part of the frame (centre), far enough that no crops merge
ANCHORS = [(110, 80), (530, 80), (320, 180), (110, 280), (530, 280)]
#: ``nearby``: offsets from the group's centre, about a target's width apart
OFFSETS = [(0, 0), (52, 8), (-50, 14), (6, -50), (10, 54)]
PARTS = ("crop", "features", "finish", "update")
#: independent trackers; groups: ``group`` one batched backbone call, ``shared`` shared crops, ``heads``
#: the heads' work together (sdnet/batched.py), ``default`` what TrackerGroup does by default on this
#: device (on a CPU: shared crops and heads together)
MODES = ("independent", "group", "shared", "heads", "default")
GROUP_SETTINGS = {"group": {"batch": True, "merge": False, "heads": False},
                  "shared": {"batch": False, "merge": True, "heads": False},
                  "heads": {"batch": False, "merge": False, "heads": True},
                  "default": {}}
#: the data role of each validation split, as the docs print it
ROLES = {"embedded:eval": "validation: choices were made on it",
         "real:validation": "validation: choices were made on these clips"}


def _texture(rng: np.random.Generator, h: int, w: int, blur: int, low: int, high: int) -> np.ndarray:
    img = rng.integers(low, high, (h, w, 3), dtype=np.uint8)
    return cv2.GaussianBlur(img, (0, 0), blur / 3.0)


def synthetic_scene(frames: int, seed: int = 0, targets: int = len(TARGET_SIZES),
                    layout: str = "apart") -> tuple[list[np.ndarray], np.ndarray]:
    """(frames HxWx3 uint8 RGB, true boxes (targets, frames, 4)) of textured targets, ``nearby`` or ``apart``."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    background = _texture(rng, h, w, 8, 40, 160)
    sizes = TARGET_SIZES[:targets]
    textures = [_texture(rng, th, tw, 3, 0, 256) for tw, th in sizes]
    t = np.arange(frames, dtype=np.float64)
    boxes = []
    for k, (tw, th) in enumerate(sizes):
        if layout == "nearby":  # the group crosses the frame; each member wobbles a little around its place
            cx = w / 2 + 200 * np.sin(2 * np.pi * t / 160) + OFFSETS[k][0] + 4 * np.sin(2 * np.pi * t / (23 + 4 * k))
            cy = h / 2 + 60 * np.sin(2 * np.pi * t / 110) + OFFSETS[k][1] + 4 * np.cos(2 * np.pi * t / (19 + 5 * k))
        else:
            cx = ANCHORS[k][0] + 40 * np.sin(2 * np.pi * t / (90 + 40 * k) + 2.1 * k)
            cy = ANCHORS[k][1] + 30 * np.sin(2 * np.pi * t / (70 + 30 * k) + 1.3 * k + 0.5)
        boxes.append(np.stack([cx - tw / 2, cy - th / 2, np.full_like(t, tw), np.full_like(t, th)], axis=1).round())
    boxes = np.array(boxes)
    images = []
    for i in range(frames):
        img = background.copy()
        for k, tex in enumerate(textures):
            x, y = int(boxes[k, i, 0]), int(boxes[k, i, 1])
            img[y:y + tex.shape[0], x:x + tex.shape[1]] = tex
        images.append(img)
    return images, boxes


def decode_ms(images: list[np.ndarray]) -> float:
    """Milliseconds to read one frame of ``images`` written as an MP4 (OpenCV, mp4v) and convert it
    to RGB: what every single run pays per frame and a run of several targets pays once."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "scene.mp4")
        h, w = images[0].shape[:2]
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
        for img in images:
            writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        writer.release()
        cap = cv2.VideoCapture(path)
        start, n = time.perf_counter(), 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            n += 1
        cap.release()
    return 1000 * (time.perf_counter() - start) / max(n, 1)


def time_modes(tracker: str, images: list[np.ndarray], truth: np.ndarray, seed: int = 0, repeats: int = 1) -> dict:
    """:func:`time_run` ``repeats`` times; each mode's fastest run (the least disturbed by other load),
    with the 1-minute load average before and after every run."""
    best: dict = {}
    loads = []
    for _ in range(repeats):
        before = os.getloadavg()[0]
        run = time_run(tracker, images, truth, seed)
        loads.append([round(before, 2), round(os.getloadavg()[0], 2)])
        for mode in MODES:
            if mode not in best or run[mode]["ms_per_frame"] < best[mode]["ms_per_frame"]:
                best[mode] = run[mode]
        best.update({k: v for k, v in run.items() if k not in MODES})
    best["repeats"] = repeats
    best["load_average"] = loads
    return best


def time_run(tracker: str, images: list[np.ndarray], truth: np.ndarray, seed: int = 0) -> dict:
    """Independent trackers and the groups of :data:`GROUP_SETTINGS` of ``len(truth)`` targets in lockstep."""
    from metatrack.trackers.adaptive import TrackerGroup

    sets = {mode: create_trackers(tracker, len(truth), seed=seed) for mode in MODES}
    groups = {mode: TrackerGroup(sets[mode], **GROUP_SETTINGS[mode]) for mode in MODES if mode in GROUP_SETTINGS}
    first = [b[0] for b in truth]
    boxes = {mode: [first] for mode in sets}
    seconds = dict.fromkeys(sets, 0.0)
    for trackers in sets.values():
        for trk, box in zip(trackers, first, strict=True):
            trk.init(images[0], box.copy())
    for image in images[1:]:
        for mode, trackers in sets.items():
            start = time.perf_counter()
            found = groups[mode].update(image) if mode in groups else [t.update(image) for t in trackers]
            seconds[mode] += time.perf_counter() - start
            boxes[mode].append([np.asarray(b, dtype=np.float64) for b in found])
    later = len(images) - 1
    out: dict = {"targets": len(truth), "frames": len(images)}
    for mode, trackers in sets.items():
        parts = {p: sum(t.profile[p] for t in trackers) for p in PARTS}
        if mode in groups:
            parts["crop"] += groups[mode].profile["crop"]
            parts["features"] += groups[mode].profile["features"]
        b = np.array(boxes[mode])  # frames, targets, 4
        total = 1000 * seconds[mode] / later
        ms = {"crop_ms": 1000 * parts["crop"] / later, "backbone_ms": 1000 * parts["features"] / later,
              "head_ms": 1000 * (parts["finish"] - parts["update"]) / later,
              "update_ms": 1000 * parts["update"] / later}
        overlaps = [[float(np.ravel(iou(b[i, k], truth[k, i]))[0]) for i in range(len(b))] for k in range(len(truth))]
        out[mode] = {"ms_per_frame": total, **ms, "other_ms": total - sum(ms.values()),
                     "mean_iou": [round(float(np.mean(o)), 3) for o in overlaps]}
        if mode != "independent":
            out[mode]["max_box_difference_px"] = float(np.abs(b - np.array(boxes["independent"])).max())
    out["merged_targets_per_frame"] = groups["shared"].profile["merged"] / later
    out["shared_crops_per_frame"] = groups["shared"].profile["shared"] / later
    out["batches_per_frame"] = groups["group"].profile["batches"] / later
    out["heads_together_per_frame"] = groups["heads"].profile["heads"] / later
    out["default_settings"] = {"merge": groups["default"].merge, "batch": groups["default"].batch,
                               "heads": groups["default"].heads}
    return out


def _best_ms(fn, repeats: int = 7, inner: int = 5) -> float:
    """Milliseconds of one call of ``fn``: the best of ``repeats`` means over ``inner`` calls."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return 1000 * best


def profile_metasdnet(images: list[np.ndarray], truth: np.ndarray, seed: int = 0, warm: int = 20) -> dict:
    """What in one MetaSDNet target's head and online update is per-call cost and what arithmetic.

    After ``warm`` frames (its sample store filled), each part is timed as the tracker runs it and
    again with the same calls on one-row inputs (one box, one sample per batch): the latter is the
    part's per-call cost (Python, dispatch, allocation), which doing several targets' calls at once can
    save; the difference is arithmetic, which it cannot.
    """
    import copy
    from dataclasses import replace

    import torch

    from metatrack.trackers.sdnet import sampling
    from metatrack.trackers.sdnet.online import make_optimizer, train_head

    warm = min(warm, len(images) - 1)
    trk, = create_trackers("metasdnet", 1, seed=seed)
    trk.init(images[0], truth[0].copy())
    for image in images[1:warm]:
        trk.update(image)
    cfg, image = trk.config, images[warm]
    request = trk._crop_request(image)
    fmap = trk._block_map(trk.crop_features([request.crop]))
    window, rng = request.context, np.random.default_rng(seed)
    cands = sampling.candidates(trk.target, window, cfg, trk.trans, rng)
    feats = trk.extractor.pool(fmap, window, cands)
    pos, neg = trk.store.long_term()

    def score(x):
        with torch.no_grad():
            return trk.head(x)

    def update(c, p, n):
        head = copy.deepcopy(trk.head)
        opt = make_optimizer(head, trk.online_lr, c)
        return lambda: train_head(head, opt, p, n, c.maxiter_update, c, np.random.default_rng(seed))

    one = replace(cfg, batch_pos=1, batch_neg=1, batch_neg_cand=2)
    parts = {
        "draw candidates (numpy)": (_best_ms(lambda: sampling.candidates(trk.target, window, cfg, trk.trans, rng)),
                                    None),
        "pool candidates (RoIAlign)": (_best_ms(lambda: trk.extractor.pool(fmap, window, cands)),
                                       _best_ms(lambda: trk.extractor.pool(fmap, window, cands[:1]))),
        "score candidates (fc4-fc6)": (_best_ms(lambda: score(feats)), _best_ms(lambda: score(feats[:1]))),
        "draw update samples (numpy)": (_best_ms(lambda: trk._update_samples(window, trk.target)), None),
        "online update (15 SGD steps)": (_best_ms(update(cfg, pos, neg), 3, 2),
                                         _best_ms(update(one, pos[:2], neg[:2]))),
    }
    return {"tracker": "metasdnet", "frame": warm, "samples": {"pos": len(pos), "neg": len(neg)},
            "parts_ms": {k: {"as_run": round(v, 3), "one_row_calls": None if c is None else round(c, 3)}
                         for k, (v, c) in parts.items()},
            "note": "one_row_calls: the same calls on one box / one sample per batch (the per-call cost); "
                    "as_run minus it is arithmetic; numpy draws are each target's own generator's and stay per target"}


# ------------------------------------------------------------------------------------ accuracy


def companions(box: np.ndarray, size: tuple[int, int]) -> list[np.ndarray] | None:
    """Two boxes 0.9 and 1.1 times ``box``'s size, a width to its left and right (else above and
    below) with the same centre line, inside the frame; None where neither fits."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2, y + h / 2
    out = []
    for f, sign in ((0.9, -1), (1.1, 1)):
        out.append(np.array([cx + sign * w - f * w / 2, cy - f * h / 2, f * w, f * h]))
    if all(b[0] >= 0 and b[0] + b[2] <= size[0] for b in out):
        return out
    out = [np.array([cx - f * w / 2, cy + sign * h - f * h / 2, f * w, f * h]) for f, sign in ((0.9, -1), (1.1, 1))]
    if all(b[1] >= 0 and b[1] + b[3] <= size[1] for b in out):
        return out
    return None


def accuracy_runs(tracker: str, sequences: list, seed: int, config=None) -> dict:
    """Per sequence: the target's boxes alone and merged with its companions; AUCs and merged share."""
    from metatrack.evaluation.otb import sequence_curves
    from metatrack.trackers.adaptive import TrackerGroup

    out = {}
    for seq in sequences:
        frames = [seq.frame(i) for i in range(len(seq))]
        first = np.asarray(seq.boxes[0], dtype=np.float64)
        extra = companions(first, seq.image_size)
        if extra is None:
            continue
        alone, = create_trackers(tracker, 1, seed=seed)
        members = create_trackers(tracker, 3, seed=seed)
        group = TrackerGroup(members, batch=False, merge=True, **({"config": config} if config else {}))
        alone.init(frames[0], first.copy())
        group.init(frames[0], [first.copy(), *extra])
        boxes = {"alone": [first], "shared": [first]}
        merged = 0
        for image in frames[1:]:
            boxes["alone"].append(np.asarray(alone.update(image), dtype=np.float64))
            found = group.update(image)
            merged += int(any(0 in s for s in group.last_sets))
            boxes["shared"].append(np.asarray(found[0], dtype=np.float64))
        res = {mode: float(np.mean(sequence_curves(np.array(b), seq.boxes)[0])) for mode, b in boxes.items()}
        res["frames"] = len(frames)
        res["merged_frames"] = merged
        res["max_box_difference_px"] = float(np.abs(np.array(boxes["alone"]) - np.array(boxes["shared"])).max())
        out[seq.name] = res
    return out


def heads_runs(tracker: str, sequences: list, seed: int) -> dict:
    """Per sequence: its target and the two :func:`companions` as three single runs and as one group
    running their heads together (nothing merged); the target's AUC in both, the largest box difference
    over all three targets and frames, and how many online updates ran together."""
    from metatrack.evaluation.otb import sequence_curves
    from metatrack.trackers.adaptive import TrackerGroup
    from metatrack.trackers.sdnet import batched

    counted = {"updates": 0}
    train_many = batched.train_many

    def counting(jobs, iterations, cfg):
        counted["updates"] += len(jobs)
        return train_many(jobs, iterations, cfg)

    batched.train_many = counting
    out = {}
    try:
        for seq in sequences:
            frames = [seq.frame(i) for i in range(len(seq))]
            first = np.asarray(seq.boxes[0], dtype=np.float64)
            extra = companions(first, seq.image_size)
            if extra is None:
                continue
            starts = [first, *extra]
            singles = create_trackers(tracker, 3, seed=seed)
            members = create_trackers(tracker, 3, seed=seed)
            group = TrackerGroup(members, batch=False, merge=False, heads=True)
            for trk, box in zip(singles, starts, strict=True):
                trk.init(frames[0], box.copy())
            group.init(frames[0], [b.copy() for b in starts])
            counted["updates"] = 0
            boxes = {"single": [starts], "heads": [starts]}
            for image in frames[1:]:
                boxes["single"].append([np.asarray(t.update(image), dtype=np.float64) for t in singles])
                boxes["heads"].append([np.asarray(b, dtype=np.float64) for b in group.update(image)])
            b = {mode: np.array(v) for mode, v in boxes.items()}
            res = {mode: float(np.mean(sequence_curves(v[:, 0], seq.boxes)[0])) for mode, v in b.items()}
            res.update(frames=len(frames), updates_together=counted["updates"],
                       max_box_difference_px=float(np.abs(b["single"] - b["heads"]).max()))
            out[seq.name] = res
    finally:
        batched.train_many = train_many
    return out


def heads_check(trackers: list[str], splits: list[str], seeds: list[int]) -> dict:
    from metatrack.data import open_dataset

    results: dict = {}
    rows = []
    for tracker in trackers:
        for split in splits:
            sequences = open_dataset(split)
            per_seed = {str(s): heads_runs(tracker, sequences, s) for s in seeds}
            results.setdefault(tracker, {})[split] = per_seed
            auc = {mode: [float(np.mean([r[mode] for r in runs.values()])) for runs in per_seed.values()]
                   for mode in ("single", "heads")}
            runs = [r for p in per_seed.values() for r in p.values()]
            diff = max(r["max_box_difference_px"] for r in runs)
            spread = max(max(v) - min(v) for v in auc.values()) / 2
            delta = float(np.mean(auc["heads"]) - np.mean(auc["single"]))
            verdict = ("identical" if diff == 0 else "tie" if abs(delta) <= spread
                       else "together better" if delta > 0 else "single runs better")
            rows.append([tracker, split, str(len(next(iter(per_seed.values())))),
                         " / ".join(f"{a:.3f}" for a in auc["single"]), " / ".join(f"{a:.3f}" for a in auc["heads"]),
                         f"{delta:+.3f}", f"{diff:.2g}", str(sum(r["updates_together"] for r in runs)), verdict])
            print(" | ".join(rows[-1]), flush=True)
    return {"rows": rows, "results": results}


def accuracy(trackers: list[str], splits: list[str], seeds: list[int], config=None) -> dict:
    from metatrack.data import open_dataset

    results: dict = {}
    rows = []
    for tracker in trackers:
        for split in splits:
            sequences = open_dataset(split)
            per_seed = {str(s): accuracy_runs(tracker, sequences, s, config) for s in seeds}
            results.setdefault(tracker, {})[split] = per_seed
            auc = {mode: [float(np.mean([r[mode] for r in runs.values()])) for runs in per_seed.values()]
                   for mode in ("alone", "shared")}
            spread = max(max(v) - min(v) for v in auc.values()) / 2
            diff = float(np.mean(auc["shared"]) - np.mean(auc["alone"]))
            runs = next(iter(per_seed.values()))
            later = max(1, sum(r["frames"] - 1 for r in runs.values()))
            merged = sum(r["merged_frames"] for r in runs.values()) / later
            verdict = ("tie" if abs(diff) <= spread or abs(diff) < 0.0005
                       else "shared better" if diff > 0 else "alone better")
            rows.append([tracker, split, str(len(runs)),
                         f"{np.mean(auc['alone']):.3f} ±{(max(auc['alone']) - min(auc['alone'])) / 2:.3f}",
                         f"{np.mean(auc['shared']):.3f} ±{(max(auc['shared']) - min(auc['shared'])) / 2:.3f}",
                         f"{diff:+.3f}", f"{100 * merged:.0f} %",
                         f"{max(r['max_box_difference_px'] for p in per_seed.values() for r in p.values()):.1f}",
                         verdict])
            print(" | ".join(rows[-1]), flush=True)
    return {"rows": rows, "results": results}


def machine(threads: int) -> str:
    cpu = cpu_name()
    import torch

    return f"{cpu}, {os.cpu_count()} cores, {threads} thread(s), torch {torch.__version__}"



def write_check(path: str, flag: str, args: argparse.Namespace, started: float, found: dict[str, Any],
                columns: list[str], split: str, seeds: list[int], **extra: Any) -> int:
    """Write one of the validation checks (``--heads-check``, ``--accuracy``) as a results table."""
    out = {"kind": "table", "columns": columns, "rows": found["rows"], "split": split,
           "seeds": ",".join(str(s) for s in seeds), "date": date.today().isoformat(),
           "machine": machine(args.threads), "seconds": round(time.perf_counter() - started, 1), **extra,
           "command": f"OMP_NUM_THREADS={args.threads} .venv/bin/python bench/multi_target.py {flag} "
                      f"--trackers {args.trackers} --splits {args.splits} --seeds {args.seeds} --json {path}",
           "results": found["results"]}
    atomic_write_text(path, json.dumps(out, indent=1) + "\n")
    print(f"written: {path}")
    return 0

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="small",
                        help=f"frames of the video: small ({PRESETS['small']}), full ({PRESETS['full']}) or a number")
    parser.add_argument("--trackers", default="metasdnet,metacrest", help="comma-separated tracker names")
    parser.add_argument("--targets", default="1,2,3,5",
                        help=f"comma-separated target counts (1 to {len(TARGET_SIZES)})")
    parser.add_argument("--layouts", default="nearby,apart", help="comma-separated: nearby, apart")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic video and the trackers")
    parser.add_argument("--accuracy", action="store_true",
                        help="measure the shared crop's accuracy on validation data instead of the times")
    parser.add_argument("--heads-check", action="store_true",
                        help="check on validation data that heads together give the boxes of single runs instead")
    parser.add_argument("--splits", default="embedded:eval,real:validation",
                        help="--accuracy, --heads-check: comma-separated splits")
    parser.add_argument("--seeds", default="0,1,2,3", help="--accuracy, --heads-check: comma-separated tracker seeds")
    parser.add_argument("--min-overlap", type=float, default=None,
                        help="--accuracy: SharedCropConfig.min_overlap to try (default: the shipped value)")
    parser.add_argument("--scale-tolerance", type=float, default=None,
                        help="--accuracy: SharedCropConfig.scale_tolerance to try (default: the shipped value)")
    parser.add_argument("--threads", type=int, default=1, help="torch's and OpenCV's threads")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each tracker, layout and count; each mode's fastest is kept (default 3)")
    parser.add_argument("--json", default=None, help="write the measurements here (default: "
                        "bench/results/multi_target.json, with --accuracy multi_target_accuracy.json)")
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    cv2.setNumThreads(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    trackers = [t.strip() for t in args.trackers.split(",") if t.strip()]
    started = time.perf_counter()
    if args.heads_check or args.accuracy:
        splits = [s.strip() for s in args.splits.split(",") if s.strip()]
        seeds = [int(s) for s in args.seeds.split(",")]
        roles = ", ".join(f"{s} ({ROLES.get(s, 'validation')})" for s in splits)
    if args.heads_check:
        path = args.json or "bench/results/multi_target_heads.json"
        found = heads_check(trackers, splits, seeds)
        return write_check(
            path, "--heads-check", args, started, found,
            ["tracker", "split", "sequences", "target AUC, single runs (per seed)",
             "target AUC, heads together (per seed)", "difference", "max box difference (px)",
             "online updates run together", "verdict"],
            roles + ": whether heads together stay on by default was decided on them; each sequence's target and "
            "two companions (0.9 and 1.1 times its size, a width beside it) as three single runs and as one "
            "group running their heads together (crops not merged); success AUC of the target; box "
            "difference over all three targets and every frame; updates: targets' online updates done in "
            "a batched optimisation", seeds)
    if args.accuracy:
        path = args.json or "bench/results/multi_target_accuracy.json"
        from dataclasses import asdict, replace

        from metatrack.trackers.adaptive.group import SHARED_CROP

        changes = {k: v for k, v in (("min_overlap", args.min_overlap), ("scale_tolerance", args.scale_tolerance))
                   if v is not None}
        config = replace(SHARED_CROP, **changes)
        found = accuracy(trackers, splits, seeds, config)
        return write_check(
            path, "--accuracy", args, started, found,
            ["tracker", "split", "sequences", "target AUC alone", "target AUC, crop shared",
             "difference", "frames merged", "max box difference (px)", "verdict"],
            roles + ": the shared crop's default was chosen on them; each sequence's target alone and with two "
            "companions (0.9 and 1.1 times its size, a width beside it) sharing crops where they merge; "
            "success AUC of the target (mean ± half the range "
            "over seeds); tie: a difference within the seed spread", seeds, shared_crop=asdict(config))
    path = args.json or "bench/results/multi_target.json"
    frames = PRESETS.get(args.frames) or int(args.frames)
    counts = [int(c) for c in args.targets.split(",")]
    if not all(1 <= c <= len(TARGET_SIZES) for c in counts):
        parser.error(f"--targets: counts from 1 to {len(TARGET_SIZES)}")
    layouts = [x.strip() for x in args.layouts.split(",") if x.strip()]
    if not set(layouts) <= {"nearby", "apart"}:
        parser.error("--layouts: nearby, apart")
    results: dict[str, dict] = {}
    columns = ["tracker", "layout", "targets", "independent (ms/frame)", "batched backbone (ms/frame)",
               "shared crop (ms/frame)", "heads together (ms/frame)", "default: shared crop + heads (ms/frame)",
               "independent / heads together", "independent / default", "crops: ind. / default (ms)",
               "backbone: ind. / default (ms)", "head: ind. / default (ms)", "update: ind. / default (ms)",
               "other: ind. / default (ms)", "targets merged", "decode (ms/frame)",
               "single runs / default, decoding included",
               "max box difference: batched / shared / heads / default (px)", "mean IoU: ind. / default"]
    rows = []
    loads = []
    for layout in layouts:
        images, truth = synthetic_scene(frames, args.seed, layout=layout)
        decode = decode_ms(images)
        results.setdefault("decode_ms", {})[layout] = decode
        for tracker in trackers:
            create_trackers(tracker, 1)  # loads the model once
            results.setdefault(tracker, {})[layout] = {}
            for count in counts:
                r = time_modes(tracker, images, truth[:count], args.seed, args.repeats)
                results[tracker][layout][str(count)] = r
                loads += [v for pair_ in r["load_average"] for v in pair_]
                ind, dft = r["independent"], r["default"]

                def pair(part: str, ind=ind, dft=dft) -> str:
                    return f"{ind[part]:.1f} / {dft[part]:.1f}"

                diffs = " / ".join(f"{r[m]['max_box_difference_px']:.2g}"
                                   for m in ("group", "shared", "heads", "default"))
                rows.append([tracker, layout, str(count), f"{ind['ms_per_frame']:.1f}",
                             f"{r['group']['ms_per_frame']:.1f}", f"{r['shared']['ms_per_frame']:.1f}",
                             f"{r['heads']['ms_per_frame']:.1f}", f"{dft['ms_per_frame']:.1f}",
                             f"{ind['ms_per_frame'] / r['heads']['ms_per_frame']:.2f}x",
                             f"{ind['ms_per_frame'] / dft['ms_per_frame']:.2f}x",
                             pair("crop_ms"), pair("backbone_ms"), pair("head_ms"), pair("update_ms"),
                             pair("other_ms"), f"{r['merged_targets_per_frame']:.1f}", f"{decode:.1f}",
                             f"{(ind['ms_per_frame'] + count * decode) / (dft['ms_per_frame'] + decode):.2f}x",
                             diffs, f"{np.mean(ind['mean_iou']):.3f} / {np.mean(dft['mean_iou']):.3f}"])
                print(" | ".join(rows[-1]), flush=True)
    if "metasdnet" in trackers:
        images, truth = synthetic_scene(frames, args.seed, layout="apart")
        results["profile"] = profile_metasdnet(images, truth[0], args.seed)
        print(json.dumps(results["profile"], indent=1), flush=True)
    out = {
        "kind": "table",
        "columns": columns,
        "rows": rows,
        "split": f"a synthetic {SIZE[0]}x{SIZE[1]} video of {frames} frames drawn in memory (no data split; "
                 "nothing chosen on it); milliseconds per frame after the first, all targets; independent trackers "
                 "and four groups in lockstep, torch: one batched backbone call, shared crops, heads together, and "
                 "the CPU default (shared crops and heads together); each mode's fastest of "
                 f"{args.repeats} runs; parts of a frame (crops, backbone, head, update, other) of the independent "
                 "trackers and the default group; targets merged: per frame, those sharing a crop; single runs: each "
                 "target's own run decoding the video (independent + targets x decode) against one default group "
                 "run decoding it once",
        "seeds": str(args.seed),
        "date": date.today().isoformat(),
        "machine": machine(args.threads) + (f", 1-minute load average {min(loads):.1f} to {max(loads):.1f} while it "
                                            "ran (other jobs beside it)" if loads else ""),
        "seconds": round(time.perf_counter() - started, 1),
        "command": f"OMP_NUM_THREADS={args.threads} .venv/bin/python bench/multi_target.py --frames {args.frames} "
                   f"--trackers {args.trackers} --targets {args.targets} --layouts {args.layouts} "
                   f"--repeats {args.repeats} --json {path}",
        "video": {"frames": frames, "size": list(SIZE), "seed": args.seed, "synthetic": True},
        "results": results,
    }
    atomic_write_text(path, json.dumps(out, indent=1) + "\n")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
