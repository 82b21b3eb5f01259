"""MetaSDNet and SDNet-N: MDNet-style tracking by detection with a meta-learned first frame.

The family's registration: the trackers ``metasdnet``, ``metasdnet-01/03/05``, ``metasdnet-features``,
``metasdnet-online``, ``sdnet-01/03/05/10/15/30`` and ``mdnet-01/03/05/10/15/30`` (the paper's pyMDNet-N), the
meta-trainable model ``metasdnet`` and the pre-trained model ``mdnet`` (``metatrack train``).
"""

from functools import partial

from ..adaptive import register_counts
from ..adaptive.tracker import shipped_model
from ..base import register_tracker, register_trainable
from .config import SDNetConfig
from .mdnet import MDNet
from .pretrain import build_pretrain_task
from .task import SDNetTask, build_task
from .tracker import MetaSDNet, SDNet

register_tracker("metasdnet", partial(MetaSDNet, init_steps=1))
#: MetaSDNet with its backbone's last block meta-trained too (configs/metasdnet_features.yaml)
register_tracker("metasdnet-features", partial(MetaSDNet, init_steps=1, model=shipped_model("metasdnet_features")))
#: MetaSDNet whose later updates are the step meta-learned through them (src/metatrack/configs/metasdnet_online.yaml)
register_tracker("metasdnet-online", partial(MetaSDNet, init_steps=1, online_update="meta",
                                             model=shipped_model("metasdnet_online")))
register_counts("metasdnet", MetaSDNet, "init_steps", (1, 3, 5))
register_counts("sdnet", SDNet, "iterations", (1, 3, 5, 10, 15, 30))
register_counts("mdnet", MDNet, "iterations", (1, 3, 5, 10, 15, 30))
register_trainable("metasdnet", build_task)
register_trainable("mdnet", build_pretrain_task)

__all__ = ["MDNet", "MetaSDNet", "SDNet", "SDNetConfig", "SDNetTask", "build_task"]
