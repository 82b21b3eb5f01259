"""`metatrack synth`, `run`, `score` and `report` end to end on a tiny embedded split, and their errors."""

import json

import numpy as np
import pytest

from metatrack.cli import main
from metatrack.trackers import Tracker, register_tracker


class ShiftTracker(Tracker):
    """Reports the first box moved right by a pixel per frame: a known, scoreable output."""

    def init(self, image, box):
        self.box = np.asarray(box, float)

    def update(self, image):
        self.box = self.box + [1, 0, 0, 0]
        return self.box


register_tracker("test-shift-cli", ShiftTracker, replace=True)


@pytest.fixture(scope="module")
def tiny_split(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "eval"
    assert main(["synth", "--out", str(out), "--split", "eval", "--sequences", "2", "--frames", "6",
                 "--seed", "3"]) == 0
    return out


def test_synth_writes_otb_layout(tiny_split):
    seqs = sorted(p for p in tiny_split.iterdir() if p.is_dir())
    assert len(seqs) == 2
    for s in seqs:
        assert len(list((s / "img").glob("*.jpg"))) == 6
        assert len((s / "groundtruth_rect.txt").read_text().splitlines()) == 6
        assert (s / "attributes.txt").exists()


def test_run_score_report(tiny_split, tmp_path, capsys):
    results = tmp_path / "results"
    ds = f"otb:{tiny_split}"
    assert main(["run", "--tracker", "test-shift-cli,opencv-kcf", "--dataset", ds, "--results", str(results)]) == 0
    for name in ("test-shift-cli", "opencv-kcf"):
        files = sorted((results / name).glob("*.txt"))
        assert len(files) == 6  # two sequences: boxes, times and confidences
    out_json = tmp_path / "scores.json"
    assert main(["score", "--dataset", ds, "--results", str(results), "--json", str(out_json)]) == 0
    scores = json.loads(out_json.read_text())
    assert set(scores) == {"test-shift-cli", "opencv-kcf"}
    s = scores["test-shift-cli"]
    assert 0 < s["success_auc"] <= 1 and len(s["success_curve"]) == 21 and len(s["precision_curve"]) == 51
    assert set(s["sequences"]) == {p.name for p in tiny_split.iterdir() if p.is_dir()}
    # the shift tracker's boxes are known: its scores must be those computed here from the ground truth
    from metatrack.data import open_dataset
    from metatrack.geometry import center_error, iou

    prec, auc = [], []
    for seq in open_dataset(ds):
        pred = seq.boxes[0] + np.outer(np.arange(len(seq)), [1, 0, 0, 0])
        ok = np.all(np.isfinite(seq.boxes), axis=1)  # frames without ground truth are left out
        # in the files' own coordinates, as the scorer compares them (bit-for-bit at thresholds)
        pred, gt = seq.to_file_coords(pred[ok]), seq.to_file_coords(seq.boxes[ok])
        err, ov = center_error(pred, gt), iou(pred, gt)
        prec.append(np.mean(err <= 20))
        auc.append(np.mean([np.mean(ov > t) for t in np.linspace(0, 1, 21)]))
    assert s["precision"] == pytest.approx(np.mean(prec))
    assert s["success_auc"] == pytest.approx(np.mean(auc))
    printed = capsys.readouterr().out
    assert "test-shift-cli" in printed and "opencv-kcf" in printed
    report = tmp_path / "report"
    assert main(["report", "--dataset", ds, "--results", str(results), "--out", str(report)]) == 0
    md = (report / "report.md").read_text()
    assert "test-shift-cli" in md and "opencv-kcf" in md
    assert any(p.suffix == ".png" for p in report.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["run", "--tracker", "nope", "--dataset", "otb:{split}", "--results", "{tmp}"], "unknown tracker 'nope'"),
    (["run", "--tracker", "opencv-kcf", "--dataset", "foo:{split}", "--results", "{tmp}"], "unknown format"),
    (["run", "--tracker", "opencv-kcf", "--dataset", "otb:{tmp}/missing", "--results", "{tmp}"], "does not exist"),
    (["score", "--dataset", "otb:{split}", "--results", "{tmp}/empty"], ""),
])
def test_errors_exit_non_zero_with_a_named_culprit(tiny_split, tmp_path, capsys, argv, message):
    argv = [a.format(split=tiny_split, tmp=tmp_path) for a in argv]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert err.startswith("metatrack: error:") and message in err


def test_malformed_ground_truth_line_is_named(tiny_split, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_split, copy)
    seq = sorted(p for p in copy.iterdir() if p.is_dir())[0]
    lines = (seq / "groundtruth_rect.txt").read_text().splitlines()
    lines[3] = "12,abc,5,5"
    (seq / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    assert main(["run", "--tracker", "opencv-kcf", "--dataset", f"otb:{copy}", "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "groundtruth_rect.txt, line 4" in err
