"""MetaCREST (a meta-learned correlation filter tracker) and the CREST-N baselines.

Modules: ``config`` (every setting and its source), ``features`` (frozen backbone on a square
window), ``window`` (pixels <-> cells), ``head`` (1x1 reduction + correlation filter, warping),
``loss`` (labels and the paper's eq. 6), ``pca`` (CREST's reduction), ``first_frame`` (the
meta-learned first step), ``tracker`` (the trackers) and ``task`` (meta-training). The family's
registration: ``metacrest`` (the first filter in closed form on the meta-learned reduction),
``metacrest-01`` and ``metacrest-03`` (the paper's: one or three meta-learned alpha-steps),
``metacrest-online``, ``crest-01`` ... ``crest-20``, ``crest-converged``, the full CREST (``crest``,
module ``residual``: residual modules and CREST's schedule), its ablation ``crest-base`` and the
meta-trainable model ``metacrest``.
"""

from functools import partial
from typing import Any

import torch

from ..adaptive import register_counts
from ..adaptive.tracker import shipped_model
from ..base import register_tracker, register_trainable
from .config import CREST_SCHEDULE, METACREST_SETTINGS, CRESTConfig, settings_under
from .residual import CREST, crest_base
from .task import CRESTTask, build_task
from .tracker import CRESTN, CRESTTracker, MetaCREST

#: CREST's own first-frame rule: train until the loss reaches this (the paper's "CREST-65")
CREST_CONVERGED_LOSS = 0.02


def metacrest(device: str | torch.device = "cpu", config: CRESTConfig | dict | None = None,
              **overrides: Any) -> MetaCREST:
    """The default MetaCREST: the shipped model (configs/metacrest.yaml: its first filter in closed form
    on the meta-learned reduction) with :data:`METACREST_SETTINGS` under the caller's settings."""
    return MetaCREST(device=device, config=settings_under(METACREST_SETTINGS, config), **overrides)


register_tracker("metacrest", metacrest)
#: the paper's MetaCREST: one meta-learned alpha-step from theta0 (configs/metacrest_step.yaml's model),
#: as metacrest-01 and metacrest-03 (init_steps), on the field defaults' online rate
register_counts("metacrest", partial(MetaCREST, model=shipped_model("metacrest_step")), "init_steps", (1, 3))
#: MetaCREST meta-trained through its later update too, and taking the learned step there
#: (configs/metacrest_online.yaml; ours, beyond the paper). Its search stays on the last position: with
#: MetaCREST's velocity prediction (velocity_damping 0.8) it lost bikes-pannier (real:validation, keyframe
#: IoU 0.83 to 0.14); with the scale filter it lost 0.034 AUC on real:validation (docs/results.md)
register_tracker("metacrest-online", partial(MetaCREST, init_steps=1, model=shipped_model("metacrest_online"),
                                             online_update="meta", velocity_damping=0.0, scale_filter=False))
register_counts("crest", CRESTN, "init_iterations", (1, 3, 5, 10, 20))
register_tracker("crest-converged", partial(CRESTN, init_until_loss=CREST_CONVERGED_LOSS))
# CREST (Song et al., ICCV 2017): base layer + spatial and temporal residual modules, CREST's schedule
register_tracker("crest", CREST)
# CREST-Base, CREST's ablation: the same tracker without its residual modules, i.e. CREST-N's first
# frame trained to convergence (crest-converged) on CREST's own online schedule (the one difference)
register_tracker("crest-base", crest_base)
register_trainable("metacrest", build_task)

__all__ = ["CREST", "CREST_SCHEDULE", "METACREST_SETTINGS", "CRESTConfig", "CRESTN", "CRESTTask", "CRESTTracker",
           "MetaCREST", "build_task", "metacrest"]
