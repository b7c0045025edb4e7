"""Early-classification metrics of FERSequence: accuracy, earliness, HM, AvgCost, return, Pareto front.

An outcome is, per sequence ``i`` of ``T`` frames and ``K`` classes, the frame it committed on and what it
predicted. The definitions, written once:

* ``t_commit``: 0-based index of the frame the agent committed on; it has seen frames ``0..t_commit``. A
  sequence that waits on the last frame never commits: its prediction is ``-1`` and ``t_commit = T - 1``.
* **earliness** ``e = (t_commit + 1) / T``: the fraction of frames seen, in ``[1/T, 1]`` (lower is earlier);
  **earliness gain** ``1 - e``. This is ml_edm's default linear delay cost (``t / timestamps[-1]`` with ``t``
  the prefix length, ``cost_matrices.py``). Other codebases differ: EARLIEST reports ``(1 + halt_index).mean()
  / (T + 1)`` ("mean proportion used"), so a series that never halts scores ``T/(T+1)``, not 1; ELECTS' training
  loop logs ``1 - t_stop / (T - 1)``, where *higher* is earlier (the opposite sign).
* **accuracy**: the fraction of sequences whose prediction equals the label; a no-commit counts as wrong.
* **HM** ``= 2 acc (1 - e) / (acc + 1 - e)``, the harmonic mean of accuracy and earliness gain (0 when both are
  0), on the *means* over sequences (mean accuracy, mean earliness), as ml_edm's ``ProbabilityThreshold``
  objective ``"hmean"`` does; it is not the mean of per-sequence HMs.
* **AvgCost(α)** ``= (1 - acc) + α e``, ml_edm's ``metrics.average_cost``, again on the means.
* **return** of an episode with wait penalty λ: ``±1 - λ t_commit`` (+1 right, -1 wrong). Each of the
  ``t_commit`` waits before the decision pays λ; a wait on the last frame pays no λ and gives -1, so a
  no-commit returns ``-1 - λ (T - 1)``, the same as a wrong commit on the last frame. FERSequence-v0 pays
  exactly these rewards.

The accuracy–earliness front (:func:`pareto_front`, :func:`front_auc`) is the usual way to compare policies
across λ (EARLIEST, Stop&Hop; Cao et al. 2023 report its area).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fer_select_env.core.checks import check_int_at_least, check_integer_array

NO_COMMIT = -1
"""The prediction of a sequence that waited on its last frame."""

DEFAULT_ALPHAS: tuple[float, ...] = (0.01, 0.1, 0.5)
"""The delay weights α of AvgCost reported by default, from small (accuracy first) to large (earliness counts)."""

_FLOAT_SLACK = 1e-12  # earliness means of equal policies may differ in the last bits


def _check_real(name: str, value: object, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= float(value) <= high:
        raise ValueError(f"{name}: must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _check_1d(name: str, value: object) -> np.ndarray:
    arr = check_integer_array(name, value)
    if arr.ndim != 1:
        raise ValueError(f"{name}: must be 1-D (one entry per sequence), got shape {arr.shape}")
    return arr


def _check_range(name: str, arr: np.ndarray, low: int, high: int) -> None:
    """Every entry of ``arr`` in ``[low, high]``, else a ValueError naming the first bad one."""
    bad = np.flatnonzero((arr < low) | (arr > high))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}: entries must be in [{low}, {high}], got {int(arr[i])} at index {i}")


@dataclass(frozen=True, eq=False)  # arrays: no field-wise ==
class EarlyOutcome:
    """Checked per-sequence outcomes of an early-classification run (see the module docstring).

    :param t_commit: int (N,), the frame committed on, in ``[0, T-1]``
    :param predictions: int (N,), the class committed to, or :data:`NO_COMMIT` (then ``t_commit`` is ``T-1``)
    :param labels: int (N,), the true classes, in ``[0, K-1]``
    :param num_frames: ``T >= 1``
    :param num_classes: ``K >= 2``
    """

    t_commit: np.ndarray
    predictions: np.ndarray
    labels: np.ndarray
    num_frames: int
    num_classes: int

    def __post_init__(self) -> None:
        T = check_int_at_least("num_frames", self.num_frames, 1)
        K = check_int_at_least("num_classes", self.num_classes, 2)
        t, pred, y = (_check_1d(n, getattr(self, n)) for n in ("t_commit", "predictions", "labels"))
        if not (len(t) == len(pred) == len(y)):
            raise ValueError(f"t_commit, predictions and labels differ in length ({len(t)}, {len(pred)}, {len(y)})")
        if len(t) == 0:
            raise ValueError("t_commit: need at least one sequence, got none")
        _check_range("t_commit", t, 0, T - 1)
        _check_range("predictions", pred, NO_COMMIT, K - 1)
        _check_range("labels", y, 0, K - 1)
        early_no_commit = np.flatnonzero((pred == NO_COMMIT) & (t != T - 1))
        if early_no_commit.size:
            i = int(early_no_commit[0])
            raise ValueError(
                f"predictions: {NO_COMMIT} (no commit) is only possible on the last frame t_commit = {T - 1}, "
                f"got t_commit = {int(t[i])} at index {i}"
            )
        for name, value in (("t_commit", t), ("predictions", pred), ("labels", y), ("num_frames", T)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "num_classes", K)

    @property
    def correct(self) -> np.ndarray:
        """Bool (N,): committed to the true class (a no-commit is never correct)."""
        return self.predictions == self.labels

    @property
    def earliness(self) -> np.ndarray:
        """Float (N,): ``(t_commit + 1) / T``, the fraction of frames seen."""
        return (self.t_commit + 1) / self.num_frames


def harmonic_mean(accuracy: float, earliness_gain: float) -> float:
    """HM of accuracy and earliness gain, 0 when both are 0 (like ``scipy.stats.hmean`` with a zero)."""
    acc = _check_real("accuracy", accuracy, 0.0, 1.0)
    gain = _check_real("earliness_gain", earliness_gain, 0.0, 1.0)
    return 2.0 * acc * gain / (acc + gain) if acc + gain > 0 else 0.0


def average_cost(accuracy: float, earliness: float, alpha: float) -> float:
    """ml_edm's ``average_cost``: ``(1 - accuracy) + alpha * earliness``."""
    acc = _check_real("accuracy", accuracy, 0.0, 1.0)
    e = _check_real("earliness", earliness, 0.0, 1.0)
    return (1.0 - acc) + _check_real("alpha", alpha) * e


def episode_returns(outcome: EarlyOutcome, wait_penalty: float = 0.0) -> np.ndarray:
    """Float (N,): ``±1 - λ t_commit`` per episode; the last-frame wait pays no λ and gives -1."""
    lam = _check_real("wait_penalty", wait_penalty)
    return np.where(outcome.correct, 1.0, -1.0) - lam * outcome.t_commit


def per_class_accuracy(outcome: EarlyOutcome) -> dict[int, float]:
    """Recall per true class, ``{k: accuracy}``; a class absent from the labels is omitted (no NaN)."""
    correct = outcome.correct
    return {int(k): float(correct[outcome.labels == k].mean()) for k in np.unique(outcome.labels)}


def early_metrics(
    t_commit: np.ndarray,
    predictions: np.ndarray,
    labels: np.ndarray,
    num_frames: int,
    num_classes: int,
    wait_penalty: float = 0.0,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> dict:
    """Every figure of an early-classification run, as plain Python types.

    Keys: ``accuracy``, ``earliness`` (mean fraction seen), ``earliness_gain``, ``hm``, ``avg_cost``
    (``{alpha: cost}``), ``per_class_accuracy`` (``{class: recall}``, present classes only), ``mean_return``
    (at ``wait_penalty``), ``no_commit_rate`` and ``num_sequences``.
    """
    outcome = EarlyOutcome(t_commit, predictions, labels, num_frames, num_classes)
    alphas = tuple(_check_real(f"alphas[{i}]", a) for i, a in enumerate(alphas))
    acc = float(outcome.correct.mean())
    e = float(outcome.earliness.mean())
    return {
        "accuracy": acc,
        "earliness": e,
        "earliness_gain": 1.0 - e,
        # followed ml_edm (trigger/_proba_threshold.py @ 3fce3b18, objective "hmean"): HM of the two means
        "hm": harmonic_mean(acc, 1.0 - e),
        "avg_cost": {a: average_cost(acc, e, a) for a in alphas},
        "per_class_accuracy": per_class_accuracy(outcome),
        "mean_return": float(episode_returns(outcome, wait_penalty).mean()),
        "no_commit_rate": float(np.mean(outcome.predictions == NO_COMMIT)),
        "num_sequences": len(outcome.t_commit),
    }


def _check_points(name: str, points: object) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name}: must be a non-empty list of (earliness, accuracy) pairs, got shape {arr.shape}")
    if not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError(f"{name}: earliness and accuracy must be finite numbers in [0, 1]")
    return arr


def pareto_front(points: object) -> np.ndarray:
    """The non-dominated ``(earliness, accuracy)`` points (lower earliness, higher accuracy), by earliness.

    Returns a float array (F, 2) in which earliness and accuracy both strictly increase; of equal points one
    is kept. Passing a front again returns it unchanged.
    """
    arr = _check_points("points", points)
    order = np.lexsort((-arr[:, 1], arr[:, 0]))  # earliness ascending, the best accuracy first on ties
    arr = arr[order]
    best_before = np.maximum.accumulate(np.concatenate(([-np.inf], arr[:-1, 1])))
    return arr[arr[:, 1] > best_before]


def front_accuracy_at(front: object, earliness: float) -> float:
    """Best accuracy of a point of ``front`` at the same or lower earliness; 0.0 when there is none.

    ``front`` may be any points: the front is taken first.
    """
    pts = pareto_front(front)
    e = _check_real("earliness", earliness, 0.0, 1.0)
    reached = pts[pts[:, 0] <= e + _FLOAT_SLACK, 1]
    return float(reached.max()) if reached.size else 0.0


def on_or_above_front(point: Sequence[float], front: object, tolerance: float = 0.01) -> bool:
    """Whether ``point = (earliness, accuracy)`` is within ``tolerance`` accuracy of, or above, the best point
    of ``front`` at the same or lower earliness (the bar for a learned policy against the threshold sweep)."""
    if np.shape(point) != (2,):
        raise ValueError(f"point: must be one (earliness, accuracy) pair, got shape {np.shape(point)}")
    ((e, acc),) = _check_points("point", [point])
    tol = _check_real("tolerance", tolerance, 0.0, 1.0)
    return bool(acc >= front_accuracy_at(front, float(e)) - tol - _FLOAT_SLACK)


def front_auc(front: object, start: float = 0.0) -> float:
    """Area under the front's step function, normalised to ``[0, 1]``.

    The step function is ``f(x)`` = the best accuracy of a front point with earliness ``<= x``, and 0 before the
    first point; the area is ``∫ f(x) dx`` over ``x in [start, 1]`` divided by ``1 - start``. With the default
    ``start = 0`` no policy reaches 1, since a commit sees at least one frame (``e >= 1/T``); pass
    ``start = 1/T`` to give a policy right on frame 0 an area of 1. A point at ``e = 1`` (the last-frame policy)
    adds no area: the area measures the accuracy reached before the end. ``front`` may be any points.
    """
    pts = pareto_front(front)
    s = _check_real("start", start, 0.0, 1.0)
    if s >= 1.0:
        raise ValueError(f"start: must be below 1, got {start!r}")
    e = np.clip(pts[:, 0], s, 1.0)
    widths = np.diff(np.concatenate((e, [1.0])))  # point i holds from its earliness to the next point's
    return float(np.sum(pts[:, 1] * widths) / (1.0 - s))


__all__ = [
    "DEFAULT_ALPHAS",
    "NO_COMMIT",
    "EarlyOutcome",
    "average_cost",
    "early_metrics",
    "episode_returns",
    "front_accuracy_at",
    "front_auc",
    "harmonic_mean",
    "on_or_above_front",
    "pareto_front",
    "per_class_accuracy",
]
