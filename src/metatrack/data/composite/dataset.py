"""Writing the embedded data set to disk in OTB's layout, and reading it back.

``<out>/<seq>/img/0001.jpg ...``, ``<seq>/groundtruth_rect.txt`` (OTB's 1-based ``x,y,w,h``, one
line per frame; ``0,0,0,0`` where the target is wholly out of view, as OTB marks frames without
a target), ``<seq>/attributes.txt`` (OTB's comma-separated tags), ``<seq>/meta.json`` (how the
sequence was made and per-frame facts: visible fraction, occluder and distractor boxes, gain,
blur) and ``<out>/manifest.json`` for the split. A sequence is rendered into a hidden temporary
folder and renamed when complete, so an interrupted run never leaves one that looks finished;
a re-run with the same arguments skips every sequence already there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ...errors import ConfigError, DataError
from ...io import atomic_write_json, cache_root
from ..sequence import Sequence
from .motion import ATTRIBUTE_RATES, ATTRIBUTES, SPLIT_RATES, draw_plan
from .render import render
from .sources import SPLIT_POOLS, pool_for

# Each split's content version: a sequence folder or cache made under another version is made
# again. train v2: 27 target objects instead of 7 (sources.POOLS). VERSIONS is the version a split
# name reads by default; OTHER_VERSIONS the others still generated (``version=`` option): train v4
# (67 objects, no video of a real clip, static occluders, hand-held camera: sources.VERSION_POOLS,
# motion.VERSION_FEATURES). Train v3 was a draft (texture patches), not kept, never generated again.
VERSIONS: dict[str, int] = {"eval": 1, "train": 2, "test": 1, "crossing": 1, "hard": 1, "faces": 1, "backdrops": 1}
OTHER_VERSIONS: dict[str, tuple[int, ...]] = {"train": (4,)}
JPEG_QUALITY = 90
GENERATOR = "metatrack.data.composite"

# The splits that ``read_embedded("eval")``, ``("train")`` and ``("test")`` generate: eval and test
# are sized so the OpenCV peers score them in a couple of minutes on two CPU cores. train is for
# meta-training, eval for every choice, test is reported and never used to choose: it has its own
# pool (sources.POOLS), seed, frame size and challenge shares, so it is not a copy of eval's
# conditions. ``challenge_rates`` replaces shares of motion.ATTRIBUTE_RATES (each challenge also
# comes in the 1/12 of the sequences whose index forces it; motion.SPLIT_RATES holds them).
# test's seed is the first after train's whose 16 sequences show every background of its pool,
# picked before any tracker ran on it. crossing (issue 13) is a second split of the validation role,
# drawn from eval's pool: surveillance-style sequences (a still camera, small targets, look-alikes
# crossing the target's path, a static pole or sign hiding it, departures and returns) with
# conditions of its own (motion.draw_crossing_plan), its own seed and frame size.
DEFAULT_SPLITS: dict[str, dict] = {
    "eval": {"sequences": 16, "frames": 150, "seed": 0, "image_size": (480, 360)},
    "train": {"sequences": 96, "frames": 120, "seed": 1, "image_size": (480, 360)},
    "test": {
        "sequences": 16,
        "frames": 150,
        "seed": 3,
        "image_size": (320, 240),
        "challenge_rates": SPLIT_RATES["test"],
    },
    "crossing": {"sequences": 12, "frames": 240, "seed": 5, "image_size": (640, 360)},
    # validation: eval's sources under test's conditions (frame size and challenge shares), so that
    # a choice is made on the conditions it will be reported on without looking at test's sources
    "hard": {
        "sequences": 16,
        "frames": 150,
        "seed": 7,
        "image_size": (320, 240),
        "challenge_rates": SPLIT_RATES["hard"],
    },
    # validation: twelve portrait faces no other split uses (sources.VALIDATION_FACES) under test's
    # conditions, as test's seven faces are; seed 9, picked before any tracker ran on it
    "faces": {
        "sequences": 16,
        "frames": 150,
        "seed": 9,
        "image_size": (320, 240),
        "challenge_rates": SPLIT_RATES["faces"],
    },
    # validation: backgrounds of test's kinds (a printed page, a head phantom, a logo, a relief) from
    # sources no other split uses (sources.POOLS["backdrops"]), under test's conditions; seed 10, the
    # first after the faces split's whose 16 sequences show all four, picked before any tracker ran on it
    "backdrops": {
        "sequences": 16,
        "frames": 150,
        "seed": 10,
        "image_size": (320, 240),
        "challenge_rates": SPLIT_RATES["backdrops"],
    },
}
#: the splits whose conditions are their own (no challenge shares, no cut of the targets)
OWN_CONDITIONS = ("crossing",)
_BASE_SIZE = (480, 360)  # frame size of a split without one of its own; no suffix on its cache folder


def _default_size(split: str) -> tuple[int, int]:
    return tuple(DEFAULT_SPLITS.get(split, {}).get("image_size", _BASE_SIZE))


def _rates(split: str, challenge_rates: dict | None) -> dict[str, float]:
    """The shares that differ from ATTRIBUTE_RATES, sorted; ``None`` takes the split's own."""
    if challenge_rates is None:
        challenge_rates = DEFAULT_SPLITS.get(split, {}).get("challenge_rates", {})
    if challenge_rates and split in OWN_CONDITIONS:
        raise ConfigError(f"challenge_rates: the {split} split draws its own conditions (docs/data.md), no shares")
    unknown = sorted(set(challenge_rates) - set(ATTRIBUTES))
    if unknown:
        raise ConfigError(f"challenge_rates: unknown challenge(s) {', '.join(unknown)}; known: {', '.join(ATTRIBUTES)}")
    out = {}
    for tag in sorted(challenge_rates):
        value = float(challenge_rates[tag])
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"challenge_rates: {tag}={value}: a share is between 0 and 1")
        if value != ATTRIBUTE_RATES[tag]:
            out[tag] = value
    return out


def _version(split: str, version: int | None) -> int:
    """The version to generate: the split's default, or one of :data:`OTHER_VERSIONS`."""
    if split not in SPLIT_POOLS:
        raise ConfigError(f"split {split!r}: expected one of {', '.join(sorted(SPLIT_POOLS))}")
    if version is None:
        return VERSIONS[split]
    known = (VERSIONS[split], *OTHER_VERSIONS.get(split, ()))
    if int(version) not in known:
        versions = ", ".join(map(str, known))
        raise ConfigError(f"version={version}: the {split} split is generated in version(s) {versions}")
    return int(version)


def _check_objects(split: str, version: int, objects: int | None) -> None:
    if objects is None:
        return
    if split in OWN_CONDITIONS:
        raise ConfigError(f"objects={objects}: the {split} split takes every target of its pool")
    count = len(pool_for(split, version).targets)
    if not 1 <= int(objects) <= count:
        raise ConfigError(f"objects={objects}: the {split} split (version {version}) has {count} target objects")


def _check_args(split: str, sequences: int, frames: int, image_size: tuple[int, int]) -> None:
    if split not in SPLIT_POOLS:
        raise ConfigError(f"split {split!r}: expected one of {', '.join(sorted(SPLIT_POOLS))}")
    if int(sequences) < 1:
        raise ConfigError(f"sequences={sequences}: need at least 1")
    if int(frames) < 2:
        raise ConfigError(f"frames={frames}: need at least 2")
    if len(image_size) != 2 or image_size[0] < 64 or image_size[1] < 48:
        raise ConfigError(f"image_size={tuple(image_size)}: need width >= 64 and height >= 48")


def _params(
    split: str,
    seed: int,
    index: int,
    frames: int,
    image_size: tuple[int, int],
    rates: dict | None = None,
    version: int | None = None,
    objects: int | None = None,
) -> dict:
    """What decides a sequence's content; a folder made with other parameters is made again.

    ``rates``: the challenge shares that differ from the generator's (listed only when some do);
    ``objects``: listed only when the targets are cut to the pool's first ``objects``.
    """
    params = {
        "generator": GENERATOR,
        "version": _version(split, version),
        "split": split,
        "seed": int(seed),
        "index": int(index),
        "frames": int(frames),
        "image_size": [int(image_size[0]), int(image_size[1])],
        "jpeg_quality": JPEG_QUALITY,
    }
    if rates:
        params["challenge_rates"] = dict(rates)
    if objects is not None:
        params["objects"] = int(objects)
    return params


def _read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "meta.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _is_complete(folder: Path, params: dict) -> bool:
    meta = _read_meta(folder)
    if meta is None or meta.get("params") != params:
        return False
    img = folder / "img"
    return (folder / "groundtruth_rect.txt").is_file() and all(
        (img / f"{i:04d}.jpg").is_file() for i in range(1, params["frames"] + 1)
    )


def _box_line(box: list[float] | None) -> str:
    """OTB's 1-based ``x,y,w,h``; a target wholly out of view is ``0,0,0,0``."""
    if box is None:
        return "0,0,0,0"
    x, y, w, h = (int(round(v)) for v in box)
    return f"{x + 1},{y + 1},{w},{h}"


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _sequence_summary(plan, meta: dict | None = None) -> dict:
    entry = {
        "name": plan.name,
        "index": plan.index,
        "target": plan.target_name,
        "sources": plan.sources(),
        "background": f"{plan.background.kind}:{plan.background.name}",
        "attributes": list(plan.attributes),
    }
    if meta is not None:
        entry["events"] = meta.get("events", {})
    return entry


def write_sequence(
    out: Path,
    split: str,
    seed: int,
    index: int,
    frames: int,
    image_size,
    rates: dict | None = None,
    version: int | None = None,
    objects: int | None = None,
) -> tuple[Path, dict]:
    """Render sequence ``index`` into ``out/<name>`` unless it is already complete there.

    ``rates``: challenge shares that replace the generator's; ``version``, ``objects``: see
    :func:`write_split`.
    """
    rates = _rates(split, rates)
    version = _version(split, version)
    plan = draw_plan(split, seed, index, frames, tuple(image_size), rates=rates, version=version, objects=objects)
    params = _params(split, seed, index, frames, image_size, rates, version, objects)
    final = out / plan.name
    if _is_complete(final, params):
        return final, _sequence_summary(plan, _read_meta(final))
    if final.exists():
        meta = _read_meta(final)
        if meta is None or meta.get("params", {}).get("generator") != GENERATOR:
            raise DataError("folder exists and was not written by the embedded data set; not replacing it", final)
    # leftovers of an interrupted run (one writer per folder is assumed)
    for stale in out.glob(f".{plan.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = out / f".{plan.name}.tmp-{os.getpid()}"
    (tmp / "img").mkdir(parents=True)
    try:
        lines: list[str] = []
        per_frame: dict[str, list] = {}
        for t, (image, meta) in enumerate(render(plan), start=1):
            ok, data = cv2.imencode(
                ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            )
            if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
                raise DataError("JPEG encoding failed", tmp / "img" / f"{t:04d}.jpg")
            (tmp / "img" / f"{t:04d}.jpg").write_bytes(data.tobytes())
            lines.append(_box_line(meta["box"]))
            for key, value in meta.items():
                per_frame.setdefault(key, []).append(_rounded(value))
        (tmp / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (tmp / "attributes.txt").write_text(",".join(plan.attributes) + "\n", encoding="utf-8")
        info = {k: v for k, v in plan.info.items() if v}
        meta_doc = {
            "params": params,
            "name": plan.name,
            "target": plan.target_name,
            "target_source": plan.target.source,
            "background": {"kind": plan.background.kind, "name": plan.background.name},
            "occluder_source": plan.occluder.source if plan.occluder is not None else None,
            "distractor_source": plan.distractor.source if plan.distractor is not None else None,
            **({"crowd": [{"source": c.source, "front": f, "tint": [round(g, 4) for g in c.tint]}
                          for c, f in zip(plan.crowd, plan.crowd_front, strict=True)]} if plan.crowd else {}),
            "sources": plan.sources(),
            "attributes": list(plan.attributes),
            "events": info,
            "per_frame": per_frame,
        }
        (tmp / "meta.json").write_text(json.dumps(meta_doc, separators=(",", ":")) + "\n", encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, _sequence_summary(plan, meta_doc)


def _complete_split(
    out: Path,
    split: str,
    sequences: int,
    frames: int,
    seed: int,
    image_size,
    rates: dict,
    version: int | None = None,
    objects: int | None = None,
) -> list[Path] | None:
    """The folders of a split already written with these arguments, or None (then write it)."""
    try:
        manifest = json.loads((out / "manifest.json").read_text("utf-8"))
        entries = manifest["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(entries) != int(sequences) or manifest.get("seed") != int(seed):
        return None
    paths = []
    for i, entry in enumerate(entries):
        path = out / str(entry.get("name"))
        params = _params(split, seed, i, frames, image_size, rates, version, objects)
        if entry.get("index") != i or not _is_complete(path, params):
            return None
        paths.append(path)
    return paths


def write_split(
    out: str | Path,
    split: str,
    sequences: int,
    frames: int,
    seed: int,
    image_size: tuple[int, int] | None = None,
    progress: bool = False,
    challenge_rates: dict[str, float] | None = None,
    version: int | None = None,
    objects: int | None = None,
) -> list[Path]:
    """Write ``sequences`` composite sequences of ``split`` to ``out`` in OTB's layout.

    Sequence ``i`` depends only on ``(seed, split, i, frames, image_size, challenge_rates,
    version, objects)``, so the first ``n`` sequences of a bigger split are the same files.
    ``image_size`` and ``challenge_rates`` (shares of the challenges replacing
    motion.ATTRIBUTE_RATES) default to the split's own in :data:`DEFAULT_SPLITS`; ``version`` to
    :data:`VERSIONS` (others: :data:`OTHER_VERSIONS`); ``objects`` cuts the targets to the pool's
    first ``objects``. Prints nothing unless ``progress`` (tqdm). Returns the sequence folders in order.
    """
    image_size = _default_size(split) if image_size is None else tuple(image_size)
    _check_args(split, sequences, frames, image_size)
    version = _version(split, version)
    _check_objects(split, version, objects)
    rates = _rates(split, challenge_rates)
    out = Path(out)
    done = _complete_split(out, split, sequences, frames, seed, image_size, rates, version, objects)
    if done is not None:
        return done
    out.mkdir(parents=True, exist_ok=True)
    indices = range(int(sequences))
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"synth {split}", unit="seq")
    paths: list[Path] = []
    entries: list[dict] = []
    for i in indices:
        path, entry = write_sequence(out, split, seed, i, frames, image_size, rates, version, objects)
        paths.append(path)
        entries.append(entry)
    manifest = {
        "generator": GENERATOR,
        "version": version,
        "split": split,
        "seed": int(seed),
        "sequences": int(sequences),
        **({"objects": int(objects)} if objects is not None else {}),
        "frames": int(frames),
        "image_size": [int(image_size[0]), int(image_size[1])],
        "jpeg_quality": JPEG_QUALITY,
        **({"challenge_rates": rates} if rates else {}),
        "box_format": "OTB: 1-based x,y,w,h; 0,0,0,0 where the target is wholly out of view",
        "attributes": list(ATTRIBUTES),
        "entries": entries,
    }
    atomic_write_json(out / "manifest.json", manifest)
    return paths


def split_folder(
    split: str,
    sequences: int,
    frames: int,
    seed: int,
    image_size=None,
    challenge_rates: dict | None = None,
    version: int | None = None,
    objects: int | None = None,
) -> Path:
    """Cache folder of a generated split: ``embedded/<split>-v<version>-s<seed>-n<N>-f<F>``.

    A frame size other than 480x360 adds ``-<W>x<H>``; challenge shares other than the split's
    own add ``-c<hash>``; a cut to the first ``objects`` targets adds ``-o<objects>``.
    ``image_size`` and ``challenge_rates`` default to the split's own.
    """
    image_size = _default_size(split) if image_size is None else tuple(image_size)
    name = f"{split}-v{_version(split, version)}-s{int(seed)}-n{int(sequences)}-f{int(frames)}"
    if tuple(image_size) != _BASE_SIZE:
        name += f"-{int(image_size[0])}x{int(image_size[1])}"
    rates = _rates(split, challenge_rates)
    if rates != _rates(split, None):
        name += "-c" + hashlib.sha256(json.dumps(rates, sort_keys=True).encode()).hexdigest()[:8]
    if objects is not None:
        name += f"-o{int(objects)}"
    return cache_root() / "embedded" / name


def _box_array(boxes: list) -> np.ndarray:
    """Boxes of meta.json (a list of ``[x, y, w, h]`` or None) as an (N, 4) float array, NaN for None."""
    return np.array([b if b is not None else [np.nan] * 4 for b in boxes], dtype=np.float64).reshape(-1, 4)


def _read_folder(root: Path) -> list[Sequence]:
    """Read a written split with the OTB reader, keeping the manifest's sequences and metadata."""
    from ..otb import read_otb

    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        return read_otb(root)
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
        names = [e["name"] for e in manifest["entries"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"manifest is not a metatrack embedded manifest ({exc})", manifest_path) from None
    missing = [n for n in names if not (root / n / "groundtruth_rect.txt").is_file()]
    if missing:
        raise DataError(f"sequences listed in the manifest are missing: {', '.join(missing[:5])}", root)
    by_name = {s.name: s for s in read_otb(root, names=names)}
    out = []
    for name in names:
        seq = by_name[name]
        meta = _read_meta(root / name) or {}
        per_frame = meta.get("per_frame", {})
        absent = np.array([b is None for b in per_frame.get("box", [])], dtype=bool)
        if absent.shape == (len(seq),):
            seq.boxes[absent] = np.nan
            seq.meta["absent"] = absent
        if "visible" in per_frame:
            seq.meta["visible"] = np.asarray(per_frame["visible"], dtype=np.float64)
        # where the occluder and the crowd of look-alikes were (0-based x, y, w, h; NaN where out of
        # view), for a look at what a tracker lost the target to
        if "occluder_box" in per_frame:
            seq.meta["occluder_boxes"] = _box_array(per_frame["occluder_box"])
        if "distractor_boxes" in per_frame:
            seq.meta["distractor_boxes"] = np.stack([_box_array(b) for b in per_frame["distractor_boxes"]])
        seq.meta["embedded"] = {k: v for k, v in meta.items() if k != "per_frame"}
        if meta.get("attributes") and not seq.attributes:
            seq.attributes = tuple(meta["attributes"])
        out.append(seq)
    return out


@contextlib.contextmanager
def _generation_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock (``<folder>.lock``) held while a split is checked and written: the second
    process waits, then finds the split complete."""
    import fcntl

    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_embedded(path_or_split: str = "eval", **options) -> list[Sequence]:
    """The embedded data set: a split name (generated once into the cache) or a written folder.

    Options for a split name: ``sequences``, ``frames``, ``seed``, ``image_size``,
    ``challenge_rates`` (override :data:`DEFAULT_SPLITS`), ``version`` (another version of the
    split: :data:`OTHER_VERSIONS`), ``objects`` (only the pool's first ``objects`` targets) and
    ``progress``. A meta-training config names them as a source's ``options``.
    """
    arg = str(path_or_split)
    if arg in DEFAULT_SPLITS:
        settings = {"challenge_rates": None, "version": None, "objects": None, **DEFAULT_SPLITS[arg]}
        progress = bool(options.pop("progress", False))
        unknown = sorted(set(options) - set(settings))
        if unknown:
            raise ConfigError(f"read_embedded: unknown option(s) {', '.join(unknown)}")
        settings.update(options)
        folder = split_folder(arg, **settings)
        with _generation_lock(folder):  # two processes using a split first must not write it both
            write_split(folder, arg, progress=progress, **settings)
        return _read_folder(folder)
    if options:
        raise ConfigError(f"read_embedded: options {', '.join(sorted(options))} only apply to a split name")
    root = Path(arg)
    if not root.is_dir():
        raise DataError(f"neither a split name ({', '.join(DEFAULT_SPLITS)}) nor a folder", arg)
    return _read_folder(root)
