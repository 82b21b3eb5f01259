"""bench/size_or_place.py: a tracker's IoU lost to the box's size apart from its place."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_otb import DEFAULT_SPECS, boxes_of, write_otb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
try:
    import size_or_place
finally:
    sys.path.pop(0)


def test_a_box_of_the_wrong_size_on_the_target_loses_only_to_size():
    truth = np.array([[10, 10, 20, 20], [12, 10, 20, 20], [14, 10, 40, 40]], float)
    pred = np.array([[10, 10, 20, 20], [7, 5, 30, 30], [24, 20, 20, 20]], float)  # both centred on the truth
    s = size_or_place.scores(pred, truth)
    assert s["tracked"] == pytest.approx((400 / 900 + 400 / 1600) / 2)  # the first frame is not scored
    assert s["truth_size"] == pytest.approx(1.0)
    assert s["first_size"] == pytest.approx((1.0 + 400 / 1600) / 2)  # 20 x 20 inside the 40 x 40 truth
    assert s["on_target"] == 1.0


def test_a_box_off_the_target_loses_to_place_whatever_its_size():
    truth = np.array([[10, 10, 20, 20], [10, 10, 20, 20], [np.nan] * 4], float)
    pred = np.array([[10, 10, 20, 20], [60, 60, 20, 20], [0, 0, 5, 5]], float)
    s = size_or_place.scores(pred, truth)
    assert s == {"tracked": 0.0, "truth_size": 0.0, "first_size": 0.0, "on_target": 0.0}  # NaN frame skipped
    assert size_or_place.scores(pred[:1], truth[:1]) is None  # nothing after the first frame
    with pytest.raises(ValueError, match="2 boxes for 3 frames"):
        size_or_place.scores(pred[:2], truth)
    with pytest.raises(ValueError, match="no true box on the first frame"):
        size_or_place.scores(pred, truth[::-1])


def write_results(root: Path, tracker: str, shrink: float) -> Path:
    for name, spec in DEFAULT_SPECS.items():
        b = boxes_of(spec)
        c = b[:, :2] + b[:, 2:] / 2
        wh = b[:, 2:] * shrink
        (root / tracker).mkdir(parents=True, exist_ok=True)
        np.savetxt(root / tracker / f"{name}.txt", np.hstack([c - wh / 2, wh]), delimiter=",", fmt="%.3f")
    return root


def test_the_table_has_a_row_per_tracker_folder(tmp_path, capsys):
    data = write_otb(tmp_path / "otb")
    results = write_results(write_results(tmp_path / "runs", "exact", 1.0), "half", 0.5)
    out = tmp_path / "t.json"
    assert size_or_place.main(["--dataset", f"otb:{data}", "--results", str(results), "--json", str(out)]) == 0
    rows = {r[1]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["exact"][3:] == ["1.000", "1.000", "1.000", "1.000"]
    assert rows["half"][3] == "0.250" and rows["half"][4] == "1.000"  # a quarter of the area, all of it size
    assert "| half |" in capsys.readouterr().out


def test_bad_arguments_are_one_line_naming_them(tmp_path, capsys):
    data = write_otb(tmp_path / "otb")
    results = write_results(tmp_path / "runs", "t", 1.0)
    (results / "t" / "Beta.txt").unlink()
    cases = [
        (["--dataset", f"otb:{data}", "--dataset", f"otb:{data}", "--results", str(results)], "one each"),
        (["--dataset", f"otb:{data}", "--results", str(tmp_path / "none")], "no tracker folders"),
        (["--dataset", f"otb:{data}", "--results", str(results)], "t has no Beta.txt"),
    ]
    for argv, why in cases:
        with pytest.raises(SystemExit) as e:
            size_or_place.main(argv)
        assert e.value.code == 2
        assert why in capsys.readouterr().err
    (results / "t" / "Beta.txt").write_text("1,2,3\n")
    with pytest.raises(SystemExit):
        size_or_place.main(["--dataset", f"otb:{data}", "--results", str(results)])
    assert "Beta.txt" in capsys.readouterr().err
