"""What happens in one composite sequence: the challenges drawn and every per-frame parameter.

A :class:`Plan` is drawn from one seeded ``numpy.random.Generator`` before any pixel is rendered,
so a sequence is fully decided by ``(seed, split, index)``. Thresholds follow the OTB definitions
(Wu et al., TPAMI 2015) scaled by ``k = sqrt(W * H / (480 * 360))``: fast motion is a centre moving
more than ``20 k`` pixels between frames, scale variation a size ratio to the first frame outside
``[1/2, 2]``, low resolution a box of fewer than ``400 k^2`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .sources import POOLS, Pool, TargetCrop

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

BASE_SIZE = (480, 360)
FM_PIXELS = 20.0  # OTB: fast motion when the centre moves more than 20 pixels
SV_RATIO = 2.0  # OTB: scale variation when the size ratio to frame 1 leaves [1/2, 2]
LR_PIXELS = 400.0  # OTB: low resolution when the box holds fewer than 400 pixels
CAMERA_PERIOD = 80.0  # frames: the shortest period of the camera's pan and zoom (its speed)


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

    def sources(self) -> list[str]:
        """Every photo, video and texture this sequence uses, sorted."""
        names = {self.target.photo, self.background.name}
        if self.target.shade_photo:
            names.add(self.target.shade_photo)
        for layer in (self.occluder, self.distractor):
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


def draw_attributes(seed: int, split_code: int, index: int) -> set[str]:
    """The challenges of sequence ``index``: balanced shares per split plus one forced by index."""
    offsets = np.random.default_rng([int(seed), int(split_code), 1 << 20]).random(len(ATTRIBUTES))
    phase = (offsets + index * np.array(_WEYL_STEPS)) % 1.0
    chosen = {a for a, u in zip(ATTRIBUTES, phase, strict=True) if u < ATTRIBUTE_RATES[a]}
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

    Also returns which frames have the target wholly inside the frame (N,) bool.
    """
    w_img, h_img = image_size
    k = size_factor(image_size)
    frame = np.array([w_img, h_img], dtype=np.float64)
    lo = np.minimum(reach[:, None] + 2, frame / 2)
    hi = np.maximum(frame - reach[:, None] - 2, frame / 2)
    start = lo[0] + rng.uniform(0.2, 0.8, 2) * (hi[0] - lo[0])
    pos = _wander(rng, n, lo, hi, k, start)

    # Events rewrite a stretch of the path; the target then wanders on from where the event ends.
    events: list[tuple[int, str]] = []
    first = max(1, int(0.1 * n))
    if "OV" in attrs:
        events.append((int(rng.integers(first, max(first + 1, int(0.55 * n)))), "OV"))
    if "FM" in attrs:
        count = max(1, min(3, int(rng.integers(1, 3)) * n // 100))
        for _ in range(count):
            events.append((int(rng.integers(first, max(first + 1, n - 2))), "FM"))
    events.sort()
    info["fast_frames"] = []
    info["out_of_view"] = []
    busy_until = 0
    for t0, kind in events:
        t0 = max(t0, busy_until)
        if t0 >= n - 1:
            t0 = max(1, n - 2)
        p0 = pos[t0 - 1]
        if kind == "FM":
            speed = rng.uniform(24, 40) * k
            # the farthest of the safe region's corners and a few random points inside it
            corners = np.array([[lo[t0, 0], lo[t0, 1]], [hi[t0, 0], lo[t0, 1]], [lo[t0, 0], hi[t0, 1]],
                                [hi[t0, 0], hi[t0, 1]]])  # fmt: skip
            cand = np.concatenate([corners, lo[t0] + rng.uniform(0, 1, (8, 2)) * (hi[t0] - lo[t0])])
            far = np.linalg.norm(cand - p0, axis=1)
            choice = rng.choice(np.flatnonzero(far >= 0.7 * far.max()))
            goal = cand[choice]
            dist = np.linalg.norm(goal - p0)
            steps = int(np.clip(np.floor(dist / max(speed, 1e-6)), 1, max(1, n - t0)))
            seg = p0 + (goal - p0) * (np.arange(1, steps + 1) / steps)[:, None]
            info["fast_frames"].extend(range(t0, min(n, t0 + steps)))
        else:  # OV: leave through the nearest border, stay out a while, come back
            full = rng.random() < 0.6
            axis_dist = np.array([p0[0], w_img - p0[0], p0[1], h_img - p0[1]])
            side = int(np.argmin(axis_dist))
            if full:
                depth = reach[t0] + 4 * k + rng.uniform(0, 10) * k
            else:  # the centre within half the smallest half-extent of the border: part in, part out
                depth = rng.uniform(-0.5, 0.5) * half_min[t0]
            goal = p0.copy()
            if side == 0:
                goal[0] = -depth
            elif side == 1:
                goal[0] = w_img + depth
            elif side == 2:
                goal[1] = -depth
            else:
                goal[1] = h_img + depth
            speed = rng.uniform(5, 9) * k
            hold = int(np.clip(rng.uniform(0.05, 0.15) * n, 1, max(1, (n - t0) // 4)))
            # the way out must fit before the end (short sequences move faster)
            go = int(np.clip(np.ceil(np.linalg.norm(goal - p0) / speed), 1, max(1, n - t0 - hold - 1)))
            back_to = lo[t0] + rng.uniform(0.3, 0.7, 2) * (hi[t0] - lo[t0])
            ret = int(max(1, np.ceil(np.linalg.norm(back_to - goal) / speed)))
            a = np.arange(1, go + 1) / go
            b = np.arange(1, ret + 1) / ret
            seg = np.concatenate(
                [
                    p0 + (goal - p0) * (0.5 - 0.5 * np.cos(np.pi * a))[:, None],
                    np.repeat(goal[None], hold, 0),
                    goal + (back_to - goal) * (0.5 - 0.5 * np.cos(np.pi * b))[:, None],
                ]
            )
            info["out_of_view"].append({"start": t0, "full": bool(full), "side": "LRTB"[side]})
        seg = seg[: n - t0]
        end = t0 + len(seg)
        pos[t0:end] = seg
        if end < n:
            pos[end:] = _wander(rng, n - end, lo[end:], hi[end:], k, np.clip(seg[-1], lo[end], hi[end]))
        busy_until = end + 1
    inside = np.all((pos >= lo - 1e-6) & (pos <= hi + 1e-6), axis=1)
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


def _distractor(rng: np.random.Generator, crop: TargetCrop, target: Layer) -> Layer:
    """A look-alike of the target (a sibling object or a copy) moving around it, behind it."""
    n = len(target.center)
    size = np.sqrt(target.width * target.height)
    rect = crop.rect
    if crop.siblings:
        rect = crop.siblings[int(rng.integers(len(crop.siblings)))]
    radius = size * (1.25 + 0.6 * (1 + smooth_noise(rng, n, max(n / 3, 8))))
    phi = rng.uniform(0, 2 * np.pi) + rng.choice([-1, 1]) * rng.uniform(0.5, 2.0) * np.pi * (
        np.arange(n) / max(n - 1, 1)
    )
    center = target.center + radius[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    scale = rng.uniform(0.85, 1.15)
    aspect = (rect[2] / rect[3]) / (crop.rect[2] / crop.rect[3])
    return Layer(
        source=f"{crop.photo}:{rect}",
        photo=crop.photo,
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


def draw_plan(
    split: str,
    seed: int,
    index: int,
    frames: int,
    image_size: tuple[int, int],
    attributes: set[str] | None = None,
) -> Plan:
    """Draw sequence ``index`` of ``split``: fully decided by ``(seed, split, index)``.

    ``attributes`` forces the set of challenges (tests use it); otherwise they are drawn.
    """
    from .sources import load_photo, load_video, video_shots

    pool = POOLS[split]
    split_code = sorted(POOLS).index(split)
    n = int(frames)
    w_img, h_img = image_size
    k = size_factor(image_size)
    attrs = set(attributes) if attributes is not None else draw_attributes(seed, split_code, index)
    sub = {name: np.random.default_rng([int(seed), split_code, int(index), i]) for i, name in enumerate(
        ("target", "scale", "rotation", "opr", "deform", "path", "occluder", "distractor", "light",
         "blur", "background")
    )}  # fmt: skip
    info: dict = {}

    # targets take turns (in an order shuffled per split and seed) so every one is used evenly
    order = np.random.default_rng([int(seed), split_code, 1 << 21]).permutation(len(pool.targets))
    crop = pool.targets[int(order[index % len(pool.targets)])]
    sv_up = "LR" in attrs or sub["scale"].random() < 0.5
    w0, h0 = _target_size(sub["scale"], crop, attrs, image_size, sv_up)

    rs = sub["scale"]
    if "SV" in attrs:
        ratio = rs.uniform(2.6, 3.2)
        log_scale = (1 if sv_up else -1) * np.log(ratio) * _ramp(rs, n)
    else:
        log_scale = 0.06 * smooth_noise(rs, n, max(n / 2, 10)) if n > 1 else np.zeros(n)
        log_scale -= log_scale[0]
    scale = np.exp(log_scale)

    rr = sub["rotation"]
    if "IPR" in attrs:
        if rr.random() < 0.5:
            angle = rr.uniform(45, 120) * _unit_range(smooth_noise(rr, n, max(n / 2, 8)))
        else:
            angle = rr.choice([-1, 1]) * rr.uniform(120, 360) * np.arange(n) / max(n - 1, 1)
        angle = angle - angle[0] + rr.uniform(-10, 10)
    else:
        angle = np.zeros(n)

    ro = sub["opr"]
    yaw = pitch = None
    if "OPR" in attrs:
        yaw = ro.uniform(90, 130) * _unit_range(smooth_noise(ro, n, max(n / 2, 8)))
        yaw = np.clip(yaw - yaw[0] * ro.uniform(0.6, 1.0), -70, 70)
        pitch = ro.uniform(0, 20) * smooth_noise(ro, n, max(n / 2, 8))

    rd = sub["deform"]
    aspect = np.ones(n)
    wave = None
    wave_amp = 0.0
    wave_len = 1.0
    if "DEF" in attrs:
        period = rd.uniform(20, 50) if n > 40 else max(n / 2, 4)
        aspect = np.exp(rd.uniform(0.18, 0.3) * np.sin(2 * np.pi * np.arange(n) / period + rd.uniform(0, 6.3)))
        wave = rd.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n) / rd.uniform(15, 40)
        wave_amp = rd.uniform(0.04, 0.07)
        wave_len = rd.uniform(0.6, 1.2)

    width = w0 * scale * np.sqrt(aspect)
    height = h0 * scale / np.sqrt(aspect)
    # half-diagonal, grown by the warp and by the perspective of out-of-plane rotation
    reach = 0.5 * np.hypot(width, height) * (1 + 2 * wave_amp) * (1.15 if yaw is not None else 1.0)
    half_min = 0.5 * np.minimum(width, height) * (1 - 2 * wave_amp)
    if yaw is not None:
        half_min = half_min * np.cos(np.radians(70))
    center, inside = _path(sub["path"], n, image_size, reach, half_min, attrs, info)

    shade_photo, fill = None, (0.0, 0.0, 0.0)
    if crop.shape == "silhouette":
        shade_photo = "moon" if "moon" in pool.photos else pool.photos[0]
        fill = tuple(float(c) for c in sub["target"].uniform([90, 55, 30], [140, 95, 60]))
    target = Layer(
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
        wave=wave,
        wave_amp=wave_amp,
        wave_len=wave_len,
        shade_photo=shade_photo,
        fill=fill,
    )

    shake = None
    rb = sub["blur"]
    if "MB" in attrs:
        target.blur = _layer_blur(center, rb.uniform(0.6, 1.0))
        shake = np.zeros((n, 2))
        for _ in range(max(1, n // 75)):
            t0 = int(rb.integers(max(1, n // 10), max(2, n - 1)))
            length = int(np.clip(rb.uniform(0.06, 0.15) * n, 1, n - t0))
            theta = rb.uniform(0, np.pi)
            mag = rb.uniform(7, 15) * k
            env = np.sin(np.pi * (np.arange(length) + 0.5) / length)
            shake[t0 : t0 + length] = (mag * env)[:, None] * np.array([np.cos(theta), np.sin(theta)])
        info["shake_frames"] = [int(i) for i in np.flatnonzero(np.linalg.norm(shake, axis=1) >= 1)]

    rbg = sub["background"]
    if "BC" in attrs:
        name = pool.textures[int(rbg.integers(len(pool.textures)))]
        src = load_photo(name)
        background = Background("texture", name, _photo_window(rbg, n, src.shape[1::-1], image_size, True))
    elif rbg.random() < 0.4:
        name = pool.videos[int(rbg.integers(len(pool.videos)))]
        video = load_video(name)
        window = _video_window(rbg, n, video.shape[2:0:-1], image_size)
        shots = [s for s in video_shots(name) if s[1] - s[0] >= 10] or list(video_shots(name))
        first, last = shots[int(rbg.integers(len(shots)))]
        frames_idx = first + ping_pong(int(rbg.integers(last - first)), n, last - first)
        background = Background("video", name, window, frames_idx)
    else:
        photos = [p for p in pool.photos if p != crop.photo]
        name = photos[int(rbg.integers(len(photos)))]
        src = load_photo(name)
        background = Background("photo", name, _photo_window(rbg, n, src.shape[1::-1], image_size, True))

    occluder = None
    if "OCC" in attrs:
        occluder = _occluder(
            sub["occluder"],
            pool,
            crop,
            background.name,
            center,
            np.sqrt(width * height),
            reach,
            inside,
            image_size,
            info,
        )
    distractor = _distractor(sub["distractor"], crop, target) if "DIS" in attrs else None

    gain = None
    rl = sub["light"]
    if "IV" in attrs:
        amp = rl.uniform(0.4, 0.6)
        period = rl.uniform(0.5, 0.9) * n
        phase = rl.uniform(0, 2 * np.pi)
        t = np.arange(n)
        g = np.exp(amp * np.sin(2 * np.pi * t / max(period, 2) + phase))
        # the darkest and brightest frames must both come: shift so frame 0 is near 1
        g = g / g[0] if n > 1 else g
        g = np.clip(g, 0.35, 2.2)
        slope = rl.uniform(0.3, 0.8) * smooth_noise(rl, n, max(n / 2, 8))
        beta = rl.uniform(0, 2 * np.pi) + 0.5 * smooth_noise(rl, n, max(n, 8))
        gain = np.stack([g, slope, np.cos(beta), np.sin(beta)], axis=1)

    attributes_sorted = tuple(a for a in ATTRIBUTES if a in attrs)
    return Plan(
        name=f"{split}_{index:03d}_{crop.name}",
        split=split,
        index=index,
        frames=n,
        image_size=(int(w_img), int(h_img)),
        attributes=attributes_sorted,
        target_name=crop.name,
        target=target,
        background=background,
        occluder=occluder,
        distractor=distractor,
        gain=gain,
        shake=shake,
        info=info,
    )
