"""The non-RL selectors compared with RLPS (issue 3 §3), each ``(dataset, *, seed=0, ...) -> Selection``.

All of them accept the classifier options ``config``, ``device``, ``cache_dir`` and ``classifier_seed``
(``keep_all`` and ``oracle`` ignore them), so a benchmark loop can pass the same keywords to each.

* ``keep_all``: no selection, the paper's "DCNN".
* ``feng``: Feng et al. 2018's REINFORCE-trained logistic selector, the paper's "DCNN+Sigmoid".
* ``predicted_neq_given``, ``small_loss``, ``cleanlab``: label-noise filters on out-of-fold predictions
  (Northcutt et al. 2021; Han et al. 2018).
* ``oracle``: removes exactly the ground-truth noisy images; the ceiling, the only user of ground truth.
* ``ferplus_relabel``: keeps every image but trains on the FER+ majority labels; a ceiling that uses the crowd.

Their names live in one table, the agent registry (:mod:`agents.experiment.registry`); :data:`BASELINES`
mirrors its non-RL entries.
"""

from __future__ import annotations

from collections.abc import Callable

from agents.baselines import early as early  # FERSequence-v0 references: early.EARLY_BASELINES
from agents.baselines.feng import FengSelector, feng
from agents.baselines.filters import (
    cleanlab,
    ferplus_relabel,
    keep_all,
    oracle,
    out_of_fold_probabilities,
    predicted_neq_given,
    small_loss,
)
from agents.common.selection import Selection

BASELINES: dict[str, Callable[..., Selection]] = {}
"""Name → selector function of every non-RL agent of the agent registry, in registration order. The registry
fills it as agents are registered (the ``agents`` package loads the registry), so this package never imports
the experiment layer."""

__all__ = [
    "BASELINES",
    "FengSelector",
    "cleanlab",
    "feng",
    "ferplus_relabel",
    "keep_all",
    "oracle",
    "out_of_fold_probabilities",
    "predicted_neq_given",
    "small_loss",
]
