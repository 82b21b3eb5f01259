"""bench/paired_gap.py: the gap between two trackers per role, with a bootstrap interval over sequences."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
try:
    import paired_gap
finally:
    sys.path.pop(0)


def doc(a: dict[str, list[float]], b: dict[str, list[float]]) -> dict:
    runs = lambda aucs: {"sequences": {n: [{"auc": v} for v in vs] for n, vs in aucs.items()}}  # noqa: E731
    return {"kind": "split_bench", "date": "2026-12-07", "splits": {"test": "embedded:test"},
            "results": {"a": {"test": runs(a)}, "b": {"test": runs(b)}}}


def test_a_sequences_auc_is_the_mean_over_its_seeds():
    assert paired_gap.per_sequence_auc({"s": [{"auc": 0.2}, {"auc": 0.6}]}) == {"s": pytest.approx(0.4)}


def test_a_lead_on_every_sequence_has_an_interval_above_zero_and_a_coin_flip_holds_zero():
    rng = np.random.default_rng(1)
    base = {f"s{i}": float(v) for i, v in enumerate(rng.uniform(0.2, 0.8, 16))}
    lead = paired_gap.gap({n: v + 0.1 + 0.01 * (i % 3) for i, (n, v) in enumerate(base.items())}, base)
    assert lead["gap"] == pytest.approx(0.1 + 0.01 * np.mean([i % 3 for i in range(16)]))
    assert 0 < lead["low"] <= lead["gap"] <= lead["high"] and (lead["a_ahead"], lead["b_ahead"]) == (16, 0)
    noise = paired_gap.gap({n: v + rng.normal(0, 0.2) for n, v in base.items()}, base)
    assert noise["low"] < 0 < noise["high"]
    again = paired_gap.gap({n: v + 0.1 + 0.01 * (i % 3) for i, (n, v) in enumerate(base.items())}, base)
    assert again == lead  # seeded
    same = paired_gap.gap(base, base)
    assert same["gap"] == same["low"] == same["high"] == 0.0 and (same["a_ahead"], same["b_ahead"]) == (0, 0)


def test_only_the_sequences_both_ran_count_and_one_is_too_few():
    g = paired_gap.gap({"x": 0.5, "y": 0.7, "z": 0.1}, {"x": 0.4, "y": 0.4})
    assert g["sequences"] == 2 and g["gap"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="1 sequence"):
        paired_gap.gap({"x": 0.5}, {"x": 0.4, "y": 0.4})


def test_the_table_and_its_errors(tmp_path, capsys):
    src = tmp_path / "sb.json"
    a, b = {"s1": [0.9, 0.7], "s2": [0.5], "s3": [0.6]}, {"s1": [0.5], "s2": [0.5], "s3": [0.2]}
    src.write_text(json.dumps(doc(a, b)))
    out = tmp_path / "gap.json"
    assert paired_gap.main(["--from", str(src), "--pairs", "a:b", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row[:7] == ["a - b", "test", "embedded:test", "3", "0.633", "0.400", "+0.233"]  # s1 0.8
    assert row[8] == "2 / 0"  # s2 a tie
    capsys.readouterr()
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"kind": "table"}))
    for argv, why in [(["--from", str(src), "--pairs", "ab"], "is not A:B"),
                      (["--from", str(src), "--pairs", "a:c"], "no tracker 'c'"),
                      (["--from", str(bad), "--pairs", "a:b"], "not a split benchmark"),
                      (["--from", str(tmp_path / "none.json"), "--pairs", "a:b"], "none.json")]:
        with pytest.raises(SystemExit) as e:
            paired_gap.main(argv)
        assert e.value.code == 2 and why in capsys.readouterr().err


def search(setting: str, per_dataset: dict[str, dict[str, float]], seeds=(0,)) -> dict:
    return {"kind": "redetect_search", "date": "2026-12-07",
            "results": [{"setting": setting, "dataset": d, "tracker": "t", "seed": s, "auc": 0.0, "sequences": seqs}
                        for d, seqs in per_dataset.items() for s in seeds]}


def test_two_settings_are_paired_per_data_set_and_over_them_all(tmp_path):
    base = {"x:a": {"s1": 0.5, "s2": 0.6, "s3": 0.7}, "x:b": {"q1": 0.2, "q2": 0.4}}
    tried = {"x:a": {"s1": 0.6, "s2": 0.7, "s3": 0.8}, "x:b": {"q1": 0.1, "q2": 0.4}}
    for name, d in (("base", search("base", base, seeds=(0, 1))), ("try", search("try", tried))):
        (tmp_path / f"{name}.json").write_text(json.dumps(d))
    out = tmp_path / "g.json"
    argv = ["--from", str(tmp_path / "base.json"), str(tmp_path / "try.json"), "--pairs", "try:base",
            "--json", str(out)]
    assert paired_gap.main(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r[2] for r in rows] == ["x:a", "x:b", "all 2 (x:a, x:b)"]
    assert rows[0][6] == "+0.100" and rows[1][6] == "-0.050" and rows[2][3] == "5"
    assert rows[2][6] == "+0.040" and rows[2][8] == "3 / 1"  # (0.1 * 3 - 0.1) / 5
    assert paired_gap.main(argv + ["--pooled"]) == 0
    assert [r[2] for r in json.loads(out.read_text())["rows"]] == ["all 2 (x:a, x:b)"]
    assert "validation searches" in json.loads(out.read_text())["split"]


def test_settings_and_trackers_are_not_mixed_and_an_unknown_setting_is_named(tmp_path, capsys):
    (tmp_path / "s.json").write_text(json.dumps(search("base", {"x:a": {"s1": 0.5, "s2": 0.6}})))
    (tmp_path / "sb.json").write_text(json.dumps(doc({"s1": [0.5], "s2": [0.6]}, {"s1": [0.4], "s2": [0.6]})))
    for argv, why in [(["--from", str(tmp_path / "s.json"), str(tmp_path / "sb.json"), "--pairs", "a:b"], "not both"),
                      (["--from", str(tmp_path / "s.json"), "--pairs", "try:base"], "no setting 'try'")]:
        with pytest.raises(SystemExit) as e:
            paired_gap.main(argv)
        assert e.value.code == 2 and why in capsys.readouterr().err
