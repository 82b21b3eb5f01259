"""Sequences and the readers of the benchmark formats.

``open_dataset("FORMAT:PATH")`` is the one entry point the command line uses; each format has a
reader module of its own (``otb``, ``vot``, ``got10k``, ``lasot``, ``imagenet_vid``, ``video``)
plus the embedded composite data set (``composite``) and the hand-annotated real clips (``real``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import ConfigError, DataError
from .sequence import FrameSource, ImageFiles, Sequence, VideoFile, read_image

# format name -> "module:function"; each function takes a path (and keyword options) and returns
# a list of Sequence objects whose frames are read lazily.
FORMATS: dict[str, str] = {
    "otb": "metatrack.data.otb:read_otb",
    "vot": "metatrack.data.vot:read_vot",
    "got10k": "metatrack.data.got10k:read_got10k",
    "lasot": "metatrack.data.lasot:read_lasot",
    "imagenet-vid": "metatrack.data.imagenet_vid:read_imagenet_vid",
    "video": "metatrack.data.video:read_video",
    "embedded": "metatrack.data.composite:read_embedded",
    "real": "metatrack.data.real:read_real",
}

# formats whose PATH names something inside the package (a split, clip names), not a file or folder;
# the default PATH used when the spec is the bare format name
PACKAGED_FORMATS: dict[str, str] = {"embedded": "eval", "real": "all"}


def parse_dataset_spec(spec: str) -> tuple[str, str]:
    """Split ``FORMAT:PATH`` (PATH may itself contain colons); a bad spec is a ConfigError."""
    fmt, sep, path = spec.partition(":")
    fmt = fmt.strip().lower()
    if fmt in PACKAGED_FORMATS and not (sep and path):
        return fmt, PACKAGED_FORMATS[fmt]
    if not sep or not path:
        raise ConfigError(
            f"--dataset {spec!r}: expected FORMAT:PATH with FORMAT one of {', '.join(sorted(FORMATS))}"
        )
    if fmt not in FORMATS:
        raise ConfigError(f"--dataset {spec!r}: unknown format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    return fmt, path


def open_dataset(spec: str, **options) -> list[Sequence]:
    """Read every sequence of the data set named by ``FORMAT:PATH``."""
    fmt, path = parse_dataset_spec(spec)
    if fmt not in PACKAGED_FORMATS and not Path(path).exists():
        raise DataError("data set folder does not exist", path)
    module, _, func = FORMATS[fmt].partition(":")
    reader = getattr(importlib.import_module(module), func)
    sequences = reader(path, **options)
    if not sequences:
        raise DataError(f"no sequence found for format {fmt}", path)
    return sequences


__all__ = [
    "FORMATS",
    "FrameSource",
    "ImageFiles",
    "Sequence",
    "VideoFile",
    "open_dataset",
    "parse_dataset_spec",
    "read_image",
]
