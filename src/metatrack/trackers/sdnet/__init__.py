"""MetaSDNet and SDNet-N: MDNet-style tracking by detection with a meta-learned first frame.

``build_task`` and ``export_model`` are what ``metatrack train`` needs; importing the package
registers the trackers ``metasdnet``, ``metasdnet-01/03/05`` and ``sdnet-01/03/05/10/15/30``.
"""

from .config import SDNetConfig
from .task import SDNetTask, build_task, export_model
from .tracker import MetaSDNet, SDNet

__all__ = ["MetaSDNet", "SDNet", "SDNetConfig", "SDNetTask", "build_task", "export_model"]
