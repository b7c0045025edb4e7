"""The pictures of FERSmile-v0: an episode as a strip of emoticons over the viewer's faces, and the learning
curves of the final true smile against the camera frames used."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fer_select_env.core.plotting import new_figure, save_figure

CURVE_SIZE = (7.0, 4.5)


def episode_strip(emoticons: Sequence[np.ndarray], faces: Sequence[np.ndarray]) -> np.ndarray:
    """One RGB picture: the emoticons (RGB, all one size) in a row over the viewer's frames (grayscale,
    resized to the emoticons' size) shown at the same steps."""
    if not emoticons or len(emoticons) != len(faces):
        raise ValueError(f"emoticons and faces: need as many of each (> 0), got {len(emoticons)} and {len(faces)}")
    import cv2

    side = emoticons[0].shape[0]
    top = np.concatenate(list(emoticons), axis=1)
    bottom = np.concatenate(
        [cv2.cvtColor(cv2.resize(f, (side, side), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2RGB) for f in faces],
        axis=1,
    )
    return np.concatenate([top, bottom], axis=0)


def plot_smile_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | os.PathLike) -> Path:
    """The mean final true smile of each agent's current answer (y) against the camera frames used (x).

    :param curves: ``{agent: (frames, mean smile)}``
    """
    fig = new_figure(CURVE_SIZE)
    ax = fig.add_subplot()
    for name, (frames, smile) in curves.items():
        x, y = np.asarray(frames, dtype=float), np.asarray(smile, dtype=float)
        if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
            raise ValueError(f"curves[{name!r}]: frames and smiles must be equal-length 1-D, got {x.shape}, {y.shape}")
        ax.plot(x, y, label=name, ls="--" if name == "oracle" else "-")
    ax.set_xlabel("camera frames used")
    ax.set_ylabel("true smile of the current answer (fresh)")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


__all__ = ["CURVE_SIZE", "episode_strip", "plot_smile_curves"]
