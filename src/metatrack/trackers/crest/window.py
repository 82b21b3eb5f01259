"""Where things are in the search window: image pixels <-> feature cells.

The window is a square of side ``window_factor`` times the target's longer side (official
``get_search_size``), centred on the last position, resized to ``crop_size`` pixels and turned into
an ``M x M`` map. Cell ``k`` covers crop pixels ``[k, k + 1) * crop_size / M``; the window's centre
is the centre of cell ``(M - 1) / 2``.
"""

from __future__ import annotations

import numpy as np


def window_side(size: tuple[float, float], factor: float = 5.0, basis: str = "longer") -> float:
    """Side in pixels of the search window for a target of ``size`` = (w, h).

    ``basis="shorter"`` takes ``factor`` times the shorter side, ``basis="area"`` ``factor`` times the
    square root of the area (the two sides' geometric mean, the context rule of KCF, DSST and CSRT),
    each never less than the longer side. For a square target all three agree; a narrow one (a person
    of 30x75 px) fills 2.5 cells of a 31-cell map under "longer" and 4 under "area".
    """
    w, h = float(size[0]), float(size[1])
    if basis == "shorter":
        return max(factor * min(w, h), max(w, h))
    if basis == "area":
        return max(factor * (w * h) ** 0.5, max(w, h))
    return factor * max(w, h)


def target_cells(size: tuple[float, float], side: float, map_size: int) -> tuple[float, float]:
    """Target extent (h, w) in cells for a target of ``size`` = (w, h) in a window of ``side`` pixels."""
    return float(size[1]) / side * map_size, float(size[0]) / side * map_size


def offset_to_cell(offset: tuple[float, float], side: float, map_size: int) -> tuple[float, float]:
    """Cell (row, col) of a point ``offset`` = (dx, dy) pixels from the window's centre."""
    c = (map_size - 1) / 2
    return c + float(offset[1]) / side * map_size, c + float(offset[0]) / side * map_size


def cell_to_offset(cell: tuple[float, float], side: float, map_size: int) -> np.ndarray:
    """Offset (dx, dy) in pixels from the window's centre of cell ``cell`` = (row, col)."""
    c = (map_size - 1) / 2
    return np.array([(cell[1] - c) * side / map_size, (cell[0] - c) * side / map_size])


def subpixel_peak(response: np.ndarray, refine: bool = True) -> tuple[float, float]:
    """(row, col) of the maximum of a 2-D map, refined by a parabola through its neighbours."""
    r, c = np.unravel_index(int(np.argmax(response)), response.shape)
    peak = [float(r), float(c)]
    if refine:
        for axis, (i, n) in enumerate(((r, response.shape[0]), (c, response.shape[1]))):
            if 0 < i < n - 1:
                if axis == 0:
                    a, b, d = response[i - 1, c], response[i, c], response[i + 1, c]
                else:
                    a, b, d = response[r, i - 1], response[r, i], response[r, i + 1]
                denom = a - 2 * b + d
                if denom < 0:
                    peak[axis] += float(np.clip(0.5 * (a - d) / denom, -0.5, 0.5))
    return peak[0], peak[1]
