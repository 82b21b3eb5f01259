"""metatrack export --onnx: the feature extractor as ONNX, equal to torch's under onnxruntime."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from metatrack.cli import main
from metatrack.errors import ConfigError
from metatrack.export import export_onnx
from metatrack.trackers import create_tracker


@pytest.mark.parametrize("name", ["metasdnet", "metacrest"])
def test_onnxruntime_gives_the_trackers_own_features(name, tmp_path):
    done = export_onnx(name, tmp_path / f"{name}.onnx")
    module, side = create_tracker(name).feature_extractor()
    crop = torch.from_numpy(np.random.default_rng(7).uniform(0, 255, (1, 3, side, side)).astype(np.float32))
    with torch.no_grad():
        expected = module(crop).numpy()
    got = ort.InferenceSession(done["file"], providers=["CPUExecutionProvider"]).run(None, {"crop": crop.numpy()})[0]
    assert got.shape == expected.shape and tuple(done["output"]) == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4 * float(np.abs(expected).max()), rtol=0)


def test_the_command_writes_the_file_and_refuses_a_tracker_without_features(tmp_path, capsys):
    assert main(["export", "--onnx", str(tmp_path / "f.onnx"), "--tracker", "metacrest"]) == 0
    assert "onnxruntime equals torch" in capsys.readouterr().out and (tmp_path / "f.onnx").is_file()
    with pytest.raises(ConfigError, match="not an adaptive tracker"):
        export_onnx("opencv-kcf", tmp_path / "kcf.onnx")
    assert not (tmp_path / "kcf.onnx").exists()
    assert main(["export", "--onnx", str(tmp_path / "g.onnx"), "--tracker", "no-such-tracker"]) == 2
