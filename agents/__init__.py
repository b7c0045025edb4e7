"""Agents for FERSelect-v0 on Stable-Baselines3's API, the baselines they are compared with, and the
benchmark engine.

The package is importable as ``agents``, a generic top-level name: if another installed distribution also
provides a top-level ``agents`` module, whichever comes first on ``sys.path`` wins. Import from a checkout or
an environment where this package is the only ``agents``.
"""

from agents.baselines import BASELINES
from agents.feng import FengSelector, feng
from agents.filters import cleanlab, keep_all, oracle, out_of_fold_probabilities, predicted_neq_given, small_loss
from agents.reinforce import REINFORCE, SelectorPolicy
from agents.selection import Selection

__all__ = [
    "BASELINES",
    "REINFORCE",
    "FengSelector",
    "Selection",
    "SelectorPolicy",
    "cleanlab",
    "feng",
    "keep_all",
    "oracle",
    "out_of_fold_probabilities",
    "predicted_neq_given",
    "small_loss",
]
