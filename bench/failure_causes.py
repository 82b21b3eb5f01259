"""Where the meta-trackers lose the target: loss events in results folders, classified by cause.

Reads the boxes that ``metatrack run`` wrote (``RESULTS/<tracker>/<seq>.txt``) for the trackers
named, finds each *loss event* (a run of at least ``--min-frames`` frames with the target in view
and IoU below ``--lost-iou``), says whether the tracker recovered (IoU at least 0.3 again later)
and whether the reference tracker (``--reference``, CSRT by default) held the target over the same
frames, and gives the event one cause from the frames just before its onset:

- ``left the frame``: the target was (partly) out of view just before (composite's out-of-view event);
- ``occlusion``: the target was under an occluder (visible share < 0.5) just before;
- ``left the search crop``: the target's centre lay outside the crop the tracker searched at the onset
  (the crop around its previous box: ``crop_context`` x sqrt(w h) for MetaSDNet, ``window_factor`` x the
  longer side for MetaCREST; the other trackers: 4 x sqrt(w h));
- ``held in place``: the tracker's box stayed (centre moved under 2 px a frame) while the target moved;
- ``scale collapse``: the box still sat on the target (centre inside it) at less than a third or more
  than three times its area;
- ``drift onto a distractor`` / ``drift onto background``: the box moved off a visible target in the
  search crop; a distractor when the sequence has a look-alike object (on the crossing split, whose
  look-alikes' boxes are known per frame: when the box lies on one of them), else background.

On the crossing split (a crowd of look-alikes, some walking in front of the target) a target hidden
just before the onset is put down to what hid it in the frame where it was least visible: the frame's
edge (``left the frame``), the occluder (``occlusion``) or a look-alike walking in front of it
(``hidden by a look-alike``). Each event also gets its ``context``: ``occluder`` (the onset within
10 frames of the target's pass behind the static occluder), ``departure`` (from the walk out until 10
frames after half of the target is back in view), ``crossing`` (a look-alike within one target width
of the target in the 10 frames up to the onset) or ``none``.

Boxes come from ``metatrack run``'s results folders (``--results``) or from the one-pass runs that
bench/split_bench.py keeps in its cache (``--split-bench-cache DIR --seeds 0,1``).

The composite sequences carry their events (visibility per frame, out-of-view); the real clips their
absent keyframes (ground truth every 5-10 frames, NaN between: only annotated frames count).

    .venv/bin/python bench/failure_causes.py --dataset embedded:eval --results runs/eval-s0 runs/eval-s1 \
        --trackers metasdnet metacrest opencv-csrt --json runs/failure_causes.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

CAUSES = ("left the frame", "occlusion", "hidden by a look-alike", "left the search crop", "held in place",
          "scale collapse", "drift onto a distractor", "drift onto background")
CONTEXTS = ("occluder", "departure", "crossing", "none")
_NEAR = 10  # frames: how close to an onset an occluder pass or a crossing counts as its context


def search_half_side(tracker: str, box: np.ndarray) -> float:
    """Half the side of the square the tracker searched around ``box`` (its settings' defaults)."""
    w, h = float(box[2]), float(box[3])
    if tracker.startswith(("metacrest", "crest")):
        return 2.5 * max(w, h)  # CRESTConfig.window_factor 5 x the longer side
    return 2.0 * float(np.sqrt(max(w * h, 1e-9)))  # SDNetConfig.crop_context 4 x sqrt(w h)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from metatrack.geometry import iou

    return iou(a, b)


def _centre(b: np.ndarray) -> np.ndarray:
    return b[..., :2] + b[..., 2:] / 2


def loss_events(tracker: str, boxes: np.ndarray, gt: np.ndarray, visible: np.ndarray, meta: dict[str, Any],
                reference: np.ndarray | None, lost_iou: float, min_frames: int) -> list[dict[str, Any]]:
    """The loss events of one run (see the module's docstring), each with its onset, length, cause,
    whether the tracker recovered and whether the reference held the target meanwhile."""
    n = len(gt)
    annotated = np.isfinite(gt).all(axis=1) & (visible >= 0.5)
    annotated[0] = False
    ious = np.full(n, np.nan)
    ious[annotated] = _iou(boxes[annotated], gt[annotated])
    ref_ious = np.full(n, np.nan)
    if reference is not None:
        ref_ious[annotated] = _iou(reference[annotated], gt[annotated])
    frames = np.flatnonzero(annotated)
    lost = ious[frames] < lost_iou
    events, i = [], 0
    dense = len(frames) > 0.5 * n  # composites: every frame annotated; real clips: keyframes
    need = min_frames if dense else 2
    events_meta = (meta.get("embedded") or {}).get("events") or {}
    while i < len(frames):
        if not lost[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(frames) and lost[j + 1]:
            j += 1
        if j - i + 1 >= need or j == len(frames) - 1 and j - i + 1 >= 1 and not dense:
            onset, end = int(frames[i]), int(frames[j])
            later = ious[end + 1:]
            events.append({
                "onset": onset, "end": end, "frames": int(end - onset + 1),
                "context": _context(gt, visible, onset, events_meta, meta),
                "recovered": bool(np.nanmax(later) >= 0.3) if np.isfinite(later).any() else False,
                "reference_held": (bool(np.nanmean(ref_ious[onset:end + 1]) >= 0.3)
                                   if reference is not None and np.isfinite(ref_ious[onset:end + 1]).any() else None),
                "cause": _cause(tracker, boxes, gt, visible, onset, _last_good(ious, onset), events_meta, meta),
            })
        i = j + 1
    return events


def _last_good(ious: np.ndarray, onset: int) -> int:
    """The last frame before ``onset`` where the tracker held the target (IoU >= 0.3), else 0."""
    good = np.flatnonzero(np.nan_to_num(ious[:onset], nan=0.0) >= 0.3)
    return int(good[-1]) if len(good) else 0


def _gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels between box ``a`` and each box of ``b`` (..., 4), 0 where they overlap; NaN boxes: NaN."""
    dx = np.maximum(np.maximum(b[..., 0] - (a[0] + a[2]), a[0] - (b[..., 0] + b[..., 2])), 0)
    dy = np.maximum(np.maximum(b[..., 1] - (a[1] + a[3]), a[1] - (b[..., 1] + b[..., 3])), 0)
    return np.hypot(dx, dy)


def _hidden_by(gt: np.ndarray, visible: np.ndarray, frames: np.ndarray, meta: dict[str, Any]) -> str | None:
    """What hid the target in the least visible of ``frames``, from the crossing split's per-frame boxes:
    the frame's edge, the occluder or a look-alike walking in front; None without those boxes."""
    crowd = meta.get("distractor_boxes")
    if crowd is None or not len(frames):
        return None
    t = int(frames[np.argmin(visible[frames])])
    g = gt[t]
    if not np.isfinite(g).all() or (meta.get("absent") is not None and meta["absent"][t]):
        return "left the frame"
    occ = meta.get("occluder_boxes")
    if occ is not None and np.isfinite(occ[t]).all() and _gap(g, occ[t]) == 0:
        return "occlusion"
    front = [c.get("front") for c in (meta.get("embedded") or {}).get("crowd", [])]
    if any(f and _gap(g, crowd[t, j]) == 0 for j, f in enumerate(front)):
        return "hidden by a look-alike"
    return "left the frame"  # partly out of view


def _context(gt: np.ndarray, visible: np.ndarray, onset: int, events: dict[str, Any], meta: dict[str, Any]) -> str:
    """Which of the crossing split's conditions an onset lies in (see the module's docstring)."""
    occ = events.get("occlusion")
    if occ:
        boxes = meta.get("occluder_boxes")
        if boxes is not None and np.isfinite(boxes[occ["frame"]]).all():
            behind = np.flatnonzero([np.isfinite(g).all() and _gap(g, boxes[occ["frame"]]) == 0 for g in gt])
            behind = behind[np.abs(behind - occ["frame"]) <= 60] if len(behind) else behind
            span = (behind.min(), behind.max()) if len(behind) else (occ["frame"], occ["frame"])
        else:
            span = (occ["frame"], occ["frame"])
        if span[0] - _NEAR <= onset <= span[1] + _NEAR:
            return "occluder"
    absent = ~np.isfinite(gt).all(axis=1)
    for ev in events.get("out_of_view") or []:
        # from the walk out until the target is back in view (half of it or more) and 10 frames after
        out = np.flatnonzero(absent[ev["start"]:]) + ev["start"]
        seen = np.flatnonzero(visible[out[-1] + 1:] >= 0.5) + out[-1] + 1 if len(out) else np.array([], int)
        back = int(seen[0]) if len(seen) else ev.get("back", ev["start"])
        if ev["start"] <= onset <= back + _NEAR:
            return "departure"
    crowd = meta.get("distractor_boxes")
    if crowd is not None:
        for t in range(max(onset - _NEAR, 0), onset + 1):
            g = gt[t]
            if np.isfinite(g).all() and np.nanmin(np.where(np.isfinite(crowd[t, :, 0]), _gap(g, crowd[t]), np.inf)) \
                    <= g[2]:
                return "crossing"
    return "none"


def _cause(tracker: str, boxes: np.ndarray, gt: np.ndarray, visible: np.ndarray, onset: int, good: int,
           events: dict[str, Any], meta: dict[str, Any]) -> str:
    """The cause of a loss first seen at ``onset`` (the tracker last held the target at ``good``)."""
    lo = max(onset - 8, 1)
    before = visible[max(good, 1):onset + 1]
    if len(before) and float(np.min(before)) < 0.5:
        hidden = _hidden_by(gt, visible, np.arange(max(good, 1), onset + 1), meta)
        if hidden is not None:
            return hidden
        # hidden meanwhile: by the frame's edge or by an occluder, whichever event came last before the onset
        starts = [(ev["start"], "left the frame") for ev in events.get("out_of_view") or [] if ev["start"] <= onset]
        occ = events.get("occlusion")
        if occ and occ["frame"] <= onset:
            starts.append((occ["frame"], "occlusion"))
        return max(starts)[1] if starts else "occlusion"
    absent = meta.get("absent_keyframes") or []
    if any(good <= k <= onset for k in absent):
        return "occlusion"
    # where the tracker searched at the onset: around its box of the frame before
    prev = boxes[onset - 1]
    g = gt[onset]
    if not np.isfinite(g).all():
        return "drift onto background"
    if np.abs(_centre(g) - _centre(prev)).max() > search_half_side(tracker, prev):
        return "left the search crop"
    span = boxes[lo:onset + 1]
    step = np.linalg.norm(np.diff(_centre(span), axis=0), axis=1) if len(span) > 1 else np.zeros(1)
    gts = gt[lo:onset + 1]
    gt_step = np.linalg.norm(np.diff(_centre(gts), axis=0), axis=1) if len(gts) > 1 else np.zeros(1)
    if np.nanmean(step) < 2.0 and np.nanmean(gt_step) >= 2.0:
        return "held in place"
    b = boxes[onset]
    c = _centre(b)
    inside = g[0] <= c[0] <= g[0] + g[2] and g[1] <= c[1] <= g[1] + g[3]
    ratio = (b[2] * b[3]) / max(g[2] * g[3], 1e-9)
    if inside and (ratio < 1 / 3 or ratio > 3):
        return "scale collapse"
    crowd = meta.get("distractor_boxes")
    if crowd is not None:  # the crowd's boxes are known: on one of them, or not
        on = np.isfinite(crowd[onset, :, 0]) & (_gap(b, crowd[onset]) == 0)
        return "drift onto a distractor" if on.any() else "drift onto background"
    if (meta.get("embedded") or {}).get("distractor_source"):
        return "drift onto a distractor"
    return "drift onto background"


def _cache_file(cache: Path, tracker: str, spec: str, seed: int) -> Path:
    """split_bench.py's cache file of one (tracker, data set, seed) run (its naming)."""
    safe = tracker.replace("/", "_").replace("@", "__at__")
    return cache / f"{safe}__{spec.replace(':', '_').replace('/', '_')}__{seed}.json"


def boxes_of(folder: str, tracker: str, seq: str, spec: str) -> np.ndarray | None:
    """The boxes ``tracker`` gave on ``seq``: from ``FOLDER/<tracker>/<seq>.txt`` (``metatrack run``) or, for a
    folder named ``CACHE#SEED``, from split_bench's cached one-pass run of that seed (a deterministic
    tracker's run of the first seed stands for every seed); None when there are none."""
    from metatrack.data.textfile import read_boxes

    if "#" not in folder:
        path = Path(folder) / tracker / f"{seq}.txt"
        return read_boxes(path) if path.is_file() else None
    cache, seed = folder.rsplit("#", 1)
    path = _cache_file(Path(cache), tracker, spec, int(seed))
    if not path.is_file():
        stem = _cache_file(Path(cache), tracker, spec, 0).name.rsplit("__", 1)[0]
        firsts = sorted(Path(cache).glob(f"{stem}__*.json"))
        if len(firsts) != 1:
            return None
        path = firsts[0]
    run = json.loads(path.read_text())
    curves = run.get("ope_curves", {}).get(seq, {})
    return np.asarray(curves["boxes"], dtype=np.float64) if "boxes" in curves else None


def analyse(spec: str, folders: list[str], trackers: list[str], reference: str, lost_iou: float,
            min_frames: int) -> dict[str, Any]:
    """Loss events of every tracker in every results folder (one folder per seed) on ``spec``."""
    from metatrack.data import open_dataset

    out: dict[str, Any] = {"dataset": spec, "folders": folders, "lost_iou": lost_iou, "min_frames": min_frames,
                           "reference": reference, "events": {}, "counts": {}}
    seen: set[tuple[str, str, bytes]] = set()  # a deterministic tracker's copy in another seed's folder counts once
    for seq in open_dataset(spec):
        gt = seq.boxes
        visible = np.asarray(seq.meta.get("visible", np.ones(len(gt))), dtype=np.float64)
        for folder in folders:
            ref = boxes_of(folder, reference, seq.name, spec)
            for t in trackers:
                boxes = boxes_of(folder, t, seq.name, spec)
                if boxes is None or (t, seq.name, boxes.tobytes()) in seen:
                    continue
                seen.add((t, seq.name, boxes.tobytes()))
                evs = loss_events(t, boxes, gt, visible, seq.meta, ref, lost_iou, min_frames)
                for e in evs:
                    e.update(sequence=seq.name, folder=folder)
                out["events"].setdefault(t, []).extend(evs)
    for t, evs in out["events"].items():
        c = Counter(e["cause"] for e in evs)
        out["counts"][t] = {
            "events": len(evs),
            "never_recovered": sum(not e["recovered"] for e in evs),
            "reference_held": sum(bool(e["reference_held"]) for e in evs),
            "by_cause": {k: c.get(k, 0) for k in CAUSES},
            "by_cause_reference_held": {k: sum(1 for e in evs if e["cause"] == k and e["reference_held"])
                                        for k in CAUSES},
            "by_cause_never_recovered": {k: sum(1 for e in evs if e["cause"] == k and not e["recovered"])
                                         for k in CAUSES},
            "by_context": {k: sum(1 for e in evs if e["context"] == k) for k in CONTEXTS},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", action="append", required=True, help="FORMAT:PATH (repeatable, with --results each)")
    p.add_argument("--results", nargs="+", action="append",
                   help="results folders of `metatrack run`, one per seed (once per --dataset)")
    p.add_argument("--split-bench-cache", metavar="DIR",
                   help="instead of --results: the one-pass runs that bench/split_bench.py kept in this cache")
    p.add_argument("--seeds", default="0,1", help="with --split-bench-cache: the seeds of its runs")
    p.add_argument("--trackers", nargs="+", default=["metasdnet", "metacrest", "opencv-csrt"])
    p.add_argument("--reference", default="opencv-csrt")
    p.add_argument("--lost-iou", type=float, default=0.1)
    p.add_argument("--min-frames", type=int, default=5)
    p.add_argument("--json", help="write the events and counts here")
    p.add_argument("--table", help="write the counts as a results table here (bench/results_tables.py renders it)")
    p.add_argument("--note", default="", help="the table's split, seeds and what was chosen on it, in words")
    args = p.parse_args(argv)
    if args.split_bench_cache:
        if args.results:
            p.error("give --results or --split-bench-cache, not both")
        args.results = [[f"{args.split_bench_cache}#{s}" for s in args.seeds.split(",")] for _ in args.dataset]
    if not args.results or len(args.dataset) != len(args.results):
        p.error("give --results once for every --dataset")
    from metatrack.io import atomic_write_text

    doc = {"analyses": [analyse(spec, folders, args.trackers, args.reference, args.lost_iou, args.min_frames)
                        for spec, folders in zip(args.dataset, args.results, strict=True)]}
    for a in doc["analyses"]:
        print(a["dataset"])
        for t, c in a["counts"].items():
            causes = ", ".join(f"{k} {v} ({c['by_cause_reference_held'][k]} ref held, "
                               f"{c['by_cause_never_recovered'][k]} never rec.)" for k, v in c["by_cause"].items() if v)
            print(f"  {t}: {c['events']} events, {c['never_recovered']} never recovered, "
                  f"{c['reference_held']} where {a['reference']} held: {causes}")
    if args.json:
        atomic_write_text(args.json, json.dumps(doc, indent=1) + "\n")
    if args.table:
        atomic_write_text(args.table, json.dumps(count_table(doc, args, argv), indent=1) + "\n")
    return 0


def count_table(doc: dict[str, Any], args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    """The counts of every data set summed, one row per tracker: events, never recovered, the reference
    holding the target meanwhile, and each cause (never recovered in brackets)."""
    import datetime
    import shlex
    import sys

    from meta_bench import cpu_name

    trackers = list(dict.fromkeys(t for a in doc["analyses"] for t in a["counts"]))
    rows = []
    for t in trackers:
        cs = [a["counts"][t] for a in doc["analyses"] if t in a["counts"]]
        total = {k: sum(c[k] for c in cs) for k in ("events", "never_recovered", "reference_held")}
        cause = [f"{sum(c['by_cause'][k] for c in cs)} ({sum(c['by_cause_never_recovered'][k] for c in cs)})"
                 for k in CAUSES]
        context = [str(sum(c["by_context"][k] for c in cs)) for k in CONTEXTS]
        rows.append([t, str(total["events"]), str(total["never_recovered"]), str(total["reference_held"]), *cause,
                     *context])
    command = shlex.join(["bench/failure_causes.py", *(argv if argv is not None else sys.argv[1:])])
    return {"kind": "table", "columns": ["tracker", "loss events", "never recovered", f"{args.reference} held",
                                         *CAUSES, *(f"at: {k}" for k in CONTEXTS)],
            "rows": rows, "split": args.note or ", ".join(a["dataset"] for a in doc["analyses"]),
            "seeds": "those of the results folders", "date": datetime.date.today().isoformat(),
            "machine": f"{cpu_name()}, one torch thread", "command": f".venv/bin/python {command}"}


if __name__ == "__main__":
    raise SystemExit(main())
