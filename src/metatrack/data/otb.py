"""Reader of OTB-50/100 (Wu, Lim & Yang, TPAMI 2015), with the quirks the got10k toolkit handles.

Layout: one folder per sequence, ``<seq>/img/0001.jpg ...`` and ``<seq>/groundtruth_rect.txt``
(separators are commas, tabs or spaces; coordinates are 1-based MATLAB ones, so ``origin`` = 1).
Two-target folders hold ``groundtruth_rect.1.txt`` and ``groundtruth_rect.2.txt`` and become two
sequences ``Jogging.1`` and ``Jogging.2`` as in got10k; empty annotation files (Human4 ships one)
are skipped as got10k does. In five sequences the annotated frames are a sub-range of the image
folder (:data:`OTB_FRAME_RANGES`); any other disagreement between frame and line counts is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import DataError
from .files import build_sequence, list_images, require_dir, select_names
from .sequence import Sequence
from .textfile import read_boxes, read_text

# The eleven OTB attribute tags (Wu et al., TPAMI 2015, Table 1).
OTB_ATTRIBUTES: tuple[str, ...] = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")

# Sequences whose ground truth covers only frames first..last (1-based, inclusive) of img/,
# exactly as got10k's OTB dataset slices them. Keys are lower-case sequence names.
OTB_FRAME_RANGES: dict[str, tuple[int, int]] = {
    "david": (300, 770),
    "football1": (1, 74),
    "freeman3": (1, 460),
    "freeman4": (1, 283),
    "diving": (1, 215),
}

_GT_FILE = re.compile(r"^groundtruth_rect(?:\.(\d+))?\.txt$")


def _annotation_files(folder: Path) -> list[Path]:
    """Non-empty ``groundtruth_rect[.N].txt`` files of a sequence folder, in target order."""
    found = [p for p in folder.iterdir() if p.is_file() and _GT_FILE.match(p.name)]
    found.sort(key=lambda p: int(_GT_FILE.match(p.name).group(1) or 0))
    return [p for p in found if read_text(p).strip()]


def _read_attributes(folder: Path) -> tuple[str, ...]:
    """Tags of ``<seq>/attributes.txt`` (``SV,OCC``), written by the embedded data set; else none."""
    path = folder / "attributes.txt"
    if not path.is_file():
        return ()
    tags = re.split(r"[,\s;]+", read_text(path).strip())
    return tuple(dict.fromkeys(t.upper() for t in tags if t))


def _sequence_folders(root: Path) -> list[Path]:
    """Sub-folders that look like OTB sequences (an ``img`` folder or a ground-truth file)."""
    out = []
    for d in root.iterdir():
        if not d.is_dir():
            continue
        if (d / "img").is_dir() or any(_GT_FILE.match(p.name) for p in d.iterdir() if p.is_file()):
            out.append(d)
    return sorted(out, key=lambda d: d.name.lower())


def _read_target(
    name: str, folder: Path, gt_path: Path, frame_ranges: Mapping[str, tuple[int, int]]
) -> Sequence:
    frames = list_images(folder / "img")
    file_boxes = read_boxes(gt_path)
    meta: dict = {"folder": str(folder), "groundtruth": str(gt_path)}
    known = frame_ranges.get(folder.name.lower())
    if known is not None and len(frames) != len(file_boxes):
        first, last = known
        frames = frames[first - 1 : last]
        meta["frame_range"] = (first, last)
    return build_sequence(
        name,
        frames,
        file_boxes,
        gt_path,
        origin=1.0,
        attributes=_read_attributes(folder),
        meta=meta,
        frames_where=folder / "img",
    )


def read_otb(
    path: str | Path,
    names: Iterable[str] | None = None,
    frame_ranges: Mapping[str, tuple[int, int]] = OTB_FRAME_RANGES,
) -> list[Sequence]:
    """Every sequence of an OTB root folder, frames read lazily.

    ``names`` keeps only those sequences; a folder name (``Jogging``) selects all its targets,
    a target name (``Jogging.1``) one. ``frame_ranges`` maps lower-case folder names to the
    1-based inclusive range of annotated frames, applied only where the counts disagree.
    """
    root = require_dir(path, "OTB folder")
    folders = {d.name: d for d in _sequence_folders(root)}
    wanted = None if names is None else list(names)
    if wanted is not None:
        # "Jogging.1" lives in folder "Jogging"; read only the folders asked for.
        as_folder = [n if n in folders else n.rsplit(".", 1)[0] for n in wanted]
        folders = {k: folders[k] for k in select_names(list(folders), as_folder, root)}
    targets: list[tuple[str, Path, Path]] = []
    for folder in folders.values():
        gt_files = _annotation_files(folder)
        if not gt_files:
            raise DataError("sequence folder has no non-empty groundtruth_rect.txt", folder)
        if len(gt_files) == 1:
            targets.append((folder.name, folder, gt_files[0]))
        else:
            targets += [(f"{folder.name}.{i}", folder, gt) for i, gt in enumerate(gt_files, start=1)]
    if wanted is not None:
        select_names(list(dict.fromkeys([t[0] for t in targets] + list(folders))), wanted, root)
        targets = [t for t in targets if t[0] in wanted or t[1].name in wanted]
    return [_read_target(name, folder, gt, frame_ranges) for name, folder, gt in targets]
