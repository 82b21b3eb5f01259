"""Trackers and the registry that finds them by name."""

from .base import Tracker, available_trackers, create_tracker, register_tracker, resolve_factory

__all__ = ["Tracker", "available_trackers", "create_tracker", "register_tracker", "resolve_factory"]
