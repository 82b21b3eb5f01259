"""metatrack: visual object tracking with meta-learned online adaptation.

    import metatrack
    tracker = metatrack.create_tracker("metasdnet")
    tracker.init(frame, box)          # frame HxWx3 uint8 RGB, box x, y, w, h (0-based pixels)
    box = tracker.update(frame)       # on every later frame

    for index, box, confidence in metatrack.track("my_video.mp4", box=(120, 80, 60, 90)):
        ...

``import metatrack`` is light (no torch): the registry is imported here, the trackers' own modules
when a tracker is first created, :func:`track` and :func:`track_many` (OpenCV) on first use.
"""

from .errors import CheckpointError, ConfigError, DataError, MetatrackError
from .trackers.base import Tracker, available_trackers, create_tracker, register_tracker

__version__ = "0.1.0"

__all__ = ["CheckpointError", "ConfigError", "DataError", "MetatrackError", "Tracker", "__version__",
           "available_trackers", "create_tracker", "register_tracker", "track", "track_many"]

_LAZY = {"track": "tracking", "track_many": "tracking"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
