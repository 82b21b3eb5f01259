"""A tracker's frozen feature extractor as ONNX: exported, checked against torch, and run by onnxruntime.

The part of an adaptive tracker that runs on every frame and learns nothing online is its
backbone on the search crop; as an ONNX file it runs in any ONNX runtime. The exported graph takes
crops as float RGB pixels (N, 3, S, S) in 0-255 (N free: the crops of several targets go through
in one call) and returns the feature maps the tracker's head reads. A file is written atomically
and checked before it is kept: onnxruntime's output on random crops must equal torch's within
``tolerance`` (relative to the features' largest value).

``runtime="onnx"`` (:meth:`~metatrack.trackers.adaptive.AdaptiveTracker.use_runtime`, ``metatrack
track --runtime onnx``) runs a tracker's backbone through onnxruntime on the CPU: the graph is
exported on first use into ``$METATRACK_HOME/onnx`` (default ``~/.cache/metatrack/onnx``), one file
per feature settings and backbone sha256, with a JSON note of its own sha256 that is checked
whenever it is read, or read from a file the user names. Either way onnxruntime's features are
compared with torch's once when the tracker is built, so that a file made for another backbone or
crop size is refused, never used.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import ConfigError
from .io import atomic_write, atomic_write_json, cache_root
from .weights import sha256_file

#: the ONNX opset the export targets (onnxruntime 1.32 runs it)
OPSET = 17
#: bumped when the exported graph's form changes (the cache key includes it)
EXPORT_FORMAT = 2
#: relative error allowed between onnxruntime's features and torch's
TOLERANCE = 1e-4


def _onnxruntime(what: str):
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ConfigError(f"{what} needs onnxruntime ({exc}); install the version pinned in requirements.txt "
                          "(pip install onnxruntime==1.32.0)") from None
    return ort


def _random_crops(side: int, count: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, (count, 3, side, side)).astype(np.float32))


def _write_graph(module: torch.nn.Module, side: int, out) -> None:
    """``module`` as ONNX into the binary file ``out``, with a free batch size."""
    with warnings.catch_warnings():  # torch names its TorchScript-based exporter legacy: it is the one that
        warnings.simplefilter("ignore", DeprecationWarning)  # needs no extra package here
        torch.onnx.export(module, (_random_crops(side, 1, 0),), out, input_names=["crop"], output_names=["features"],
                          opset_version=OPSET, dynamic_axes={"crop": {0: "batch"}, "features": {0: "batch"}},
                          dynamo=False)


def _error(session, module: torch.nn.Module, side: int, seed: int) -> tuple[float, list[int]]:
    """Largest difference between onnxruntime's and torch's features of two random crops, relative to
    torch's largest value, and the features' shape for one crop."""
    crops = _random_crops(side, 2, seed)
    with torch.no_grad():
        expected = module(crops).numpy()
    got = session.run(None, {"crop": crops.numpy()})[0]
    if got.shape != expected.shape:
        return float("inf"), [1, *expected.shape[1:]]
    return float(np.abs(got - expected).max() / max(float(np.abs(expected).max()), 1e-12)), [1, *expected.shape[1:]]


def _session(ort, model: bytes | str, threads: int | None = None):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def export_onnx(tracker_name: str, out: str | Path, tolerance: float = TOLERANCE, seed: int = 0,
                **tracker_kwargs: Any) -> dict[str, Any]:
    """Write ``tracker_name``'s feature extractor to ``out``; returns what was written and checked."""
    from .trackers import create_tracker
    from .trackers.adaptive import AdaptiveTracker

    ort = _onnxruntime("--onnx")
    tracker = create_tracker(tracker_name, **tracker_kwargs)
    if not isinstance(tracker, AdaptiveTracker):
        raise ConfigError(f"tracker {tracker_name!r} has no feature extractor to export (not an adaptive tracker)")
    module, side = tracker.feature_extractor()
    module = module.cpu().float().eval()
    out = Path(out)
    atomic_write(out, lambda f: _write_graph(module, side, f))
    error, shape = _error(_session(ort, str(out)), module, side, seed)
    if not error <= tolerance:
        out.unlink(missing_ok=True)
        raise ConfigError(f"{out}: onnxruntime's features differ from torch's (relative error {error:.2e} > "
                          f"{tolerance:g}); the file was not kept")
    return {"file": str(out), "sha256": sha256_file(out), "input": ["N", 3, side, side],
            "output": shape, "relative_error": error}


# ------------------------------------------------------------------------------ the ONNX runtime


def onnx_cache_dir() -> Path:
    """Where exported backbones are cached: ``$METATRACK_HOME/onnx`` (default ``~/.cache/metatrack/onnx``)."""
    return cache_root() / "onnx"


class OnnxFeatures:
    """A tracker's backbone under onnxruntime: uint8 crops (each S x S x 3 RGB) -> features (N, ...),
    a float32 CPU tensor as the torch backbone gives. ``key`` is the graph's sha256 (trackers with
    the same key share one session and one batched call)."""

    def __init__(self, session, key: str, source: str):
        self.session, self.key, self.source = session, key, source

    def __call__(self, crops: list[np.ndarray]) -> torch.Tensor:
        x = np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {"crop": x})[0])


#: one session per (graph sha256, threads, the features it was checked for), shared by the trackers that use it
_SESSIONS: dict[tuple[str, int, str], Any] = {}


def _cache_key(tracker) -> str | None:
    backbone = tracker.backbone_sha256()
    if backbone is None:  # a backbone not from a checked file (random weights): nothing to key a cache by
        return None
    note = {"features": tracker.feature_config(), "backbone_sha256": backbone, "opset": OPSET,
            "format": EXPORT_FORMAT, "torch": torch.__version__}
    return hashlib.sha256(json.dumps(note, sort_keys=True).encode()).hexdigest()[:24]


def _cached_graph(tracker, module: torch.nn.Module, side: int, key: str, refresh: bool) -> tuple[bytes, Path]:
    """The cached export for ``key`` (made now when missing, changed or ``refresh``), checked by sha256."""
    folder = onnx_cache_dir()
    path, note_path = folder / f"{key}.onnx", folder / f"{key}.json"
    if not refresh and path.is_file() and note_path.is_file():
        data = path.read_bytes()
        try:
            note = json.loads(note_path.read_text())
        except (OSError, ValueError):
            note = {}
        if isinstance(note, dict) and note.get("sha256") == hashlib.sha256(data).hexdigest():
            return data, path
    buffer = io.BytesIO()
    _write_graph(module, side, buffer)
    data = buffer.getvalue()
    try:  # the graph, then its note: a note always describes a complete file
        atomic_write(path, lambda f: f.write(data))
        atomic_write_json(note_path, {"sha256": hashlib.sha256(data).hexdigest(), "tracker": type(tracker).__name__,
                                      "features": tracker.feature_config(),
                                      "backbone_sha256": tracker.backbone_sha256(), "crop": [3, side, side],
                                      "opset": OPSET, "format": EXPORT_FORMAT, "torch": torch.__version__})
    except OSError as exc:
        warnings.warn(f"metatrack: the ONNX cache {folder} is not writable ({exc}); the backbone is exported "
                      "again by every process", stacklevel=3)
    return data, path


def onnx_features(tracker, onnx_model: str | Path | None = None) -> OnnxFeatures:
    """``tracker``'s backbone as an :class:`OnnxFeatures`: from ``onnx_model`` (a file the user
    exported with ``metatrack export --onnx``) or from the cache (exported there on first use).

    onnxruntime's features of two random crops are compared with torch's first; a file that
    differs (another backbone, crop size or model) is an error naming it, a cached one is
    exported again.
    """
    ort = _onnxruntime("runtime onnx")
    module, side = tracker.feature_extractor()
    module = module.cpu().float().eval()
    threads = torch.get_num_threads()
    checked_for = json.dumps([tracker.feature_config(), tracker.backbone_sha256()], sort_keys=True)
    key = None if onnx_model is not None else _cache_key(tracker)
    for attempt in range(2):
        if onnx_model is not None:
            path = Path(onnx_model)
            if not path.is_file():
                raise ConfigError(f"ONNX model {path}: no such file (write one with `metatrack export --onnx "
                                  f"{path} --tracker NAME`)")
            data, source = path.read_bytes(), str(path)
        elif key is not None:
            data, cached = _cached_graph(tracker, module, side, key, refresh=attempt > 0)
            source = str(cached)
        else:
            buffer = io.BytesIO()
            _write_graph(module, side, buffer)
            data, source = buffer.getvalue(), "an export in memory"
        sha = hashlib.sha256(data).hexdigest()
        if (sha, threads, checked_for) in _SESSIONS:  # checked against these features in this process already
            return OnnxFeatures(_SESSIONS[(sha, threads, checked_for)], sha, source)
        session, error, why = None, float("inf"), ""
        try:
            session = _session(ort, data, threads)
            shape = list(session.get_inputs()[0].shape)
            if len(shape) != 4 or shape[2:] != [side, side]:
                why = f"it takes crops of shape {shape}, this tracker's are [N, 3, {side}, {side}]"
            elif isinstance(shape[0], int):
                why = f"it takes a fixed batch of {shape[0]} crop(s); export it again with this version"
            else:
                error, _ = _error(session, module, side, seed=1)
                why = f"its features differ from this tracker's (relative error {error:.2e} > {TOLERANCE:g})"
        except Exception as exc:  # onnxruntime's own errors: not an ONNX graph, another input
            why = f"onnxruntime cannot run it on this tracker's crops ({' '.join(str(exc).split())})"
        if error <= TOLERANCE:
            _SESSIONS[(sha, threads, checked_for)] = session
            return OnnxFeatures(session, sha, source)
        if onnx_model is not None:
            raise ConfigError(f"ONNX model {source}: {why}; was it exported for another tracker, model or crop "
                              "size? `metatrack export --onnx FILE --tracker NAME` writes one for NAME")
    raise ConfigError(f"{source}: {why}, even after exporting it again")
