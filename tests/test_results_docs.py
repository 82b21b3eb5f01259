"""The result tables of the docs are generated from bench/results/*.json and never drift from them.

``bench/results_tables.py --check`` renders every JSON file of ``bench/results/`` and compares the
tables with the generated blocks of README.md and docs/*.md; these tests run it on the checkout and on
tampered copies, so that a table edited by hand, a JSON value changed without regenerating, a JSON
without a table or a table without a JSON all fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "results_tables.py"
RESULTS = ROOT / "bench" / "results"
BLOCK = re.compile(r"<!-- generated: ([\w.-]+) -->\n(.*?)<!-- end generated -->", re.S)


def generator(root: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *options], capture_output=True,
                          text=True, timeout=120)


def check(root: Path = ROOT) -> subprocess.CompletedProcess:
    """``bench/results_tables.py --check`` on the repository at ``root``: changes nothing."""
    return generator(root, "--check")


def copy_of_the_docs(tmp_path: Path) -> Path:
    """README.md, docs/*.md and bench/results/*.json in a folder laid out as the repository."""
    root = tmp_path / "repo"
    shutil.copytree(RESULTS, root / "bench" / "results")
    (root / "docs").mkdir(parents=True)
    for doc in (ROOT / "docs").glob("*.md"):
        shutil.copy(doc, root / "docs" / doc.name)
    shutil.copy(ROOT / "README.md", root / "README.md")
    return root


def blocks(root: Path = ROOT) -> dict[str, list[str]]:
    """Block name -> the bodies of its generated blocks in README.md and docs/*.md."""
    found: dict[str, list[str]] = {}
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for name, body in BLOCK.findall(doc.read_text()):
            found.setdefault(name, []).append(body)
    return found


def test_the_docs_tables_are_what_the_json_gives():
    out = check()
    assert out.returncode == 0, out.stderr


def test_every_json_has_a_filled_table_and_every_table_a_json():
    found = blocks()
    assert set(found) == {p.stem for p in RESULTS.glob("*.json")}
    for name, bodies in found.items():
        for body in bodies:
            assert body.count("\n|") >= 2, f"block {name} holds no table"
            assert f"`bench/results/{name}.json`" in body, f"block {name} does not say where it comes from"
    assert "split_bench" in BLOCK.findall((ROOT / "README.md").read_text())[0]


def test_tables_of_the_eval_split_carry_its_validation_role():
    for name, bodies in blocks().items():
        data = json.loads((RESULTS / f"{name}.json").read_text())
        if "embedded:eval" in json.dumps({k: v for k, v in data.items() if k in ("dataset", "split")}):
            for body in bodies:
                assert "validation: choices were made on it" in body, name


def _raise_auc(d: dict) -> None:
    d["ope"]["metasdnet"]["success_auc"] += 0.01


@pytest.mark.parametrize("name, change", [
    ("metasdnet_bench", _raise_auc),
    ("metatrack_bench_eval", lambda d: d["trackers"]["metacrest"].update(fps=12.3)),
    ("long_video_memory", lambda d: d["rows"][0].update(peak_rss_mb=1234.0)),
    ("demo_full_vot", lambda d: d["rows"][0].__setitem__(1, "0.999")),
    ("metacrest_bench", lambda d: d.update(date="2026-11-27")),
])
def test_a_tampered_json_value_fails_the_check(tmp_path, name, change):
    root = copy_of_the_docs(tmp_path)
    assert check(root).returncode == 0
    path = root / "bench" / "results" / f"{name}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1) + "\n")
    docs_before = {p: p.read_text() for p in [root / "README.md", *(root / "docs").glob("*.md")]}
    out = check(root)
    assert out.returncode != 0
    assert "differ" in out.stderr
    assert all(p.read_text() == text for p, text in docs_before.items()), "--check changed a file"
    # regenerating puts the new value into the docs, and the check passes again
    before = (root / "docs" / "results.md").read_text() + (root / "README.md").read_text()
    rewrite = generator(root)
    assert rewrite.returncode == 0, rewrite.stderr
    assert (root / "docs" / "results.md").read_text() + (root / "README.md").read_text() != before
    assert check(root).returncode == 0


def test_a_table_edited_by_hand_fails_the_check(tmp_path):
    root = copy_of_the_docs(tmp_path)
    doc = root / "docs" / "results.md"
    text = doc.read_text()
    assert "| metasdnet (-01) | 0.647 (0.652, 0.642) |" in text
    doc.write_text(text.replace("| metasdnet (-01) | 0.647 (0.652, 0.642) |",
                                "| metasdnet (-01) | 0.650 (0.652, 0.642) |"))
    out = check(root)
    assert out.returncode != 0 and "docs/results.md" in out.stderr


def test_a_json_without_a_table_or_a_table_without_a_json_fails(tmp_path):
    root = copy_of_the_docs(tmp_path)
    shutil.copy(root / "bench" / "results" / "metatrack_bench_eval.json", root / "bench" / "results" / "extra.json")
    out = check(root)
    assert out.returncode != 0 and "extra.json has no" in out.stderr
    (root / "bench" / "results" / "extra.json").unlink()
    (root / "bench" / "results" / "long_video_memory.json").unlink()
    out = check(root)
    assert out.returncode != 0 and "names no bench/results/long_video_memory.json" in out.stderr


def test_a_json_no_renderer_knows_is_an_error(tmp_path):
    root = copy_of_the_docs(tmp_path)
    (root / "bench" / "results" / "odd.json").write_text('{"something": 1}\n')
    out = check(root)
    assert out.returncode != 0 and "no table renderer" in out.stderr
