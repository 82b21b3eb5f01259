"""The template shared by every adaptive tracker family (see :mod:`.tracker`)."""

from .cache import FeatureCache
from .config import TrackerConfig
from .task import AdaptiveTask, meta_training_value
from .tracker import (
    AdaptiveTracker,
    FirstFrame,
    MetaModel,
    read_meta_model,
    register_counts,
    shipped_config,
    shipped_model,
)

__all__ = ["AdaptiveTask", "AdaptiveTracker", "FeatureCache", "FirstFrame", "MetaModel", "TrackerConfig",
           "meta_training_value", "read_meta_model", "register_counts", "shipped_config", "shipped_model"]
