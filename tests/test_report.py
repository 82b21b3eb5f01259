"""Report figures and Markdown tables from hand-made scores."""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from metatrack.errors import ConfigError
from metatrack.evaluation.report import (
    eao_figure,
    legend_entries,
    markdown_tables,
    precision_figure,
    success_figure,
    tracker_styles,
    write_report,
)

THRESHOLDS = np.linspace(0, 1, 21)


def ope_block(auc_like: float, spread: float = 0.15) -> dict:
    """Scores whose curves are smooth steps: higher ``auc_like``, better tracker."""
    success = 1 / (1 + np.exp((THRESHOLDS - auc_like) / (spread / 2)))
    precision = 1 - np.exp(-np.arange(51) / (25 * (1.1 - auc_like)))
    return {
        "success_auc": float(success.mean()),
        "success_rate": float(success[10]),
        "precision": float(precision[20]),
        "fps": 25.0,
        "init_seconds": 0.5,
        "success_curve": success.tolist(),
        "precision_curve": precision.tolist(),
    }


def ope_tracker(level: float, per_tag: dict[str, float], per_seq: dict[str, float]) -> dict:
    s = ope_block(level)
    s["attributes"] = {tag: {**ope_block(v), "count": 2} for tag, v in per_tag.items()}
    s["sequences"] = {name: ope_block(v) for name, v in per_seq.items()}
    return s


@pytest.fixture
def ope_scores() -> dict:
    # MetaSDNet best overall and on FM; SDNet best on OCC (per-attribute order differs)
    return {
        "SDNet": ope_tracker(0.50, {"FM": 0.40, "OCC": 0.70}, {"Bolt": 0.45, "David": 0.60}),
        "MetaSDNet": ope_tracker(0.62, {"FM": 0.66, "OCC": 0.55}, {"Bolt": 0.70, "David": 0.50}),
        "opencv-kcf": ope_tracker(0.35, {"FM": 0.30, "OCC": 0.30}, {"Bolt": 0.30, "David": 0.35}),
    }


def vot_tracker(eao: float, accuracy: float, robustness: float) -> dict:
    curve = [None] + [float(eao + 0.3 * math.exp(-j / 50)) for j in range(1, 400)]
    return {
        "eao": eao,
        "accuracy": accuracy,
        "robustness": robustness,
        "failures": robustness * 2,
        "failures_per_100_frames": robustness / 3,
        "eao_curve": curve,
        "eao_range": [108, 371],
        "eao_range_rule": "auto: VOT2016 range",
        "fps": None,
        "sequences": {
            "bag": {"accuracy": accuracy, "failures": robustness},
            "car1": {"accuracy": 0.4, "failures": 1.0},
        },
    }


@pytest.fixture
def vot_scores() -> dict:
    return {
        "CREST": vot_tracker(0.283, 0.51, 1.8),
        "MetaCREST": vot_tracker(0.317, 0.52, 1.2),
        "opencv-csrt": vot_tracker(0.201, 0.49, 2.9),
    }


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """Body rows of the first table under ``## heading``, as lists of cells."""
    section = markdown.split(f"## {heading}\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("## "):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows[1:]  # without the header


# ---------------------------------------------------------------- legend order


def test_legend_entries_are_sorted_by_score_best_first(ope_scores):
    entries = legend_entries(ope_scores, "success_auc")
    assert [name for name, _ in entries] == ["MetaSDNet", "SDNet", "opencv-kcf"]
    values = [v for _, v in entries]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(ope_scores["MetaSDNet"]["success_auc"])


def test_legend_entries_of_one_attribute_use_its_scores(ope_scores):
    assert [n for n, _ in legend_entries(ope_scores, "success_auc", "OCC")][0] == "SDNet"
    assert [n for n, _ in legend_entries(ope_scores, "success_auc", "FM")][0] == "MetaSDNet"


def test_legend_entries_put_missing_scores_last_and_break_ties_by_name():
    scores = {"b": {"eao": 0.3}, "none": {"eao": None}, "a": {"eao": 0.3}, "top": {"eao": 0.5}, "absent": {}}
    entries = legend_entries(scores, "eao")
    assert [n for n, _ in entries] == ["top", "a", "b", "absent", "none"]
    assert math.isnan(entries[-1][1])


def test_figure_legends_follow_the_ranking_and_show_scores(ope_scores, vot_scores):
    texts = [t.get_text() for t in success_figure(ope_scores).axes[0].get_legend().get_texts()]
    expected = [f"{n} [{v:.3f}]" for n, v in legend_entries(ope_scores, "success_auc")]
    assert texts == expected
    texts = [t.get_text() for t in precision_figure(ope_scores).axes[0].get_legend().get_texts()]
    assert texts == [f"{n} [{v:.3f}]" for n, v in legend_entries(ope_scores, "precision")]
    texts = [t.get_text() for t in eao_figure(vot_scores).axes[0].get_legend().get_texts()]
    assert texts[:3] == ["MetaCREST [0.317]", "CREST [0.283]", "opencv-csrt [0.201]"]
    assert texts[3] == "EAO range 108-371"


def test_success_figure_is_laid_out_like_otb(ope_scores):
    ax = success_figure(ope_scores).axes[0]
    assert ax.get_title() == "Success plots of OPE"
    assert ax.get_xlabel() == "Overlap threshold" and ax.get_xlim() == (0.0, 1.0)
    assert precision_figure(ope_scores).axes[0].get_xlim() == (0.0, 50.0)


def test_styles_are_distinct_for_twenty_trackers():
    styles = tracker_styles([f"t{i}" for i in range(20)])
    looks = {(s["color"], s["linestyle"]) for s in styles.values()}
    assert len(looks) == 20


# ---------------------------------------------------------------- files


def test_ope_report_writes_pngs_and_markdown_linking_them(tmp_path, ope_scores):
    paths = write_report(ope_scores, tmp_path / "report", "ope", title="OTB toy")
    for key in ("success", "precision", "attributes", "success:FM", "success:OCC", "markdown"):
        assert paths[key].is_file(), key
    for key, path in paths.items():
        if path.suffix == ".png":
            width, height = png_size(path)
            assert width > 300 and height > 200, key
            assert path.stat().st_size > 10_000, key
    text = paths["markdown"].read_text()
    assert text.startswith("# OTB toy\n")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert set(links) == {p.name for p in paths.values() if p.suffix == ".png"}
    assert not list((tmp_path / "report").glob(".*.tmp"))  # no temporary file left behind


def test_vot_report_writes_eao_and_ar_plots(tmp_path, vot_scores):
    paths = write_report(vot_scores, tmp_path, "vot")
    assert {"eao", "ar", "markdown"} <= set(paths)
    for key in ("eao", "ar"):
        assert png_size(paths[key])[0] > 300
    text = paths["markdown"].read_text()
    assert "(eao.png)" in text and "(ar.png)" in text


def test_report_can_be_written_again_over_itself(tmp_path, ope_scores):
    write_report(ope_scores, tmp_path, "ope")
    del ope_scores["opencv-kcf"]
    paths = write_report(ope_scores, tmp_path, "ope")
    assert "opencv-kcf" not in paths["markdown"].read_text()


def test_bad_protocol_or_no_scores_is_a_config_error(tmp_path, ope_scores):
    with pytest.raises(ConfigError, match="protocol"):
        write_report(ope_scores, tmp_path, "otb")
    with pytest.raises(ConfigError):
        write_report({}, tmp_path, "ope")


# ---------------------------------------------------------------- tables


def test_overall_table_lists_every_tracker_sorted_with_three_decimals(ope_scores):
    rows = table_rows(markdown_tables(ope_scores, "ope"), "Overall")
    assert [r[0] for r in rows] == ["MetaSDNet", "SDNet", "opencv-kcf"]
    for row in rows:
        assert row[1] == f"{ope_scores[row[0]]['success_auc']:.3f}"
        assert row[3] == f"{ope_scores[row[0]]['precision']:.3f}"


def test_attribute_table_has_a_row_per_tracker_and_bolds_each_tags_best(ope_scores):
    text = markdown_tables(ope_scores, "ope")
    header = text.split("## Success AUC per attribute\n", 1)[1]
    assert "| FM (2) | OCC (2) |" in header
    rows = {r[0]: r[1:] for r in table_rows(text, "Success AUC per attribute")}
    assert list(rows) == ["MetaSDNet", "SDNet", "opencv-kcf"]
    fm = f"{ope_scores['MetaSDNet']['attributes']['FM']['success_auc']:.3f}"
    occ = f"{ope_scores['SDNet']['attributes']['OCC']['success_auc']:.3f}"
    assert rows["MetaSDNet"][0] == f"**{fm}**"
    assert rows["SDNet"][1] == f"**{occ}**"
    assert not rows["opencv-kcf"][0].startswith("**")


def test_sequence_table_has_a_column_per_tracker_in_ranking_order(ope_scores):
    text = markdown_tables(ope_scores, "ope")
    section = text.split("## Success AUC per sequence\n", 1)[1]
    assert "| | MetaSDNet | SDNet | opencv-kcf |" in section
    rows = {r[0]: r[1:] for r in table_rows(text, "Success AUC per sequence")}
    assert set(rows) == {"Bolt", "David"}
    david = f"{ope_scores['SDNet']['sequences']['David']['success_auc']:.3f}"
    assert rows["David"][1] == f"**{david}**"


def test_vot_tables_sort_by_eao_and_show_missing_values_as_dashes(vot_scores):
    text = markdown_tables(vot_scores, "vot")
    rows = table_rows(text, "Overall")
    assert [(r[0], r[1]) for r in rows] == [("MetaCREST", "0.317"), ("CREST", "0.283"), ("opencv-csrt", "0.201")]
    assert all(r[-1] == "-" for r in rows)  # fps None
    assert "108-371" in text
    per_seq = {r[0]: r[1:] for r in table_rows(text, "Accuracy / failures per sequence")}
    assert per_seq["bag"][0] == "**0.520 / 1.2**"


def test_tracker_names_with_pipes_do_not_break_tables(ope_scores):
    ope_scores["a|b"] = ope_scores.pop("opencv-kcf")
    text = markdown_tables(ope_scores, "ope")
    assert "a\\|b" in text
