"""What happens in one composite sequence: the challenges drawn and every per-frame parameter.

A :class:`Plan` is drawn from one seeded ``numpy.random.Generator`` before any pixel is rendered,
so a sequence is fully decided by ``(seed, split, index)``. Thresholds follow the OTB definitions
(Wu et al., TPAMI 2015) scaled by ``k = sqrt(W * H / (480 * 360))``: fast motion is a centre moving
more than ``20 k`` pixels between frames, scale variation a size ratio to the first frame outside
``[1/2, 2]``, low resolution a box of fewer than ``400 k^2`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .sources import Pool, TargetCrop, pool_for

# OTB's attribute tags, plus DIS (look-alike distractors), in the order attributes.txt lists them.
ATTRIBUTES = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR", "DIS")
# Share of the sequences that get each challenge on top of the one forced by index (the sequence
# of index i always gets ATTRIBUTES[i % 12], which adds 1/12 to each share): with it, about
# OTB-100's frequencies (Wu et al. 2015: SV 64 %, OPR 63 %, IPR 51 %, OCC 49 %, ... LR 9 %).
ATTRIBUTE_RATES = {
    "IV": 0.25,
    "SV": 0.4,
    "OCC": 0.35,
    "DEF": 0.3,
    "MB": 0.2,
    "FM": 0.25,
    "IPR": 0.35,
    "OPR": 0.3,
    "OV": 0.15,
    "BC": 0.2,
    "LR": 0.04,
    "DIS": 0.25,
}
# Each challenge follows its own Weyl sequence over the index (frac(offset + i * sqrt(prime))),
# not independent coin flips: any run of consecutive sequences gets close to the intended shares,
# so a 16-sequence split is balanced, and sequence i still depends on (seed, split, i) alone.
_WEYL_STEPS = tuple(float(np.sqrt(p) % 1) for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37))
# The number that seeds a split's random streams: fixed per split, so that adding a split leaves
# the sequences of the others as they were.
SPLIT_CODES = {"eval": 0, "train": 1, "test": 2, "crossing": 3, "hard": 4, "faces": 5, "backdrops": 6}
# A split's own challenge shares, replacing ATTRIBUTE_RATES': the held-out test split has more
# fast motion, occlusion, clutter, look-alikes and small (low-resolution) targets than eval.
SPLIT_RATES: dict[str, dict[str, float]] = {"test": {"FM": 0.35, "OCC": 0.45, "BC": 0.3, "LR": 0.15, "DIS": 0.35}}
SPLIT_RATES["hard"] = dict(SPLIT_RATES["test"])  # the validation split drawn under test's shares
SPLIT_RATES["faces"] = dict(SPLIT_RATES["test"])  # and the validation split of portrait faces
SPLIT_RATES["backdrops"] = dict(SPLIT_RATES["test"])  # and the one over backgrounds of test's kinds
# What a split version adds to its split's generator (issue 13: training data closer to the world).
# Train version 4: more small targets (LR), look-alikes (DIS) and occlusion, half of the occluders
# static in the scene (a pole or a sign the target passes behind, moving with the camera), and a
# hand-held camera shaking every layer and the background together. Versions without an entry are
# drawn exactly as before.
VERSION_FEATURES: dict[tuple[str, int], dict] = {
    ("train", 4): {
        "rates": {"LR": 0.15, "DIS": 0.35, "OCC": 0.45},
        "static_occluder": 0.5,  # share of the occluded sequences whose occluder stands still in the scene
        "handheld": (0.2, 1.0),  # pixels (times k): range of the standard deviation of the shake's steps
    }
}

BASE_SIZE = (480, 360)
FM_PIXELS = 20.0  # OTB: fast motion when the centre moves more than 20 pixels
SV_RATIO = 2.0  # OTB: scale variation when the size ratio to frame 1 leaves [1/2, 2]
LR_PIXELS = 400.0  # OTB: low resolution when the box holds fewer than 400 pixels
CAMERA_PERIOD = 80.0  # frames: the shortest period of the camera's pan and zoom (its speed)
_MIN_PERIOD = 8  # frames: shortest period of the pose and light curves in short sequences

# The independent random streams of one sequence, in seeding order: stream i is seeded with
# (seed, split, index, i), so each part of a plan draws the same numbers whatever the others do.
_STREAMS = (
    "target",
    "scale",
    "rotation",
    "opr",
    "deform",
    "path",
    "occluder",
    "distractor",
    "light",
    "blur",
    "background",
    "handheld",
    "crowd",
)
_TARGET_ORDER_WORD = 1 << 21  # last seed word of the per-split shuffle of the targets' turns

# Target size and scale (SV). Ranges are (low, high) of a uniform draw.
_SV_GROW_CHANCE = 0.5  # SV without LR: chance that the target grows rather than shrinks
_SV_RATIO_RANGE = (2.6, 3.2)  # SV: size ratio to frame 1 at the ramp's peak (beyond OTB's 2)
_SCALE_JITTER = 0.06  # without SV: amplitude of the slow log-size wobble
_SCALE_MIN_PERIOD = 10  # frames: shortest period of that wobble in short sequences

# Rotation (IPR, OPR), in degrees.
_IPR_SWING_CHANCE = 0.5  # IPR: chance of swinging to and fro rather than spinning one way
_IPR_SWING_RANGE = (45, 120)  # IPR swing: peak-to-peak angle
_IPR_SPIN_RANGE = (120, 360)  # IPR spin: angle turned over the whole sequence
_START_ANGLE_RANGE = (-10, 10)  # IPR: angle in frame 1
_YAW_SWING_RANGE = (90, 130)  # OPR: peak-to-peak yaw
_YAW_START_CUT = (0.6, 1.0)  # OPR: share of frame 1's yaw taken off, so the target starts nearly facing
_YAW_LIMIT = 70  # OPR: largest yaw either way (beyond it the patch would be nearly edge-on)
_PITCH_RANGE = (0, 20)  # OPR: amplitude of the pitch
_OPR_REACH = 1.15  # OPR: growth of the target's half-diagonal by perspective

# Deformation (DEF): a periodic stretch of the aspect ratio and a travelling wave warp.
_DEF_LONG = 40  # frames: longer sequences draw the stretch period, shorter ones use half their length
_DEF_PERIOD_RANGE = (20, 50)  # frames per stretch cycle
_DEF_MIN_PERIOD = 4  # frames: shortest stretch period in short sequences
_DEF_STRETCH_RANGE = (0.18, 0.3)  # amplitude of the log aspect ratio
_DEF_PHASE_RANGE = (0, 6.3)  # radians: phase of the stretch
_WAVE_PERIOD_RANGE = (15, 40)  # frames per cycle of the wave's phase
_WAVE_AMP_RANGE = (0.04, 0.07)  # wave amplitude, as a share of the target's size
_WAVE_LEN_RANGE = (0.6, 1.2)  # wavelength, as a share of the target's size

# Silhouette targets (a binary-mask photo): shaded by another photo's grey levels, in a drawn colour.
_SILHOUETTE_SHADE = "moon"  # the shading photo, when the pool has it
_SILHOUETTE_FILL_LOW = (90, 55, 30)  # RGB: darkest fill colour drawn
_SILHOUETTE_FILL_HIGH = (140, 95, 60)  # RGB: brightest fill colour drawn

# Path (FM, OV). Speeds and distances in pixels at 480x360, multiplied by k.
_EDGE_MARGIN = 2  # pixels kept between the target's reach and the frame border while in view
_START_RANGE = (0.2, 0.8)  # where in the safe region the target starts (share of its extent)
_EVENT_LEAD_IN = 0.1  # share of the sequence, at its start, with no dash, excursion or camera shake
_OV_LATEST = 0.55  # OV: the excursion starts before this share of the sequence
_FM_DASH_RATE = (1, 3)  # FM: dashes per _FM_RATE_FRAMES frames (an integer draw, high excluded)
_FM_RATE_FRAMES = 100  # FM: frames the dash rate counts over
_FM_MAX_DASHES = 3  # FM: most dashes in one sequence
_FM_SPEED_RANGE = (24, 40)  # FM: pixels per frame of a dash (OTB's threshold is FM_PIXELS)
_FM_CANDIDATES = 8  # FM: random goals drawn besides the safe region's four corners
_FM_FAR_SHARE = 0.7  # FM: a goal is picked among those at least this share of the farthest one's distance
_OV_FULL_CHANCE = 0.6  # OV: chance that the target leaves the frame wholly rather than in part
_OV_CLEARANCE = 4  # OV full: pixels the target's reach clears the border by, at least
_OV_EXTRA_RANGE = (0, 10)  # OV full: pixels it goes on beyond that
_OV_PARTIAL_RANGE = (-0.5, 0.5)  # OV partial: centre's depth past the border, in smallest half-extents
_OV_SPEED_RANGE = (5, 9)  # OV: pixels per frame on the way out and back
_OV_HOLD_RANGE = (0.05, 0.15)  # OV: share of the sequence spent out
_OV_HOLD_MAX_SHARE = 4  # OV: the stay out is at most 1/this of the frames left
_OV_RETURN_RANGE = (0.3, 0.7)  # OV: where in the safe region it comes back to (share of its extent)
_INSIDE_TOLERANCE = 1e-6  # pixels: slack when testing that a centre is in the safe region

# Motion blur (MB): the target's own blur and bursts of whole-frame camera shake.
_EXPOSURE_RANGE = (0.6, 1.0)  # MB: exposure, as a share of the frame interval
_SHAKE_EVERY = 75  # MB: one camera-shake burst per this many frames (at least one)
_SHAKE_LENGTH_RANGE = (0.06, 0.15)  # MB: burst length, as a share of the sequence
_SHAKE_PIXELS_RANGE = (7, 15)  # MB: peak blur length of a burst in pixels (times k)
_SHAKE_VISIBLE = 1  # pixels: shake frames listed in the events are those blurred by at least this

# Background.
_VIDEO_CHANCE = 0.4  # without BC: chance of a video background rather than a photo
_MIN_SHOT_FRAMES = 10  # frames: shortest video shot used (when the video has a longer one)

# Illumination (IV): a global gain swinging once, and a brightness slope across a turning direction.
_IV_AMP_RANGE = (0.4, 0.6)  # amplitude of the log gain
_IV_PERIOD_RANGE = (0.5, 0.9)  # period of the gain, as a share of the sequence
_IV_MIN_PERIOD = 2  # frames: shortest period of the gain
_GAIN_LIMITS = (0.35, 2.2)  # darkest and brightest gain
_LIGHT_SLOPE_RANGE = (0.3, 0.8)  # amplitude of the brightness slope across the frame
_LIGHT_TURN = 0.5  # radians: amplitude of the light direction's wander


def size_factor(image_size: tuple[int, int]) -> float:
    """``k``: linear size of the frame relative to 480x360, to scale the OTB thresholds."""
    return float(np.sqrt(image_size[0] * image_size[1] / (BASE_SIZE[0] * BASE_SIZE[1])))


@dataclass
class Layer:
    """A patch pasted into every frame: pixels, soft mask and per-frame pose.

    ``center`` (N, 2) in frame pixels, ``width``/``height`` (N,) on-screen size before rotation,
    ``angle`` (N,) in-plane rotation in degrees, ``yaw``/``pitch`` (N,) out-of-plane rotation in
    degrees, ``wave`` (N,) phase of the non-rigid warp (amplitude ``wave_amp``, 0 = rigid),
    ``blur`` (N, 2) motion-blur vector in pixels, ``tint`` an RGB gain.
    """

    source: str  # "photo:rect" description for the manifest
    photo: str
    rect: tuple[int, int, int, int]
    shape: str
    center: np.ndarray
    width: np.ndarray
    height: np.ndarray
    angle: np.ndarray
    yaw: np.ndarray | None = None
    pitch: np.ndarray | None = None
    wave: np.ndarray | None = None
    wave_amp: float = 0.0
    wave_len: float = 1.0
    blur: np.ndarray | None = None
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    shade_photo: str | None = None  # silhouettes: photo whose grey levels shade the fill colour
    fill: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class Background:
    """Where background pixels come from: ``kind`` photo, video or texture, and a moving window.

    ``window`` (N, 3): centre x, centre y and width of the camera's window in source pixels
    (its height follows the frame's aspect ratio); ``frame_index`` (N,) for videos.
    """

    kind: str
    name: str
    window: np.ndarray
    frame_index: np.ndarray | None = None


@dataclass
class Plan:
    """Everything needed to render one sequence, drawn before rendering."""

    name: str
    split: str
    index: int
    frames: int
    image_size: tuple[int, int]
    attributes: tuple[str, ...]
    target_name: str
    target: Layer
    background: Background
    occluder: Layer | None = None
    distractor: Layer | None = None
    gain: np.ndarray | None = None  # (N, 4): global gain, slope, light direction cos, sin
    shake: np.ndarray | None = None  # (N, 2) camera-shake blur vector (whole frame)
    info: dict = field(default_factory=dict)
    # look-alikes walking across the target's path (the crossing split); crowd_front[i] says whether
    # crowd[i] passes in front of the target (drawn after it) or behind it
    crowd: list[Layer] = field(default_factory=list)
    crowd_front: tuple[bool, ...] = ()

    @classmethod
    def drawn(cls, split: str, index: int, frames: int, image_size: tuple[int, int], attrs: set[str],
              crop: TargetCrop, target: Layer, background: Background, **layers: Any) -> Plan:
        """The plan of sequence ``index`` of ``split``, named after its target, its OTB tags ``attrs`` in
        :data:`ATTRIBUTES`' order; ``layers``: the other fields (occluder, distractor, crowd, info ...)."""
        return cls(name=f"{split}_{index:03d}_{crop.name}", split=split, index=index, frames=frames,
                   image_size=(int(image_size[0]), int(image_size[1])),
                   attributes=tuple(a for a in ATTRIBUTES if a in attrs), target_name=crop.name,
                   target=target, background=background, **layers)

    def sources(self) -> list[str]:
        """Every photo, video and texture this sequence uses, sorted."""
        names = {self.target.photo, self.background.name}
        if self.target.shade_photo:
            names.add(self.target.shade_photo)
        for layer in (self.occluder, self.distractor, *self.crowd):
            if layer is not None:
                names.add(layer.photo)
        return sorted(names)


def smooth_noise(rng: np.random.Generator, n: int, min_period: float, terms: int = 3) -> np.ndarray:
    """A smooth random curve in [-1, 1] over ``n`` frames: a sum of slow sinusoids."""
    t = np.arange(n, dtype=np.float64)
    periods = min_period * rng.uniform(1.0, 3.0, terms)
    phases = rng.uniform(0, 2 * np.pi, terms)
    amps = rng.uniform(0.5, 1.0, terms)
    curve = (amps[:, None] * np.sin(2 * np.pi * t[None, :] / periods[:, None] + phases[:, None])).sum(0)
    return curve / amps.sum()


def _unit_range(curve: np.ndarray) -> np.ndarray:
    """``curve`` shifted and stretched to span exactly [-0.5, 0.5] (so its amplitude is known)."""
    span = float(np.ptp(curve)) if curve.size else 0.0
    return (curve - curve.min()) / span - 0.5 if span > 0 else np.zeros_like(curve)


def _ramp(rng: np.random.Generator, n: int) -> np.ndarray:
    """A curve from 0 to 1 (smooth cosine ramp), sometimes going back towards 0 at the end."""
    t = np.arange(n, dtype=np.float64)
    t1 = rng.uniform(0.05, 0.3) * (n - 1)
    t2 = rng.uniform(0.5, 0.85) * (n - 1)
    u = np.clip((t - t1) / max(t2 - t1, 1.0), 0, 1)
    up = 0.5 - 0.5 * np.cos(np.pi * u)
    if rng.random() < 0.4:  # come part of the way back
        t3 = t2 + rng.uniform(0.3, 0.8) * (n - 1 - t2)
        back = np.clip((t - t3) / max(n - 1 - t3, 1.0), 0, 1)
        up = up - rng.uniform(0.2, 0.4) * (0.5 - 0.5 * np.cos(np.pi * back))
    return up


def challenge_rates(overrides: dict[str, float] | None = None) -> dict[str, float]:
    """:data:`ATTRIBUTE_RATES` with the shares in ``overrides`` (a split's own conditions) replaced."""
    return {**ATTRIBUTE_RATES, **(overrides or {})}


def draw_attributes(seed: int, split_code: int, index: int, rates: dict[str, float] | None = None) -> set[str]:
    """The challenges of sequence ``index``: balanced shares per split plus one forced by index.

    ``rates``: the share of sequences that get each challenge (default :data:`ATTRIBUTE_RATES`).
    """
    rates = ATTRIBUTE_RATES if rates is None else rates
    offsets = np.random.default_rng([int(seed), int(split_code), 1 << 20]).random(len(ATTRIBUTES))
    phase = (offsets + index * np.array(_WEYL_STEPS)) % 1.0
    chosen = {a for a, u in zip(ATTRIBUTES, phase, strict=True) if u < rates[a]}
    chosen.add(ATTRIBUTES[index % len(ATTRIBUTES)])
    return chosen


def _target_size(
    rng: np.random.Generator, crop: TargetCrop, attrs: set[str], image_size: tuple[int, int], sv_up: bool
) -> tuple[float, float]:
    """On-screen width and height of the target in frame 1."""
    w_img, h_img = image_size
    k = size_factor(image_size)
    short = min(w_img, h_img)
    aspect = crop.rect[2] / crop.rect[3]
    if "LR" in attrs:
        side = np.sqrt(rng.uniform(0.45, 0.8) * LR_PIXELS) * k
    elif "SV" in attrs:
        side = short * (rng.uniform(0.1, 0.15) if sv_up else rng.uniform(0.28, 0.36))
    else:
        side = short * rng.uniform(0.15, 0.3)
    w, h = side * np.sqrt(aspect), side / np.sqrt(aspect)
    limit = min(0.45 * w_img / w, 0.45 * h_img / h, 1.0)
    if "SV" in attrs and sv_up:
        limit = min(limit, 0.16 * w_img / w, 0.16 * h_img / h)  # room to grow three-fold
    return w * limit, h * limit


def _wander(
    rng: np.random.Generator, n: int, lo: np.ndarray, hi: np.ndarray, k: float, start: np.ndarray
) -> np.ndarray:
    """Smooth random motion inside the per-frame box ``lo``..``hi`` (N, 2): damped random velocity."""
    pos = np.empty((n, 2))
    p = start.astype(np.float64).copy()
    v = rng.normal(0, 1.5 * k, 2)
    rho, vmax = 0.92, 7.0 * k
    for t in range(n):
        mid = (lo[t] + hi[t]) / 2
        span = np.maximum(hi[t] - lo[t], 1e-6)
        pull = np.clip((p - mid) / (span / 2), -1, 1)
        v = rho * v + rng.normal(0, 0.9 * k, 2) - 0.6 * k * np.sign(pull) * (np.abs(pull) > 0.7)
        speed = np.linalg.norm(v)
        if speed > vmax:
            v *= vmax / speed
        p = np.clip(p + v, lo[t], hi[t])
        pos[t] = p
    return pos


def _ease(u: np.ndarray) -> np.ndarray:
    """Cosine ease from 0 to 1 over ``u`` in [0, 1]: moves start and stop without a jolt."""
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _safe_region(image_size: tuple[int, int], reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame bounds ``lo``, ``hi`` (N, 2) of centres that keep the whole target in view.

    A target too big for that is held at the frame's centre on that axis.
    """
    frame = np.array(image_size, dtype=np.float64)
    lo = np.minimum(reach[:, None] + _EDGE_MARGIN, frame / 2)
    hi = np.maximum(frame - reach[:, None] - _EDGE_MARGIN, frame / 2)
    return lo, hi


def _draw_events(rng: np.random.Generator, n: int, attrs: set[str]) -> list[tuple[int, str]]:
    """Start frames of the OV excursion and the FM dashes, in time order.

    None starts in the lead-in, so frame 1 and the first few frames stay calm.
    """
    events: list[tuple[int, str]] = []
    first = max(1, int(_EVENT_LEAD_IN * n))
    if "OV" in attrs:
        events.append((int(rng.integers(first, max(first + 1, int(_OV_LATEST * n)))), "OV"))
    if "FM" in attrs:
        count = max(1, min(_FM_MAX_DASHES, int(rng.integers(*_FM_DASH_RATE)) * n // _FM_RATE_FRAMES))
        for _ in range(count):
            events.append((int(rng.integers(first, max(first + 1, n - 2))), "FM"))
    events.sort()
    return events


def _event_start(t0: int, busy_until: int, n: int) -> int:
    """The frame an event really starts: after the previous one, and early enough to show."""
    t0 = max(t0, busy_until)
    if t0 >= n - 1:
        t0 = max(1, n - 2)
    return t0


def _fast_dash(
    rng: np.random.Generator, p0: np.ndarray, lo: np.ndarray, hi: np.ndarray, room: int, k: float
) -> np.ndarray:
    """FM: centres (steps, 2) of a straight dash from ``p0`` across the safe region ``lo``..``hi``.

    The goal is far from ``p0`` (one of the far corners or random points), so the dash lasts
    several frames above the OTB speed threshold; ``room`` is the frames left in the sequence.
    """
    speed = rng.uniform(*_FM_SPEED_RANGE) * k
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [lo[0], hi[1]], [hi[0], hi[1]]])
    cand = np.concatenate([corners, lo + rng.uniform(0, 1, (_FM_CANDIDATES, 2)) * (hi - lo)])
    far = np.linalg.norm(cand - p0, axis=1)
    choice = rng.choice(np.flatnonzero(far >= _FM_FAR_SHARE * far.max()))
    goal = cand[choice]
    dist = np.linalg.norm(goal - p0)
    steps = int(np.clip(np.floor(dist / max(speed, 1e-6)), 1, max(1, room)))
    return p0 + (goal - p0) * (np.arange(1, steps + 1) / steps)[:, None]


def _border_point(p0: np.ndarray, side: int, depth: float, image_size: tuple[int, int]) -> np.ndarray:
    """``p0`` moved across border ``side`` (0 left, 1 right, 2 top, 3 bottom) to ``depth`` beyond it."""
    w_img, h_img = image_size
    goal = p0.copy()
    if side == 0:
        goal[0] = -depth
    elif side == 1:
        goal[0] = w_img + depth
    elif side == 2:
        goal[1] = -depth
    else:
        goal[1] = h_img + depth
    return goal


def _exit_goal(
    rng: np.random.Generator,
    p0: np.ndarray,
    image_size: tuple[int, int],
    k: float,
    reach: float,
    half_min: float,
) -> tuple[np.ndarray, bool, int]:
    """OV: where the target goes out through the nearest border, whether wholly, and which border.

    A full exit puts the whole target (``reach`` from its centre) past the border; a partial one
    puts the centre within half the smallest half-extent ``half_min`` of it, so part stays in view.
    """
    w_img, h_img = image_size
    full = rng.random() < _OV_FULL_CHANCE
    side = int(np.argmin(np.array([p0[0], w_img - p0[0], p0[1], h_img - p0[1]])))
    if full:
        depth = reach + _OV_CLEARANCE * k + rng.uniform(*_OV_EXTRA_RANGE) * k
    else:
        depth = rng.uniform(*_OV_PARTIAL_RANGE) * half_min
    return _border_point(p0, side, depth, image_size), bool(full), side


def _out_and_back(
    rng: np.random.Generator,
    p0: np.ndarray,
    goal: np.ndarray,
    n: int,
    room: int,
    k: float,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """OV: centres easing from ``p0`` out to ``goal``, staying there a while, and back into ``lo``..``hi``.

    The way out is shortened to fit in the ``room`` frames left (short sequences move faster).
    """
    speed = rng.uniform(*_OV_SPEED_RANGE) * k
    hold = int(np.clip(rng.uniform(*_OV_HOLD_RANGE) * n, 1, max(1, room // _OV_HOLD_MAX_SHARE)))
    go = int(np.clip(np.ceil(np.linalg.norm(goal - p0) / speed), 1, max(1, room - hold - 1)))
    back_to = lo + rng.uniform(*_OV_RETURN_RANGE, 2) * (hi - lo)
    ret = int(max(1, np.ceil(np.linalg.norm(back_to - goal) / speed)))
    a = np.arange(1, go + 1) / go
    b = np.arange(1, ret + 1) / ret
    return np.concatenate(
        [
            p0 + (goal - p0) * _ease(a)[:, None],
            np.repeat(goal[None], hold, 0),
            goal + (back_to - goal) * _ease(b)[:, None],
        ]
    )


def _splice(
    rng: np.random.Generator, pos: np.ndarray, seg: np.ndarray, t0: int, lo: np.ndarray, hi: np.ndarray, k: float
) -> int:
    """Write event ``seg`` into ``pos`` from frame ``t0``; wander on from its end. Returns the next free frame."""
    n = len(pos)
    seg = seg[: n - t0]
    end = t0 + len(seg)
    pos[t0:end] = seg
    if end < n:
        pos[end:] = _wander(rng, n - end, lo[end:], hi[end:], k, np.clip(seg[-1], lo[end], hi[end]))
    return end + 1


def _path(
    rng: np.random.Generator,
    n: int,
    image_size: tuple[int, int],
    reach: np.ndarray,
    half_min: np.ndarray,
    attrs: set[str],
    info: dict,
) -> tuple[np.ndarray, np.ndarray]:
    """Target centres (N, 2): wandering inside the frame, with FM dashes and OV excursions.

    Also returns which frames have the target wholly inside the frame (N,) bool. Records the
    fast frames and the excursions in ``info``.
    """
    k = size_factor(image_size)
    lo, hi = _safe_region(image_size, reach)
    start = lo[0] + rng.uniform(*_START_RANGE, 2) * (hi[0] - lo[0])
    pos = _wander(rng, n, lo, hi, k, start)
    # Events rewrite a stretch of the path; the target then wanders on from where the event ends.
    events = _draw_events(rng, n, attrs)
    info["fast_frames"] = []
    info["out_of_view"] = []
    busy_until = 0
    for t_drawn, kind in events:
        t0 = _event_start(t_drawn, busy_until, n)
        p0 = pos[t0 - 1]
        if kind == "FM":
            seg = _fast_dash(rng, p0, lo[t0], hi[t0], n - t0, k)
            info["fast_frames"].extend(range(t0, min(n, t0 + len(seg))))
        else:
            goal, full, side = _exit_goal(rng, p0, image_size, k, reach[t0], half_min[t0])
            seg = _out_and_back(rng, p0, goal, n, n - t0, k, lo[t0], hi[t0])
            info["out_of_view"].append({"start": t0, "full": full, "side": "LRTB"[side]})
        busy_until = _splice(rng, pos, seg, t0, lo, hi, k)
    inside = np.all((pos >= lo - _INSIDE_TOLERANCE) & (pos <= hi + _INSIDE_TOLERANCE), axis=1)
    return pos, inside


def _layer_blur(center: np.ndarray, exposure: float) -> np.ndarray:
    """Motion-blur vectors: the displacement since the previous frame times the exposure."""
    vel = np.diff(center, axis=0, prepend=center[:1])
    return vel * exposure


def _photo_window(
    rng: np.random.Generator, n: int, source_size: tuple[int, int], image_size: tuple[int, int], zoom: bool
) -> np.ndarray:
    """A camera window (cx, cy, width) panning, and zooming when asked, over a source image."""
    sw, sh = source_size
    aspect = image_size[0] / image_size[1]
    full_w = min(sw, sh * aspect)
    base = full_w * rng.uniform(0.55, 0.8)
    width = base * np.exp((0.2 if zoom else 0.05) * smooth_noise(rng, n, CAMERA_PERIOD))
    width = np.minimum(width, full_w)
    height = width / aspect
    ux = 0.5 + 0.4 * smooth_noise(rng, n, CAMERA_PERIOD)
    uy = 0.5 + 0.4 * smooth_noise(rng, n, CAMERA_PERIOD)
    cx = width / 2 + ux * (sw - width)
    cy = height / 2 + uy * (sh - height)
    return np.stack([cx, cy, width], axis=1)


def _video_window(
    rng: np.random.Generator, n: int, source_size: tuple[int, int], image_size: tuple[int, int]
) -> np.ndarray:
    """A camera window over a video: nearly full height, panning slowly across wide videos."""
    sw, sh = source_size
    aspect = image_size[0] / image_size[1]
    full_w = min(sw, sh * aspect)
    width = np.full(n, full_w * rng.uniform(0.8, 1.0))
    height = width / aspect
    ux = np.clip(rng.uniform(0.1, 0.9) + 0.3 * smooth_noise(rng, n, 2 * CAMERA_PERIOD), 0, 1)
    uy = np.clip(0.5 + 0.5 * smooth_noise(rng, n, 2 * CAMERA_PERIOD), 0, 1)
    return np.stack([width / 2 + ux * (sw - width), height / 2 + uy * (sh - height), width], axis=1)


def ping_pong(start: int, n: int, length: int) -> np.ndarray:
    """Frame indices ``start, start+1, ...`` bouncing back at both ends of a ``length``-frame video."""
    if length == 1:
        return np.zeros(n, dtype=np.int64)
    period = 2 * (length - 1)
    i = (start + np.arange(n)) % period
    return np.where(i < length, i, period - i).astype(np.int64)


def _occluder(
    rng: np.random.Generator,
    pool: Pool,
    crop: TargetCrop,
    background: str,
    center: np.ndarray,
    size: np.ndarray,
    reach: np.ndarray,
    inside: np.ndarray,
    image_size: tuple[int, int],
    info: dict,
) -> Layer:
    """A patch of another photo crossing in front of the target at a drawn frame."""
    n = len(center)
    k = size_factor(image_size)
    from .sources import load_photo

    photos = [p for p in pool.photos if p not in (crop.photo, background)] or list(pool.photos)
    photo = photos[int(rng.integers(len(photos)))]
    ph, pw = load_photo(photo).shape[:2]
    full = rng.random() < 0.5
    # the crossing happens while the target is wholly in view, in the middle of the sequence
    frames = np.flatnonzero(inside[1:]) + 1
    middle = frames[(frames >= 0.3 * n) & (frames <= 0.8 * n)]
    choices = middle if middle.size else frames if frames.size else np.array([n - 1])
    t_occ = int(choices[int(rng.integers(len(choices)))])
    tsize = float(size[t_occ])
    side = tsize * (rng.uniform(1.4, 1.8) if full else rng.uniform(0.6, 1.0))
    aspect = rng.uniform(0.7, 1.4)
    ow, oh = side * np.sqrt(aspect), side / np.sqrt(aspect)
    rw = int(np.clip(rng.uniform(0.15, 0.4) * pw, 16, pw))
    rh = int(np.clip(rw / aspect, 16, ph))
    rect = (int(rng.integers(0, pw - rw + 1)), int(rng.integers(0, ph - rh + 1)), rw, rh)
    offset = np.zeros(2) if full else rng.uniform(-0.35, 0.35, 2) * tsize
    direction = rng.normal(0, 1, 2)
    direction /= np.linalg.norm(direction) + 1e-9
    contact = reach[t_occ] + 0.5 * np.hypot(ow, oh)  # centre distance below which they may overlap
    overlap_frames = max(2.0, rng.uniform(0.06, 0.15) * n)
    speed = max(2 * contact / overlap_frames, 1.5 * contact / max(t_occ, 1), 1.5 * k)
    t = np.arange(n, dtype=np.float64)
    # of the two ways through the crossing point, the one farther from the target in frame 1
    paths = [center[t_occ] + offset + (t - t_occ)[:, None] * speed * d[None, :] for d in (direction, -direction)]
    path = max(paths, key=lambda p: float(np.linalg.norm(p[0] - center[0])))
    info["occlusion"] = {"frame": t_occ, "full": bool(full)}
    angle = np.full(n, rng.uniform(-30, 30))
    return Layer(
        source=f"{photo}:{rect}",
        photo=photo,
        rect=rect,
        shape="roundrect" if rng.random() < 0.5 else "ellipse",
        center=path,
        width=np.full(n, ow),
        height=np.full(n, oh),
        angle=angle,
    )


def _occlusion_frame(rng: np.random.Generator, inside: np.ndarray) -> int:
    """A frame in the middle of the sequence where the target is wholly in view."""
    n = len(inside)
    frames = np.flatnonzero(inside[1:]) + 1
    middle = frames[(frames >= 0.3 * n) & (frames <= 0.8 * n)]
    choices = middle if middle.size else frames if frames.size else np.array([n - 1])
    return int(choices[int(rng.integers(len(choices)))])


def _occluder_photo(rng: np.random.Generator, pool: Pool, crop: TargetCrop, background: str) -> str:
    """The photo a static occluder is cut from: one of the pool's, not the target's nor the background's."""
    photos = [p for p in pool.photos if p not in (crop.photo, background)] or list(pool.photos)
    return photos[int(rng.integers(len(photos)))]


def _occluder_rect(rng: np.random.Generator, photo: str, aspect: float) -> tuple[int, int, int, int]:
    """A patch of ``photo`` of about ``aspect`` (width / height) to paint a static occluder with."""
    from .sources import load_photo

    ph, pw = load_photo(photo).shape[:2]
    rh = int(np.clip(rng.uniform(0.3, 0.8) * ph, 16, ph))
    rw = int(np.clip(rh * aspect, 16, pw))
    return (int(rng.integers(0, pw - rw + 1)), int(rng.integers(0, ph - rh + 1)), rw, rh)


def _static_occluder(
    rng: np.random.Generator,
    pool: Pool,
    crop: TargetCrop,
    background: Background,
    center: np.ndarray,
    size: np.ndarray,
    inside: np.ndarray,
    image_size: tuple[int, int],
    info: dict,
) -> Layer:
    """A pole or a sign standing still in the scene, in front of the target's place at a drawn frame.

    It moves only with the camera: its frame position and size follow the background's window, so
    the target passes behind it as a real target passes behind a post.
    """
    n = len(center)
    photo = _occluder_photo(rng, pool, crop, background.name)
    t_occ = _occlusion_frame(rng, inside)
    tsize = float(size[t_occ])
    pole = rng.random() < 0.5
    if pole:
        ow = tsize * rng.uniform(0.25, 0.5)
        oh = max(image_size[1] * rng.uniform(0.5, 1.0), 2.0 * tsize)
        offset = np.array([rng.uniform(-0.3, 0.3) * tsize, rng.uniform(-0.5, 0.5) * oh])
    else:
        side = tsize * rng.uniform(1.0, 1.6)
        aspect = rng.uniform(0.7, 1.4)
        ow, oh = side * np.sqrt(aspect), side / np.sqrt(aspect)
        offset = rng.uniform(-0.3, 0.3, 2) * tsize
    rect = _occluder_rect(rng, photo, ow / oh)
    # a scene point: frame position u = (P - window centre) / s + frame centre, s = window width / frame width
    mid = np.array(image_size, dtype=np.float64) / 2
    s = background.window[:, 2] / image_size[0]
    scene = background.window[t_occ, :2] + (center[t_occ] + offset - mid) * s[t_occ]
    path = (scene[None, :] - background.window[:, :2]) / s[:, None] + mid
    zoom = s[t_occ] / s
    info["occlusion"] = {"frame": t_occ, "full": bool(not pole and ow >= tsize and oh >= tsize), "static": True}
    return Layer(
        source=f"{photo}:{rect}",
        photo=photo,
        rect=rect,
        shape="roundrect",
        center=path,
        width=ow * zoom,
        height=oh * zoom,
        angle=np.full(n, rng.uniform(-5, 5) if pole else rng.uniform(-15, 15)),
    )


def _handheld(rng: np.random.Generator, n: int, k: float, step_range: tuple[float, float]) -> np.ndarray:
    """A hand-held camera's shake (N, 2) in frame pixels: a damped random walk, 0 in frame 1."""
    step = rng.uniform(*step_range) * k
    pos = np.zeros((n, 2))
    vel = np.zeros(2)
    for t in range(1, n):
        vel = 0.7 * vel + rng.normal(0, step, 2)
        pos[t] = 0.9 * pos[t - 1] + vel
    return pos


def _shake_window(jitter: np.ndarray, background: Background, image_size: tuple[int, int]) -> None:
    """Move the camera by ``jitter`` (frame pixels): the background's window moves with it."""
    s = background.window[:, 2] / image_size[0]
    background.window = background.window + np.column_stack([jitter * s[:, None], np.zeros(len(s))])


def _shake_layers(jitter: np.ndarray, layers: list[Layer]) -> None:
    """The other half of a camera move: what moves in the scene moves the other way in the frame."""
    for layer in layers:
        layer.center = layer.center - jitter


def _distractor(rng: np.random.Generator, crop: TargetCrop, target: Layer) -> Layer:
    """A look-alike of the target (a sibling object or a copy) moving around it, behind it."""
    n = len(target.center)
    size = np.sqrt(target.width * target.height)
    rect = crop.rect
    photo = crop.photo
    if crop.lookalikes:  # another person's face: a look-alike of the same kind, not a copy
        from .sources import load_photo

        photo = crop.lookalikes[int(rng.integers(len(crop.lookalikes)))]
        h_ph, w_ph = load_photo(photo).shape[:2]
        rect = (0, 0, w_ph, h_ph)
    elif crop.siblings:
        rect = crop.siblings[int(rng.integers(len(crop.siblings)))]
    radius = size * (1.25 + 0.6 * (1 + smooth_noise(rng, n, max(n / 3, 8))))
    phi = rng.uniform(0, 2 * np.pi) + rng.choice([-1, 1]) * rng.uniform(0.5, 2.0) * np.pi * (
        np.arange(n) / max(n - 1, 1)
    )
    center = target.center + radius[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    scale = rng.uniform(0.85, 1.15)
    aspect = (rect[2] / rect[3]) / (crop.rect[2] / crop.rect[3])
    return Layer(
        source=f"{photo}:{rect}",
        photo=photo,
        rect=rect,
        shape=crop.shape,
        center=center,
        width=target.width * scale * np.sqrt(aspect),
        height=target.height * scale / np.sqrt(aspect),
        angle=np.full(n, rng.uniform(-20, 20)) + (target.angle if rng.random() < 0.5 else 0.0),
        tint=tuple(float(g) for g in rng.uniform(0.9, 1.1, 3)),
        shade_photo=target.shade_photo,
        fill=target.fill,
    )


def _streams(seed: int, split_code: int, index: int) -> dict[str, np.random.Generator]:
    """One independent generator per part of the plan (see ``_STREAMS``)."""
    return {name: np.random.default_rng([int(seed), split_code, int(index), i]) for i, name in enumerate(_STREAMS)}


def _pick_target(pool: Pool, seed: int, split_code: int, index: int) -> TargetCrop:
    """The target of sequence ``index``: targets take turns, in an order shuffled per split and seed.

    Taking turns uses every target evenly, whatever the number of sequences.
    """
    order = np.random.default_rng([int(seed), split_code, _TARGET_ORDER_WORD]).permutation(len(pool.targets))
    return pool.targets[int(order[index % len(pool.targets)])]


def _scale_curve(rng: np.random.Generator, n: int, sv: bool, sv_up: bool) -> np.ndarray:
    """Per-frame size relative to frame 1 (N,): an SV ramp up or down, else a slight wobble."""
    if sv:
        ratio = rng.uniform(*_SV_RATIO_RANGE)
        log_scale = (1 if sv_up else -1) * np.log(ratio) * _ramp(rng, n)
    else:
        log_scale = _SCALE_JITTER * smooth_noise(rng, n, max(n / 2, _SCALE_MIN_PERIOD)) if n > 1 else np.zeros(n)
        log_scale -= log_scale[0]
    return np.exp(log_scale)


def _in_plane_angle(rng: np.random.Generator, n: int) -> np.ndarray:
    """IPR: per-frame angle in degrees (N,), a swing to and fro or a spin one way."""
    if rng.random() < _IPR_SWING_CHANCE:
        angle = rng.uniform(*_IPR_SWING_RANGE) * _unit_range(smooth_noise(rng, n, max(n / 2, _MIN_PERIOD)))
    else:
        angle = rng.choice([-1, 1]) * rng.uniform(*_IPR_SPIN_RANGE) * np.arange(n) / max(n - 1, 1)
    return angle - angle[0] + rng.uniform(*_START_ANGLE_RANGE)


def _out_of_plane(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """OPR: per-frame yaw and pitch in degrees (N,) each, the yaw starting near facing."""
    yaw = rng.uniform(*_YAW_SWING_RANGE) * _unit_range(smooth_noise(rng, n, max(n / 2, _MIN_PERIOD)))
    yaw = np.clip(yaw - yaw[0] * rng.uniform(*_YAW_START_CUT), -_YAW_LIMIT, _YAW_LIMIT)
    pitch = rng.uniform(*_PITCH_RANGE) * smooth_noise(rng, n, max(n / 2, _MIN_PERIOD))
    return yaw, pitch


@dataclass
class _Deformation:
    """The target's non-rigid change: per-frame aspect-ratio factor and the wave warp's parameters."""

    aspect: np.ndarray  # (N,) multiplies the width / height ratio
    wave: np.ndarray | None = None  # (N,) phase of the wave warp; None = rigid
    amp: float = 0.0
    length: float = 1.0


def _deformation(rng: np.random.Generator, n: int) -> _Deformation:
    """DEF: a periodic stretch of the aspect ratio and a travelling wave across the target."""
    period = rng.uniform(*_DEF_PERIOD_RANGE) if n > _DEF_LONG else max(n / 2, _DEF_MIN_PERIOD)
    aspect = np.exp(
        rng.uniform(*_DEF_STRETCH_RANGE) * np.sin(2 * np.pi * np.arange(n) / period + rng.uniform(*_DEF_PHASE_RANGE))
    )
    wave = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n) / rng.uniform(*_WAVE_PERIOD_RANGE)
    amp = rng.uniform(*_WAVE_AMP_RANGE)
    length = rng.uniform(*_WAVE_LEN_RANGE)
    return _Deformation(aspect, wave, amp, length)


def _extents(width: np.ndarray, height: np.ndarray, wave_amp: float, opr: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ``reach`` (how far the target may extend from its centre) and ``half_min``.

    ``reach`` is the half-diagonal grown by the warp and by the perspective of out-of-plane
    rotation, so a centre kept ``reach`` from the border keeps the whole target in view;
    ``half_min`` is the smallest half-extent, shrunk likewise, so a centre that close to the
    border leaves part of the target in view.
    """
    reach = 0.5 * np.hypot(width, height) * (1 + 2 * wave_amp) * (_OPR_REACH if opr else 1.0)
    half_min = 0.5 * np.minimum(width, height) * (1 - 2 * wave_amp)
    if opr:
        half_min = half_min * np.cos(np.radians(_YAW_LIMIT))
    return reach, half_min


def _silhouette_shading(
    rng: np.random.Generator, pool: Pool, crop: TargetCrop
) -> tuple[str | None, tuple[float, float, float]]:
    """The shading photo and fill colour of a silhouette target; none for a photo crop."""
    if crop.shape != "silhouette":
        return None, (0.0, 0.0, 0.0)
    shade_photo = _SILHOUETTE_SHADE if _SILHOUETTE_SHADE in pool.photos else pool.photos[0]
    fill = tuple(float(c) for c in rng.uniform(_SILHOUETTE_FILL_LOW, _SILHOUETTE_FILL_HIGH))
    return shade_photo, fill


def _target_layer(
    rng: np.random.Generator,
    pool: Pool,
    crop: TargetCrop,
    pose: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    deform: _Deformation,
) -> Layer:
    """The target's layer: ``crop`` moved by ``pose`` (centre, width, height, angle, yaw, pitch)."""
    center, width, height, angle, yaw, pitch = pose
    shade_photo, fill = _silhouette_shading(rng, pool, crop)
    return Layer(
        source=f"{crop.photo}:{crop.rect}",
        photo=crop.photo,
        rect=crop.rect,
        shape=crop.shape,
        center=center,
        width=width,
        height=height,
        angle=angle,
        yaw=yaw,
        pitch=pitch,
        wave=deform.wave,
        wave_amp=deform.amp,
        wave_len=deform.length,
        shade_photo=shade_photo,
        fill=fill,
    )


def _camera_shake(rng: np.random.Generator, n: int, k: float) -> np.ndarray:
    """MB: whole-frame blur vectors (N, 2), zero but for a few short bursts along a drawn direction."""
    shake = np.zeros((n, 2))
    for _ in range(max(1, n // _SHAKE_EVERY)):
        t0 = int(rng.integers(max(1, int(_EVENT_LEAD_IN * n)), max(2, n - 1)))
        length = int(np.clip(rng.uniform(*_SHAKE_LENGTH_RANGE) * n, 1, n - t0))
        theta = rng.uniform(0, np.pi)
        mag = rng.uniform(*_SHAKE_PIXELS_RANGE) * k
        env = np.sin(np.pi * (np.arange(length) + 0.5) / length)
        shake[t0 : t0 + length] = (mag * env)[:, None] * np.array([np.cos(theta), np.sin(theta)])
    return shake


def _motion_blur(rng: np.random.Generator, center: np.ndarray, k: float, info: dict) -> tuple[np.ndarray, np.ndarray]:
    """MB: the target's blur vectors and the camera shake (N, 2) each; lists the shaken frames in ``info``."""
    blur = _layer_blur(center, rng.uniform(*_EXPOSURE_RANGE))
    shake = _camera_shake(rng, len(center), k)
    info["shake_frames"] = [int(i) for i in np.flatnonzero(np.linalg.norm(shake, axis=1) >= _SHAKE_VISIBLE)]
    return blur, shake


def _texture_background(rng: np.random.Generator, pool: Pool, n: int, image_size: tuple[int, int]) -> Background:
    """BC: a cluttered texture under a panning, zooming camera."""
    from .sources import load_photo

    name = pool.textures[int(rng.integers(len(pool.textures)))]
    src = load_photo(name)
    return Background("texture", name, _photo_window(rng, n, src.shape[1::-1], image_size, True))


def _video_background(rng: np.random.Generator, pool: Pool, n: int, image_size: tuple[int, int]) -> Background:
    """A video shot, played to and fro from a drawn frame, under a slowly panning camera."""
    from .sources import load_video, video_shots

    name = pool.videos[int(rng.integers(len(pool.videos)))]
    video = load_video(name)
    window = _video_window(rng, n, video.shape[2:0:-1], image_size)
    shots = [s for s in video_shots(name) if s[1] - s[0] >= _MIN_SHOT_FRAMES] or list(video_shots(name))
    first, last = shots[int(rng.integers(len(shots)))]
    frames_idx = first + ping_pong(int(rng.integers(last - first)), n, last - first)
    return Background("video", name, window, frames_idx)


def _photo_background(
    rng: np.random.Generator, pool: Pool, crop: TargetCrop, n: int, image_size: tuple[int, int]
) -> Background:
    """A photo other than the target's, under a panning, zooming camera."""
    from .sources import load_photo

    photos = [p for p in pool.photos if p != crop.photo]
    name = photos[int(rng.integers(len(photos)))]
    src = load_photo(name)
    return Background("photo", name, _photo_window(rng, n, src.shape[1::-1], image_size, True))


def _background(
    rng: np.random.Generator, pool: Pool, crop: TargetCrop, n: int, image_size: tuple[int, int], clutter: bool
) -> Background:
    """The background: a texture under BC (``clutter``), else a video or a photo."""
    if clutter:
        return _texture_background(rng, pool, n, image_size)
    if rng.random() < _VIDEO_CHANCE and pool.videos:
        return _video_background(rng, pool, n, image_size)
    return _photo_background(rng, pool, crop, n, image_size)


def _global_gain(rng: np.random.Generator, n: int) -> np.ndarray:
    """IV: per-frame global gain (N,), one slow swing with frame 1 near 1, so both extremes come."""
    amp = rng.uniform(*_IV_AMP_RANGE)
    period = rng.uniform(*_IV_PERIOD_RANGE) * n
    phase = rng.uniform(0, 2 * np.pi)
    t = np.arange(n)
    g = np.exp(amp * np.sin(2 * np.pi * t / max(period, _IV_MIN_PERIOD) + phase))
    g = g / g[0] if n > 1 else g
    return np.clip(g, *_GAIN_LIMITS)


def _lighting(rng: np.random.Generator, n: int) -> np.ndarray:
    """IV: (N, 4) global gain, brightness slope, and the cos and sin of the light's direction."""
    g = _global_gain(rng, n)
    slope = rng.uniform(*_LIGHT_SLOPE_RANGE) * smooth_noise(rng, n, max(n / 2, _MIN_PERIOD))
    beta = rng.uniform(0, 2 * np.pi) + _LIGHT_TURN * smooth_noise(rng, n, max(n, _MIN_PERIOD))
    return np.stack([g, slope, np.cos(beta), np.sin(beta)], axis=1)


def draw_plan(
    split: str,
    seed: int,
    index: int,
    frames: int,
    image_size: tuple[int, int],
    attributes: set[str] | None = None,
    rates: dict[str, float] | None = None,
    version: int | None = None,
    objects: int | None = None,
) -> Plan:
    """Draw sequence ``index`` of ``split``: fully decided by ``(seed, split, index)``.

    ``attributes`` forces the set of challenges (tests use it); otherwise they are drawn, each in
    the share of sequences given by ``rates`` (overrides of :data:`ATTRIBUTE_RATES`; default the
    split's own, :data:`SPLIT_RATES`). ``version``: a split version with a pool and features of its
    own (:data:`VERSION_FEATURES`; None: the split's pool as before). ``objects``: only the first
    ``objects`` targets of the pool take turns (the object-count curve of docs/results.md).
    The crossing split draws its own conditions (:func:`draw_crossing_plan`): it takes no
    ``attributes``, ``rates`` or ``objects``.
    """
    if split == "crossing":
        given = [name for name, value in (("attributes", attributes), ("rates", rates), ("objects", objects))
                 if value]
        if given:
            raise ValueError(f"the crossing split draws its own conditions: {', '.join(given)} not taken")
        return draw_crossing_plan(seed, index, frames, image_size)
    pool = pool_for(split, version)
    if objects is not None:
        if not 1 <= int(objects) <= len(pool.targets):
            raise ValueError(f"objects={objects}: the pool of {split} has {len(pool.targets)} targets")
        pool = Pool(pool.targets[: int(objects)], pool.photos, pool.videos, pool.textures)
    features = VERSION_FEATURES.get((split, int(version)), {}) if version is not None else {}
    split_code = SPLIT_CODES[split]
    n = int(frames)
    k = size_factor(image_size)
    if attributes is not None:
        attrs = set(attributes)
    else:
        overrides = SPLIT_RATES.get(split, {}) if rates is None else rates
        overrides = {**features.get("rates", {}), **overrides}
        attrs = draw_attributes(seed, split_code, index, challenge_rates(overrides))
    rngs = _streams(seed, split_code, index)
    info: dict = {}

    crop = _pick_target(pool, seed, split_code, index)
    sv_up = "LR" in attrs or rngs["scale"].random() < _SV_GROW_CHANCE
    w0, h0 = _target_size(rngs["scale"], crop, attrs, image_size, sv_up)
    scale = _scale_curve(rngs["scale"], n, "SV" in attrs, sv_up)
    angle = _in_plane_angle(rngs["rotation"], n) if "IPR" in attrs else np.zeros(n)
    yaw, pitch = _out_of_plane(rngs["opr"], n) if "OPR" in attrs else (None, None)
    deform = _deformation(rngs["deform"], n) if "DEF" in attrs else _Deformation(np.ones(n))
    width = w0 * scale * np.sqrt(deform.aspect)
    height = h0 * scale / np.sqrt(deform.aspect)
    reach, half_min = _extents(width, height, deform.amp, yaw is not None)
    center, inside = _path(rngs["path"], n, image_size, reach, half_min, attrs, info)

    pose = (center, width, height, angle, yaw, pitch)
    target = _target_layer(rngs["target"], pool, crop, pose, deform)
    shake = None
    if "MB" in attrs:
        target.blur, shake = _motion_blur(rngs["blur"], center, k, info)
    background = _background(rngs["background"], pool, crop, n, image_size, "BC" in attrs)
    jitter = None
    if "handheld" in features:
        jitter = _handheld(rngs["handheld"], n, k, features["handheld"])
        _shake_window(jitter, background, image_size)  # first: a static occluder follows the window
    occluder = None
    if "OCC" in attrs:
        size = np.sqrt(width * height)
        static = features.get("static_occluder", 0.0)  # drawn only where the version has them
        if static > 0 and rngs["occluder"].random() < static:
            occluder = _static_occluder(
                rngs["occluder"], pool, crop, background, center, size, inside, image_size, info
            )
        else:
            occluder = _occluder(
                rngs["occluder"], pool, crop, background.name, center, size, reach, inside, image_size, info
            )
    distractor = _distractor(rngs["distractor"], crop, target) if "DIS" in attrs else None
    if jitter is not None:
        moving = [target] + [d for d in (distractor,) if d is not None]
        if occluder is not None and not info["occlusion"].get("static"):
            moving.append(occluder)
        _shake_layers(jitter, moving)
        info["handheld_pixels"] = round(float(np.abs(np.diff(jitter, axis=0)).max()), 2) if n > 1 else 0.0
    gain = _lighting(rngs["light"], n) if "IV" in attrs else None

    return Plan.drawn(split, index, n, image_size, attrs, crop, target, background, occluder=occluder,
                      distractor=distractor, gain=gain, shake=shake, info=info)


# ---------------------------------------------------------------- the crossing split (issue 13)
# Surveillance-style footage: a still camera, a small target (a pedestrian's size at 640x360: 18-45 px
# wide, under 100 px tall, often of a pedestrian's aspect) walking at a steady pace along straight
# stretches, a crowd of its look-alikes walking at its pace on paths that cross its path (in front of
# it and behind it), a static pole or sign on its path that hides it wholly for a while, and on some
# sequences a walk out of the frame and back in through another place on the border while the crowd
# stays in view. Sizes and speeds are given at CROSSING_BASE and scale with the frame.
CROSSING_BASE = (640, 360)
_CROSS_WIDTH = (18.0, 45.0)  # pixels: the target's width
_CROSS_TALL_WIDTH = (18.0, 38.0)  # pixels: the width of a target of a pedestrian's aspect
_CROSS_TALL_CHANCE = 0.5  # chance that the target takes a pedestrian's aspect (when its crop is not wide)
_CROSS_TALL_ASPECT = (0.35, 0.5)  # width / height of such a target
_CROSS_WIDE_CROP = 1.3  # crops wider than this (width / height) keep their own aspect
_CROSS_MAX_HEIGHT = 95.0  # pixels: the tallest target (real small targets are under 100 px tall)
_CROSS_SPEED = (1.0, 2.2)  # pixels per frame: the walking pace of the target (and of the crowd)
_CROSS_HEADING = 35.0  # degrees: a stretch of the walk leaves the horizontal by at most this
_CROSS_STRETCH = (45, 110)  # frames: length of a straight stretch of the walk
_CROSS_MARGIN = 2.0  # pixels between a walker's box and the frame's border while it is in view
_CROSS_CROWD = (3, 6)  # look-alikes per sequence (both ends included)
_CROSS_CROWD_SCALE = (0.85, 1.15)  # a look-alike's size relative to the target's
_CROSS_CROWD_PACE = (0.85, 1.15)  # a look-alike's speed relative to the target's
_CROSS_ANGLE = (60.0, 180.0)  # degrees between the look-alike's heading and the target's where they cross
_CROSS_OFFSET = 0.25  # where they cross, the look-alike's centre is off the target's by at most this share of its size
_CROSS_CLEAR_START = 1.5  # in frame 1 a look-alike is at least this many target sizes away
_CROSS_TINT_BRIGHT = (0.7, 1.3)  # a copy's brightness gain (a look-alike that is not a sibling)
_CROSS_TINT_COLOUR = (0.8, 1.2)  # and each channel's gain on top of it
_CROSS_SIBLING_TINT = (0.9, 1.1)  # a sibling's per-channel gain (another coin of the photo)
_CROSS_HIDDEN = (12.0, 29.0)  # frames the static occluder hides the target wholly (about: the mask's edges)
_CROSS_OCC_WINDOW = (0.15, 0.9)  # share of the sequence within which the target reaches the occluder
_CROSS_OCC_MARGIN = 3.0  # pixels: the occluder overlaps the hidden target by this on each side
_CROSS_POLE_CHANCE = 0.6  # chance that the occluder is a pole rather than a sign
_CROSS_POLE_HEIGHT = (0.45, 0.95)  # a pole's height, as a share of the frame's
_CROSS_SIGN_EXTRA = (0.1, 0.5)  # a sign's height beyond what hides the target, as a share of its height
_CROSS_LEAVE_WINDOW = (0.25, 0.4)  # share of the sequence within which the target starts walking out
_CROSS_WALK_OUT = (25, 45)  # frames of that walk to where it is wholly out (high excluded)
_CROSS_OUT_FRAMES = (20, 40)  # frames it then stays out (high excluded)
_CROSS_WALK_IN = (30, 60)  # frames of the walk back in, from just past the border
_CROSS_CLEARANCE = 4.0  # pixels: out of the frame, the target's box clears the border by this
_CROSS_RETURN_APART = 0.25  # a return through the exit's border is this share of the border away
_CROSS_CROSSING_WINDOW = (0.08, 0.95)  # share of the sequence within which the crossings are spread
_CROSS_QUIET = 5  # frames around the hidden stretch and the time out of view kept free of crossings
# Shares of the sequences with a static occluder, with a departure, and of each background (video,
# photo, the rest a texture). Each is balanced over the sequences like the challenges (Weyl sequences).
_CROSS_OCC_SHARE = 0.85
_CROSS_OV_SHARE = 0.4
_CROSS_VIDEO_SHARE = 0.5
_CROSS_PHOTO_SHARE = 0.35
_CROSS_SHARE_WORD = 1 << 22  # seed word of the offsets of those shares


def _shares(seed: int, split_code: int, index: int, count: int) -> tuple[float, ...]:
    """``count`` per-sequence draws in [0, 1), each balanced over consecutive indices (a Weyl sequence,
    as :func:`draw_attributes`): ``u < share`` comes in about ``share`` of any run of sequences."""
    offsets = np.random.default_rng([int(seed), int(split_code), _CROSS_SHARE_WORD]).random(count)
    return tuple(float(u) for u in (offsets + index * np.array(_WEYL_STEPS[:count])) % 1.0)


def _crossing_size(
    rng: np.random.Generator, crop: TargetCrop, unit: float
) -> tuple[float, float, bool]:
    """The target's on-screen width and height (pixels) and whether it takes a pedestrian's aspect."""
    aspect = crop.rect[2] / crop.rect[3]
    tall = aspect < _CROSS_WIDE_CROP and rng.random() < _CROSS_TALL_CHANCE
    if tall:
        w = rng.uniform(*_CROSS_TALL_WIDTH) * unit
        h = w / rng.uniform(*_CROSS_TALL_ASPECT)
    else:
        w = rng.uniform(*_CROSS_WIDTH) * unit
        h = w / aspect
    h_max = _CROSS_MAX_HEIGHT * unit
    if h > h_max:  # a tall crop keeps its aspect under the height limit
        w, h = w * h_max / h, h_max
    return float(w), float(h), bool(tall)


def _still_window(
    rng: np.random.Generator,
    n: int,
    source_size: tuple[int, int],
    image_size: tuple[int, int],
    share: tuple[float, float],
) -> np.ndarray:
    """A still camera's window (N, 3: cx, cy, width, the same in every frame) over a source image."""
    sw, sh = source_size
    full_w = min(sw, sh * image_size[0] / image_size[1])
    width = full_w * rng.uniform(*share)
    height = width * image_size[1] / image_size[0]
    cx = width / 2 + rng.uniform(0, 1) * (sw - width)
    cy = height / 2 + rng.uniform(0, 1) * (sh - height)
    return np.tile([cx, cy, width], (n, 1)).astype(np.float64)


def _still_background(
    rng: np.random.Generator, pool: Pool, crop: TargetCrop, n: int, image_size: tuple[int, int], u: float
) -> Background:
    """The scene under a still camera: the pool's video playing (real passing traffic, to and fro
    inside one shot), a still photo other than the target's, or a texture; ``u`` picks which."""
    from .sources import load_photo, load_video, video_shots

    if u < _CROSS_VIDEO_SHARE and pool.videos:
        name = pool.videos[int(rng.integers(len(pool.videos)))]
        video = load_video(name)
        window = _still_window(rng, n, video.shape[2:0:-1], image_size, (0.85, 1.0))
        shots = [s for s in video_shots(name) if s[1] - s[0] >= _MIN_SHOT_FRAMES] or list(video_shots(name))
        first, last = shots[int(rng.integers(len(shots)))]
        return Background("video", name, window, first + ping_pong(int(rng.integers(last - first)), n, last - first))
    if u < _CROSS_VIDEO_SHARE + _CROSS_PHOTO_SHARE or not pool.textures:
        photos = [p for p in pool.photos if p != crop.photo]
        name = photos[int(rng.integers(len(photos)))]
        return Background("photo", name, _still_window(rng, n, load_photo(name).shape[1::-1], image_size, (0.6, 0.9)))
    name = pool.textures[int(rng.integers(len(pool.textures)))]
    return Background("texture", name, _still_window(rng, n, load_photo(name).shape[1::-1], image_size, (0.6, 0.9)))


def walk(p: np.ndarray, q: np.ndarray, speed: float) -> np.ndarray:
    """Centres (M, 2) walking straight from ``p`` (excluded) to ``q`` (included) at about ``speed`` a frame."""
    m = max(1, int(np.ceil(np.linalg.norm(q - p) / max(speed, 1e-9))))
    return p + (q - p) * (np.arange(1, m + 1) / m)[:, None]


def bounce(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``points`` (N, 2) folded into ``lo``..``hi`` per axis: a straight walk turning back at the
    borders, as a walker who stays in the scene."""
    span = np.maximum(hi - lo, 1e-9)
    u = np.mod(points - lo, 2 * span)
    return lo + np.where(u <= span, u, 2 * span - u)


def _next_stop(
    rng: np.random.Generator, p: np.ndarray, lo: np.ndarray, hi: np.ndarray, speed: float, way: int
) -> np.ndarray:
    """The end of the next straight stretch of a walk from ``p``: mostly sideways, inside ``lo``..``hi``,
    on along ``way`` (+1 right, -1 left) as a walker crossing the scene, turning back at its side.

    Tries drawn headings and lengths that way, then the side's edge at the same height; only where
    that is too short a walk, the other way; when nothing fits, the farther side at the same height.
    """
    for heading_way in (way, -way):
        for _ in range(20):
            heading = np.radians(rng.uniform(-_CROSS_HEADING, _CROSS_HEADING))
            length = rng.uniform(*_CROSS_STRETCH) * speed
            q = p + length * np.array([heading_way * np.cos(heading), np.sin(heading)])
            if np.all(q >= lo) and np.all(q <= hi):
                return q
        edge = hi[0] if heading_way > 0 else lo[0]
        if abs(edge - p[0]) >= 0.5 * _CROSS_STRETCH[0] * speed:
            return np.array([edge, p[1]])
    return np.array([lo[0] if p[0] - lo[0] > hi[0] - p[0] else hi[0], p[1]])


def _entry_point(
    rng: np.random.Generator, exit_point: np.ndarray, image_size: tuple[int, int], half: np.ndarray,
    lo: np.ndarray, hi: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Where a walker out of the frame comes back: just past the left or the right border, at a
    drawn height, at least a quarter of the frame's height from where it left when it is the same
    border; and that side (0 left, 1 right)."""
    side = int(rng.integers(2))
    y = lo[1] + rng.uniform(0, 1) * (hi[1] - lo[1])
    exit_side = 0 if exit_point[0] < 0 else 1
    gap = _CROSS_RETURN_APART * image_size[1]
    if side == exit_side and abs(y - exit_point[1]) < gap:
        y = exit_point[1] + gap if exit_point[1] + gap <= hi[1] else exit_point[1] - gap
        y = float(np.clip(y, lo[1], hi[1]))
    depth = half[0] + _CROSS_CLEARANCE
    return np.array([-depth if side == 0 else image_size[0] + depth, y]), side


def _stretches(
    rng: np.random.Generator, p: np.ndarray, steps: int, lo: np.ndarray, hi: np.ndarray, speed: float
) -> tuple[np.ndarray, list[tuple[int, int, np.ndarray]]]:
    """``steps`` centres (steps, 2) walking on from ``p`` along straight stretches inside ``lo``..``hi``,
    and the stretches as (first, last, velocity) with frames counted from 0 after ``p``."""
    pos: list[np.ndarray] = []
    stretches = []
    way = 1 if rng.random() < 0.5 else -1
    while len(pos) < steps:
        q = _next_stop(rng, p, lo, hi, speed, way)
        way = 1 if q[0] >= p[0] else -1
        seg = walk(p, q, speed)
        stretches.append((len(pos), len(pos) + len(seg) - 1, (q - p) / len(seg)))
        pos.extend(seg)
        p = seg[-1]
    return np.array(pos[:steps]).reshape(-1, 2), [(a, min(b, steps - 1), v) for a, b, v in stretches if a < steps]


def _crossing_route(
    rng: np.random.Generator, n: int, image_size: tuple[int, int], half: np.ndarray, speed: float,
    depart: bool, info: dict,
) -> tuple[np.ndarray, list[tuple[int, int, np.ndarray]]]:
    """The target's walk (N, 2): straight stretches at ``speed`` inside the frame and, when ``depart``,
    a walk out through the left or right border, a while out of view and a walk back in elsewhere.

    A departure is planned from where the target leaves: the walk up to it is drawn backwards from
    that point (a walk reversed is a walk), so the target leaves at the drawn frame at its own pace.
    Returns the centres and the straight stretches inside the frame as (first frame, last frame,
    velocity); records the departure in ``info["out_of_view"]``.
    """
    size = np.array(image_size, dtype=np.float64)
    lo, hi = half + _CROSS_MARGIN, size - half - _CROSS_MARGIN
    info["out_of_view"] = []
    if not depart:
        p0 = lo + rng.uniform(0.2, 0.8, 2) * (hi - lo)
        pos, stretches = _stretches(rng, p0, n - 1, lo, hi, speed)
        return np.concatenate([p0[None], pos]), [(a + 1, b + 1, v) for a, b, v in stretches]
    leave = int(rng.uniform(*_CROSS_LEAVE_WINDOW) * n)  # the first frame of the walk out
    side = int(rng.integers(2))  # out through the left (0) or the right (1) border
    out_frames = int(rng.integers(*_CROSS_WALK_OUT))
    heading = np.radians(rng.uniform(-_CROSS_HEADING, _CROSS_HEADING))
    direction = np.array([np.cos(heading) * (-1 if side == 0 else 1), np.sin(heading)])
    depth = half[0] + _CROSS_CLEARANCE
    border_x = -depth if side == 0 else size[0] + depth
    travel = out_frames * speed
    start = np.clip(np.array([border_x, 0.0]) - direction * travel, lo, hi)
    start[1] = lo[1] + rng.uniform(0.2, 0.8) * (hi[1] - lo[1])
    gone = np.array([border_x, start[1] + direction[1] * abs(border_x - start[0]) / max(abs(direction[0]), 1e-9)])
    gone[1] = np.clip(gone[1], lo[1], hi[1])
    before, back_stretches = _stretches(rng, start, leave, lo, hi, speed)
    before = before[::-1]  # walked backwards from where it leaves: reversed, it ends there
    out = walk(start, gone, speed)
    hold = int(rng.integers(*_CROSS_OUT_FRAMES))
    entry, back_side = _entry_point(rng, gone, image_size, half, lo, hi)
    inward = np.array([1.0 if back_side == 0 else -1.0, 0.0])
    stop = np.clip(entry + inward * rng.uniform(*_CROSS_WALK_IN) * speed, lo, hi)
    back = walk(entry, stop, speed)
    first_back = leave + len(out) + hold + 1  # the frame of the entry point, just past the border
    pos = np.concatenate([before, start[None], out, np.repeat(gone[None], hold, 0), entry[None], back])
    stretches = [(leave - 1 - b, leave - 1 - a, -v) for a, b, v in back_stretches]
    stretches.append((first_back + 1, first_back + len(back), (stop - entry) / len(back)))
    if len(pos) < n:
        after, more = _stretches(rng, pos[-1], n - len(pos), lo, hi, speed)
        stretches += [(a + len(pos), b + len(pos), v) for a, b, v in more]
        pos = np.concatenate([pos, after])
    info["out_of_view"].append({"start": leave, "full": True, "side": "LR"[side], "back": first_back,
                                "return_side": "LR"[back_side]})
    return pos[:n], [(a, min(b, n - 1), v) for a, b, v in stretches if a < n]


def _box_at(center: np.ndarray, w: float, h: float) -> np.ndarray:
    return np.array([center[0] - w / 2, center[1] - h / 2, center[0] + w / 2, center[1] + h / 2])


def _overlaps(a: np.ndarray, b: np.ndarray, pad: float = 0.0) -> bool:
    """Whether corner boxes ``a`` and ``b`` (x0, y0, x1, y1) overlap, ``b`` grown by ``pad``."""
    return bool(a[0] < b[2] + pad and b[0] - pad < a[2] and a[1] < b[3] + pad and b[1] - pad < a[3])


def _crossing_occluder(
    rng: np.random.Generator, pool: Pool, crop: TargetCrop, background: Background, center: np.ndarray,
    w: float, h: float, stretches: list[tuple[int, int, np.ndarray]], image_size: tuple[int, int], info: dict,
) -> Layer | None:
    """A static pole (the target walks sideways) or sign on the target's path, sized so that it hides
    the target wholly for a drawn 10-30 frames while it walks past; None when no stretch is long enough.

    Under a still camera a static occluder stands still in the frame.
    """
    n = len(center)
    hidden = rng.uniform(*_CROSS_HIDDEN)
    first_box = _box_at(center[0], w, h)
    size = np.array(image_size, dtype=np.float64)
    half = np.array([w, h]) / 2
    in_view = np.all((center - half >= 0) & (center + half <= size), axis=1)
    lead = int(np.ceil(hidden / 2)) + 3  # the hidden frames lie inside a straight stretch, all in view
    choices = []
    for a, b, v in stretches:
        lo_t = max(a + lead, int(_CROSS_OCC_WINDOW[0] * n))
        hi_t = min(b - lead, int(_CROSS_OCC_WINDOW[1] * n))
        choices += [(t, v) for t in range(lo_t, hi_t + 1) if in_view[t - lead : t + lead + 1].all()]
    photo = _occluder_photo(rng, pool, crop, background.name)
    rng_pick = int(rng.integers(1 << 30))
    shape = None
    pole = rng.random() < _CROSS_POLE_CHANCE
    for t_occ, v in (choices[i] for i in np.random.default_rng(rng_pick).permutation(len(choices))):
        # the target is wholly behind it while its box is inside the occluder's less the margins: for
        # `hidden` frames in all, the margins' frames included
        inner = max(hidden - 2 * _CROSS_OCC_MARGIN / max(float(np.abs(v).max()), 1e-9), 1.0)
        ow = w + abs(v[0]) * inner + 2 * _CROSS_OCC_MARGIN
        need = h + abs(v[1]) * inner + 2 * _CROSS_OCC_MARGIN  # the height that hides the walk past it
        if pole:
            oh = max(rng.uniform(*_CROSS_POLE_HEIGHT) * image_size[1], need + 4 * _CROSS_OCC_MARGIN)
        else:
            oh = need + rng.uniform(*_CROSS_SIGN_EXTRA) * h
        # its height: covering the target's walk past it, and wholly in the frame
        low = max(center[t_occ, 1] - (oh - need) / 2, oh / 2)
        high = min(center[t_occ, 1] + (oh - need) / 2, size[1] - oh / 2)
        if low > high:
            continue
        at = np.array([center[t_occ, 0], low + rng.uniform(0, 1) * (high - low)])
        box = _box_at(at, ow, oh)
        behind = np.flatnonzero(np.all(np.abs(center - at) < (np.array([ow, oh]) + [w, h]) / 2, axis=1))
        # passed behind once, from one side to the other (no turn back while behind it)
        once = behind.size > 0 and behind[-1] - behind[0] + 1 == behind.size
        once = once and bool(np.all(np.diff(center[behind[0] : behind[-1] + 1, 0]) * np.sign(v[0]) > 0))
        if once and box[0] >= 0 and box[2] <= size[0] and not _overlaps(box, first_box, pad=_CROSS_OCC_MARGIN):
            # wholly in the frame, and frame 1 shows the whole target
            shape = (t_occ, pole, at, ow, oh)
            break
    if shape is None:
        return None
    t_occ, pole, at, ow, oh = shape
    rect = _occluder_rect(rng, photo, ow / oh)
    info["occlusion"] = {"frame": int(t_occ), "full": True, "static": True, "kind": "pole" if pole else "sign",
                         "hidden_frames": round(float(hidden), 1)}
    return Layer(
        source=f"{photo}:{rect}",
        photo=photo,
        rect=rect,
        shape="roundrect",
        center=np.tile(at, (n, 1)),
        width=np.full(n, ow),
        height=np.full(n, oh),
        angle=np.zeros(n),
    )


def _lookalike(rng: np.random.Generator, crop: TargetCrop) -> tuple[str, tuple[int, int, int, int], tuple]:
    """A look-alike's photo, rectangle and colour: another object of its kind in the same photo (a
    sibling: another coin), else a copy of the target with another brightness and colour."""
    if crop.siblings:
        rect = crop.siblings[int(rng.integers(len(crop.siblings)))]
        tint = rng.uniform(*_CROSS_SIBLING_TINT, 3)
    else:
        rect = crop.rect
        tint = rng.uniform(*_CROSS_TINT_BRIGHT) * rng.uniform(*_CROSS_TINT_COLOUR, 3)
    return crop.photo, rect, tuple(float(g) for g in tint)


def _crossing_frames(rng: np.random.Generator, n: int, count: int, busy: np.ndarray) -> list[int]:
    """``count`` frames spread over the sequence (one in each of ``count`` equal slots) where the
    target is in view and not behind the occluder (``busy`` False)."""
    edges = np.linspace(_CROSS_CROSSING_WINDOW[0] * n, _CROSS_CROSSING_WINDOW[1] * n, count + 1).astype(int)
    frames: list[int] = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        free = np.flatnonzero(~busy)
        free = free[~np.isin(free, frames)]
        slot = free[(free >= a) & (free < max(b, a + 1))]
        pool = slot if slot.size else free
        frames.append(int(pool[int(rng.integers(len(pool)))]) if pool.size else min(int(a), n - 1))
    return frames


def _crowd(
    rng: np.random.Generator, crop: TargetCrop, target: Layer, speed: float, busy: np.ndarray,
    image_size: tuple[int, int], info: dict,
) -> tuple[list[Layer], tuple[bool, ...]]:
    """3-6 look-alikes, each walking at about the target's pace on a straight path that crosses the
    target's at a drawn frame (turning back at the frame's borders, so they stay in view), in front
    of the target and behind it by turns."""
    n = len(target.center)
    w, h = float(target.width[0]), float(target.height[0])
    size = np.array(image_size, dtype=np.float64)
    count = int(rng.integers(_CROSS_CROWD[0], _CROSS_CROWD[1] + 1))
    frames = _crossing_frames(rng, n, count, busy)
    first_front = rng.random() < 0.5
    vel = np.diff(target.center, axis=0, prepend=target.center[:1])
    t = np.arange(n, dtype=np.float64)
    crowd, front, crossings = [], [], []
    start = _box_at(target.center[0], w, h)
    for j, t_j in enumerate(frames):
        photo, rect, tint = _lookalike(rng, crop)
        scale = rng.uniform(*_CROSS_CROWD_SCALE)
        cw, ch = w * scale, h * scale
        half = np.array([cw, ch]) / 2
        lo, hi = half + _CROSS_MARGIN, size - half - _CROSS_MARGIN
        v = vel[min(t_j + 1, n - 1)]
        heading = np.arctan2(v[1], v[0]) if np.linalg.norm(v) > 1e-6 else 0.0
        pace = speed * rng.uniform(*_CROSS_CROWD_PACE)
        for _ in range(20):  # a path that keeps clear of the target in frame 1
            turn = np.radians(rng.uniform(*_CROSS_ANGLE)) * rng.choice([-1.0, 1.0])
            direction = np.array([np.cos(heading + turn), np.sin(heading + turn)])
            meet = np.clip(target.center[t_j] + rng.uniform(-_CROSS_OFFSET, _CROSS_OFFSET, 2) * [w, h], lo, hi)
            path = bounce(meet + (t - t_j)[:, None] * pace * direction, lo, hi)
            if not _overlaps(_box_at(path[0], cw, ch), start, pad=_CROSS_CLEAR_START * max(w, h) - max(w, h)):
                break
        crowd.append(Layer(source=f"{photo}:{rect}", photo=photo, rect=rect, shape=crop.shape, center=path,
                           width=np.full(n, cw), height=np.full(n, ch), angle=np.zeros(n), tint=tint))
        front.append(bool(first_front) ^ bool(j % 2))
        crossings.append({"frame": t_j, "front": front[-1]})
    info["crossings"] = crossings
    return crowd, tuple(front)


def draw_crossing_plan(seed: int, index: int, frames: int, image_size: tuple[int, int]) -> Plan:
    """Sequence ``index`` of the crossing split: fully decided by ``(seed, index, frames, image_size)``.

    Its attributes are what it holds: DIS (always), OCC (a static occluder), OV (a departure), LR
    (a box under OTB's 400 pixels, scaled to the frame), BC (a texture background).
    """
    split, split_code, n = "crossing", SPLIT_CODES["crossing"], int(frames)
    pool = pool_for(split)
    unit = float(np.sqrt(image_size[0] * image_size[1] / (CROSSING_BASE[0] * CROSSING_BASE[1])))
    rngs = _streams(seed, split_code, index)
    u_occ, u_ov, u_bg = _shares(seed, split_code, index, 3)
    info: dict = {}
    crop = _pick_target(pool, seed, split_code, index)
    w, h, tall = _crossing_size(rngs["scale"], crop, unit)
    speed = rngs["path"].uniform(*_CROSS_SPEED) * unit
    info["speed"] = round(float(speed), 2)
    info["tall"] = tall
    half = np.array([w, h]) / 2
    center, stretches = _crossing_route(rngs["path"], n, image_size, half, speed, u_ov < _CROSS_OV_SHARE, info)
    pose = (center, np.full(n, w), np.full(n, h), np.zeros(n), None, None)
    target = _target_layer(rngs["target"], pool, crop, pose, _Deformation(np.ones(n)))
    background = _still_background(rngs["background"], pool, crop, n, image_size, u_bg)
    occluder = None
    if u_occ < _CROSS_OCC_SHARE:
        occluder = _crossing_occluder(rngs["occluder"], pool, crop, background, center, w, h, stretches,
                                      image_size, info)
    # crossings are kept away from the frames out of view and behind the occluder, so that each loss
    # has one cause
    size = np.array(image_size, dtype=np.float64)
    away = np.any((center + half < 0) | (center - half > size), axis=1)
    if occluder is not None:  # the walk past the occluder (other passes behind it are left as they come)
        o = occluder.center[0]
        ohalf = np.array([occluder.width[0], occluder.height[0]]) / 2
        near = np.abs(np.arange(n) - info["occlusion"]["frame"]) <= info["occlusion"]["hidden_frames"]
        away |= near & np.all(np.abs(center - o) < ohalf + half, axis=1)
    busy = np.array([away[max(0, t - _CROSS_QUIET) : t + _CROSS_QUIET + 1].any() for t in range(n)], dtype=bool)
    crowd, front = _crowd(rngs["crowd"], crop, target, speed, busy, image_size, info)
    attrs = {"DIS"}
    if occluder is not None:
        attrs.add("OCC")
    if info["out_of_view"]:
        attrs.add("OV")
    if w * h < LR_PIXELS * size_factor(image_size) ** 2:
        attrs.add("LR")
    if background.kind == "texture":
        attrs.add("BC")
    return Plan.drawn(split, index, n, image_size, attrs, crop, target, background, occluder=occluder,
                      info=info, crowd=crowd, crowd_front=front)
