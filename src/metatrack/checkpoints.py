"""Training checkpoints on disk: read one safely, and keep the training log in step with it.

Both offline stages (meta-training and MDNet's pre-training) resume from their last checkpoint; the
log lines of iterations after it are dropped, since those iterations run again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .io import atomic_write_text


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at ``path`` (tensors and plain values only: ``weights_only``), on the CPU."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot be loaded ({exc})") from None


def truncate_log(log_path: Path, iteration: int) -> None:
    """Drop the JSON-lines log's lines of iterations from ``iteration`` on, and any line cut by a kill
    with everything after it."""
    if not log_path.exists():
        return
    keep = []
    for line in log_path.read_text().splitlines():
        try:
            if json.loads(line)["iteration"] < iteration:
                keep.append(line)
        except (json.JSONDecodeError, KeyError):
            break
    atomic_write_text(log_path, "".join(k + "\n" for k in keep))
