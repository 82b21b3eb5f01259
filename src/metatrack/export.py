"""Export a tracker's frozen feature extractor to ONNX, checked against torch by onnxruntime.

The part of an adaptive tracker that runs on every frame and learns nothing online is its
backbone on the search crop; as an ONNX file it runs in any ONNX runtime. The exported graph takes
the crop as float RGB pixels (1, 3, S, S) in 0-255 and returns the feature map the tracker's head
reads. The file is written atomically and checked before it is kept: onnxruntime's output on a
random crop must equal torch's within ``tolerance`` (relative to the features' largest value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import ConfigError
from .io import atomic_write
from .trackers import create_tracker
from .trackers.adaptive import AdaptiveTracker
from .weights import sha256_file

#: the ONNX opset the export targets (onnxruntime 1.32 runs it)
OPSET = 17


def export_onnx(tracker_name: str, out: str | Path, tolerance: float = 1e-4, seed: int = 0,
                **tracker_kwargs: Any) -> dict[str, Any]:
    """Write ``tracker_name``'s feature extractor to ``out``; returns what was written and checked."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - pinned in requirements.txt
        raise ConfigError(f"--onnx needs onnxruntime ({exc}); it is pinned in requirements.txt") from None
    tracker = create_tracker(tracker_name, **tracker_kwargs)
    if not isinstance(tracker, AdaptiveTracker):
        raise ConfigError(f"tracker {tracker_name!r} has no feature extractor to export (not an adaptive tracker)")
    module, side = tracker.feature_extractor()
    module = module.cpu().float().eval()
    crop = torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, (1, 3, side, side)).astype(np.float32))
    with torch.no_grad():
        expected = module(crop).numpy()
    out = Path(out)

    def write(f) -> None:
        torch.onnx.export(module, (crop,), f, input_names=["crop"], output_names=["features"], opset_version=OPSET,
                          dynamo=False)

    import warnings

    with warnings.catch_warnings():  # torch names its TorchScript-based exporter legacy: it is the one that
        warnings.simplefilter("ignore", DeprecationWarning)  # needs no extra package here
        atomic_write(out, write)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"crop": crop.numpy()})[0]
    error = float(np.abs(got - expected).max() / max(float(np.abs(expected).max()), 1e-12))
    if got.shape != expected.shape or not error <= tolerance:
        out.unlink(missing_ok=True)
        raise ConfigError(f"{out}: onnxruntime's features differ from torch's (relative error {error:.2e} > "
                          f"{tolerance:g}); the file was not kept")
    return {"file": str(out), "sha256": sha256_file(out), "input": [1, 3, side, side],
            "output": list(expected.shape), "relative_error": error}
