"""`metatrack bench`: one table of every tracker on the same sequences, with peak memory."""

import json

from metatrack.cli import main


def test_bench_table_and_json(tmp_path, capsys):
    split = tmp_path / "eval"
    assert main(["synth", "--out", str(split), "--sequences", "2", "--frames", "5", "--seed", "4"]) == 0
    out = tmp_path / "bench"
    assert main(["bench", "--trackers", "opencv-kcf,opencv-mosse", "--dataset", f"otb:{split}",
                 "--out", str(out)]) == 0
    data = json.loads((out / "bench.json").read_text())
    assert set(data["trackers"]) == {"opencv-kcf", "opencv-mosse"}
    for row in data["trackers"].values():
        assert row["peak_memory_mb"] > 10  # a Python process with numpy and OpenCV
        assert row["fps"] > 0 and row["init_seconds"] > 0
        assert 0 <= row["success_auc"] <= 1 and 0 <= row["precision"] <= 1
    printed = capsys.readouterr().out
    assert "peak memory (MB)" in printed and "opencv-mosse" in printed
    # a second run reuses the results and says the memory was not measured this time
    assert main(["bench", "--trackers", "opencv-kcf", "--dataset", f"otb:{split}", "--out", str(out)]) == 0
    assert json.loads((out / "bench.json").read_text())["trackers"]["opencv-kcf"]["peak_memory_mb"] is None


def test_bench_with_the_onnx_runtime_keeps_its_runs_apart(tmp_path, monkeypatch):
    """`metatrack bench --runtime onnx`: the deep tracker's backbone runs in onnxruntime, the peer as it
    always does, and the runs go to their own folder, so that a torch bench in the same --out is not reused."""
    monkeypatch.setenv("METATRACK_HOME", str(tmp_path / "home"))
    split = tmp_path / "eval"
    assert main(["synth", "--out", str(split), "--sequences", "1", "--frames", "4", "--seed", "4"]) == 0
    out = tmp_path / "bench"
    assert main(["bench", "--trackers", "metacrest,opencv-kcf", "--dataset", f"otb:{split}", "--out", str(out),
                 "--runtime", "onnx"]) == 0
    data = json.loads((out / "bench.json").read_text())
    assert data["runtime"] == "onnx" and set(data["trackers"]) == {"metacrest", "opencv-kcf"}
    assert (out / "results-onnx" / "metacrest").is_dir() and not (out / "results").exists()
    assert list((tmp_path / "home" / "onnx").glob("*.onnx"))  # the backbone was exported and used
    assert main(["bench", "--trackers", "metacrest", "--dataset", f"otb:{split}", "--out", str(out)]) == 0
    data = json.loads((out / "bench.json").read_text())
    assert data["runtime"] == "torch" and data["trackers"]["metacrest"]["peak_memory_mb"] is not None  # run afresh


def test_split_bench_rows_can_name_another_model_file_and_settings(tmp_path):
    """bench/split_bench.py's NAME@MODEL rows build the tracker with that model file (a missing one is
    the tracker's own error naming it), plain names the shipped one; +key=value sets its config."""
    import sys
    from pathlib import Path

    import pytest

    from metatrack.errors import MetatrackError

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        import split_bench
    finally:
        sys.path.pop(0)
    assert type(split_bench.build("metacrest")).__name__ == type(split_bench.build("metacrest-01")).__name__
    missing = tmp_path / "other.safetensors"
    with pytest.raises(MetatrackError, match="other.safetensors"):
        split_bench.build(f"metacrest@{missing}")
    # +key=value settings of the config, after a plain name or a model file
    t = split_bench.build("metacrest+update_keep_first=true+occlusion_ratio=0.6")
    assert t.config.update_keep_first is True and t.config.occlusion_ratio == 0.6
    assert split_bench.build("metacrest").config.update_keep_first is False
    with pytest.raises(MetatrackError, match="no_such_key"):
        split_bench.build("metacrest+no_such_key=1")


def test_redetect_search_settings_read_numbers_tuples_switches_and_words():
    """bench/redetect_search.py's NAME=key:value,... settings: a switch is a bool (the tracker's config
    refuses the word 'false' for one), a whole number an int, a/b a tuple."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        import redetect_search
    finally:
        sys.path.pop(0)
    name, out = redetect_search.parse_setting(
        "x=scale_filter:false,subpixel:true,update_interval:5,update_lr:0.0001,scale_limits:0.5/2,window_basis:area")
    assert name == "x" and out == {"scale_filter": False, "subpixel": True, "update_interval": 5,
                                   "update_lr": 0.0001, "scale_limits": (0.5, 2.0), "window_basis": "area"}
    assert isinstance(out["update_interval"], int) and out["scale_filter"] is False
