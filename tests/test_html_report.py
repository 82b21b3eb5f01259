"""The HTML report: one self-contained page, escaped text, thumbnails, and `metatrack report --format`.

The page in a real browser is tested in tests/test_report_browser.py.
"""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import cv2
import numpy as np
import pytest
from tiny_otb import StayTracker, write_otb

from metatrack.cli import main
from metatrack.data import open_dataset
from metatrack.errors import ConfigError
from metatrack.evaluation.html_report import THUMBNAIL_WIDTH, html_report, write_html_report
from metatrack.evaluation.runner import run_tracker
from metatrack.evaluation.scoring import score_results
from metatrack.trackers import register_tracker

register_tracker("test-html-stay", StayTracker, replace=True)

NASTY = 'a<b>"x"&y</b>'  # a tracker name that must be escaped
THRESHOLDS = np.linspace(0, 1, 21)


def ope_block(level: float) -> dict:
    success = 1 / (1 + np.exp((THRESHOLDS - level) / 0.075))
    precision = 1 - np.exp(-np.arange(51) / (25 * (1.1 - level)))
    return {"success_auc": float(success.mean()), "success_rate": float(success[10]),
            "precision": float(precision[20]), "fps": 25.0, "init_seconds": 0.5,
            "success_curve": success.tolist(), "precision_curve": precision.tolist()}


def ope_tracker(level: float, per_tag: dict, per_seq: dict) -> dict:
    s = ope_block(level)
    s["attributes"] = {tag: {**ope_block(v), "count": 1} for tag, v in per_tag.items()}
    s["sequences"] = {name: ope_block(v) for name, v in per_seq.items()}
    return s


@pytest.fixture
def scores() -> dict:
    return {
        "MetaSDNet": ope_tracker(0.62, {"FM": 0.66, "<OCC>": 0.55}, {"Alpha": 0.70, "Beta": 0.50}),
        NASTY: ope_tracker(0.50, {"FM": 0.40, "<OCC>": 0.70}, {"Alpha": 0.45, "Beta": 0.60}),
    }


class Text(HTMLParser):
    """The page's visible text and its tags (as a browser's parser sees them)."""

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Text:
    p = Text()
    p.feed(page)
    p.close()
    return p


def test_page_is_self_contained_and_escapes_every_name(scores):
    page = html_report(scores, "ope", title="<Toy> & co")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert NASTY not in page and "<OCC>" not in page and "<Toy>" not in page  # never raw
    assert "a&lt;b&gt;&quot;x&quot;&amp;y&lt;/b&gt;" in page
    doc = parse(page)
    text = " ".join(doc.text)
    assert NASTY in text and "<OCC> (1)" in text and "<Toy> & co" in text  # shown as text, literally
    assert "b" not in doc.tags and "script" not in doc.tags  # no element injected, no script at all
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|[^"'d#])""", page)  # only data: URIs
    pngs = [i for i in doc.images if i["src"].startswith("data:image/png;base64,")]
    assert len(pngs) == 3  # success, precision, per-attribute bars
    for img in pngs:
        assert base64.b64decode(img["src"].split(",", 1)[1]).startswith(b"\x89PNG")


def test_tables_show_every_tracker_and_score(scores):
    page = html_report(scores, "ope")
    text = " ".join(parse(page).text)
    for name, s in scores.items():
        assert name in text
        for key in ("success_auc", "success_rate", "precision"):
            assert f"{s[key]:.3f}" in text
        for block in s["attributes"].values():
            assert f"{block['success_auc']:.3f}" in text
        for block in s["sequences"].values():
            assert f"{block['success_auc']:.3f}" in text
    # overall table ranked best first; per-sequence table one row per sequence
    overall = page.split('id="overall"')[1].split("</table>")[0]
    assert overall.index("MetaSDNet") < overall.index("a&lt;b")
    assert page.count('data-sequence="') == 2


def test_vot_page_and_vot_columns_beside_ope(scores):
    vot = {
        "MetaSDNet": {"eao": 0.31, "accuracy": 0.55, "robustness": 0.8, "failures": 3.0, "eao_curve": [None, 0.5, 0.4],
                      "eao_range": [1, 2], "sequences": {"Alpha": {"accuracy": 0.6, "failures": 1.0}}},
        "only-vot": {"eao": 0.21, "accuracy": 0.45, "robustness": 1.6, "failures": 6.0, "eao_curve": [None, 0.3, 0.2],
                     "eao_range": [1, 2], "sequences": {"Alpha": {"accuracy": 0.4, "failures": 2.0}}},
    }
    both = " ".join(parse(html_report(scores, "ope", vot_scores=vot)).text)
    assert "VOT EAO" in both and "0.310" in both and "only-vot" in both and "1.60" in both
    page = html_report(vot, "vot")
    text = " ".join(parse(page).text)
    assert "EAO" in text and "0.600 / 1.0" in text and "0.400 / 2.0" in text
    assert page.count("data:image/png;base64,") == 2  # EAO curves and AR plot


def test_written_atomically_with_thumbnails(tmp_path):
    data = write_otb(tmp_path / "otb")
    seqs = open_dataset(f"otb:{data}")
    run_tracker("test-html-stay", seqs, tmp_path / "res", progress=False)
    s = score_results(seqs, tmp_path / "res")
    out = tmp_path / "report"
    path = write_html_report(s, out, "ope", title="tiny", sequences=seqs)
    assert path == out / "report.html" and [p.name for p in out.iterdir()] == ["report.html"]  # no temp file left
    doc = parse(path.read_text())
    thumbs = [i for i in doc.images if i["src"].startswith("data:image/jpeg;base64,")]
    assert len(thumbs) == len(seqs)
    img = cv2.imdecode(np.frombuffer(base64.b64decode(thumbs[0]["src"].split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[1] == THUMBNAIL_WIDTH
    red = (img[:, :, 2] > 150) & (img[:, :, 1] < 110) & (img[:, :, 0] < 110)  # BGR: the ground-truth box
    assert red.sum() > 20
    text = " ".join(doc.text)
    assert "8 frames; FM, SV" in text and f"{s['test-html-stay']['success_auc']:.3f}" in text


def test_no_scores_is_an_error(tmp_path):
    with pytest.raises(ConfigError):
        html_report({}, "ope")
    with pytest.raises(ConfigError):
        write_html_report({"x": {}}, tmp_path, "otb")


def test_cli_report_formats(tmp_path, capsys):
    data = write_otb(tmp_path / "otb")
    ds = f"otb:{data}"
    assert main(["run", "--tracker", "test-html-stay", "--dataset", ds, "--results", str(tmp_path / "res")]) == 0
    common = ["report", "--dataset", ds, "--results", str(tmp_path / "res")]
    assert main(common + ["--out", str(tmp_path / "md")]) == 0  # default: Markdown only
    assert (tmp_path / "md" / "report.md").is_file() and not (tmp_path / "md" / "report.html").exists()
    capsys.readouterr()
    assert main(common + ["--out", str(tmp_path / "html"), "--format", "html"]) == 0
    assert sorted(p.name for p in (tmp_path / "html").iterdir()) == ["report.html"]
    assert f"HTML report: {tmp_path / 'html' / 'report.html'}" in capsys.readouterr().out
    assert main(common + ["--out", str(tmp_path / "both"), "--format", "both"]) == 0
    names = {p.name for p in (tmp_path / "both").iterdir()}
    assert {"report.md", "report.html", "success.png", "precision.png"} <= names
    # "both" embeds the very PNG files it wrote next to the page
    page = (tmp_path / "both" / "report.html").read_text()
    assert base64.b64encode((tmp_path / "both" / "success.png").read_bytes()).decode() in page
