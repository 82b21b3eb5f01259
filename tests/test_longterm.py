"""VOT-LT tracking precision, recall and F-score: hand-made cases with known values, the toolkit's
thresholds, absences from each data set's flags, and `metatrack score --protocol lt` end to end."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from metatrack.cli import main
from metatrack.data.sequence import FrameSource, Sequence
from metatrack.evaluation import longterm
from metatrack.trackers import register_tracker

sys.path.insert(0, str(Path(__file__).parent))
import lt_data  # noqa: E402

register_tracker("lt-looks", lt_data.LooksTracker, replace=True)
register_tracker("lt-blind", lt_data.BlindTracker, replace=True)


class _NoFrames(FrameSource):
    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def read(self, index: int) -> np.ndarray:  # pragma: no cover - scoring reads no frame
        raise AssertionError("scoring must not read frames")


def _seq(name: str, boxes, meta=None) -> Sequence:
    return Sequence(name, _NoFrames(len(boxes)), np.array(boxes, dtype=float), meta=dict(meta or {}))


G = [10.0, 10.0, 10.0, 10.0]
HALF = [15.0, 10.0, 10.0, 10.0]  # IoU with G: 50 / 150 = 1/3
NAN = [np.nan] * 4


def test_known_precision_recall_and_f_on_one_sequence():
    # frames 1..5 (frame 0 is the given box): shown, shown, absent, shown, absent
    seq = _seq("s", [G, G, G, NAN, G, NAN], {"absent": [False, False, False, True, False, True]})
    boxes = np.array([G, G, HALF, G, G, G])
    conf = np.array([np.nan, 0.9, 0.8, 0.7, 0.2, 0.1])
    s = longterm.long_term_score([seq], [boxes], [conf])
    assert s.absent_frames == 2 and s.visible_frames == 3
    f, pr, re = s.f_curve, s.precision, s.recall
    t = list(s.thresholds)
    assert t[0] == math.inf and t[-1] == -math.inf and t[1:-1] == [0.9, 0.8, 0.7, 0.2, 0.1]
    # tau = inf: nothing reported -> Pr 1, Re 0 (the toolkit's convention)
    assert (pr[0], re[0], f[0]) == (1.0, 0.0, 0.0)
    # tau = 0.9: frame 1 (overlap 1) -> Pr 1, Re 1/3
    assert pr[1] == pytest.approx(1.0) and re[1] == pytest.approx(1 / 3)
    # tau = 0.8: + frame 2 (1/3) -> Pr 2/3, Re 4/9
    assert pr[2] == pytest.approx(2 / 3) and re[2] == pytest.approx(4 / 9)
    # tau = 0.7: + frame 3, absent (0) -> Pr 4/9, Re 4/9
    assert pr[3] == pytest.approx(4 / 9) and re[3] == pytest.approx(4 / 9)
    # tau = 0.2: + frame 4 (1) -> Pr 7/12, Re 7/9
    assert pr[4] == pytest.approx(7 / 12) and re[4] == pytest.approx(7 / 9)
    # tau = 0.1 and -inf: every frame -> Pr 7/15, Re 7/9
    assert pr[5] == pytest.approx(7 / 15) and re[5] == pytest.approx(7 / 9) and pr[6] == pytest.approx(7 / 15)
    best = 2 * (7 / 12) * (7 / 9) / (7 / 12 + 7 / 9)
    out = s.to_json()
    assert out["f_score"] == pytest.approx(best) and out["threshold"] == 0.2
    assert out["precision"] == pytest.approx(7 / 12) and out["recall"] == pytest.approx(7 / 9)


def test_sequences_are_averaged_then_f_is_taken():
    a = _seq("a", [G, G, G], {"absent": [False, False, False]})
    b = _seq("b", [G, NAN, G], {"absent": [False, True, False]})
    boxes = [np.array([G, G, HALF]), np.array([G, G, G])]
    conf = [np.array([np.nan, 1.0, 1.0]), np.array([np.nan, 1.0, 1.0])]
    s = longterm.long_term_score([a, b], boxes, conf)
    # at tau = 1: a: Pr = Re = (1 + 1/3) / 2 = 2/3; b: Pr = 1/2, Re = 1
    i = list(s.thresholds).index(1.0)
    assert s.precision[i] == pytest.approx((2 / 3 + 1 / 2) / 2) and s.recall[i] == pytest.approx((2 / 3 + 1) / 2)


def test_unknown_frames_are_left_out_and_nan_confidence_is_always_reported():
    # frame 2 has no ground truth and is not flagged absent (a real clip between keyframes): unknown
    seq = _seq("s", [G, G, NAN, G], {"absent": [False, False, False, False]})
    boxes = np.array([G, G, [50.0, 50, 5, 5], HALF])
    s = longterm.long_term_score([seq], [boxes], [np.full(4, np.nan)])
    assert list(s.thresholds) == [math.inf, -math.inf] and s.visible_frames == 2
    assert s.precision[0] == pytest.approx(2 / 3) and s.recall[0] == pytest.approx(2 / 3)


def test_a_tracker_that_says_absent_exactly_when_the_target_is_gone_scores_one():
    seq = _seq("s", [G, G, NAN, NAN, G], {"out_of_view": [0, 0, 1, 0, 0], "full_occlusion": [0, 0, 0, 1, 0]})
    assert longterm.absent_mask(seq).tolist() == [False, False, True, True, False]
    s = longterm.long_term_score([seq], [np.array([G] * 5)], [np.array([np.nan, 0.9, 0.1, 0.2, 0.8])])
    assert s.to_json()["f_score"] == pytest.approx(1.0)


def test_determine_thresholds_is_the_toolkits():
    scores = np.arange(1000, dtype=float)
    t = longterm.determine_thresholds(list(scores) + [np.nan])
    assert len(t) == 100 and t[0] == math.inf and t[-1] == -math.inf
    assert np.all(np.diff(t[1:-1]) < 0)  # descending, from the sorted scores
    # the vot-toolkit's own function, copied here as its 0.9.0 source reads, gives the same thresholds
    s = sorted(scores, reverse=True)
    delta = math.floor(len(s) / 98)
    idx = np.round(np.linspace(delta, len(s) - delta, num=98)).astype(int)
    assert list(t[1:-1]) == [s[i] for i in idx]


# -------------------------------------------------------------------------- metatrack score end to end


@pytest.fixture(scope="module")
def lt_set(tmp_path_factory) -> Path:
    return lt_data.write_vot(tmp_path_factory.mktemp("lt") / "vot")


def test_score_protocol_lt_end_to_end(lt_set, tmp_path, capsys):
    ds, res = f"vot:{lt_set}", tmp_path / "res"
    assert main(["run", "--tracker", "lt-looks,lt-blind", "--dataset", ds, "--results", str(res)]) == 0
    out = tmp_path / "lt.json"
    assert main(["score", "--dataset", ds, "--results", str(res), "--protocol", "lt", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "F-score" in printed and "lt-looks" in printed
    scores = json.loads(out.read_text())
    absent = sum(v[1:].count(False) for v in lt_data.SHOWN.values())
    assert scores["lt-looks"]["absent_frames"] == absent == scores["lt-blind"]["absent_frames"]
    # the tracker whose confidence drops exactly where the target is gone: perfect
    assert scores["lt-looks"]["f_score"] == pytest.approx(1.0)
    assert scores["lt-looks"]["precision"] == pytest.approx(1.0) and scores["lt-looks"]["recall"] == pytest.approx(1.0)
    # the one that never says so: every frame reported, precision diluted by the absent frames
    f, pr, re = lt_data.expected_blind()
    assert scores["lt-blind"]["f_score"] == pytest.approx(f) and scores["lt-blind"]["precision"] == pytest.approx(pr)
    assert scores["lt-blind"]["recall"] == pytest.approx(re)
    # OPE scores carry the same block; the report draws the precision-recall plot and the table
    ope = tmp_path / "ope.json"
    assert main(["score", "--dataset", ds, "--results", str(res), "--json", str(ope)]) == 0
    assert json.loads(ope.read_text())["lt-looks"]["long_term"]["f_score"] == pytest.approx(1.0)
    rep = tmp_path / "report"
    assert main(["report", "--dataset", ds, "--results", str(res), "--out", str(rep), "--format", "both"]) == 0
    md = (rep / "report.md").read_text()
    assert "Long-term" in md and "longterm.png" in md and (rep / "longterm.png").stat().st_size > 0
    assert "Long-term" in (rep / "report.html").read_text()


def test_score_protocol_lt_without_confidence_files_says_so(lt_set, tmp_path, capsys):
    ds, res = f"vot:{lt_set}", tmp_path / "res"
    assert main(["run", "--tracker", "lt-blind", "--dataset", ds, "--results", str(res)]) == 0
    folder = res / "lt-blind"
    for p in folder.glob("*_confidence.txt"):
        p.unlink()  # results written before confidences were stored
    assert main(["score", "--dataset", ds, "--results", str(res), "--protocol", "lt"]) == 2
    assert "_confidence.txt" in capsys.readouterr().err
    assert main(["score", "--dataset", ds, "--results", str(res), "--protocol", "lt",
                 "--tracker", "lt-blind"]) == 2
    assert "no confidence file" in capsys.readouterr().err
    # OPE still scores them, without the long-term block
    out = tmp_path / "ope.json"
    assert main(["score", "--dataset", ds, "--results", str(res), "--json", str(out)]) == 0
    assert "long_term" not in json.loads(out.read_text())["lt-blind"]


def test_absences_come_from_each_readers_flags(tmp_path):
    """LaSOT's out-of-view and full-occlusion flags, VOT's nan ground truth and GOT-10k's absence label."""
    from test_readers import make_lasot_seq

    from metatrack.data.lasot import read_lasot
    from metatrack.data.vot import read_vot

    make_lasot_seq(tmp_path / "lasot", "cat-1", 5, occlusion=[0, 1, 0, 0, 0], out_of_view=[0, 0, 0, 1, 0])
    (seq,) = read_lasot(tmp_path / "lasot")
    assert longterm.absent_mask(seq).tolist() == [False, True, False, True, False]
    vot = lt_data.write_vot(tmp_path / "vot")
    for s in read_vot(vot):
        assert longterm.absent_mask(s).tolist() == [not v for v in lt_data.SHOWN[s.name]]
    got = _seq("g", [G, NAN, G], {"absence": np.array([0, 1, 0])})
    assert longterm.absent_mask(got).tolist() == [False, True, False]
