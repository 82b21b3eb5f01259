"""A TraX server for any registered tracker: how the VOT toolkit runs metatrack's trackers.

    python -m metatrack.vot_trax TRACKER_NAME [--plugin FILE.py] [--seed N]

TraX is the VOT toolkit's protocol with a tracker process: the toolkit (the client) starts this
program, sends ``initialize`` with a frame and a region, then ``frame`` after ``frame``, and reads back
one region each time. Here the tracker is any name ``metatrack trackers`` lists (or ``module:Class``,
or one a ``--plugin`` file registers), driven as the runner drives it: ``seed(N)`` once, ``init`` on
every (re)initialisation, ``update`` on every other frame.

- Frames are read from the paths TraX sends (``path`` images on the ``color`` channel) with the
  project's one image reader, so that the tracker sees the same RGB pixels as under ``metatrack run``.
- Regions: rectangles ``x, y, w, h`` (0-based) both ways; an initialisation polygon becomes the
  axis-aligned box of the same centre and area, as the VOT reader does (:func:`geometry.polygon_to_box`).
- Each reply carries the tracker's ``confidence`` as a TraX property (the toolkit stores it beside
  the trajectory). A non-finite box from the tracker is replaced by the previous one, as the runner does.

Errors are reported on stderr, which the toolkit shows in its log, and end the process with a
non-zero status: an unknown tracker (before the TraX handshake, exit 2), a tracker that raises (the
session is closed with the reason, exit 1), a client that goes away mid-sequence (exit 1, saying after
how many frames). The server writes no file, so nothing on disk is left half-written.

The ``trax`` package (``vot-trax``, a binary wheel) is imported only here and only when the server
starts: it lives with the toolkit (``scripts/vot_toolkit_venv.sh`` puts a copy of it alone in
``.vot-venv/trax-only``, which ``metatrack vot-workspace`` puts on this server's path), never in the
project's requirements. docs/evaluation.md ("The VOT toolkit over TraX") has the whole workflow.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from .errors import ConfigError, DataError, MetatrackError
from .geometry import is_valid_box, polygon_to_box

#: what to install when ``import trax`` fails
TRAX_PACKAGE = "vot-trax==4.0.2"


class ClientGone(MetatrackError):
    """The TraX client (the toolkit) closed the connection or died in the middle of a session."""


def import_trax() -> Any:
    """The ``trax`` package, or a :class:`ConfigError` saying where it comes from."""
    try:
        import trax
        import trax.server  # noqa: F401  (loads the C library)
    except ImportError as exc:
        raise ConfigError(
            f"the TraX server needs the trax package ({TRAX_PACKAGE}), which is not importable here ({exc}); "
            "run `bash scripts/vot_toolkit_venv.sh` and put .vot-venv/trax-only on PYTHONPATH "
            "(the trackers.ini that `metatrack vot-workspace` writes does)"
        ) from None
    return trax


def region_to_box(region: Any) -> np.ndarray:
    """A TraX region (rectangle or polygon) as a 0-based ``x, y, w, h`` box."""
    from trax import Region

    kind = region.type
    if kind == Region.RECTANGLE:
        box = np.array(region.bounds(), dtype=np.float64)
    elif kind == Region.POLYGON:
        points = np.array([tuple(p) for p in region], dtype=np.float64).reshape(-1)
        box = polygon_to_box(points)
    else:
        raise DataError(f"a TraX region of type {kind!r}: this server takes rectangles and polygons")
    if not is_valid_box(box):
        raise DataError(f"the initialisation region {box.tolist()} is not a box of positive size")
    return box


def _image_path(images: dict) -> str:
    image = images.get("color") if images else None
    if image is None:
        raise DataError(f"TraX sent no color image (channels: {', '.join(images or {}) or 'none'})")
    if image.type() != "path":
        raise DataError(f"TraX sent a {image.type()!r} image; this server reads image files (path)")
    return image.path()


def serve(tracker_name: str, plugins: tuple[str, ...] = (), seed: int = 0) -> int:
    """Run the TraX session of one tracker until the client quits; return the exit status."""
    from .cli import load_plugin
    from .data.sequence import read_image
    from .trackers import create_tracker
    from .trackers.base import resolve_factory

    for plugin in plugins:
        load_plugin(plugin)
    resolve_factory(tracker_name)  # an unknown name fails first, whether trax is there or not
    import_trax()
    from trax import Region, TraxException, TraxStatus
    from trax.image import Image
    from trax.region import Rectangle
    from trax.server import Server

    tracker = create_tracker(tracker_name)  # before the handshake: a tracker that cannot be built fails here
    tracker.seed(seed)
    server = Server([Region.RECTANGLE, Region.POLYGON], [Image.PATH], ["color"], tracker_name=tracker_name,
                    tracker_family="metatrack", tracker_description=f"metatrack's {tracker_name} over TraX")
    frames, previous = 0, None
    try:
        while True:
            try:
                request = server.wait()
            except TraxException as exc:
                raise ClientGone(f"the TraX client went away after {frames} frame(s) ({exc})") from None
            if request.type == TraxStatus.QUIT:
                return 0
            image = read_image(_image_path(request.image))
            if request.type == TraxStatus.INITIALIZE:
                if not request.objects or len(request.objects) != 1:
                    raise DataError(f"initialisation with {len(request.objects or [])} objects; "
                                    "this server tracks exactly one")
                box = region_to_box(request.objects[0][0])
                tracker.init(image, box.copy())
                confidence = 1.0
            else:
                if previous is None:
                    raise DataError("a frame arrived before any initialisation")
                box = np.asarray(tracker.update(image), dtype=np.float64).reshape(-1)
                if box.shape != (4,):
                    raise ValueError(f"update() returned {box.size} values, expected a box x, y, w, h")
                if not np.all(np.isfinite(box)):
                    box = previous
                confidence = float(getattr(tracker, "confidence", float("nan")))
            previous = box
            frames += 1
            properties = {"confidence": confidence} if np.isfinite(confidence) else {}
            try:
                server.status([(Rectangle.create(*(float(v) for v in box)), properties)])
            except TraxException as exc:
                raise ClientGone(f"the TraX client went away after {frames} frame(s) ({exc})") from None
    except ClientGone:
        raise
    except Exception as exc:  # the tracker or a frame failed: close the session with the reason
        reason = f"{tracker_name} failed at frame {frames + 1} of the session: {type(exc).__name__}: {exc}"
        try:
            server.quit(reason=reason)
        except TraxException:
            pass
        raise TrackerFailed(reason) from exc


class TrackerFailed(MetatrackError):
    """The tracker or a frame read raised during a TraX session."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metatrack.vot_trax", description=__doc__.splitlines()[0])
    parser.add_argument("tracker", help="a registered tracker name (metatrack trackers) or module:Class")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE_OR_FILE.py",
                        help="import this first, so that the trackers it registers are known; repeatable")
    parser.add_argument("--seed", type=int, default=0, help="tracker.seed(N) once, before the first frame")
    args = parser.parse_args(argv)
    # TraX talks over stdin/stdout: anything the tracker prints goes to stderr (the toolkit's log) instead
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        return serve(args.tracker, tuple(args.plugin), args.seed)
    except ConfigError as exc:
        print(f"metatrack.vot_trax: error: {exc}", file=sys.stderr)
        return 2
    except MetatrackError as exc:
        print(f"metatrack.vot_trax: error: {exc}", file=sys.stderr)
        return 1
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    raise SystemExit(main())
