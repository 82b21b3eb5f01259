"""Trackers and the registries that find them (and the trainable models) by name."""

from .base import (
    Tracker,
    available_trackers,
    create_tracker,
    register_tracker,
    register_trainable,
    resolve_factory,
    resolve_trainable,
    trainable_models,
)

__all__ = ["Tracker", "available_trackers", "create_tracker", "register_tracker", "register_trainable",
           "resolve_factory", "resolve_trainable", "trainable_models"]
