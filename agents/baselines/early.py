"""Non-RL references for FERSequence-v0: rules over a frozen classifier's per-frame posteriors.

Each rule reads ``posteriors`` (float N×T×K, ``p[i, t]`` the distribution over K classes after frame t) and
returns ``(t_commit, predictions)``, two int arrays (N,) in the convention of
:mod:`fer_select_env.envs.sequence.metrics` (commit on frame ``t_commit`` to class ``predictions``). Every rule
here decides by the last frame at the latest, to the argmax there, so none returns the no-commit ``-1``.

* :func:`last_frame`: the whole sequence, argmax at ``T - 1`` (what a policy should match as λ → 0).
* :func:`threshold`: ml_edm's ``ProbabilityThreshold``; :func:`threshold_sweep` runs it over ml_edm's grid of
  41 thresholds in ``[1/K, 1]`` (:func:`threshold_grid`) and gives the Pareto front a learned policy should
  lie on or above.
* :func:`oracle`: reads the labels; an upper reference, not a baseline a user can deploy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from fer_select_env.core.checks import check_int_at_least, check_integer_array, check_rate
from fer_select_env.envs.sequence.metrics import DEFAULT_ALPHAS, early_metrics, pareto_front

THRESHOLD_GRID_SIZE = 41
"""Thresholds in ml_edm's grid (``np.linspace(1/K, 1, 41)``, ``trigger/_proba_threshold.py``)."""

_SUM_ATOL = 1e-3  # a float32 softmax sums to 1 within ~1e-6; more is not a distribution


def _check_posteriors(posteriors: object) -> np.ndarray:
    p = np.asarray(posteriors, dtype=np.float64)
    if p.ndim != 3 or p.shape[1] < 1 or p.shape[2] < 2:
        raise ValueError(f"posteriors: must be N×T×K with T >= 1 and K >= 2, got shape {p.shape}")
    if not np.isfinite(p).all() or p.min(initial=0.0) < 0.0 or p.max(initial=0.0) > 1.0:
        raise ValueError("posteriors: entries must be finite probabilities in [0, 1]")
    sums = p.sum(axis=2)
    off = np.abs(sums - 1.0)
    if off.size and off.max() > _SUM_ATOL:
        i, t = np.unravel_index(int(np.argmax(off)), off.shape)
        raise ValueError(f"posteriors: p[{i}, {t}] sums to {sums[i, t]:.6g}, not 1 (not a distribution)")
    return p


def _check_labels(labels: object, num_sequences: int, num_classes: int) -> np.ndarray:
    y = check_integer_array("labels", labels)
    if y.shape != (num_sequences,):
        raise ValueError(f"labels: must have shape ({num_sequences},), one per sequence, got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels: must be classes in [0, {num_classes - 1}]")
    return y


def _commit(p: np.ndarray, t_commit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(t_commit, argmax of p[i, t_commit[i]])`` as int64 arrays."""
    t_commit = t_commit.astype(np.int64)
    return t_commit, p[np.arange(len(p)), t_commit].argmax(axis=1).astype(np.int64)


def _first_true(hit: np.ndarray) -> np.ndarray:
    """Per row, the first column that is True, the last column when none is (the forced decision)."""
    hit = hit.copy()
    hit[:, -1] = True
    return hit.argmax(axis=1)


def last_frame(posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Commit on the last frame ``T - 1`` to its argmax."""
    p = _check_posteriors(posteriors)
    return _commit(p, np.full(len(p), p.shape[1] - 1))


def threshold(posteriors: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Commit on the first frame whose top probability is ``>= tau``, else on ``T - 1`` (forced), to the argmax.

    ml_edm's ``ProbabilityThreshold`` rule. As ``max_k p >= 1/K`` for any distribution, ``tau <= 1/K`` commits
    on frame 0; that is applied exactly, so float rounding of a uniform posterior cannot delay it.
    """
    p = _check_posteriors(posteriors)
    return _threshold_commit(p, p.max(axis=2), check_rate(tau, "tau"))


def _threshold_commit(p: np.ndarray, top: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`threshold` on checked posteriors ``p`` whose top probabilities (N×T) are ``top``."""
    hit = np.full(top.shape, True) if tau <= 1.0 / p.shape[2] else top >= tau
    return _commit(p, _first_true(hit))


def threshold_grid(num_classes: int) -> np.ndarray:
    """ml_edm's candidate thresholds: ``np.linspace(1/K, 1, 41)``."""
    K = check_int_at_least("num_classes", num_classes, 2)
    return np.linspace(1.0 / K, 1.0, THRESHOLD_GRID_SIZE)


class ThresholdSweep(NamedTuple):
    """What :func:`threshold_sweep` returns: one metric dict per threshold, and their front."""

    rows: list[dict]
    """:func:`~fer_select_env.envs.sequence.metrics.early_metrics` of each τ, with the τ under ``"tau"``."""
    front: np.ndarray
    """The Pareto front (F×2, ``(earliness, accuracy)``, by earliness) of the rows."""


def threshold_sweep(
    posteriors: np.ndarray,
    labels: np.ndarray,
    wait_penalty: float = 0.0,
    taus: Sequence[float] | None = None,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> ThresholdSweep:
    """:func:`threshold` at every τ of ``taus`` (default :func:`threshold_grid`), scored on ``labels``."""
    p = _check_posteriors(posteriors)
    n, T, K = p.shape
    y = _check_labels(labels, n, K)
    grid = threshold_grid(K) if taus is None else [check_rate(t, f"taus[{i}]") for i, t in enumerate(taus)]
    if len(grid) == 0:
        raise ValueError("taus: need at least one threshold, got none")
    top = p.max(axis=2)
    rows = []
    for tau in grid:
        t_commit, pred = _threshold_commit(p, top, float(tau))
        metrics = early_metrics(t_commit, pred, y, T, K, wait_penalty=wait_penalty, alphas=alphas)
        rows.append({"tau": float(tau), **metrics})
    return ThresholdSweep(rows, pareto_front([(r["earliness"], r["accuracy"]) for r in rows]))


def oracle(posteriors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Commit on the first frame from which the argmax is right through ``T - 1``; if the last frame's argmax is
    wrong, commit on ``T - 1`` to it (wrong).

    Uses the labels: an upper reference for a stable argmax rule, not a deployable baseline. It is not the
    earliest labels-aware rule (committing on the first right frame, even if the argmax later turns, is earlier).
    """
    p = _check_posteriors(posteriors)
    y = _check_labels(labels, len(p), p.shape[2])
    right = p.argmax(axis=2) == y[:, None]
    # right_to_end[i, t]: right on every frame t..T-1 (a reversed running AND)
    right_to_end = np.flip(np.logical_and.accumulate(np.flip(right, axis=1), axis=1), axis=1)
    return _commit(p, _first_true(right_to_end))


EARLY_BASELINES: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "last_frame": last_frame,
    "threshold": threshold,
    "oracle": oracle,
}
"""Name → rule, each returning ``(t_commit, predictions)``: ``last_frame(posteriors)``,
``threshold(posteriors, tau)`` and ``oracle(posteriors, labels)`` (the one that reads labels)."""

__all__ = [
    "EARLY_BASELINES",
    "THRESHOLD_GRID_SIZE",
    "ThresholdSweep",
    "last_frame",
    "oracle",
    "threshold",
    "threshold_grid",
    "threshold_sweep",
]
