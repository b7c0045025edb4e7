"""Registry of the non-REINFORCE selectors compared with RLPS (issue 3 §3).

Every entry is called as ``BASELINES[name](dataset, seed=..., **options)`` and returns a
:class:`~agents.selection.Selection`. All of them accept the classifier options ``config``, ``device``,
``cache_dir`` and ``classifier_seed`` (``keep_all`` and ``oracle`` ignore them), so a benchmark loop can
pass the same keywords to each.

* ``keep_all``: no selection, the paper's "DCNN".
* ``feng``: Feng et al. 2018's REINFORCE-trained logistic selector, the paper's "DCNN+Sigmoid".
* ``predicted_neq_given``, ``small_loss``, ``cleanlab``: label-noise filters on out-of-fold predictions
  (Northcutt et al. 2021; Han et al. 2018).
* ``oracle``: removes exactly the ground-truth noisy images; the ceiling, the only user of ground truth.
"""

from __future__ import annotations

from collections.abc import Callable

from agents.feng import feng
from agents.filters import cleanlab, keep_all, oracle, predicted_neq_given, small_loss
from agents.selection import Selection

BASELINES: dict[str, Callable[..., Selection]] = {
    "keep_all": keep_all,
    "feng": feng,
    "predicted_neq_given": predicted_neq_given,
    "small_loss": small_loss,
    "cleanlab": cleanlab,
    "oracle": oracle,
}
"""Baseline name → selector function ``(dataset, *, seed=0, ...) -> Selection``."""

__all__ = ["BASELINES"]
