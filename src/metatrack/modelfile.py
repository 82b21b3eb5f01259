"""Model files: meta-learned weights (theta0 and alpha) in safetensors, with what they need to load.

A model file is one ``.safetensors`` file whose header metadata says which model it is, its format
version, the tracker config it was trained with, and the sha256 of the backbone weights it expects.
Loading a file of another model, of another format version, or one expecting other backbone weights
is a :class:`CheckpointError`, never a silent mismatch. Safetensors holds tensors only: no code can
ride along.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .io import atomic_write
from .weights import sha256_file

MODEL_FORMAT = 1


def save_model(
    path: str | Path,
    model: str,
    tensors: dict[str, torch.Tensor],
    config: dict[str, Any],
    backbone_sha256: str | None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``tensors`` and the metadata atomically as a safetensors file."""
    from safetensors.torch import save

    meta = {
        "metatrack_model": model,
        "format": str(MODEL_FORMAT),
        "config": json.dumps(config, sort_keys=True, default=str),
        "backbone_sha256": backbone_sha256 or "",
        "extra": json.dumps(extra or {}, sort_keys=True, default=str),
    }
    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=meta)
    return atomic_write(path, lambda f: f.write(data))


#: the checksum list beside shipped model files (``sha256sum *.safetensors > SHA256SUMS``)
SUMS_FILE = "SHA256SUMS"


def listed_sha256(path: str | Path) -> str | None:
    """The sha256 that the ``SHA256SUMS`` file beside ``path`` lists for it, or None (not listed)."""
    p = Path(path)
    sums = p.parent / SUMS_FILE
    if not sums.is_file():
        return None
    for number, line in enumerate(sums.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or len(parts[0]) != 64:
            raise CheckpointError(f"{sums}, line {number}: expected '<sha256>  <file name>', got {line!r}")
        if parts[1].lstrip("*") == p.name:
            return parts[0].lower()
    return None


def load_model(
    path: str | Path,
    model: str,
    backbone_sha256: str | None = None,
    sha256: str | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a model file written by :func:`save_model`, checking that it is the right one.

    ``sha256`` is checked first (by default the one listed in a ``SHA256SUMS`` file beside the
    model, as for the shipped models); then the model name, the format version and,
    when given, the backbone checksum. Returns (tensors, metadata with ``config`` and ``extra``
    decoded).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: model file is missing")
    listed = sha256 is None
    if listed:
        sha256 = listed_sha256(p)
    if sha256 is not None:
        got = sha256_file(p)
        if got != sha256:
            where = (f" (the sha256 listed in {p.parent / SUMS_FILE}; if you replaced the model on purpose, "
                     "list its new sha256 there)") if listed else ""
            raise CheckpointError(f"{p}: sha256 mismatch (expected {sha256}, found {got}){where}; refusing to load it")
    raw = p.read_bytes()
    try:
        tensors = load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        meta = json.loads(raw[8 : 8 + header_len]).get("__metadata__", {}) or {}
    except (SafetensorError, ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{p}: not a safetensors model file ({exc})") from None
    found = meta.get("metatrack_model")
    if found != model:
        raise CheckpointError(f"{p}: a model file of {found!r}, not of {model!r}")
    if meta.get("format") != str(MODEL_FORMAT):
        raise CheckpointError(f"{p}: model format {meta.get('format')!r}, this metatrack reads {MODEL_FORMAT}")
    check_backbone(p, meta, backbone_sha256)
    info = dict(meta)
    info["config"] = json.loads(meta.get("config") or "{}")
    info["extra"] = json.loads(meta.get("extra") or "{}")
    return tensors, info


def check_backbone(path: str | Path, info: dict[str, Any], backbone_sha256: str | None) -> None:
    """A CheckpointError when the model at ``path`` (metadata ``info``) was trained on other backbone
    weights than ``backbone_sha256`` (nothing to check when either is unknown).

    For a caller that learns the backbone only from the model's own config, after :func:`load_model`.
    """
    trained_on = info.get("backbone_sha256")
    if backbone_sha256 and trained_on and trained_on != backbone_sha256:
        raise CheckpointError(
            f"{path}: trained on backbone weights {trained_on[:12]}..., "
            f"but the backbone here is {backbone_sha256[:12]}..."
        )
