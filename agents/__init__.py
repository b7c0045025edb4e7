"""Agents for FERSelect-v0 on Stable-Baselines3's API, the baselines they are compared with, and the
experiment layer that runs them by name.

* ``agents.common``: the :class:`Selection` hand-off type, the history callback, keep-probability inference;
* ``agents.reinforce``: REINFORCE with the paper's selector policy;
* ``agents.baselines``: the non-RL selectors (``feng`` and the label-noise filters);
* ``agents.experiment``: the agent registry, the benchmark engine, checkpoints, the saved-selector format
  and the ``fer-select`` command. Only this layer imports the others' names together;
* :func:`agents.clean`: arrays in, keep mask out (``fer-select clean`` as a function).

The package is importable as ``agents``, a generic top-level name: if another installed distribution also
provides a top-level ``agents`` module, whichever comes first on ``sys.path`` wins. Import from a checkout or
an environment where this package is the only ``agents``.
"""

# The kept alias module ``agents.feng`` loads first, so that the function ``feng`` bound below stays
# ``agents.feng`` (importing the module later would rebind the name to the module).
import agents.feng as _feng_module  # noqa: F401
from agents.baselines import (
    BASELINES,
    FengSelector,
    cleanlab,
    feng,
    keep_all,
    oracle,
    out_of_fold_probabilities,
    predicted_neq_given,
    small_loss,
)
from agents.common.selection import Selection
from agents.experiment import registry as _registry  # noqa: F401  (registers the agents: fills BASELINES)
from agents.experiment.clean_arrays import CleanResult, clean
from agents.reinforce import REINFORCE, SelectorPolicy

__all__ = [
    "BASELINES",
    "REINFORCE",
    "CleanResult",
    "FengSelector",
    "Selection",
    "SelectorPolicy",
    "clean",
    "cleanlab",
    "feng",
    "keep_all",
    "oracle",
    "out_of_fold_probabilities",
    "predicted_neq_given",
    "small_loss",
]
