"""The tracker protocol and the registries that find trackers and trainable models by name.

The protocol is the one the field agrees on (got10k): ``init(image, box)`` on the first frame,
then ``update(image) -> box`` on every later frame. Images are HxWx3 uint8 RGB arrays, boxes
``x, y, w, h`` 0-based floats. After ``update`` a tracker exposes ``confidence`` (the calibrated
probability that its box overlaps the target; its ``raw_confidence`` in its own units) and
``present`` (whether it says the target is in view).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConfigError


class Tracker:
    """Base class of every tracker. Subclasses implement :meth:`init` and :meth:`update`."""

    #: the name under which the tracker was created (set by :func:`create_tracker`)
    name: str = "tracker"
    #: whether results vary from run to run (the VOT protocol then repeats runs)
    stochastic: bool = False
    #: the tracker's own score of its last :meth:`update` in its own units (NaN when it has none)
    raw_confidence: float = float("nan")

    @property
    def confidence(self) -> float:
        """The probability that the last box overlaps the target (IoU > 0), from the tracker's calibration
        (:mod:`metatrack.calibration`, fitted on the validation split); the raw score where the tracker
        has no calibration. Trackers set it with their raw score: ``self.confidence = score``."""
        cal = self._calibration()
        return self.raw_confidence if cal is None else cal.probability(self.raw_confidence)

    @confidence.setter
    def confidence(self, value: float) -> None:
        self.raw_confidence = float(value)

    @property
    def present(self) -> bool:
        """Whether the tracker says the target is in view: calibrated confidence at or above the threshold
        chosen on the validation split; always True for a tracker without calibration or a confidence."""
        cal = self._calibration()
        return True if cal is None else cal.present(self.raw_confidence)

    def _calibration(self):
        """The calibration of this tracker's registered name (:func:`metatrack.calibration.calibration_for`)."""
        from ..calibration import calibration_for

        return calibration_for(self.name)

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        raise NotImplementedError

    def update(self, image: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def seed(self, seed: int) -> None:
        """Seed the tracker's own random choices (called before ``init`` on every run)."""


TrackerFactory = Callable[..., Tracker]
#: ``build_task(tracker_config, meta_training=, sequences=, device=)`` -> a MetaTask (metatrack.training)
TaskBuilder = Callable[..., Any]

_REGISTRY: dict[str, TrackerFactory] = {}
_TRAINABLE: dict[str, TaskBuilder] = {}
_BUILTINS_LOADED = False


def register_tracker(name: str, factory: TrackerFactory | None = None, *, replace: bool = False):
    """Register ``factory`` (a class or a function returning a :class:`Tracker`) under ``name``.

    Usable as a decorator: ``@register_tracker("mine")`` above a class. A user's own tracker goes
    through ``run``, ``score``, ``report`` and ``bench`` after this one line.
    """

    def add(f: TrackerFactory) -> TrackerFactory:
        if name in _REGISTRY and not replace and _REGISTRY[name] is not f:
            raise ConfigError(f"a tracker named {name!r} is already registered")
        _REGISTRY[name] = f
        return f

    return add(factory) if factory is not None else add


def register_trainable(model: str, build_task: TaskBuilder) -> TaskBuilder:
    """Register the meta-training task builder of ``model`` (the ``model:`` key of a training config).

    ``build_task(tracker_config, meta_training=..., sequences=..., device=...)`` returns the
    :class:`metatrack.training.MetaTask`; :func:`metatrack.training.train_from_config` calls it.
    """
    if model in _TRAINABLE and _TRAINABLE[model] is not build_task:
        raise ConfigError(f"a trainable model named {model!r} is already registered")
    _TRAINABLE[model] = build_task
    return build_task


def trainable_models() -> list[str]:
    """Names of every model that ``metatrack train`` can meta-train, sorted."""
    _load_builtins()
    return sorted(_TRAINABLE)


def resolve_trainable(model: str) -> TaskBuilder:
    """The task builder registered for ``model``; a ConfigError naming the known ones otherwise."""
    if model not in _TRAINABLE:
        _load_builtins()
    if model not in _TRAINABLE:
        raise ConfigError(f"model {model!r} cannot be meta-trained; known: {', '.join(trainable_models())}")
    return _TRAINABLE[model]


def _load_builtins(everything: bool = True) -> None:
    """Register the project's trackers: the light OpenCV peers first, the torch ones on demand, then
    installed plugins (entry point group ``metatrack.trackers``)."""
    from . import builtin

    builtin.load_light()
    if not everything:
        return
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    builtin.load_heavy()
    _load_entry_points()


def _load_entry_points() -> None:
    """Register installed plugins; one that fails to load is reported by name and error and skipped."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="metatrack.trackers"):
        if ep.name in _REGISTRY:
            continue
        try:
            _REGISTRY[ep.name] = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the others down
            warnings.warn(f"metatrack: plugin tracker {ep.name!r} ({ep.value}) could not be loaded "
                          f"({type(exc).__name__}: {exc}); the other trackers are available", stacklevel=2)


def available_trackers() -> list[str]:
    """Names of every registered tracker, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def resolve_factory(name: str) -> TrackerFactory:
    """The factory registered as ``name``, or ``module:attr`` imported from the user's code."""
    _load_builtins(everything=False)
    if name not in _REGISTRY:
        _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"--tracker {name!r}: cannot import it ({exc})") from None
        return obj
    known = ", ".join(available_trackers())
    raise ConfigError(f"unknown tracker {name!r}; known trackers: {known} (or module:Class)")


#: where a tracker's backbone can run (``runtime=`` of :func:`create_tracker`)
RUNTIMES = ("torch", "onnx")


def create_tracker(name: str, runtime: str = "torch", onnx_model: str | None = None, **kwargs: Any) -> Tracker:
    """Build the tracker registered as ``name`` (other keyword arguments go to its factory).

    ``runtime="onnx"`` runs an adaptive tracker's frozen backbone through onnxruntime on the CPU
    (``onnx_model``: an exported file to use instead of the cached export).
    """
    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
    tracker = resolve_factory(name)(**kwargs)
    if not hasattr(tracker, "init") or not hasattr(tracker, "update"):
        raise ConfigError(f"tracker {name!r} has no init/update methods")
    if runtime != "torch" or onnx_model is not None:
        if not hasattr(tracker, "use_runtime"):
            raise ConfigError(f"runtime {runtime!r}: tracker {name!r} has no backbone to run elsewhere (the "
                              "adaptive trackers have: metasdnet, metacrest, sdnet-N, crest-N)")
        tracker.use_runtime(runtime, onnx_model)
    try:
        tracker.name = name
    except AttributeError:  # pragma: no cover
        pass
    return tracker
