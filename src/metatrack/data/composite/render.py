"""Pixels of a composite sequence: background, distractor, target, occluder, light and blur.

Every layer is a photo patch with a soft mask, warped into the frame with one homography
(scale, out-of-plane and in-plane rotation, translation) after an optional non-rigid wave.
The ground-truth box is the extent of the target's warped mask (alpha > 0.5) before motion blur
and before occluders are drawn, clipped to the image as OTB's annotators do; the fraction of that
mask left visible (in the frame and not under the occluder) is recorded per frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.exposure import match_histograms

from .motion import Layer, Plan
from .sources import load_photo, load_texture, load_video

_FEATHER = 0.07  # soft edge of a mask, as a fraction of the patch's smaller half-side


def soft_mask(shape: str, h: int, w: int) -> np.ndarray:
    """A float32 mask in [0, 1] for an ``ellipse`` or a ``roundrect`` of ``h`` x ``w`` pixels."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ry, rx = h / 2.0, w / 2.0
    dy, dx = (y + 0.5 - ry), (x + 0.5 - rx)
    if shape == "ellipse":
        r = np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2)
        return np.clip((1.0 - r) / _FEATHER, 0.0, 1.0)
    if shape == "roundrect":
        corner = 0.2 * min(rx, ry)
        qx = np.abs(dx) - (rx - corner)
        qy = np.abs(dy) - (ry - corner)
        outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
        inside = np.minimum(np.maximum(qx, qy), 0)
        dist = outside + inside - corner  # signed distance to the rounded rectangle, < 0 inside
        return np.clip(-dist / (_FEATHER * min(rx, ry)), 0.0, 1.0)
    raise ValueError(f"unknown mask shape {shape!r}")


def layer_pixels(layer: Layer) -> np.ndarray:
    """The layer's patch as premultiplied float32 RGBA at the photo's own resolution."""
    x, y, w, h = layer.rect
    photo = load_photo(layer.photo)
    rgb = photo[y : y + h, x : x + w].astype(np.float32)
    if layer.shape == "silhouette":
        alpha = cv2.GaussianBlur(rgb[:, :, 0] / 255.0, (0, 0), max(1.0, 0.006 * max(w, h)))
        shade = load_photo(layer.shade_photo or layer.photo)
        shade = cv2.resize(shade[:, :, 0], (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
        shading = 0.5 + 1.0 * shade / 255.0
        rgb = np.array(layer.fill, dtype=np.float32)[None, None, :] * shading[:, :, None]
    else:
        alpha = soft_mask(layer.shape, h, w)
    rgb = rgb * np.array(layer.tint, dtype=np.float32)[None, None, :]
    return np.dstack([rgb * alpha[:, :, None], alpha]).astype(np.float32)


def line_kernel(vector: np.ndarray) -> np.ndarray | None:
    """A normalised linear motion-blur kernel along ``vector`` (pixels); None when under 1 pixel."""
    length = float(np.hypot(*vector))
    if length < 1.0:
        return None
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size + 2, size + 2), np.float32)
    c = (size + 1) / 2.0
    direction = np.asarray(vector, np.float64) / length
    for s in np.linspace(-length / 2, length / 2, 2 * size + 1):
        px, py = c + s * direction[0], c + s * direction[1]
        x0, y0 = int(np.floor(px)), int(np.floor(py))
        fx, fy = px - x0, py - y0
        kernel[y0, x0] += (1 - fx) * (1 - fy)
        kernel[y0, x0 + 1] += fx * (1 - fy)
        kernel[y0 + 1, x0] += (1 - fx) * fy
        kernel[y0 + 1, x0 + 1] += fx * fy
    return kernel / kernel.sum()


@dataclass
class Placed:
    """A layer warped into the frame: ``rgba`` premultiplied, top-left at ``x0, y0`` (may be < 0)."""

    x0: int
    y0: int
    rgba: np.ndarray
    sharp: np.ndarray  # alpha before motion blur, to measure the object's extent


def place(layer: Layer, pixels: np.ndarray, t: int) -> Placed | None:
    """Warp ``pixels`` (premultiplied RGBA) to the layer's pose in frame ``t``."""
    tw = max(2, int(round(float(layer.width[t]))))
    th = max(2, int(round(float(layer.height[t]))))
    shrink = tw < pixels.shape[1] or th < pixels.shape[0]
    patch = cv2.resize(pixels, (tw, th), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if layer.wave is not None and layer.wave_amp > 0:
        y, x = np.mgrid[0:th, 0:tw].astype(np.float32)
        phase = float(layer.wave[t])
        amp = layer.wave_amp
        map_x = x + amp * tw * np.sin(2 * np.pi * y / (layer.wave_len * th) + phase)
        map_y = y + amp * th * np.sin(2 * np.pi * x / (layer.wave_len * tw) + 0.7 * phase)
        patch = cv2.remap(patch, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float64)
    pts = np.column_stack([src - [tw / 2, th / 2], np.zeros(4)])
    if layer.yaw is not None:
        a, b = np.radians(float(layer.yaw[t])), np.radians(float(layer.pitch[t]))
        ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
        pts = pts @ (rx @ ry).T
        focal = 4.0 * max(tw, th)
        pts = pts[:, :2] * (focal / (focal + pts[:, 2:3]))
    else:
        pts = pts[:, :2]
    theta = np.radians(float(layer.angle[t]))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    dst = pts @ rot.T + layer.center[t]

    blur = None if layer.blur is None else line_kernel(layer.blur[t])
    pad = 2 + (0 if blur is None else blur.shape[0])
    x0, y0 = np.floor(dst.min(0)).astype(int) - pad
    x1, y1 = np.ceil(dst.max(0)).astype(int) + pad
    h = cv2.getPerspectiveTransform(src.astype(np.float32), (dst - [x0, y0]).astype(np.float32))
    warped = cv2.warpPerspective(
        patch, h, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    sharp = warped[:, :, 3].copy()
    if blur is not None:
        warped = cv2.filter2D(warped, -1, blur, borderType=cv2.BORDER_CONSTANT)
    return Placed(int(x0), int(y0), warped, sharp)


def _overlap(p: Placed, size: tuple[int, int]) -> tuple[slice, slice, slice, slice] | None:
    """Slices of the frame and of ``p`` where they overlap (frame rows, cols, patch rows, cols)."""
    w_img, h_img = size
    h, w = p.sharp.shape
    fx0, fy0 = max(p.x0, 0), max(p.y0, 0)
    fx1, fy1 = min(p.x0 + w, w_img), min(p.y0 + h, h_img)
    if fx0 >= fx1 or fy0 >= fy1:
        return None
    return (
        slice(fy0, fy1),
        slice(fx0, fx1),
        slice(fy0 - p.y0, fy1 - p.y0),
        slice(fx0 - p.x0, fx1 - p.x0),
    )


def composite(frame: np.ndarray, p: Placed) -> None:
    """Draw ``p`` over ``frame`` (float32 RGB) in place."""
    ov = _overlap(p, (frame.shape[1], frame.shape[0]))
    if ov is None:
        return
    fr, fc, pr, pc = ov
    rgba = p.rgba[pr, pc]
    frame[fr, fc] = frame[fr, fc] * (1.0 - rgba[:, :, 3:4]) + rgba[:, :, :3]


def mask_box(mask: np.ndarray, x0: int, y0: int) -> list[float] | None:
    """Integer extent ``x, y, w, h`` of the True pixels of ``mask`` placed at ``x0, y0``."""
    cols = np.flatnonzero(mask.any(0))
    rows = np.flatnonzero(mask.any(1))
    if cols.size == 0:
        return None
    return [
        float(x0 + cols[0]),
        float(y0 + rows[0]),
        float(cols[-1] - cols[0] + 1),
        float(rows[-1] - rows[0] + 1),
    ]


def clipped_box(p: Placed, size: tuple[int, int]) -> list[float] | None:
    """Extent of the in-frame part of a layer's sharp mask, or None when none of it is visible."""
    ov = _overlap(p, size)
    if ov is None:
        return None
    fr, fc, pr, pc = ov
    return mask_box(p.sharp[pr, pc] > 0.5, fc.start, fr.start)


class Background:
    """Background frames: a camera window over a photo, a texture or a video, resampled once."""

    def __init__(self, plan: Plan, target_pixels: np.ndarray):
        bg = plan.background
        self.size = plan.image_size
        self.window = bg.window.astype(np.float64).copy()
        self.frame_index = bg.frame_index
        self.video = None
        if bg.kind == "video":
            self.video = load_video(bg.name)
            return
        if bg.kind == "texture":
            grey = load_texture(bg.name)
            alpha = target_pixels[:, :, 3]
            inside = alpha > 0.5
            colours = target_pixels[:, :, :3][inside] / alpha[inside][:, None]
            colours = np.clip(colours + 0.5, 0, 255).astype(np.uint8)
            rgb = np.repeat(grey[:, :, None], 3, axis=2)
            source = match_histograms(rgb, colours[:, None, :], channel_axis=-1)
            source = np.clip(source, 0, 255).astype(np.uint8)
        else:
            source = np.asarray(load_photo(bg.name))
        # shrink the photo once so that the camera rarely minifies (no aliasing of fine detail)
        factor = self.size[0] / float(np.median(self.window[:, 2]))
        if factor < 1.0:
            h, w = source.shape[:2]
            source = cv2.resize(
                source, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA
            )
            self.window *= factor
        self.source = source

    def frame(self, t: int) -> np.ndarray:
        """Background of frame ``t`` as float32 RGB."""
        source = self.source if self.video is None else self.video[int(self.frame_index[t])]
        cx, cy, ww = self.window[t]
        w_img, h_img = self.size
        s = ww / w_img
        m = np.array([[1 / s, 0, -(cx - ww / 2) / s], [0, 1 / s, -(cy - ww * h_img / w_img / 2) / s]])
        out = cv2.warpAffine(source, m, (w_img, h_img), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return out.astype(np.float32)


def _light(plan: Plan, grid: tuple[np.ndarray, np.ndarray], t: int) -> np.ndarray:
    """Per-pixel illumination gain of frame ``t``: a global gain tilted by a moving light."""
    g, slope, c, s = plan.gain[t]
    gx, gy = grid
    return (g * (1.0 + slope * (gx * c + gy * s))).astype(np.float32)


def render(plan: Plan) -> Iterator[tuple[np.ndarray, dict]]:
    """Frames of ``plan`` as uint8 RGB, each with its metadata (box, visible fraction, ...).

    Layers from the back: background, distractor, the look-alikes walking behind the target, the
    target, those walking in front of it, the occluder. The visible fraction counts the target's
    pixels in the frame under neither the occluder nor a look-alike in front.
    """
    w_img, h_img = plan.image_size
    size = (w_img, h_img)
    target_px = layer_pixels(plan.target)
    occ_px = layer_pixels(plan.occluder) if plan.occluder is not None else None
    dis_px = layer_pixels(plan.distractor) if plan.distractor is not None else None
    crowd_px = [layer_pixels(c) for c in plan.crowd]
    background = Background(plan, target_px)
    grid = None
    if plan.gain is not None:
        gy, gx = np.mgrid[0:h_img, 0:w_img].astype(np.float32)
        grid = ((gx - w_img / 2) / w_img, (gy - h_img / 2) / w_img)
    base = float(np.sqrt(plan.target.width[0] * plan.target.height[0]))

    for t in range(plan.frames):
        frame = background.frame(t)
        meta: dict = {}
        if dis_px is not None:
            d = place(plan.distractor, dis_px, t)
            composite(frame, d)
            meta["distractor_box"] = clipped_box(d, size)
        crowd = [place(c, px, t) for c, px in zip(plan.crowd, crowd_px, strict=True)]
        for c, front in zip(crowd, plan.crowd_front, strict=True):
            if not front:  # the look-alikes walking behind the target
                composite(frame, c)
        tgt = place(plan.target, target_px, t)
        composite(frame, tgt)
        for c, front in zip(crowd, plan.crowd_front, strict=True):
            if front:
                composite(frame, c)
        occ = None
        if occ_px is not None:
            occ = place(plan.occluder, occ_px, t)
            composite(frame, occ)
            meta["occluder_box"] = clipped_box(occ, size)
        if crowd:
            meta["distractor_boxes"] = [clipped_box(c, size) for c in crowd]

        # visibility of the target's own mask: inside the frame and not under the occluder
        mask = tgt.sharp > 0.5
        total = int(mask.sum())
        ov = _overlap(tgt, size)
        seen = 0
        box = None
        if ov is not None and total:
            fr, fc, pr, pc = ov
            in_frame = mask[pr, pc]
            box = mask_box(in_frame, fc.start, fr.start)
            covered = np.zeros_like(in_frame)
            covers = ([occ] if occ is not None else []) + [c for c, f in zip(crowd, plan.crowd_front, strict=True)
                                                           if f]
            if covers:
                # the alpha of the occluder and of the look-alikes in front, over the frame region the
                # target overlaps
                cov = np.zeros((h_img, w_img), bool)
                for c in covers:
                    oo = _overlap(c, size)
                    if oo is not None:
                        ofr, ofc, opr, opc = oo
                        cov[ofr, ofc] |= c.sharp[opr, opc] > 0.5
                covered = cov[fr, fc]
            seen = int((in_frame & ~covered).sum())
            in_view = int(in_frame.sum())
        else:
            in_view = 0
        meta["box"] = box
        meta["full_box"] = mask_box(mask, tgt.x0, tgt.y0)
        meta["in_view"] = in_view / total if total else 0.0
        meta["visible"] = seen / total if total else 0.0
        meta["scale"] = float(np.sqrt(plan.target.width[t] * plan.target.height[t])) / base
        meta["angle"] = float(plan.target.angle[t])

        if grid is not None:
            light = _light(plan, grid, t)
            frame *= light[:, :, None]
            cx = int(np.clip(plan.target.center[t, 0], 0, w_img - 1))
            cy = int(np.clip(plan.target.center[t, 1], 0, h_img - 1))
            meta["gain"] = float(light[cy, cx])
        blur_len = 0.0 if plan.target.blur is None else float(np.hypot(*plan.target.blur[t]))
        if plan.shake is not None:
            kernel = line_kernel(plan.shake[t])
            if kernel is not None:
                frame = cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REFLECT)
                blur_len += float(np.hypot(*plan.shake[t]))
        meta["blur"] = blur_len
        yield np.clip(frame + 0.5, 0, 255).astype(np.uint8), meta
