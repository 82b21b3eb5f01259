"""Reader of ImageNet VID (ILSVRC2015 object detection from video) as meta-training clips.

Layout: ``Annotations/VID/<subset>/.../<video>/000000.xml`` beside ``Data/VID/<subset>/.../<video>/
000000.JPEG`` (train videos sit one level deeper, in ``ILSVRC2015_VID_train_000N/``). Each XML file
lists the frame's image size and its objects, each with a ``trackid`` and a ``bndbox``.

Boxes: the VID devkit scores with PASCAL-style inclusive pixel boxes (area ``(xmax - xmin + 1) *
(ymax - ymin + 1)``) and ``xmax`` reaches ``width - 1`` at the right border, so ``xmax`` is the
index of the last pixel inside the box. In our continuous 0-based boxes the right edge is then
``xmax + 1``: ``w = xmax - xmin + 1``, as got10k's ``ImageNetVID`` computes it.

Clips follow the Meta-Tracker paper (section 5.1): for each track, a clip starts at the first frame
where the target covers at most 60 % of the image and both sides are at least 15 px, and takes
every following frame until the target covers more than 60 % or the track is absent from a frame
(the clip ends before that frame). Clips shorter than ``min_length`` are dropped, and the search
goes on after them; ``max_clips_per_track`` (default 1, the paper's one clip per target) bounds
how many clips a track gives. Every clip is a Sequence named ``<video>_<trackid>_<start>``
(``start`` the 0-based index of its first frame in the video).
"""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .files import build_sequence, natural_key, require_dir
from .sequence import Sequence

SUBSETS = ("train", "val")
MAX_AREA_RATIO = 0.6
MIN_SIDE = 15.0
MAX_INTEGER = 2**31 - 1  # image sides and track ids beyond int32 are corrupt values


@dataclass
class FrameObjects:
    """One annotated frame: image size and ``trackid -> (box, occluded, generated)``."""

    size: tuple[int, int]
    objects: dict[int, tuple[np.ndarray, bool, bool]]
    names: dict[int, str]


def _text(node: ET.Element, tag: str, path: Path) -> str:
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise DataError(f"<{tag}> is missing", path)
    return child.text.strip()


def _number(node: ET.Element, tag: str, path: Path) -> float:
    text = _text(node, tag, path)
    try:
        return float(text)
    except ValueError:
        raise DataError(f"<{tag}> is not a number: {text[:40]!r}", path) from None


def _integer(node: ET.Element, tag: str, path: Path, low: int, high: int = MAX_INTEGER) -> int:
    """An integral field within ``[low, high]`` (``nan``, ``1.5`` or ``1e30`` are no size or track id)."""
    value = _number(node, tag, path)
    if not (math.isfinite(value) and value == int(value) and low <= value <= high):
        raise DataError(f"<{tag}> is not an integer from {low} to {high}: {_text(node, tag, path)[:40]!r}", path)
    return int(value)


def parse_annotation(path: str | Path) -> FrameObjects:
    """One VID XML file; malformed XML or a missing field is a DataError naming the file."""
    p = Path(path)
    try:
        root = ET.parse(p).getroot()
    except ET.ParseError as exc:
        raise DataError(f"malformed XML ({exc})", p, exc.position[0]) from None
    except (LookupError, ValueError) as exc:  # an unknown or multi-byte encoding in the XML declaration
        raise DataError(f"cannot decode XML ({exc})", p) from None
    except OSError as exc:
        raise DataError(f"cannot read annotation ({exc.strerror})", p) from None
    size_node = root.find("size")
    if size_node is None:
        raise DataError("<size> is missing", p)
    size = (_integer(size_node, "width", p, 1), _integer(size_node, "height", p, 1))
    objects: dict[int, tuple[np.ndarray, bool, bool]] = {}
    names: dict[int, str] = {}
    for obj in root.findall("object"):
        track = _integer(obj, "trackid", p, 0)
        bb = obj.find("bndbox")
        if bb is None:
            raise DataError(f"object {track} has no <bndbox>", p)
        x1, y1, x2, y2 = (_number(bb, t, p) for t in ("xmin", "ymin", "xmax", "ymax"))
        box = np.array([x1, y1, x2 - x1 + 1, y2 - y1 + 1])  # xmax, ymax inclusive: see module doc
        occluded = obj.findtext("occluded", "0").strip() == "1"
        generated = obj.findtext("generated", "0").strip() == "1"
        objects[track] = (box, occluded, generated)
        names[track] = obj.findtext("name", "").strip()
    return FrameObjects(size, objects, names)


def clip_ranges(
    boxes: np.ndarray,
    image_size: tuple[int, int],
    min_length: int = 2,
    max_clips: int | None = 1,
    max_area_ratio: float = MAX_AREA_RATIO,
    min_side: float = MIN_SIDE,
) -> list[tuple[int, int]]:
    """``[start, stop)`` frame ranges of the training clips of one track (NaN rows: track absent).

    The paper's rule, see the module docstring. Pure function of the boxes, for testing.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    area_ratio = b[:, 2] * b[:, 3] / float(image_size[0] * image_size[1])
    present = np.all(np.isfinite(b), axis=1) & (b[:, 2] > 0) & (b[:, 3] > 0)
    with np.errstate(invalid="ignore"):
        fits = present & (area_ratio <= max_area_ratio)
        can_start = fits & (b[:, 2] >= min_side) & (b[:, 3] >= min_side)
    clips: list[tuple[int, int]] = []
    i, n = 0, len(b)
    while i < n and (max_clips is None or len(clips) < max_clips):
        if not can_start[i]:
            i += 1
            continue
        stop = i + 1
        while stop < n and fits[stop]:
            stop += 1
        if stop - i >= min_length:
            clips.append((i, stop))
        i = stop
    return clips


def _video_folders(folder: Path) -> Iterator[Path]:
    """Video folders under ``folder`` in natural order: those without sub-folders, holding XML files.

    A generator, so that ``max_videos`` stops the walk early on the full data set.
    """
    subdirs = sorted((d for d in folder.iterdir() if d.is_dir()), key=lambda d: natural_key(d.name))
    if not subdirs:
        if any(p.suffix == ".xml" for p in folder.iterdir()):
            yield folder
        return
    for d in subdirs:
        yield from _video_folders(d)


def _clips_of_video(ann_dir: Path, data_dir: Path, min_length: int, max_clips: int | None) -> list[Sequence]:
    xml_files = sorted(ann_dir.glob("*.xml"), key=lambda p: natural_key(p.name))
    frames = [parse_annotation(p) for p in xml_files]
    sizes = {f.size for f in frames}
    if len(sizes) > 1:
        raise DataError(f"frames of one video have different sizes {sorted(sizes)}", ann_dir)
    size = frames[0].size
    tracks = sorted({t for f in frames for t in f.objects})
    sequences = []
    for track in tracks:
        boxes = np.full((len(frames), 4), np.nan)
        occluded = np.zeros(len(frames), dtype=bool)
        generated = np.zeros(len(frames), dtype=bool)
        category = ""
        for i, f in enumerate(frames):
            if track in f.objects:
                boxes[i], occluded[i], generated[i] = f.objects[track]
                category = category or f.names[track]
        for start, stop in clip_ranges(boxes, size, min_length, max_clips):
            images = [data_dir / (p.stem + ".JPEG") for p in xml_files[start:stop]]
            meta = {
                "video": ann_dir.name,
                "trackid": track,
                "start": start,
                "category": category,
                "annotations": [str(p) for p in xml_files[start:stop]],
                "occluded": occluded[start:stop],
                "generated": generated[start:stop],
            }
            sequences.append(
                build_sequence(
                    f"{ann_dir.name}_{track}_{start}",
                    images,
                    boxes[start:stop],
                    xml_files[start],
                    meta=meta,
                    frames_where=data_dir,
                    image_size=size,
                )
            )
    return sequences


def read_imagenet_vid(
    path: str | Path,
    subset: str = "train",
    min_length: int = 2,
    max_videos: int | None = None,
    max_clips_per_track: int | None = 1,
) -> list[Sequence]:
    """Training clips of ImageNet VID (the folder holding ``Annotations/`` and ``Data/``).

    ``max_videos`` reads only the first videos (in name order) for quick runs.
    """
    if subset not in SUBSETS:
        raise ConfigError(f"ImageNet VID subset {subset!r}: use one of {', '.join(SUBSETS)}")
    if min_length < 1:
        raise ConfigError(f"ImageNet VID min_length must be at least 1, got {min_length}")
    root = require_dir(path, "ImageNet VID folder")
    ann_root = require_dir(root / "Annotations" / "VID" / subset, "annotation folder")
    data_root = require_dir(root / "Data" / "VID" / subset, "frame folder")
    videos = _video_folders(ann_root)
    if max_videos is not None:
        videos = itertools.islice(videos, max_videos)
    sequences = []
    for ann_dir in videos:
        data_dir = data_root / ann_dir.relative_to(ann_root)
        if not data_dir.is_dir():
            raise DataError(f"frame folder of video {ann_dir.name} does not exist", data_dir)
        sequences += _clips_of_video(ann_dir, data_dir, min_length, max_clips_per_track)
    return sequences
