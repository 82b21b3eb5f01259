"""MetaCREST (a meta-learned correlation filter tracker) and the CREST-N baselines.

Modules: ``config`` (every setting and its source), ``features`` (frozen backbone on a square
window), ``window`` (pixels <-> cells), ``head`` (1x1 reduction + correlation filter, warping),
``loss`` (labels and the paper's eq. 6), ``pca`` (CREST's reduction), ``tracker`` (the trackers,
registered as ``metacrest``, ``metacrest-01``, ``metacrest-03``, ``crest-01`` ... ``crest-20``,
``crest-converged``) and ``task`` (meta-training: ``build_task``, ``export_model``).
"""

from .config import CRESTConfig
from .task import CRESTTask, build_task, export_model
from .tracker import CRESTN, DEFAULT_MODEL, CRESTTracker, MetaCREST

__all__ = ["CRESTConfig", "CRESTN", "CRESTTask", "CRESTTracker", "DEFAULT_MODEL", "MetaCREST", "build_task",
           "export_model"]
