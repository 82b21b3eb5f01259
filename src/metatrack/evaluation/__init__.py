"""Evaluation: run trackers (results on disk), score them (OPE and VOT protocols), tabulate.

``run_tracker`` writes ``results/<dataset>/<tracker>/<seq>.txt``; ``score_results`` reads every
tracker folder back into a JSON-ready dict; ``format_table`` prints it. The metric definitions are
the community toolkits' (got10k, vot-toolkit), see docs/evaluation.md and the ``otb``/``vot`` modules.
"""

from .otb import precision_curve, sequence_curves, success_curve
from .runner import RunError, run_tracker
from .scoring import score_results, write_scores
from .tables import format_table
from .vot import accuracy, auto_eao_range, eao, eao_curve, robustness

__all__ = [
    "RunError",
    "accuracy",
    "auto_eao_range",
    "eao",
    "eao_curve",
    "format_table",
    "precision_curve",
    "robustness",
    "run_tracker",
    "score_results",
    "sequence_curves",
    "success_curve",
    "write_scores",
]
