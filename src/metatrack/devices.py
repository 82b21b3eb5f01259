"""The ``--device`` of every command, checked once: a device this machine lacks is one clear error.

``cpu`` is accepted without importing torch; anything else is parsed by torch and must be present:
``cuda`` and ``cuda:N`` need a CUDA GPU (and N below their count), ``mps`` Apple's GPU, ``xpu`` an
Intel GPU. The error names the argument and the devices that are here.
"""

from __future__ import annotations

from .errors import ConfigError


def available_devices() -> list[str]:
    """The devices torch can use on this machine: ``cpu``, then ``cuda``, ``cuda:0`` ... and others."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        found += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        found += ["xpu"] + [f"xpu:{i}" for i in range(xpu.device_count())]
    return found


def check_device(text: str, option: str = "--device") -> str:
    """``text`` if it names a device of this machine; a ConfigError naming ``option`` otherwise."""
    text = str(text).strip()
    if text == "cpu":
        return text
    import torch

    here = available_devices()
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{option} {text}: unknown device; devices here: {', '.join(here)}") from None
    if text in here or (device.type == "cpu" and device.index in (None, 0)):
        return text
    if device.type == "cuda" and "cuda" not in here:
        why = "no CUDA GPU on this machine" + ("" if torch.version.cuda else " (this torch is built without CUDA)")
    elif device.type in ("cuda", "xpu") and device.type in here:
        count = sum(1 for d in here if d.startswith(f"{device.type}:"))
        why = f"this machine has {count} {device.type.upper()} device(s), numbered from 0"
    elif device.type in ("mps", "xpu"):
        why = f"no {device.type} device on this machine"
    else:
        why = f"metatrack does not run on {device.type} devices"
    raise ConfigError(f"{option} {text}: {why}; devices here: {', '.join(here)}")
