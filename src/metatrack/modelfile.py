"""Model files: meta-learned weights (theta0 and alpha) in safetensors, with what they need to load.

A model file is one ``.safetensors`` file whose header metadata says which model it is, its format
version, the tracker config it was trained with, and the sha256 of the backbone weights it expects.
Every meta-trained model uses one key scheme (format 2): ``theta0.<head parameter>`` for the
starting point and ``alpha.<head parameter>`` for the step sizes of the adapted parameters.
Loading a file of another model, of another format version, or one expecting other backbone weights
is a :class:`CheckpointError`, never a silent mismatch. Safetensors holds tensors only: no code can
ride along. Files of format 1 (MetaCREST's theta0 under bare head names) are converted by
:func:`upgrade_model` (``metatrack upgrade-model FILE``); the tensors are not changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .io import atomic_write
from .weights import sha256_file

MODEL_FORMAT = 2
#: key prefixes of the one layout of meta-trained models
THETA0, ALPHA = "theta0.", "alpha."
#: the learned step sizes of the tracker's online updates, where meta-training went through them
ONLINE = "online."


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
    tensors, meta = _read(p)
    found = meta.get("metatrack_model")
    if found != model:
        raise CheckpointError(f"{p}: a model file of {found!r}, not of {model!r}")
    if meta.get("format") == "1":
        raise CheckpointError(f"{p}: model format 1, written by an older metatrack; convert it with "
                              f"`metatrack upgrade-model {p}` (the weights stay as they are)")
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


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and raw header metadata of a safetensors file."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    raw = path.read_bytes()
    try:
        tensors = load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        meta = json.loads(raw[8 : 8 + header_len]).get("__metadata__", {}) or {}
    except (SafetensorError, ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a safetensors model file ({exc})") from None
    return tensors, meta


def save_meta_model(
    path: str | Path,
    model: str,
    theta0: dict[str, torch.Tensor],
    alpha: dict[str, torch.Tensor],
    config: dict[str, Any],
    backbone_sha256: str | None,
    extra: dict[str, Any] | None = None,
    online: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a meta-trained head: ``theta0.*`` and ``alpha.*`` tensors (and ``online.*`` where the
    online updates' step sizes were learned), the config, the backbone."""
    tensors = {f"{THETA0}{n}": t for n, t in theta0.items()}
    tensors.update({f"{ALPHA}{n}": t for n, t in alpha.items()})
    tensors.update({f"{ONLINE}{n}": t for n, t in (online or {}).items()})
    return save_model(path, model, tensors, config, backbone_sha256, extra)


def meta_parameters(
    tensors: dict[str, torch.Tensor], head_state: dict[str, torch.Tensor], path: str | Path
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(theta0, alpha) of a loaded model file, checked against the head's parameter names and shapes.

    theta0 must name every head parameter; alpha a non-empty subset (the adapted ones).
    """
    out = []
    for prefix, exact in ((THETA0, True), (ALPHA, False)):
        got = {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
        missing = sorted(set(head_state) - set(got)) if exact else []
        unknown = sorted(set(got) - set(head_state))
        wrong = sorted(k for k in set(got) & set(head_state) if tuple(got[k].shape) != tuple(head_state[k].shape))
        if missing or unknown or wrong or not got:
            raise CheckpointError(
                f"{path}: {prefix.rstrip('.')} tensors do not fit the head "
                f"(missing {missing}, unknown {unknown}, wrong shape {wrong})"
            )
        out.append(got)
    return out[0], out[1]


def online_parameters(
    tensors: dict[str, torch.Tensor], alpha: dict[str, torch.Tensor], path: str | Path
) -> dict[str, torch.Tensor]:
    """The learned online step sizes of a loaded model file (empty when it has none): the same names
    and shapes as its ``alpha``."""
    got = {k[len(ONLINE):]: v.float() for k, v in tensors.items() if k.startswith(ONLINE)}
    if got and (set(got) != set(alpha) or any(tuple(got[k].shape) != tuple(alpha[k].shape) for k in got)):
        raise CheckpointError(f"{path}: online step sizes {sorted(got)} do not match its alpha {sorted(alpha)}")
    return got


def pretrained_parameters(
    tensors: dict[str, torch.Tensor], shared_state: dict[str, torch.Tensor], path: str | Path
) -> dict[str, torch.Tensor]:
    """theta0 of a pre-trained model file (MDNet's shared layers): exactly the parameters of
    ``shared_state`` with their shapes, and no ``alpha.*`` (a pre-trained file learns no step)."""
    got = {k[len(THETA0):]: v.float() for k, v in tensors.items() if k.startswith(THETA0)}
    missing = sorted(set(shared_state) - set(got))
    unknown = sorted(set(got) - set(shared_state))
    wrong = sorted(k for k in set(got) & set(shared_state) if tuple(got[k].shape) != tuple(shared_state[k].shape))
    other = sorted(k for k in tensors if not k.startswith(THETA0))
    if missing or unknown or wrong or other:
        raise CheckpointError(
            f"{path}: tensors do not fit the pre-trained layers (missing {missing}, unknown {unknown}, "
            f"wrong shape {wrong}, not theta0.* {other})"
        )
    return got


def upgrade_model(src: str | Path, dst: str | Path | None = None) -> Path:
    """Rewrite a format-1 model file in the current format (in place when ``dst`` is None).

    Format 1 stored MetaCREST's theta0 under the bare head names (``filter``, ``reduce.weight``);
    they become ``theta0.*``. Tensors and config are copied unchanged. A file already in the
    current format is copied as it is.
    """
    p = Path(src)
    if not p.is_file():
        raise CheckpointError(f"{p}: model file is missing")
    tensors, meta = _read(p)
    if "metatrack_model" not in meta:
        raise CheckpointError(f"{p}: not a metatrack model file (no metatrack_model in its metadata)")
    if meta.get("format") not in ("1", str(MODEL_FORMAT)):
        raise CheckpointError(f"{p}: model format {meta.get('format')!r}; this metatrack upgrades format 1")
    if meta.get("format") == "1":
        tensors = {k if k.startswith((THETA0, ALPHA)) else THETA0 + k: v for k, v in tensors.items()}
    return save_model(
        dst or p, meta["metatrack_model"], tensors, json.loads(meta.get("config") or "{}"),
        meta.get("backbone_sha256") or None, json.loads(meta.get("extra") or "{}"),
    )
