"""Config sections (a YAML mapping) turned into dataclasses: one check of the keys for every section."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from .errors import ConfigError


def known_keys_only(cls: type, mapping: dict[str, Any] | None, section: str) -> dict[str, Any]:
    """A copy of ``mapping`` whose keys are all fields of dataclass ``cls``; else a ConfigError
    naming the section, the unknown keys and the known ones (a typo is never silently ignored)."""
    d = dict(mapping or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"{section}: unknown keys {unknown}; known: {sorted(known)}")
    return d
