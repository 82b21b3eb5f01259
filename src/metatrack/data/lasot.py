"""Reader of LaSOT (Fan et al., CVPR 2019).

Layout: a root with one folder per category and one folder per sequence inside it,
``airplane/airplane-1/img/00000001.jpg ...`` with ``groundtruth.txt`` (comma separated, 1-based
MATLAB coordinates, so ``origin`` = 1), ``full_occlusion.txt`` and ``out_of_view.txt`` (0/1 per
frame, comma separated on one line) and ``nlp.txt`` (a sentence describing the target).

Boxes of frames flagged as fully occluded or out of view are kept as annotated (the flags go to
``meta["full_occlusion"]`` and ``meta["out_of_view"]``, and the tags ``FOC`` / ``OV`` become
attributes when any frame has them); rows that are NaN or of zero size become NaN.
The official protocol-II split is listed in ``testing_set.txt`` / ``training_set.txt`` at the
root, selected with ``subset="test"`` / ``"train"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import ConfigError, DataError
from .files import (
    build_sequence,
    check_flags,
    list_images,
    listed_folder,
    read_name_list,
    require_dir,
    select_names,
)
from .sequence import Sequence
from .textfile import read_boxes, read_flags, read_text

SUBSET_FILES = {"test": "testing_set.txt", "train": "training_set.txt"}
FLAG_FILES = {"full_occlusion": "FOC", "out_of_view": "OV"}


def _category(name: str) -> str:
    """``airplane-1`` -> ``airplane`` (categories may contain hyphens themselves)."""
    return name.rsplit("-", 1)[0]


def _all_sequences(root: Path) -> list[tuple[str, Path]]:
    out = []
    for category in sorted(d for d in root.iterdir() if d.is_dir()):
        for folder in category.iterdir():
            if folder.is_dir() and ((folder / "img").is_dir() or (folder / "groundtruth.txt").exists()):
                out.append((folder.name, folder))
    if not out:
        raise DataError("no LaSOT sequence folder (category/name/img) found", root)
    return sorted(out, key=lambda t: (_category(t[0]), t[0]))


def _subset(root: Path, subset: str) -> list[tuple[str, Path]]:
    if subset not in SUBSET_FILES:
        raise ConfigError(f"LaSOT subset {subset!r}: use one of all, {', '.join(SUBSET_FILES)}")
    list_path = root / SUBSET_FILES[subset]
    out = []
    for name, line in read_name_list(list_path):
        out.append((name, listed_folder(root / _category(name) / name, list_path, line)))
    return out


def _read_sequence(name: str, folder: Path) -> Sequence:
    gt_path = folder / "groundtruth.txt"
    frames = list_images(folder / "img")
    meta: dict = {"folder": str(folder), "category": folder.parent.name}
    attributes = []
    for flag, tag in FLAG_FILES.items():
        path = folder / f"{flag}.txt"
        if path.is_file():
            meta[flag] = check_flags(read_flags(path), len(frames), path) != 0
            if meta[flag].any():
                attributes.append(tag)
    if (folder / "nlp.txt").is_file():
        meta["nlp"] = read_text(folder / "nlp.txt").strip()
    return build_sequence(
        name,
        frames,
        read_boxes(gt_path),
        gt_path,
        origin=1.0,
        attributes=attributes,
        meta=meta,
        frames_where=folder / "img",
    )


def read_lasot(
    path: str | Path, names: Iterable[str] | None = None, subset: str | None = None
) -> list[Sequence]:
    """LaSOT sequences, frames read lazily: all of them, or the ``subset`` ("test"/"train") list.

    ``names`` (``airplane-1``) further restricts the selection.
    """
    root = require_dir(path, "LaSOT folder")
    entries = _all_sequences(root) if subset in (None, "all") else _subset(root, subset)
    folders = dict(entries)
    chosen = select_names(list(folders), names, root)
    return [_read_sequence(name, folders[name]) for name in chosen]
