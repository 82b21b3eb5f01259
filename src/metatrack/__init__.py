"""metatrack: visual object tracking with meta-learned online adaptation."""

from .errors import CheckpointError, ConfigError, DataError, MetatrackError

__version__ = "0.1.0"

__all__ = ["CheckpointError", "ConfigError", "DataError", "MetatrackError", "__version__"]
