"""Helpers shared by the benchmark readers: listing frames, name lists, building checked sequences.

Every reader follows the same steps (find the sequence folders, list the frame files without
reading them, parse the ground truth, check that counts agree) and raises the same errors; they
live here once so that each reader only states what is peculiar to its format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Sequence as SequenceABC
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .sequence import ImageFiles, Sequence
from .textfile import read_text

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``1.jpg < 2.jpg < 10.jpg``."""
    parts = _DIGITS.split(name)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts)


def require_dir(path: str | Path, what: str = "folder") -> Path:
    """``path`` as a Path; a missing folder (or a file in its place) is a DataError naming it."""
    p = Path(path)
    if not p.is_dir():
        raise DataError(f"{what} does not exist" if not p.exists() else f"{what} is not a folder", p)
    return p


def list_images(folder: str | Path, suffixes: Iterable[str] = IMAGE_SUFFIXES) -> list[Path]:
    """The image files directly inside ``folder``, sorted naturally; only names are listed."""
    d = require_dir(folder, "image folder")
    wanted = {s.lower() for s in suffixes}
    files = [p for p in d.iterdir() if p.suffix.lower() in wanted and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_name_list(path: str | Path) -> list[tuple[str, int]]:
    """Non-blank lines of a ``list.txt``-style file as ``(name, line number)`` pairs.

    Each name is one folder name: ``..``, ``/`` or ``a/b`` would read folders outside the data set.
    """
    names = [(line.strip(), n) for n, line in enumerate(read_text(path).splitlines(), start=1)]
    names = [(name, n) for name, n in names if name]
    if not names:
        raise DataError("the list names no sequence", path)
    for name, n in names:
        if name in (".", "..") or "/" in name or "\\" in name:
            raise DataError(f"{name[:80]!r} is not a sequence folder name", path, n)
    return names


def listed_folder(folder: Path, list_path: str | Path, line: int) -> Path:
    """``folder``, named at ``line`` of ``list_path``; a DataError naming that line when it is no folder.

    A name the file system rejects (too long, a NUL byte) is reported the same way.
    """
    try:
        exists = folder.is_dir()
    except (OSError, ValueError):
        exists = False
    if not exists:
        raise DataError(f"sequence folder {folder} does not exist", list_path, line)
    return folder


def listed_folders(list_path: str | Path, names: Iterable[str] | None = None) -> list[tuple[str, Path]]:
    """``(name, folder)`` of each sequence a ``list.txt`` names (next to it), keeping only ``names``.

    A listed folder that does not exist is a DataError naming the list file and line.
    """
    list_path = Path(list_path)
    entries = read_name_list(list_path)
    chosen = set(select_names([n for n, _ in entries], names, list_path))
    out = []
    for name, line in entries:
        if name in chosen:
            out.append((name, listed_folder(list_path.parent / name, list_path, line)))
    return out


def select_names(available: SequenceABC[str], names: Iterable[str] | None, where: str | Path) -> list[str]:
    """``available`` restricted to ``names`` (in the data set's order); an unknown name is a ConfigError.

    ``names`` is the ``--sequences`` filter; ``None`` keeps everything.
    """
    if names is None:
        return list(available)
    wanted = list(dict.fromkeys(names))
    known = set(available)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        shown = ", ".join(list(available)[:10]) + (", ..." if len(available) > 10 else "")
        raise ConfigError(
            f"--sequences: no sequence {', '.join(map(repr, unknown))} in {where}; known: {shown}"
        )
    keep = set(wanted)
    return [n for n in available if n in keep]


def invalid_to_nan(boxes: np.ndarray) -> np.ndarray:
    """Rows that are not finite or have no positive width and height become NaN (frames to skip)."""
    out = np.array(boxes, dtype=np.float64, copy=True).reshape(-1, 4)
    with np.errstate(invalid="ignore"):
        bad = ~np.all(np.isfinite(out), axis=1) | (out[:, 2] <= 0) | (out[:, 3] <= 0)
    out[bad] = np.nan
    return out


def check_first_row(boxes: np.ndarray, gt_path: str | Path) -> None:
    """The first ground-truth box initialises the tracker: NaN or zero size is a DataError at line 1."""
    first = np.asarray(boxes[0], dtype=np.float64)
    if not np.all(np.isfinite(first)):
        raise DataError(f"the first box {first.tolist()} is not finite (NaN)", gt_path, 1)
    if first[2] <= 0 or first[3] <= 0:
        raise DataError(f"the first box {first.tolist()} has zero or negative size", gt_path, 1)


def check_count(
    name: str, n_frames: int, n_boxes: int, gt_path: str | Path, frames_where: str | Path
) -> None:
    """Frames and ground-truth lines must agree; say which sequence and both counts when not."""
    if n_frames != n_boxes:
        raise DataError(
            f"sequence {name!r} has {n_frames} frames in {frames_where} but {n_boxes} ground-truth lines",
            gt_path,
        )


def check_flags(flags: np.ndarray, n_frames: int, path: str | Path) -> np.ndarray:
    """A per-frame flag file must hold one value per frame."""
    if len(flags) != n_frames:
        raise DataError(f"expected {n_frames} per-frame values (one per frame), found {len(flags)}", path)
    return flags


def build_sequence(
    name: str,
    frames: SequenceABC[Path],
    file_boxes: np.ndarray,
    gt_path: str | Path,
    *,
    origin: float = 0.0,
    attributes: Iterable[str] = (),
    meta: dict | None = None,
    frames_where: str | Path | None = None,
    image_size: tuple[int, int] | None = None,
) -> Sequence:
    """A :class:`Sequence` of image files from boxes in the file's own convention, fully checked.

    Checks that there is one box per frame and that the first box is usable, converts the
    boxes to 0-based by subtracting ``origin`` from x and y, and turns invalid rows (NaN or zero
    size, which the toolkits skip when scoring) into NaN.
    """
    if not frames:
        raise DataError(f"sequence {name!r} has no image file", frames_where)
    boxes = np.asarray(file_boxes, dtype=np.float64).reshape(-1, 4)
    check_count(name, len(frames), len(boxes), gt_path, frames_where or Path(frames[0]).parent)
    check_first_row(boxes, gt_path)
    boxes = invalid_to_nan(boxes)
    boxes[:, :2] -= origin
    return Sequence(
        name=name,
        frames=ImageFiles(frames),
        boxes=boxes,
        attributes=tuple(attributes),
        origin=float(origin),
        meta=dict(meta or {}),
        _size=image_size,
    )
