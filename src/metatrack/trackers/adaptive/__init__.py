"""The template shared by every adaptive tracker family (see :mod:`.tracker`)."""

from .cache import FeatureCache
from .config import TrackerConfig
from .group import TrackerGroup
from .task import AdaptiveTask, meta_training_value
from .tracker import (
    AdaptiveTracker,
    CropRequest,
    CropSquare,
    FirstFrame,
    MetaModel,
    SharedCrop,
    read_meta_model,
    register_counts,
    shipped_config,
    shipped_model,
)

__all__ = ["AdaptiveTask", "AdaptiveTracker", "CropRequest", "CropSquare", "FeatureCache", "FirstFrame", "MetaModel",
           "TrackerConfig", "TrackerGroup", "meta_training_value", "read_meta_model", "register_counts",
           "SharedCrop", "shipped_config", "shipped_model"]
