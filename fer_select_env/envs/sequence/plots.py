"""The picture of an early-classification benchmark: accuracy against earliness, with the threshold front."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fer_select_env.core.plotting import new_figure, save_figure

FRONT_SIZE = (7.0, 5.0)
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _points(name: str, value: object) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name}: must be a non-empty list of finite (earliness, accuracy) pairs, got shape {arr.shape}"
        )
    return arr


def plot_accuracy_earliness(
    curve: Sequence[Sequence[float]],
    front: Sequence[Sequence[float]],
    agents: Mapping[str, Mapping[str, Sequence[float]]],
    references: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
) -> Path:
    """Accuracy (y) against earliness, the fraction of frames seen (x); a 700×500 PNG.

    :param curve: the threshold family's ``(earliness, accuracy)`` points, one per τ
    :param front: their Pareto front
    :param agents: ``{agent: {λ label: (earliness, accuracy)}}``, one marker per λ, annotated
    :param references: ``{name: (earliness, accuracy)}``, e.g. ``last_frame``
    """
    curve_arr, front_arr = _points("curve", curve), _points("front", front)
    fig = new_figure(FRONT_SIZE)
    ax = fig.add_subplot()
    ax.plot(curve_arr[:, 0], curve_arr[:, 1], ".", color="0.6", label="threshold(τ), every τ")
    ax.step(front_arr[:, 0], front_arr[:, 1], where="post", color="0.3", label="threshold front")
    for i, (agent, by_lambda) in enumerate(agents.items()):
        pts = _points(f"agents[{agent!r}]", list(by_lambda.values()))
        ax.plot(pts[:, 0], pts[:, 1], _MARKERS[i % len(_MARKERS)], ms=7, label=agent)
        for lam, (x, y) in zip(by_lambda, pts, strict=True):
            ax.annotate(f"λ={lam}", (x, y), textcoords="offset points", xytext=(5, -10), fontsize=8)
    for name, point in references.items():
        x, y = _points(f"references[{name!r}]", [point])[0]
        ax.plot([x], [y], "*", ms=12, label=name)
    ax.set_xlabel("earliness (fraction of frames seen)")
    ax.set_ylabel("test accuracy")
    ax.set_xlim(0.0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path)


__all__ = ["FRONT_SIZE", "plot_accuracy_earliness"]
