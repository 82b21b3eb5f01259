"""Parsing of the numeric text files that every benchmark uses (one box or polygon per line)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..errors import DataError

_SEP = re.compile(r"[,\s;]+")
_MAX_FLAG = 2**53  # largest integer a float holds exactly


def read_text(path: str | Path) -> str:
    """The text of ``path``; a missing or undecodable file is a DataError naming it."""
    p = Path(path)
    if not p.is_file():
        raise DataError("file is missing", p)
    try:
        return p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"file is not UTF-8 text ({exc.reason} at byte {exc.start})", p) from None


def parse_number_lines(
    path: str | Path,
    widths: tuple[int, ...] = (4,),
    allow_nan: bool = True,
    skip_blank_tail: bool = True,
) -> list[np.ndarray]:
    """Parse each line of ``path`` into floats; a line must have one of ``widths`` values.

    Separators may be commas, tabs, spaces or semicolons (OTB mixes them). ``NaN`` is accepted
    where ``allow_nan`` (VOT and LaSOT mark absent targets so). Trailing blank lines are ignored;
    a blank line in the middle, a non-number or a wrong count is a DataError naming the line.
    """
    text = read_text(path)
    lines = text.splitlines()
    if skip_blank_tail:
        while lines and not lines[-1].strip():
            lines.pop()
    rows: list[np.ndarray] = []
    for number, line in enumerate(lines, start=1):
        fields = [f for f in _SEP.split(line.strip()) if f]
        if not fields:
            raise DataError("blank line", path, number)
        try:
            values = np.array([float(f) for f in fields], dtype=np.float64)
        except ValueError:
            raise DataError(f"not a list of numbers: {line.strip()[:80]!r}", path, number) from None
        if len(values) not in widths:
            want = " or ".join(str(w) for w in widths)
            raise DataError(f"expected {want} values, found {len(values)}", path, number)
        if not allow_nan and not np.all(np.isfinite(values)):
            raise DataError(f"not a finite number: {line.strip()[:80]!r}", path, number)
        if np.any(np.isinf(values)):
            raise DataError(f"infinite value: {line.strip()[:80]!r}", path, number)
        rows.append(values)
    return rows


def read_boxes(path: str | Path, allow_nan: bool = True) -> np.ndarray:
    """A file of ``x, y, w, h`` lines as an (N, 4) array."""
    rows = parse_number_lines(path, (4,), allow_nan=allow_nan)
    if not rows:
        raise DataError("no box in file", path)
    return np.stack(rows)


def read_flags(path: str | Path) -> np.ndarray:
    """A file of one integer flag per line (GOT-10k absence/cover, LaSOT occlusion), as int array.

    LaSOT writes its flags comma-separated on one line; both layouts are accepted.
    """
    text = read_text(path)
    out: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for f in (f for f in _SEP.split(line.strip()) if f):
            try:
                value = float(f)
            except ValueError:
                value = math.nan
            # NaN, inf, 0.5 or 1e30 are no flags (and would not fit the int64 array)
            if not (math.isfinite(value) and value == int(value) and abs(value) <= _MAX_FLAG):
                raise DataError(f"not an integer flag: {f[:40]!r}", path, number)
            out.append(int(value))
    return np.array(out, dtype=np.int64)
