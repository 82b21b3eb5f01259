"""Reader of GOT-10k (Huang, Zhao & Huang, TPAMI 2019).

Layout: a split folder (``GOT-10k/train``, ``val`` or ``test``) with ``list.txt`` and one folder
per sequence holding ``00000001.jpg ...``, ``groundtruth.txt`` (comma separated, 0-based, so
``origin`` = 0), the per-frame labels ``absence.label``, ``cut_by_image.label`` and ``cover.label``
(one integer per line; cover 0-8 is the visible fraction in eighths, 0 = fully hidden) and
``meta_info.ini``. Frames marked absent get NaN boxes; the label arrays go to ``meta``.

The test split publishes only the first box: where a sequence has no ``absence.label`` (the
test layout) a one-line ground truth is accepted, the other rows are NaN and
``meta["first_box_only"]`` is True. Everywhere else lines and frames must agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .files import build_sequence, check_flags, list_images, listed_folders, require_dir
from .sequence import Sequence
from .textfile import read_boxes, read_flags, read_text

SPLITS = ("train", "val", "test")
LABELS = ("absence", "cut_by_image", "cover")


def read_meta_info(path: Path) -> dict[str, str]:
    """``meta_info.ini`` as a dict (a ``[METAINFO]`` header, then ``key: value`` lines)."""
    info: dict[str, str] = {}
    for line in read_text(path).splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.lstrip().startswith("["):
            info[key.strip()] = value.strip()
    return info


def _read_sequence(name: str, folder: Path) -> Sequence:
    gt_path = folder / "groundtruth.txt"
    frames = list_images(folder)
    boxes = read_boxes(gt_path)
    labels = {
        label: check_flags(read_flags(folder / f"{label}.label"), len(frames), folder / f"{label}.label")
        for label in LABELS
        if (folder / f"{label}.label").is_file()
    }
    meta: dict = {"folder": str(folder), "first_box_only": False}
    if len(boxes) == 1 and len(frames) > 1 and "absence" not in labels:
        boxes = np.vstack([boxes, np.full((len(frames) - 1, 4), np.nan)])
        meta["first_box_only"] = True
    if "absence" in labels and len(boxes) == len(frames):
        if labels["absence"][0] != 0:  # else the error would blame the valid first box of groundtruth.txt
            where = folder / "absence.label"
            raise DataError("the target is marked absent on frame 1, which starts the tracker", where, 1)
        boxes = boxes.copy()
        boxes[labels["absence"] != 0] = np.nan
    meta.update(labels)
    if (folder / "meta_info.ini").is_file():
        meta["info"] = read_meta_info(folder / "meta_info.ini")
    return build_sequence(name, frames, boxes, gt_path, origin=0.0, meta=meta, frames_where=folder)


def read_got10k(path: str | Path, names: Iterable[str] | None = None, split: str = "val") -> list[Sequence]:
    """Every sequence of a GOT-10k split folder (or of ``root/split`` when given the root)."""
    root = require_dir(path, "GOT-10k folder")
    if not (root / "list.txt").is_file():
        if split not in SPLITS:
            raise ConfigError(f"GOT-10k split {split!r}: use one of {', '.join(SPLITS)}")
        if not (root / split).is_dir():
            raise DataError(f"neither list.txt nor a {split}/ split folder", root)
        root = root / split
    return [_read_sequence(name, folder) for name, folder in listed_folders(root / "list.txt", names)]
