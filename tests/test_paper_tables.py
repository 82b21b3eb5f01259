"""bench/paper_tables.py: the paper's Table 1, Table 2 and Figure 3 end to end on a tiny data set.

Two rows (MetaCREST-01 and CREST, so that the paper's MetaCREST claims are checked) on two tiny
synthetic splits: the JSON files are well formed and render as the docs' tables, the figures are PNGs,
a second call reuses every cached run, and a run cached before the one-pass curves were recorded is
completed by a rerun that reproduces its success AUC exactly.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from metatrack.cli import main as metatrack

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def paper_tables():
    """The script's module (bench/ stays on sys.path meanwhile: its spawned workers import it by name)."""
    sys.path.insert(0, str(BENCH))
    try:
        import paper_tables
        import results_tables

        yield paper_tables, results_tables
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper_splits")
    for name, seed in (("a", 4), ("b", 5)):
        assert metatrack(["synth", "--out", str(root / name), "--sequences", "2", "--frames", "12",
                          "--seed", str(seed)]) == 0
    return [f"validation=otb:{root / 'a'}", f"test=otb:{root / 'b'}"]


@pytest.mark.slow
def test_tables_and_figures_end_to_end(paper_tables, splits, tmp_path, monkeypatch):
    pt, rt = paper_tables
    cache, figures = tmp_path / "cache", tmp_path / "figures"
    t1, t2 = tmp_path / "t1.json", tmp_path / "t2.json"
    argv = ["--splits", *splits, "--trackers", "metacrest-01", "crest", "--seeds", "0,1", "--cache", str(cache),
            "--table1", str(t1), "--table2", str(t2), "--figures", str(figures)]
    assert pt.main(argv) == 0

    doc1, doc2 = json.loads(t1.read_text()), json.loads(t2.read_text())
    assert doc1["kind"] == "paper_table1" and doc2["kind"] == "paper_table2"
    for doc in (doc1, doc2):
        assert set(doc["results"]) == {"metacrest-01", "crest"} and set(doc["splits"]) == {"validation", "test"}
        assert doc["seeds"] == [0, 1] and doc["machine"]["cores"] >= 1 and "Nothing was chosen" in doc["note"]
    assert doc1["stochastic"] == {"metacrest-01": False, "crest": True}
    for tracker, per_split in doc1["results"].items():
        for r in per_split.values():
            assert 0 <= r["eao"] <= 1 and 0 <= r["success_auc"] <= 1 and 0 <= r["precision"] <= 1
            assert len(r["success_curve"]) == 21 and len(r["precision_curve"]) == 51
            assert len(r["success_auc_per_seed"]) == (2 if tracker == "crest" else 1)
            assert r["robustness"] == pytest.approx(r["failures"] / 2)
    for per_split in doc2["results"].values():
        for r in per_split.values():
            assert r["measure"] == "loss" and r["train_seconds"] > 0 and r["frame_seconds"] > 0
            assert r["after"] < r["before"] and not math.isnan(r["lookahead"])
    # every claim of the two MetaCREST rows on every role, each with a verdict
    assert len(doc1["claims"]) == 6 and len(doc2["claims"]) == 4  # EAO, AUC, precision; time, look-ahead
    assert {c["verdict"] for c in doc1["claims"] + doc2["claims"]} <= {"holds", "tie", "does not hold"}
    ratio = next(c for c in doc2["claims"] if "ratio" in c and c["role"] == "test")
    assert ratio["ratio"] == pytest.approx(ratio["reference"] / ratio["meta"])

    # the docs' renderers know both files
    assert rt.renderer_for(doc1) is rt.render_paper_table1 and rt.renderer_for(doc2) is rt.render_paper_table2
    table = rt.render_paper_table1("t1", doc1)
    assert "**validation**" in table and "| crest |" in table and "metacrest-01 success_auc >= crest's" in table
    assert "| metacrest-01 | loss |" in rt.render_paper_table2("t2", doc2)
    for role in ("validation", "test"):
        assert (figures / f"paper_fig3_{role}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a second call runs nothing: every run comes from the cache
    def no_run(*args, **kwargs):
        raise AssertionError("a cached run was run again")

    monkeypatch.setattr(pt, "run_job", no_run)
    monkeypatch.setattr(pt, "table2_job", no_run)
    monkeypatch.setattr(pt, "run_ope_job", no_run)
    assert pt.main(argv) == 0
    assert json.loads(t1.read_text())["results"] == doc1["results"]
    monkeypatch.undo()

    # a run cached without its curves (as split_bench.py cached them before) is completed by a rerun
    old = pt.cache_path(cache, "crest", splits[1].split("=", 1)[1], 1)
    run = json.loads(old.read_text())
    del run["ope_curves"]
    for entry in run["ope"].values():
        del entry["precision"]
    old.write_text(json.dumps(run))
    assert pt.main(argv) == 0
    doc = json.loads(t1.read_text())
    assert doc["ope_rerun_max_auc_difference"] == 0.0  # seeded and one thread: the same boxes again
    assert doc["results"] == doc1["results"]
    assert "ope_curves" in json.loads(old.read_text())


def test_verdicts(paper_tables):
    pt, _ = paper_tables
    assert pt.verdict(0.60, 0.50, 0.02) == "holds"
    assert pt.verdict(0.50, 0.51, 0.02) == "tie"
    assert pt.verdict(0.40, 0.50, 0.02) == "does not hold"
    assert pt.verdict(0.03, 0.08, 0.0, higher_is_better=False) == "holds"  # a loss: lower is better


def test_nothing_to_write_is_a_clear_error(paper_tables, splits, tmp_path, capsys):
    pt, _ = paper_tables
    with pytest.raises(SystemExit):
        pt.main(["--splits", *splits, "--trackers", "metacrest", "--cache", str(tmp_path)])
    assert "nothing to write" in capsys.readouterr().err
