"""Interoperability: our results folders scored by got10k's own code, and read the way pysot reads them.

``metatrack run`` writes ``RESULTS/<tracker>/<seq>.txt`` (one ``x,y,w,h`` per frame, in the data
set's own coordinates: 1-based for OTB) and ``<seq>_time.txt``; got10k's ``ExperimentOTB`` reads
``RESULTS/OTB2015/<tracker>/<seq>.txt`` (and its times from ``times/<seq>_time.txt``). The test runs
got10k 0.1.3's ``ExperimentOTB.report()`` (its OTB reader, ``rect_iou``, ``center_error`` and
``_calc_curves``, unmodified) over our files and asserts that every number equals ours. Where got10k is
not installed, the same comparison runs against got10k's formulas written out here.
"""

from __future__ import annotations

import importlib.util
import re
import shutil

import numpy as np
import pytest
from tiny_otb import DriftTracker, StayTracker, write_otb

from metatrack.data import open_dataset
from metatrack.evaluation.runner import run_tracker
from metatrack.evaluation.scoring import score_results
from metatrack.trackers import register_tracker

register_tracker("test-interop-stay", StayTracker, replace=True)
register_tracker("test-interop-drift", DriftTracker, replace=True)
TRACKERS = ["test-interop-stay", "test-interop-drift", "opencv-kcf", "opencv-mosse"]
HAVE_GOT10K = importlib.util.find_spec("got10k") is not None


@pytest.fixture(scope="module")
def otb(tmp_path_factory):
    """A tiny OTB folder (with a two-target sequence, as Jogging), our results and our scores."""
    root = tmp_path_factory.mktemp("interop")
    data = write_otb(root / "OTB100")
    jog = data / "Jogging"
    shutil.copytree(data / "Alpha" / "img", jog / "img")
    (jog / "groundtruth_rect.1.txt").write_text("".join(f"{11 + 2 * i},13,14,10\n" for i in range(8)))
    (jog / "groundtruth_rect.2.txt").write_text("".join(f"{40 - i}\t{30 + i}\t12\t16\n" for i in range(8)))
    sequences = open_dataset(f"otb:{data}")
    assert sorted(s.name for s in sequences) == ["Alpha", "Beta", "Gamma", "Jogging.1", "Jogging.2"]
    results = root / "results" / "OTB2015"  # where got10k's ExperimentOTB(version=2015) looks
    for name in TRACKERS:
        run_tracker(name, sequences, results, progress=False)
    return data, results, sequences, score_results(sequences, results)


# ---------------------------------------------------------------- got10k itself


@pytest.mark.skipif(not HAVE_GOT10K, reason="got10k is not installed (requirements.txt pins got10k==0.1.3)")
def test_got10k_experiment_otb_scores_our_results_folder_identically(otb, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from got10k.datasets import OTB
    from got10k.experiments import ExperimentOTB

    data, results, sequences, ours = otb
    # got10k's OTB reader lists the sequences of a benchmark version (and downloads what is missing);
    # make "version 2015" our tiny folder's sequences, so that none of its code needs changing.
    monkeypatch.setitem(OTB._OTB__version_dict, 2015, ["Alpha", "Beta", "Gamma", "Jogging"])
    for name in TRACKERS:  # got10k reads times from <tracker>/times/<seq>_time.txt
        (results / name / "times").mkdir(exist_ok=True)
        for t in (results / name).glob("*_time.txt"):
            shutil.copy(t, results / name / "times" / t.name)
    experiment = ExperimentOTB(str(data), version=2015, result_dir=str(results.parent),
                               report_dir=str(tmp_path / "reports"))
    assert experiment.dataset.seq_names == ["Alpha", "Beta", "Gamma", "Jogging.1", "Jogging.2"]
    theirs = experiment.report(TRACKERS)
    assert (tmp_path / "reports" / "OTB2015" / TRACKERS[0] / "performance.json").is_file()

    for name in TRACKERS:
        mine, got = ours[name], theirs[name]["overall"]
        assert mine["success_auc"] == got["success_score"]
        assert mine["precision"] == got["precision_score"]
        assert mine["success_rate"] == got["success_rate"]
        assert mine["success_curve"] == got["success_curve"]
        assert mine["precision_curve"] == got["precision_curve"]
        assert mine["fps"] == pytest.approx(got["speed_fps"], rel=1e-12)
        for seq, block in theirs[name]["seq_wise"].items():
            m = mine["sequences"][seq]
            assert (m["success_auc"], m["precision"], m["success_rate"]) == (
                block["success_score"], block["precision_score"], block["success_rate"])
            assert m["success_curve"] == block["success_curve"]
            assert m["fps"] == pytest.approx(block["speed_fps"], rel=1e-12)
    # not a vacuous comparison: the trackers' scores differ (the two OpenCV ones may tie on this toy data)
    assert len({ours[n]["success_auc"] for n in TRACKERS}) >= 3


# ---------------------------------------------------------------- got10k's formulas, written out


def got10k_rect_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """got10k.utils.metrics.rect_iou (no bound)."""
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


def got10k_center_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """got10k.utils.metrics.center_error: centres at x + (w - 1) / 2."""
    ca, cb = a[:, :2] + (a[:, 2:] - 1) / 2, b[:, :2] + (b[:, 2:] - 1) / 2
    return np.sqrt(np.sum((ca - cb) ** 2, axis=-1))


def got10k_curves(ious: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ExperimentOTB._calc_curves: IoU > t on linspace(0, 1, 21), error <= t on 0..50 px."""
    succ = np.mean(np.greater(ious[:, None], np.linspace(0, 1, 21)[None, :]), axis=0)
    prec = np.mean(np.less_equal(errors[:, None], np.arange(0, 51)[None, :]), axis=0)
    return succ, prec


def test_our_scores_equal_got10k_formulas(otb):
    """ExperimentOTB.report() written out: per-sequence curves (frame 0 = ground truth), averaged."""
    data, results, sequences, ours = otb
    for name in TRACKERS:
        succ, prec = [], []
        for seq in sequences:
            folder, _, target = seq.name.partition(".")
            gt_file = data / folder / (f"groundtruth_rect.{target}.txt" if target else "groundtruth_rect.txt")
            anno = np.loadtxt(gt_file.read_text().replace(",", " ").splitlines())  # got10k's OTB reader
            boxes = np.loadtxt(results / name / f"{seq.name}.txt", delimiter=",")  # got10k's results reader
            boxes[0] = anno[0]
            s, p = got10k_curves(got10k_rect_iou(boxes, anno), got10k_center_error(boxes, anno))
            m = ours[name]["sequences"][seq.name]
            assert m["success_curve"] == s.tolist() and m["precision_curve"] == p.tolist()
            succ.append(s)
            prec.append(p)
        s, p = np.mean(succ, axis=0), np.mean(prec, axis=0)
        assert ours[name]["success_curve"] == s.tolist() and ours[name]["precision_curve"] == p.tolist()
        assert ours[name]["success_auc"] == np.mean(s) and ours[name]["precision"] == p[20]
        assert ours[name]["success_rate"] == s[21 // 2]


# ---------------------------------------------------------------- pysot-style readers


NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def test_results_files_are_pysot_readable(otb):
    """One ``x,y,w,h`` line per frame, comma-separated, nothing else; pysot's reader gets our boxes back."""
    data, results, sequences, _ = otb
    line = re.compile(rf"^{NUMBER},{NUMBER},{NUMBER},{NUMBER}$")
    for name in TRACKERS:
        for seq in sequences:
            path = results / name / f"{seq.name}.txt"
            text = path.read_text()
            assert text.endswith("\n") and all(line.match(x) for x in text.splitlines()), path
            # pysot's OTB/UAV results loader: [list(map(float, x.strip().split(','))) for x in f.readlines()]
            with open(path) as f:
                pred = np.array([list(map(float, x.strip().split(","))) for x in f.readlines()])
            assert pred.shape == (len(seq), 4)
            np.testing.assert_array_equal(pred[0], seq.to_file_coords(seq.boxes[:1])[0])  # frame 0 = ground truth
            times = np.loadtxt(results / name / f"{seq.name}_time.txt")
            assert times.shape == (len(seq),) and np.all(times >= 0)


def test_vot_results_are_pysot_readable(tmp_path):
    """VOT protocol files: ``1`` init, ``2`` failure, ``0`` skipped, else ``x,y,w,h``, as pysot's VOT loader reads."""
    data = write_otb(tmp_path / "otb")
    sequences = open_dataset(f"otb:{data}")
    run_tracker("test-interop-drift", sequences, tmp_path / "vot", protocol="vot", progress=False)
    for seq in sequences:
        path = tmp_path / "vot" / "test-interop-drift" / f"{seq.name}_001.txt"
        rows = [list(map(float, x.strip().split(","))) for x in path.read_text().splitlines()]
        assert len(rows) == len(seq) and rows[0] == [1.0]
        assert all(len(r) == 4 or (len(r) == 1 and r[0] in (0.0, 1.0, 2.0)) for r in rows)
