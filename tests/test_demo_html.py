"""`metatrack demo` writes report.html beside its other files and prints where it is.

The real demo runs the deep trackers for minutes; here its tracker lists are cut down to OpenCV peers
and its data set to a few tiny sequences, so that what is checked is the demo's own plumbing.
"""

from __future__ import annotations

from tiny_otb import write_otb

import metatrack.demo as demo
from metatrack.cli import main
from metatrack.data import open_dataset


def test_demo_writes_the_html_page_with_ope_and_vot_scores(tmp_path, monkeypatch, capsys):
    sequences = open_dataset(f"otb:{write_otb(tmp_path / 'otb')}")
    monkeypatch.setattr(demo, "open_dataset", lambda spec: sequences)
    monkeypatch.setattr(demo, "OPE_TRACKERS", ["opencv-kcf", "opencv-mosse"])
    monkeypatch.setattr(demo, "VOT_TRACKERS", ["opencv-kcf"])
    monkeypatch.setattr(demo, "INIT_TRACKERS", [])
    out = tmp_path / "demo-out"
    assert main(["demo", "--out", str(out), "--jobs", "1"]) == 0
    page = out / "report" / "report.html"
    assert f"HTML report: {page}" in capsys.readouterr().out
    html = page.read_text()
    for name in ("opencv-kcf", "opencv-mosse"):
        assert f'data-tracker="{name}"' in html
    assert "VOT EAO" in html  # the reset-based scores beside the one-pass ones
    assert html.count("data:image/jpeg;base64,") == len(sequences)  # one thumbnail per sequence
    assert "report.html" in (out / "report" / "demo.md").read_text()
