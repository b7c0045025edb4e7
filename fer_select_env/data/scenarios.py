"""The named noisy scenarios of the synthetic benchmark, rendered with the AU face renderer.

:func:`make_synthetic_dataset` renders independent train/val/test splits and injects one of the
:data:`SCENARIOS` into the train split only (the paper's §4.5 keeps the valid and test sets clean).
See ``docs/synthetic.md`` for the tables and the calibration of the difficulty.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from fer_select_env.core.checks import check_positive_int, check_rate
from fer_select_env.core.emotions import FER2013_TRAIN_CLASS_COUNTS
from fer_select_env.data.dataset import (
    FER2013_CLASS_NAMES,
    NOISE_CLEAN,
    NOISE_HALF_FACE,
    NOISE_LABEL_FLIPPED,
    NOISE_NO_FACE,
    FERDataset,
)
from fer_select_env.data.noise import (
    flip_labels_confusion,
    flip_labels_symmetric,
    make_half_faces,
    make_no_face_images,
)
from fer_select_env.faces.action_units import sample_action_units
from fer_select_env.faces.renderer import check_image_size, render_faces

# ------------------------------------------------------------------------------------------- scenarios
SCENARIOS: dict[str, str] = {
    "label_symmetric": "30% of train labels flipped to a uniformly chosen different class",
    "label_confusion": "30% of train labels flipped along FER's typical confusions (FER_CONFUSION_MATRIX)",
    "face": "§4.5 image noise: 25% half-face crops + 25% no-face images, labels kept",
    "mixed": "15% symmetric label flips + 10% half faces + 10% no-face images, on disjoint samples",
}
"""Named train-split noise scenarios, name → one-line description."""

SCENARIO_MIX: dict[str, dict[str, float]] = {
    "label_symmetric": {"symmetric": 0.30},
    "label_confusion": {"confusion": 0.30},
    "face": {"half_face": 0.25, "no_face": 0.25},
    "mixed": {"symmetric": 0.15, "half_face": 0.10, "no_face": 0.10},
}
"""Default per-kind rates of each scenario; ``noise_rate`` rescales them to that total, same proportions."""

CLASS_DISTRIBUTIONS: dict[str, tuple[float, ...]] = {
    "balanced": (1.0,) * len(FER2013_CLASS_NAMES),
    "fer2013": tuple(float(c) for c in FER2013_TRAIN_CLASS_COUNTS),
}
"""Named class distributions of the rendered splits, name → per-class weights in FER2013's label order."""

ClassDistribution = str | Sequence[float] | None
"""A name of :data:`CLASS_DISTRIBUTIONS`, 7 non-negative weights, or ``None`` (balanced)."""

_KIND_CODE = {
    "symmetric": NOISE_LABEL_FLIPPED,
    "confusion": NOISE_LABEL_FLIPPED,
    "half_face": NOISE_HALF_FACE,
    "no_face": NOISE_NO_FACE,
}


def scenario_counts(scenario: str, n: int, noise_rate: float | None = None) -> dict[str, int]:
    """Exact number of train samples of each noise kind.

    The total is ``round(rate * n)``; it is shared among the kinds in proportion to the scenario's mix by
    the largest-remainder rule, so the kinds always add up to the total (each within 1 of its exact share).
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario: unknown {scenario!r}; valid choices are {sorted(SCENARIOS)}")
    mix = SCENARIO_MIX[scenario]
    rate = sum(mix.values()) if noise_rate is None else check_rate(noise_rate, "noise_rate")
    total = min(round(rate * n), n)
    return dict(zip(mix, _largest_remainder(total, list(mix.values())).tolist(), strict=True))


def _largest_remainder(total: int, weights: Sequence[float]) -> np.ndarray:
    """Integer shares of ``total`` in proportion to ``weights`` that add up to ``total``.

    Each share is the floor of its exact value, and the units left over go to the largest fractional
    parts, ties to the lower index (so equal weights favour the first entries, like ``arange(n) % k``).
    """
    weight_total = sum(weights)
    shares = [total * w / weight_total for w in weights]
    counts = np.array([math.floor(share) for share in shares], dtype=np.int64)
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - shares[i], i))
    counts[by_remainder[: total - int(counts.sum())]] += 1
    return counts


def class_distribution_weights(class_distribution: ClassDistribution) -> np.ndarray:
    """The per-class weights (float64, one per emotion) of a class distribution, checked.

    :param class_distribution: ``None`` or ``"balanced"``, ``"fer2013"`` (the shares of FER2013's training
        split, :data:`~fer_select_env.core.emotions.FER2013_TRAIN_CLASS_COUNTS`), or 7 non-negative weights
    """
    if class_distribution is None:
        class_distribution = "balanced"
    if isinstance(class_distribution, str):
        if class_distribution not in CLASS_DISTRIBUTIONS:
            raise ValueError(
                f"class_distribution: unknown {class_distribution!r}; valid names are {sorted(CLASS_DISTRIBUTIONS)}"
                " or a sequence of 7 non-negative weights"
            )
        return np.array(CLASS_DISTRIBUTIONS[class_distribution], dtype=np.float64)
    k = len(FER2013_CLASS_NAMES)
    try:
        weights = np.asarray(class_distribution, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"class_distribution: must be a name or {k} numbers, got {class_distribution!r}") from None
    if weights.shape != (k,) or any(isinstance(w, bool) for w in class_distribution):
        raise ValueError(f"class_distribution: must be {k} weights, one per class, got {class_distribution!r}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"class_distribution: weights must be finite and non-negative, got {class_distribution!r}")
    if weights.sum() <= 0:
        raise ValueError(f"class_distribution: at least one weight must be positive, got {class_distribution!r}")
    return weights


def class_counts(n: int, class_distribution: ClassDistribution = None) -> np.ndarray:
    """Exact number of images of each class in a split of ``n`` (int64, sums to ``n``).

    Largest-remainder shares of ``n``; then every class with a positive weight that got none takes one
    image from the class furthest above its exact share, as long as ``n`` covers all such classes.
    """
    n = check_positive_int("n", n)
    weights = class_distribution_weights(class_distribution)
    counts = _largest_remainder(n, weights.tolist())
    positive = weights > 0
    if n >= positive.sum():
        shares = n * weights / weights.sum()
        for k in np.flatnonzero(positive & (counts == 0)):
            donor = int(np.argmax(np.where(counts > 1, counts - shares, -np.inf)))
            counts[donor] -= 1
            counts[k] += 1
    return counts


def _render_split(n: int, counts: np.ndarray, rng: np.random.Generator, image_size: int) -> tuple[np.ndarray, ...]:
    """Labels with exactly ``counts`` per class (shuffled), their AUs and rendered faces."""
    # Before the shuffle the labels run class by class through each rank (0..6, 0..6, ...): for balanced
    # counts that is arange(n) % 7, so the default split draws exactly what it drew before distributions.
    classes = np.repeat(np.arange(len(counts)), counts)
    ranks = np.concatenate([np.arange(c) for c in counts])
    labels = rng.permutation(classes[np.lexsort((classes, ranks))]).astype(np.int64)
    au = sample_action_units(labels, rng)
    return render_faces(au, rng, image_size), labels, au


def _inject(
    scenario: str, x: np.ndarray, y: np.ndarray, noise_rate: float | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apply a scenario to the train split on disjoint random samples; returns x, y, kinds, half sides."""
    x, y = x.copy(), y.copy()
    kinds = np.full(len(y), NOISE_CLEAN, np.int64)
    sides = np.full(len(y), -1, np.int8)
    order = rng.permutation(len(y))
    start = 0
    for kind, count in scenario_counts(scenario, len(y), noise_rate).items():
        idx = np.sort(order[start : start + count])
        start += count
        kinds[idx] = _KIND_CODE[kind]
        if count == 0:
            continue
        if kind == "symmetric":
            y[idx] = flip_labels_symmetric(y[idx], 1.0, len(FER2013_CLASS_NAMES), rng)[0]
        elif kind == "confusion":
            y[idx] = flip_labels_confusion(y[idx], 1.0, rng)[0]
        elif kind == "half_face":
            x[idx], sides[idx] = make_half_faces(x[idx], rng)[:2]
        else:
            x[idx] = make_no_face_images(count, x.shape[1:], rng, reference=x[idx])
    return x, y, kinds, sides


def make_synthetic_dataset(
    scenario: str = "label_symmetric",
    n_train: int = 5000,
    n_val: int = 1000,
    n_test: int = 2000,
    image_size: int = 48,
    noise_rate: float | None = None,
    seed: int = 0,
    class_distribution: ClassDistribution = None,
) -> FERDataset:
    """Render a synthetic FER dataset and inject the scenario's noise into the train split only.

    Train, val and test are rendered from independent streams of ``seed`` (different identities and
    nuisances); val and test stay clean (as in the paper's §4.5). ``noise_train`` records the noise kind
    of every train image, ``extras`` hold ``true_label`` (pre-noise), ``action_units`` (float32 N×n_AU)
    and ``half_face_side`` (-1, or the kept half as in :data:`~fer_select_env.data.noise.HALF_FACE_SIDES`);
    ``extras_val`` / ``extras_test`` hold ``true_label`` and ``action_units``.

    :param scenario: one of :data:`SCENARIOS`
    :param noise_rate: total noisy fraction of the train split; ``None`` keeps the scenario's default
    :param seed: non-negative integer; the same seed gives byte-identical arrays
    :param class_distribution: the class shares of all three splits (exact counts, shuffled): ``None`` or
        ``"balanced"``, ``"fer2013"`` (FER2013's training shares), or 7 non-negative weights; see
        :func:`class_counts`. Label noise is unaffected (flips still choose among the other classes).
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario: unknown {scenario!r}; valid choices are {sorted(SCENARIOS)}")
    n_train, n_val, n_test = (
        check_positive_int(k, v) for k, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test))
    )
    size = check_image_size(image_size)
    if noise_rate is not None:
        check_rate(noise_rate, "noise_rate")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    class_distribution_weights(class_distribution)  # refuse bad weights before any rendering
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(4)]
    splits = {
        name: _render_split(n, class_counts(n, class_distribution), rng, size)
        for name, n, rng in (("train", n_train, streams[0]), ("val", n_val, streams[1]), ("test", n_test, streams[2]))
    }
    x_clean, y_true, au_train = splits["train"]
    x_train, y_train, kinds, sides = _inject(scenario, x_clean, y_true, noise_rate, streams[3])
    extras = {"val": {}, "test": {}}
    for name in ("val", "test"):
        extras[name] = {"true_label": splits[name][1], "action_units": splits[name][2]}
    return FERDataset.from_arrays(
        x_train=x_train,
        y_train=y_train,
        x_val=splits["val"][0],
        y_val=splits["val"][1],
        x_test=splits["test"][0],
        y_test=splits["test"][1],
        noise_train=kinds,
        class_names=FER2013_CLASS_NAMES,
        extras={"true_label": y_true, "action_units": au_train, "half_face_side": sides},
        extras_val=extras["val"],
        extras_test=extras["test"],
    )
