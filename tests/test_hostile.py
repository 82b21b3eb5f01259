"""No registered tracker crashes or answers nonsense on a hostile sequence.

The sequence has everything a long real video eventually throws at a tracker: the target leaves the
frame and comes back, shrinks to one pixel, fills the frame; black, constant and white frames (a
constant frame makes normalisation divide by zero), frames of other sizes (smaller, tiny, very
wide) and pure noise. After every update the box must be finite and inside the image with a
positive size, and ``confidence`` a float: NaN only for a tracker that never has one, and never
higher on a black frame than on the easy frame right after the first.

Every registered tracker is driven (a tracker whose model file is missing is skipped, saying so).
The SDNet family runs with fewer samples and update iterations than its defaults (the same code,
a fifth of the work); the deep trackers are marked slow.
"""

from __future__ import annotations

import fnmatch
import math

import cv2
import numpy as np
import pytest

from metatrack.data.sequence import FrameSource, Sequence
from metatrack.errors import CheckpointError
from metatrack.evaluation.runner import count_lines, ope_paths, run_tracker, vot_paths
from metatrack.trackers import available_trackers, create_tracker, resolve_factory
from metatrack.trackers.builtin import LIGHT

W, H = 96, 72
FIRST_BOX = (30.0, 20.0, 20.0, 16.0)

#: the same code paths with less work (tracker name glob -> options)
_SDNET_LIGHT = {"n_samples": 128, "maxiter_update": 3, "n_bbreg": 300}
LIGHT_OPTIONS = {
    "sdnet-*": {**_SDNET_LIGHT, "crop_size": 96},
    "metasdnet*": _SDNET_LIGHT,  # the model file fixes the crop size
    "mdnet-*": {**_SDNET_LIGHT, "n_pos_init": 100, "n_neg_init": 1000},  # so does the pre-trained one
}


def light_options(name: str) -> dict:
    for pattern, options in LIGHT_OPTIONS.items():
        if fnmatch.fnmatchcase(name, pattern):
            return dict(options)
    return {}


def _texture(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    base = rng.integers(0, 256, (h // cell + 1, w // cell + 1, 3)).astype(np.uint8)
    return cv2.resize(base, (w, h), interpolation=cv2.INTER_NEAREST)


def hostile_frames() -> list[tuple[str, np.ndarray, tuple[float, float, float, float] | None]]:
    """(label, RGB frame, the target's box or None where it is not visible)."""
    rng = np.random.default_rng(7)
    background = (_texture(rng, H, W, 6) * 0.5 + 60).astype(np.uint8)
    target = _texture(rng, 32, 32, 4)

    def scene(box, size=(W, H)):
        w, h = size
        image = cv2.resize(background, (w, h), interpolation=cv2.INTER_NEAREST)
        x, y, bw, bh = (int(round(v)) for v in box)
        patch = cv2.resize(target, (max(bw, 1), max(bh, 1)), interpolation=cv2.INTER_NEAREST)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
        if x1 <= x0 or y1 <= y0:
            return image, None
        image[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]
        return image, (float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    def plain(value):
        return np.full((H, W, 3), value, np.uint8), None

    frames = [
        ("start", *scene(FIRST_BOX)),
        ("moved", *scene((33, 22, 20, 16))),
        ("half out", *scene((86, 30, 20, 16))),
        ("gone", *scene((120, 30, 20, 16))),
        ("back", *scene((40, 26, 20, 16))),
        ("one pixel", *scene((48, 34, 1, 1))),
        ("fills the frame", *scene((0, 0, W, H))),
        ("black", *plain(0)),
        ("constant", *plain(128)),
        ("white", *plain(255)),
        ("smaller frame", *scene((10, 8, 14, 10), (48, 36))),
        ("tiny frame", *scene((2, 2, 4, 3), (12, 9))),
        ("wide frame", *scene((60, 10, 20, 16), (200, 40))),
        ("noise", rng.integers(0, 256, (H, W, 3), dtype=np.uint8), None),
        ("normal again", *scene(FIRST_BOX)),
    ]
    return frames


FRAMES = hostile_frames()


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _params():
    out = []
    for name in available_trackers():
        factory = resolve_factory(name)
        factory = getattr(factory, "func", factory)  # functools.partial: the function it wraps
        module = getattr(factory, "__module__", "") or ""
        if not module.startswith("metatrack."):
            continue  # trackers that other test modules register for their own purposes
        cheap = module in LIGHT  # the OpenCV and dlib peers: no torch
        out.append(pytest.param(name, marks=() if cheap else pytest.mark.slow))
    return out


def build(name: str):
    """The tracker with its light options; skipped (with the reason) when its model file is missing."""
    try:
        return create_tracker(name, **light_options(name))
    except CheckpointError as exc:
        pytest.skip(f"{name}: model file missing ({exc})")


def check_box(box, image: np.ndarray, where: str) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    h, w = image.shape[:2]
    assert b.shape == (4,), f"{where}: {b.size} values"
    assert np.all(np.isfinite(b)), f"{where}: non-finite box {b}"
    assert b[2] > 0 and b[3] > 0, f"{where}: box {b} has no area"
    eps = 1e-6
    assert b[0] >= -eps and b[1] >= -eps, f"{where}: box {b} starts outside the {w}x{h} image"
    assert b[0] + b[2] <= w + eps and b[1] + b[3] <= h + eps, f"{where}: box {b} ends outside the {w}x{h} image"
    return b


@pytest.mark.parametrize("name", _params())
def test_tracker_survives_a_hostile_sequence(name):
    tracker = build(name)
    tracker.seed(0)
    tracker.init(FRAMES[0][1].copy(), np.array(FIRST_BOX))
    confidence = {}
    for label, image, _ in FRAMES[1:]:
        where = f"{name}, frame {label!r}"
        check_box(tracker.update(image.copy()), image, where)
        c = tracker.confidence
        assert isinstance(c, float), f"{where}: confidence {c!r} is a {type(c).__name__}"
        confidence[label] = c
    finite = [math.isfinite(c) for c in confidence.values()]
    if not any(finite):
        return  # a tracker without a confidence
    # a tracker with a confidence has one on every frame, black and constant ones too
    assert all(finite), f"{name}: NaN confidence on {[k for k, c in confidence.items() if not math.isfinite(c)]}"
    in_view = max(confidence["moved"], confidence["back"])
    assert confidence["black"] <= in_view, (
        f"{name}: surer of a black frame ({confidence['black']:.3g}) than of the frames that show the target "
        f"({in_view:.3g})")


# ------------------------------------------------------------------------------------ through the runner


class _Frames(FrameSource):
    def __init__(self, frames: list[np.ndarray]):
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def read(self, index: int) -> np.ndarray:
        return self.frames[index].copy()


def hostile_sequence() -> Sequence:
    boxes = np.array([b if b is not None else (np.nan,) * 4 for _, _, b in FRAMES], dtype=np.float64)
    return Sequence("hostile", _Frames([f for _, f, _ in FRAMES]), boxes)


#: the runner is driven by every OpenCV peer, the dlib peer and one tracker of each deep family
RUNNER_TRACKERS = [
    "opencv-kcf", "opencv-csrt", "opencv-mosse", "opencv-medianflow", "opencv-mil", "opencv-tld",
    "dlib-correlation",
    pytest.param("sdnet-01", marks=pytest.mark.slow), pytest.param("crest-01", marks=pytest.mark.slow),
    pytest.param("metasdnet", marks=pytest.mark.slow), pytest.param("metacrest", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name", RUNNER_TRACKERS)
def test_runner_survives_a_hostile_sequence(name, tmp_path):
    """OPE, and the VOT protocol, whose restarts land on a one-pixel target and a frame-filling one."""
    build(name)  # skips when the model is missing
    seq = hostile_sequence()
    for protocol in ("ope", "vot"):
        ran = run_tracker(name, [seq], tmp_path, protocol=protocol, tracker_kwargs=light_options(name),
                          progress=False)
        assert ran == ["hostile"]
    assert count_lines(ope_paths(tmp_path, name, "hostile")[0]) == len(FRAMES)
    vot_boxes = vot_paths(tmp_path, name, "hostile", 0)[0]
    lines = vot_boxes.read_text().splitlines()
    assert len(lines) == len(FRAMES) and lines[0] == "1"
    assert "2" in lines  # the target vanished at least once: a failure, then a restart
