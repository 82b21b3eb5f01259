"""bench/scale_probe.py: how well a scale filter reads the true size change between two frames."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
try:
    import scale_probe
finally:
    sys.path.pop(0)


def write_zoom(root: Path, frames: int = 16, rate: float = 1.03) -> Path:
    """An OTB sequence: a textured square at the centre of a blurred-noise frame growing ``rate`` a frame."""
    rng = np.random.default_rng(3)
    target = cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (64, 64), interpolation=cv2.INTER_CUBIC)
    background = cv2.GaussianBlur(rng.integers(60, 200, (180, 240, 3), dtype=np.uint8), (0, 0), 3)
    folder = root / "Zoom"
    (folder / "img").mkdir(parents=True)
    lines = []
    for i in range(frames):
        side = int(round(40 * rate ** i))
        img = background.copy()
        x0, y0 = 120 - side // 2, 90 - side // 2
        img[y0:y0 + side, x0:x0 + side] = cv2.resize(target, (side, side), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / "img" / f"{i + 1:04d}.jpg"), img)
        lines.append(f"{x0 + 1},{y0 + 1},{side},{side}")
    (folder / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return root


def test_the_filter_reads_a_steady_zoom_better_than_answering_one(tmp_path):
    data = write_zoom(tmp_path / "otb")
    row = scale_probe.probe([f"otb:{data}"], "hog", 33, 1.02, gap=5, every=2)
    pairs, changing, err, none = int(row[2]), int(row[3]), float(row[4]), float(row[6])
    assert row[5] == "nan"  # one true factor for every pair: no correlation to give
    assert pairs == 5 and changing == 5  # frames 2, 4, ..., 10 and five later: 1.03^5 = 1.16
    assert none == pytest.approx(5 * np.log(1.03), abs=0.02)
    assert err < none / 2


def test_the_table_and_bad_arguments(tmp_path, capsys):
    data = write_zoom(tmp_path / "otb", frames=8)
    out = tmp_path / "p.json"
    assert scale_probe.main(["--dataset", f"otb:{data}", "--features", "hog", "--every", "1", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["rows"][0][:3] == ["hog", "33 x 1.02", "2"]
    capsys.readouterr()
    for argv, why in [(["--dataset", f"otb:{data}", "--features", "sift"], "hog, mobilenet:LAYER:SIDE"),
                      (["--dataset", f"otb:{data}", "--gap", "20"], "no pair of frames 20 apart"),
                      (["--dataset", f"otb:{data}", "--step", "1"], "--step > 1")]:
        with pytest.raises(SystemExit) as e:
            scale_probe.main(argv)
        assert e.value.code == 2 and why in capsys.readouterr().err
