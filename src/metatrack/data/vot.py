"""Reader of the VOT short-term data sets (VOT2013-VOT2019 layouts).

Layout: a root with ``list.txt`` naming one folder per sequence (the vot-toolkit workspace keeps
them under ``sequences/``, which is accepted too). Each folder holds ``groundtruth.txt`` with one
region per line, either a rectangle ``x,y,w,h`` or a polygon ``x1,y1,...,x4,y4`` (0-based, so
``origin`` = 0); polygons become the axis-aligned box of the same centre and area
(:func:`geometry.polygon_to_box`) and the raw regions are kept in ``meta["polygons"]``.
Frames are in ``color/`` (VOT2017 onwards) or directly in the folder (``00000001.jpg``, earlier).

Per-frame tag files (``occlusion.tag``, ``camera_motion.tag``... or ``*.label`` in old editions)
hold one 0/1 line per frame and may stop at the last tagged frame (the vot-toolkit pads them
with 0). Every tag set on some frame becomes a sequence attribute; all tags are kept as boolean
arrays in ``meta["tags"]``.

Ground truth lines of one value (``0``, ``1``, ``2``) are the toolkit's codes in *results* files,
never in ground truth, so they are malformed here; ``nan`` values (long-term editions) mark an
absent target. VOT2020+ segmentation masks (lines starting with ``m``) are not supported.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..geometry import polygon_to_box
from .files import build_sequence, list_images, listed_folders, require_dir
from .sequence import Sequence
from .textfile import parse_number_lines, read_flags, read_text

TAG_SUFFIXES = (".tag", ".label")


def _list_file(root: Path) -> Path:
    for candidate in (root / "list.txt", root / "sequences" / "list.txt"):
        if candidate.is_file():
            return candidate
    raise DataError("VOT list.txt is missing (looked in the folder and in sequences/)", root / "list.txt")


def read_regions(gt_path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Boxes (N, 4) and, when any line is a polygon, every region as 4 corners (N, 8)."""
    first = read_text(gt_path).lstrip()[:1]
    if first == "m":
        raise DataError("segmentation-mask ground truth (VOT2020+) is not supported", gt_path, 1)
    rows = parse_number_lines(gt_path, widths=(4, 8), allow_nan=True)
    if not rows:
        raise DataError("no region in file", gt_path)
    boxes = np.empty((len(rows), 4))
    polygons = np.empty((len(rows), 8))
    any_polygon = False
    for i, r in enumerate(rows):
        if len(r) == 8:
            any_polygon = True
            polygons[i] = r
            boxes[i] = polygon_to_box(r) if np.all(np.isfinite(r)) else np.nan
        else:
            x, y, w, h = r
            boxes[i] = r
            polygons[i] = [x, y, x + w, y, x + w, y + h, x, y + h]
    return boxes, (polygons if any_polygon else None)


def read_tags(folder: Path, n_frames: int) -> dict[str, np.ndarray]:
    """Per-frame tag files of a sequence folder as ``name -> bool array`` of length ``n_frames``."""
    tags: dict[str, np.ndarray] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix in TAG_SUFFIXES and p.is_file()):
        values = read_flags(path)
        if len(values) > n_frames:
            raise DataError(f"tag file has {len(values)} values for {n_frames} frames", path)
        flags = np.zeros(n_frames, dtype=bool)
        flags[: len(values)] = values != 0
        tags[path.stem] = flags
    return tags


def _read_sequence(name: str, folder: Path) -> Sequence:
    gt_path = folder / "groundtruth.txt"
    image_dir = folder / "color" if (folder / "color").is_dir() else folder
    frames = list_images(image_dir)
    boxes, polygons = read_regions(gt_path)
    meta: dict = {"folder": str(folder)}
    if polygons is not None:
        meta["polygons"] = polygons
    seq = build_sequence(name, frames, boxes, gt_path, origin=0.0, meta=meta, frames_where=image_dir)
    tags = read_tags(folder, len(seq))
    seq.meta["tags"] = tags
    seq.attributes = tuple(t for t, flags in tags.items() if flags.any())
    absent = np.isnan(seq.boxes).any(axis=1)  # ``nan`` ground truth: the target is absent (long-term editions)
    if absent.any():
        seq.meta["absent"] = absent
    return seq


def read_vot(path: str | Path, names: Iterable[str] | None = None) -> list[Sequence]:
    """Every sequence named in the VOT root's ``list.txt`` (or only ``names``), frames read lazily."""
    root = require_dir(path, "VOT folder")
    list_path = _list_file(root)
    return [_read_sequence(name, folder) for name, folder in listed_folders(list_path, names)]
