"""Pictures of a selection run: rewards per episode, per-sample rewards, confusion matrices, image galleries.

Every function takes plain arrays or dicts and a path, writes one PNG and returns the path. Figures come from
:mod:`fer_select_env.core.plotting` (Agg canvas, no pyplot state, fixed inches at :data:`DPI`), so a
picture's pixel size depends only on its inputs' shape (see each function).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fer_select_env.core.plotting import DPI, new_figure, save_figure
from fer_select_env.data.dataset import NOISE_KIND_NAMES, noise_kind_name

HISTORY_KEYS: tuple[str, ...] = ("episode_reward", "kept_fraction", "val_accuracy", "val_macro_f1")
"""Keys of a history entry (one dict per episode) that the history plots read."""

EPISODE_REWARDS_SIZE = (8.0, 6.0)
SAMPLE_REWARDS_SIZE = (8.0, 4.5)
SELECTION_PROGRESS_SIZE = (8.0, 5.0)
KEEP_PROBABILITY_SIZE = (8.0, 4.5)
_GALLERY_CELL = (1.3, 1.75)  # inches per image (width, height incl. a two-line title)
_GALLERY_MARGIN = (0.2, 0.6)  # extra inches: side margins, the two row headings


# --------------------------------------------------------------------------- helpers
def _history_series(history: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, tuple]:
    """``{key: (episodes, values)}`` for the keys present in at least one entry; episodes count from 1."""
    if isinstance(history, Mapping) or not isinstance(history, Sequence):
        raise ValueError(f"history must be a list of dicts (one per episode), got {type(history).__name__}")
    if len(history) == 0:
        raise ValueError("history is empty: nothing to plot")
    for i, entry in enumerate(history):
        if not isinstance(entry, Mapping):
            raise ValueError(f"history[{i}] must be a dict, got {type(entry).__name__}")
    series = {}
    for key in keys:
        pairs = []
        for i, entry in enumerate(history):
            if entry.get(key) is None:
                continue
            try:
                pairs.append((i + 1, float(entry[key])))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"history[{i}][{key!r}] must be a number, got {entry[key]!r}") from exc
        if pairs:
            episodes, values = zip(*pairs, strict=True)
            series[key] = (np.asarray(episodes), np.asarray(values))
    if not series:
        raise ValueError(f"no history entry has any of the keys {list(keys)}")
    return series


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    kernel = np.ones(window) / window
    # "valid" so that the first points are not pulled towards zero by padding.
    return np.convolve(values, kernel, mode="valid")


def _plot_series(ax, episodes: np.ndarray, values: np.ndarray, label: str, color: str, smooth: bool) -> None:
    marker = "o" if len(values) <= 40 else None
    window = max(5, len(values) // 10)
    smooth = smooth and len(values) >= 2 * window
    # Raw points fade behind the running mean when there is one.
    ax.plot(episodes, values, color=color, alpha=0.45 if smooth else 1.0, marker=marker, ms=3, lw=1, label=label)
    if smooth:
        ax.plot(episodes[window - 1 :], _running_mean(values, window), color=color, lw=2, label=f"mean of {window}")


def _episode_axis(ax, last_episode: int) -> None:
    ax.set_xlabel("episode")
    ax.set_xlim(0.5, max(last_episode, 1) + 0.5)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)


def run_title(agent: str, seed: int) -> str:
    """How a run's pictures name it in their titles: ``"reinforce, seed 0"``."""
    return f"{agent}, seed {int(seed)}"


def _titled(title: str, label: str | None) -> str:
    """``title`` led by the run's label (:func:`run_title`), so that a picture says whose run it shows."""
    if label is None:
        return title
    if not isinstance(label, str):
        raise ValueError(f"run_label must be a string or None, got {type(label).__name__}")
    return f"{label}: {title}"


def _as_1d(name: str, values: Any, dtype: Any = np.float64) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: nothing to plot")
    return arr


# --------------------------------------------------------------------------- history
def plot_episode_rewards(
    history: Sequence[Mapping[str, Any]], path: str | os.PathLike, *, run_label: str | None = None
) -> Path:
    """The reward per episode (the paper's Fig. 8/9 a, c), with validation accuracy and macro-F1 below.

    ``history`` holds one dict per episode with any of :data:`HISTORY_KEYS` (e.g. the env's terminal ``info``
    plus ``episode_reward``); a missing key skips that point, a key missing everywhere skips its curve.
    A running mean is drawn from 10 episodes on (window: a tenth of the run, at least 5). ``run_label`` (e.g.
    :func:`run_title`'s ``"reinforce, seed 0"``) leads the first title. 800×600 pixels.
    """
    series = _history_series(history, ("episode_reward", "val_accuracy", "val_macro_f1"))
    fig = new_figure(EPISODE_REWARDS_SIZE)
    has_val = "val_accuracy" in series or "val_macro_f1" in series
    has_reward = "episode_reward" in series
    panels = [p for p, present in (("reward", has_reward), ("val", has_val)) if present]
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for i, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
        lead = run_label if i == 0 else None  # the run's name once, on the top panel
        if panel == "reward":
            episodes, rewards = series["episode_reward"]
            _plot_series(ax, episodes, rewards, "episode reward", "tab:blue", smooth=True)
            if rewards.min() <= 0.0 <= rewards.max():  # only then: forcing 0 into view would flatten the curve
                ax.axhline(0.0, color="gray", lw=0.8, ls="--")
            ax.set_ylabel("episode reward")
            ax.set_title(_titled("Reward per episode", lead))
        else:
            for key, label, color in (
                ("val_accuracy", "accuracy", "tab:green"),
                ("val_macro_f1", "macro-F1", "tab:red"),
            ):
                if key in series:
                    _plot_series(ax, *series[key], label, color, smooth=False)
            ax.set_ylabel("validation score")
            ax.set_title(_titled("Retrained classifier on the validation split", lead))
        ax.legend(loc="best", fontsize=9)
        _episode_axis(ax, len(history))
    for ax in axes[:-1]:
        ax.set_xlabel("")
    return save_figure(fig, path)


def plot_selection_progress(
    history: Sequence[Mapping[str, Any]], path: str | os.PathLike, *, run_label: str | None = None
) -> Path:
    """Kept fraction and validation macro-F1 per episode, in two panels sharing the episode axis.

    Same ``history`` as :func:`plot_episode_rewards`; at least one of ``kept_fraction`` and ``val_macro_f1``
    must be present; ``run_label`` leads the title. 800×500 pixels.
    """
    series = _history_series(history, ("kept_fraction", "val_macro_f1"))
    fig = new_figure(SELECTION_PROGRESS_SIZE)
    ax_kept, ax_f1 = fig.subplots(2, 1, sharex=True)
    if "kept_fraction" in series:
        _plot_series(ax_kept, *series["kept_fraction"], "kept fraction", "tab:purple", smooth=False)
        top = max(1.0, float(series["kept_fraction"][1].max()))
        ax_kept.set_ylim(0.0, top * 1.03)
    else:
        ax_kept.text(0.5, 0.5, "no kept_fraction in history", ha="center", va="center", transform=ax_kept.transAxes)
    ax_kept.set_ylabel("kept fraction")
    ax_kept.set_title(_titled("Selection per episode", run_label))
    if "val_macro_f1" in series:
        # Auto-scaled: F1 moves by a few hundredths, which a 0-1 axis would flatten.
        _plot_series(ax_f1, *series["val_macro_f1"], "validation macro-F1", "tab:red", smooth=False)
    else:
        ax_f1.text(0.5, 0.5, "no val_macro_f1 in history", ha="center", va="center", transform=ax_f1.transAxes)
    ax_f1.set_ylabel("val macro-F1")
    _episode_axis(ax_kept, len(history))
    _episode_axis(ax_f1, len(history))
    ax_kept.set_xlabel("")
    return save_figure(fig, path)


# --------------------------------------------------------------------------- per-sample rewards
def plot_sample_reward_distribution(
    sample_rewards: Sequence[float] | np.ndarray,
    path: str | os.PathLike,
    noise_kind: Sequence[int] | np.ndarray | None = None,
    *,
    run_label: str | None = None,
) -> Path:
    """Histogram of the per-sample rewards ``R_i`` of Eq. 2 (terminal ``info["sample_rewards"]``).

    With ``noise_kind`` (codes as in :data:`~fer_select_env.data.NOISE_KIND_NAMES`, same length) one
    histogram per kind is overlaid on shared bins, each scaled to sum to 1 so that rare kinds stay visible.
    The dashed line at 0 is where keeping an image stops adding to Eq. 3; ``run_label`` leads the title.
    800×450 pixels.
    """
    rewards = _as_1d("sample_rewards", sample_rewards)
    if not np.all(np.isfinite(rewards)):
        raise ValueError("sample_rewards contains NaN or infinite values")
    if noise_kind is None:
        groups = {"all images": rewards}
    else:
        kinds = _as_1d("noise_kind", noise_kind, dtype=np.int64)
        if len(kinds) != len(rewards):
            raise ValueError(f"noise_kind has {len(kinds)} entries but sample_rewards has {len(rewards)}")
        groups = {noise_kind_name(k): rewards[kinds == k] for k in np.unique(kinds)}
    lo, hi = float(rewards.min()), float(rewards.max())
    if hi - lo < 1e-9:  # a single value: give the bins some width
        lo, hi = lo - 0.5, hi + 0.5
    bins = np.linspace(lo, hi, 41)
    fig = new_figure(SAMPLE_REWARDS_SIZE)
    ax = fig.subplots()
    colors = _kind_colors(list(groups))
    for name, values in groups.items():
        label = f"{name} (n={len(values)}, mean {values.mean():+.3f})"
        # Per kind, each histogram sums to 1: clean images outnumber every noise kind, and raw counts would
        # flatten the noise kinds into the axis.
        weights = np.full(len(values), 1.0 / len(values)) if noise_kind is not None else None
        style = {"bins": bins, "weights": weights, "color": colors[name]}
        ax.hist(values, histtype="stepfilled", alpha=0.35, **style)
        ax.hist(values, histtype="step", lw=1.5, label=label, **style)
    ax.axvline(0.0, color="black", lw=1, ls="--")
    ax.set_xlabel("per-sample reward $R_i = P(y_i \\mid x_i) - b$")
    ax.set_ylabel("images" if noise_kind is None else "fraction of the kind's images")
    ax.set_title(_titled(f"Per-sample rewards of one episode ({len(rewards)} images)", run_label))
    ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _kind_colors(names: Sequence[str]) -> dict[str, str]:
    # Fixed colours for the known kinds, so that every picture of a report agrees.
    known = {"all images": "tab:blue", "clean": "tab:green", "label_flipped": "tab:red"}
    known.update({"half_face": "tab:orange", "no_face": "tab:purple"})
    spare = iter(["tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan", "tab:blue"] * 4)
    return {name: known.get(name) or next(spare) for name in names}


# --------------------------------------------------------------------------- confusion matrices
def _check_confusion(name: str, cm: Any, k: int) -> np.ndarray:
    cm = np.asarray(cm, dtype=np.float64)
    if cm.shape != (k, k):
        raise ValueError(f"{name} must be a {k}×{k} matrix (one row and column per class name), got shape {cm.shape}")
    if not np.all(np.isfinite(cm)) or np.any(cm < 0):
        raise ValueError(f"{name} must hold non-negative finite counts")
    return cm


def _row_normalise(cm: np.ndarray) -> np.ndarray:
    totals = cm.sum(axis=1, keepdims=True)
    # A class absent from the truth has no row distribution: NaN draws as a blank cell, not as a 0 row.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, cm / totals, np.nan)


def plot_confusion_matrices(
    before: Any, after: Any, class_names: Sequence[str], path: str | os.PathLike, titles: Sequence[str] | None = None
) -> Path:
    """Two K×K confusion matrices (rows = true class) side by side, rows normalised to 1.

    ``before`` / ``after`` are counts, e.g. from :func:`fer_select_env.core.metrics.confusion_matrix` of the
    classifier before and after selection. Each title reports the average accuracy (mean diagonal, the
    paper's Tables 2-4). ``titles`` replaces ``("before selection", "after selection")``.
    Width 1100 pixels; height 550 for up to 7 classes, growing with more (:func:`confusion_size`).
    """
    names = [str(n) for n in class_names]
    k = len(names)
    if k == 0:
        raise ValueError("class_names is empty")
    matrices = [_check_confusion("before", before, k), _check_confusion("after", after, k)]
    titles = list(titles) if titles is not None else ["before selection", "after selection"]
    if len(titles) != 2:
        raise ValueError(f"titles must hold 2 strings, got {len(titles)}")
    size = confusion_size(k)
    fig = new_figure(size)
    axes = fig.subplots(1, 2)
    fontsize = 9 if k <= 7 else max(5, 9 - (k - 7) // 2)
    image = None
    for ax, cm, title in zip(axes, matrices, titles, strict=True):
        norm = _row_normalise(cm)
        image = ax.imshow(norm, vmin=0.0, vmax=1.0, cmap="Blues")
        for i in range(k):
            for j in range(k):
                if np.isfinite(norm[i, j]):
                    color = "white" if norm[i, j] > 0.6 else "black"
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=fontsize, color=color)
        avg_acc = float(np.nanmean(np.diag(norm))) if np.isfinite(np.diag(norm)).any() else float("nan")
        ax.set_title(f"{title}\naverage accuracy {avg_acc:.3f} (n={int(cm.sum())})", fontsize=11)
        ax.set_xticks(range(k), names, rotation=45, ha="right", rotation_mode="anchor", fontsize=fontsize + 1)
        ax.set_yticks(range(k), names, fontsize=fontsize + 1)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="fraction of the true class")
    return save_figure(fig, path)


def confusion_size(k: int) -> tuple[float, float]:
    """Size in inches of :func:`plot_confusion_matrices` for ``k`` classes (pixels: times :data:`DPI`)."""
    return (11.0, 5.5 + 0.25 * max(0, k - 7))


# --------------------------------------------------------------------------- image gallery
def _check_images(images: Any) -> np.ndarray:
    x = np.asarray(images)
    if x.dtype != np.uint8:
        raise ValueError(f"images must have dtype uint8, got {x.dtype}")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[-1] == 3)):
        raise ValueError(f"images must be N×H×W (gray) or N×H×W×3 (RGB), got shape {x.shape}")
    return x


def gallery_size(n_images: int, n: int = 8) -> tuple[int, int]:
    """Pixel size (width, height) of :func:`plot_image_gallery` for ``n_images`` images and ``n``."""
    cols = max(1, min(n, n_images // 2))
    # At least 4 inches so that a short row still fits its heading.
    width = max(4.0, _GALLERY_CELL[0] * cols + _GALLERY_MARGIN[0])
    height = 2 * _GALLERY_CELL[1] + _GALLERY_MARGIN[1]
    return round(width * DPI), round(height * DPI)


def gallery_indices(keep_probability: Any, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the gallery's rows: the ``min(n, N // 2)`` lowest keep probabilities (lowest first) and as
    many highest (highest first), never the same image twice. Ties rank by dataset order (earlier = lower)."""
    p = _as_1d("keep_probability", keep_probability)
    cols = min(int(n), len(p) // 2)
    # Both rows from one stable order: two separate sorts could pick the same image when values tie.
    order = np.argsort(p, kind="stable")
    return order[:cols], order[len(order) - cols :][::-1]


def plot_image_gallery(
    images: Any,
    keep_probability: Any,
    labels: Any,
    class_names: Sequence[str],
    path: str | os.PathLike,
    n: int = 8,
    noise_kind: Any = None,
    *,
    run_label: str | None = None,
) -> Path:
    """The ``n`` most-removed and ``n`` most-kept images (the paper's Fig. 5/7), one row each.

    Each title shows the keep probability and the given label, and the noise kind when ``noise_kind`` is
    given (only for reading the picture: the selector never sees it). ``images`` are uint8 N×H×W or
    N×H×W×3. With fewer than ``2n`` images each row shows ``N // 2`` so that no image appears twice
    (:func:`gallery_indices`). ``run_label`` leads the first row's heading. Size: :func:`gallery_size`.
    """
    x = _check_images(images)
    p = _as_1d("keep_probability", keep_probability)
    y = _as_1d("labels", labels, dtype=np.int64)
    count = len(x)
    for name, arr in (("keep_probability", p), ("labels", y)):
        if len(arr) != count:
            raise ValueError(f"{name} has {len(arr)} entries but there are {count} images")
    if not np.all(np.isfinite(p)):
        raise ValueError("keep_probability contains NaN or infinite values")
    names = [str(c) for c in class_names]
    if y.min() < 0 or y.max() >= len(names):
        raise ValueError(f"labels must lie in [0, {len(names)}) to index class_names, got {y.min()}..{y.max()}")
    kinds = None
    if noise_kind is not None:
        kinds = _as_1d("noise_kind", noise_kind, dtype=np.int64)
        if len(kinds) != count:
            raise ValueError(f"noise_kind has {len(kinds)} entries but there are {count} images")
    if int(n) < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    if count < 2:
        raise ValueError(f"need at least 2 images for a removed row and a kept row, got {count}")
    removed, kept = gallery_indices(p, int(n))
    cols = len(removed)
    width_px, height_px = gallery_size(count, int(n))
    fig = new_figure((width_px / DPI, height_px / DPI))
    rows = fig.subfigures(2, 1)
    headings = (
        _titled(f"{cols} most removed (lowest keep probability p)", run_label),
        f"{cols} most kept (highest keep probability p)",
    )
    for row, heading, picked in zip(rows, headings, (removed, kept), strict=True):
        row.suptitle(heading, fontsize=10, fontweight="bold")
        axes = row.subplots(1, cols, squeeze=False)[0]
        for ax, idx in zip(axes, picked, strict=True):
            if x.ndim == 3:
                ax.imshow(x[idx], cmap="gray", vmin=0, vmax=255)
            else:
                ax.imshow(x[idx])
            title = f"p={p[idx]:.2f}  {names[y[idx]]}"
            if kinds is not None:
                title += f"\n{noise_kind_name(kinds[idx])}"
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
    return save_figure(fig, path)


# --------------------------------------------------------------------------- Table 5
def _kind_order(kinds: Sequence[str]) -> list[str]:
    # Table 5 order (clean first, then the noise kinds by code); unknown kinds after, as given.
    known = [name for _, name in sorted(NOISE_KIND_NAMES.items())]
    return [k for k in known if k in kinds] + [k for k in kinds if k not in known]


def plot_keep_probability_by_noise_kind(
    mapping: Mapping[str, float] | Mapping[str, Mapping[str, float]], path: str | os.PathLike
) -> Path:
    """Bar chart of the keep probability per noise kind (the paper's Table 5).

    ``mapping`` is ``{kind: probability}`` (e.g. from
    :func:`fer_select_env.envs.select.metrics.keep_probability_by_noise_kind`) or, to compare agents, ``{agent: {kind:
    probability}}``; an agent without a kind leaves a gap. 800×450 pixels.
    """
    if not isinstance(mapping, Mapping) or len(mapping) == 0:
        raise ValueError("mapping must be a non-empty dict {kind: probability} or {agent: {kind: probability}}")
    nested = [isinstance(v, Mapping) for v in mapping.values()]
    if all(nested):
        agents = {str(a): dict(m) for a, m in mapping.items()}
    elif not any(nested):
        agents = {"": dict(mapping)}
    else:
        raise ValueError("mapping mixes probabilities and per-agent dicts; use one form")
    kinds: list[str] = []
    for agent, probs in agents.items():
        if not probs:
            raise ValueError(f"agent {agent!r} has no noise kinds")
        for kind, value in probs.items():
            v = float(value)
            if not (math.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"keep probability of {kind!r}{f' for {agent!r}' if agent else ''} must be in [0, 1]")
            if str(kind) not in kinds:
                kinds.append(str(kind))
    kinds = _kind_order(kinds)
    fig = new_figure(KEEP_PROBABILITY_SIZE)
    ax = fig.subplots()
    width = 0.8 / len(agents)
    xs = np.arange(len(kinds))
    many = len(agents) * len(kinds) > 24  # value labels would overlap
    for i, (agent, probs) in enumerate(agents.items()):
        values = [float(probs.get(k, np.nan)) for k in kinds]
        offset = (i - (len(agents) - 1) / 2) * width
        colors = None if agent else [_kind_colors(kinds)[k] for k in kinds]
        bars = ax.bar(xs + offset, values, width=width * 0.95, label=agent or None, color=colors)
        if not many:
            labels = ["" if np.isnan(v) else f"{v:.2f}" for v in values]
            ax.bar_label(bars, labels=labels, padding=2, fontsize=8 if len(agents) > 2 else 9)
        for x, v in zip(xs + offset, values, strict=True):
            if np.isnan(v):  # say so, or a gap reads as a probability of 0
                ax.text(x, 0.01, "n/a", ha="center", va="bottom", fontsize=7, color="gray")
    ax.set_xticks(xs, kinds)
    ax.set_ylim(0.0, 1.12)  # headroom for the value labels above bars at 1.0
    ax.set_ylabel("keep probability")
    ax.set_xlabel("noise kind")
    ax.set_title("Keep probability by noise kind (Table 5)")
    ax.grid(axis="y", alpha=0.3)
    if len(agents) > 1 or next(iter(agents)):
        # Below the axes: inside, it would cover the bars near 1.
        fig.legend(loc="outside lower center", fontsize=9, ncols=min(len(agents), 4), frameon=False)
    return save_figure(fig, path)


__all__ = [
    "DPI",
    "HISTORY_KEYS",
    "confusion_size",
    "gallery_indices",
    "gallery_size",
    "plot_confusion_matrices",
    "plot_episode_rewards",
    "plot_image_gallery",
    "plot_keep_probability_by_noise_kind",
    "plot_sample_reward_distribution",
    "plot_selection_progress",
    "run_title",
]
