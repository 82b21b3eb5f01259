"""The one way an adaptive tracker's settings are defined, read, and fixed by a model file.

A family's settings are one dataclass deriving from :class:`TrackerConfig`; its field defaults are
the single source of default values (each commented with its provenance: the paper, the official
code, or ours). A YAML ``tracker:`` section, keyword overrides and a model file all go through the
same parser: unknown keys and bad values are a :class:`ConfigError` naming the key.

A meta-trained model fixes some fields (``MODEL_FIELDS``: what shapes the features and the learned
step); :meth:`TrackerConfig.for_model` takes those from the model file and refuses an override that
would change them. ``LEGACY_MODEL_FIELDS`` gives the value a field had in files written before it
existed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ...errors import CheckpointError, ConfigError
from ...sections import known_keys_only

C = TypeVar("C", bound="TrackerConfig")


def _coerce_scalar(name: str, ann: str, value: Any) -> Any:
    """A number or a switch as its field's type: a whole float for an ``int`` field (``2.0``), a number
    or a numeric string for a ``float`` one (YAML reads ``1e-4`` as a string); anything else of the
    wrong kind is a ConfigError naming the field, not a TypeError deep in the tracker."""
    kind = ann.removesuffix("|None")
    if kind not in ("int", "float", "bool"):
        return value
    if kind == "bool":
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        raise ConfigError(f"tracker.{name}: expected true or false, got {value!r}")
    if isinstance(value, bool):
        raise ConfigError(f"tracker.{name}: expected a number, got {value!r}")
    if kind == "int":
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return int(value)
        raise ConfigError(f"tracker.{name}: expected a whole number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"tracker.{name}: expected a number, got {value!r}") from None


#: what a field of each annotation takes, for the error when YAML gives it ``null``
_EXPECTED = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "a name"}


def _coerce(name: str, annotation: str, value: Any) -> Any:
    """A YAML value (lists for tuples) as the field's annotated type: ``tuple[float, float]``,
    ``tuple[float, ...]``, ``tuple[int, int] | None``, and ``int``, ``float`` and ``bool`` fields
    (:func:`_coerce_scalar`); other fields pass through. ``null`` only where the annotation allows
    ``None``: elsewhere it would be taken as off (a switch) or fail deep in the tracker."""
    ann = annotation.replace(" ", "")
    if value is None:
        if ann.endswith("|None"):
            return None
        raise ConfigError(f"tracker.{name}: expected {_EXPECTED.get(ann, 'a list of numbers')}, got null "
                          "(this setting cannot be left empty)")
    if not ann.startswith("tuple["):
        return _coerce_scalar(name, ann, value)
    if isinstance(value, str):
        return value
    inner = ann[len("tuple["):ann.index("]")].split(",")
    if not isinstance(value, list | tuple):
        raise ConfigError(f"tracker.{name}: expected a list of {len(inner)} numbers, got {value!r}")
    if inner[-1] != "..." and len(value) != len(inner):
        raise ConfigError(f"tracker.{name}: expected {len(inner)} numbers, got {value!r}")
    kind = int if inner[0] == "int" else float
    try:
        return tuple(kind(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"tracker.{name}: expected numbers, got {value!r}") from None


@dataclass
class TrackerConfig:
    """Base of every adaptive tracker's settings dataclass."""

    #: fields a model file fixes (the features' definition and the learned step's form)
    MODEL_FIELDS: ClassVar[tuple[str, ...]] = ()
    #: for files written before a model field existed: the value they were trained with
    LEGACY_MODEL_FIELDS: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, _coerce(f.name, str(f.type), getattr(self, f.name)))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first setting out of range (families override)."""

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any] | None) -> C:
        """Build from a YAML ``tracker:`` mapping; an unknown key or a bad value is a ConfigError."""
        d = known_keys_only(cls, d, "tracker")
        try:
            return cls(**d)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"tracker: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists), as YAML and model files store it."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (validated)."""
        return type(self).from_dict({**self.to_dict(), **changes})

    @classmethod
    def build(cls: type[C], config: C | dict | None = None, overrides: dict[str, Any] | None = None) -> C:
        """``config`` (default: the field defaults) with keyword ``overrides`` applied."""
        if config is None:
            base = cls()
        elif isinstance(config, cls):
            base = config
        elif isinstance(config, dict):
            base = cls.from_dict(config)
        else:
            raise ConfigError(f"config must be a {cls.__name__} or a dict, got {type(config).__name__}")
        return base.replace(**overrides) if overrides else base

    @classmethod
    def for_model(cls: type[C], stored: dict[str, Any], base: C, overrides: dict[str, Any], path: Path) -> C:
        """The settings for a model file: its ``MODEL_FIELDS`` from ``stored`` (the config it was
        trained with), everything else from ``base`` and ``overrides``.

        Overriding a model field with another value is a ConfigError: the weights would not fit the
        features, or the first step would not be the one that was learned.
        """
        fixed = {k: stored[k] for k in cls.MODEL_FIELDS if k in stored}
        fixed.update({k: stored.get(k, legacy) for k, legacy in cls.LEGACY_MODEL_FIELDS.items()})
        clash = [k for k in fixed if k in overrides and _plain(overrides[k]) != _plain(fixed[k])]
        if clash:
            raise ConfigError(
                f"{path}: the model was trained with {', '.join(f'{k}={fixed[k]!r}' for k in clash)}; "
                "these cannot be changed for this model"
            )
        try:
            return base.replace(**{**fixed, **overrides})
        except ConfigError as exc:
            if overrides:
                base.replace(**overrides)  # a bad setting of the caller's is named as theirs, not the file's
            raise CheckpointError(f"{path}: its stored config does not load ({exc})") from None


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value
