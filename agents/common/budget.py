"""Class-aware removal budgets for a learned ranking, their size chosen on the validation split (issue 13).

An RL selector learns a keep probability per image; the threshold of 1/2 decides how many it removes, and
that number swung between 49 % and 86 % kept from seed to seed. Here the selector's probabilities only
*rank* the images within each class, and how many of a class go is bounded by an estimate of that class's
noise, as in Confident Learning's prune-by-class (Northcutt et al. 2021, JAIR 70, §3.3):

* :func:`estimate_class_noise`: the share of each given class that the confident joint puts off the
  diagonal (``cleanlab.count.compute_confident_joint`` on out-of-fold probabilities);
* :func:`class_budget_mask`: remove the ``round(fraction · noise_k · n_k)`` lowest-ranked images of every
  class k, never the last image of a class: no class is emptied, none is thinned beyond its estimated
  noise;
* :func:`capped_policy_mask`: the policy's own decision (keep iff its probability is above 1/2), with each
  class's removals capped at the class budget of fraction 1 (the ``"policy_capped"`` selection rule);
* :func:`choose_budget`: try the fractions of :data:`BUDGET_FRACTIONS` (0 is keep-all) and keep the one whose
  cheap head-only fits on the cached convolutional features score best on validation macro-F1.

Why a fraction below one: the final classifier gains more from keeping clean images than from removing the
last wrong ones, and the ranking's precision falls as it goes down the list (measured in
``docs/results.md``). Why validation decides, not a constant: the best fraction moved from 0.5 to 1.0
between two small synthetic tasks, and on data whose removals do not help (correct labels, light noise)
keep-all must stay possible. The test split is never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cleanlab.count import compute_confident_joint

from fer_select_env.core.metrics import confusion_matrix, macro_f1
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models import EmotionClassifier

BUDGET_FRACTIONS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The budget fractions :func:`choose_budget` tries: 0 keeps every image, 1 removes each class's estimated
noise."""

HEAD_FIT_SEEDS = 3
"""Head fits averaged per candidate: one fit on a 200-image validation split moves by a few points."""


def estimate_class_noise(labels: np.ndarray, probs: np.ndarray, num_classes: int) -> np.ndarray:
    """Estimated noise rate of every given class: ``1 − C[k, k] / Σ_j C[k, j]`` for the confident joint C.

    :param labels: given label per image
    :param probs: out-of-fold class probabilities (n×K); in-sample ones understate the noise
    :returns: float64 array of K rates in [0, 1]; 0 for a class with no image
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (len(labels), num_classes):
        raise ValueError(f"probs must have shape ({len(labels)}, {num_classes}), got {probs.shape}")
    present = np.unique(labels)
    if len(present) < 2:
        return np.zeros(num_classes)
    # cleanlab wants labels 0..m-1 of the classes present; map them and back.
    position = np.full(num_classes, -1)
    position[present] = np.arange(len(present))
    sub = probs[:, present]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    joint = compute_confident_joint(position[labels], sub)
    rates = np.zeros(num_classes)
    row = joint.sum(axis=1)
    rates[present] = np.where(row > 0, 1.0 - np.diag(joint) / np.maximum(row, 1), 0.0)
    return np.clip(rates, 0.0, 1.0)


def class_budget_mask(
    keep_probability: np.ndarray, labels: np.ndarray, noise_rates: np.ndarray, fraction: float
) -> np.ndarray:
    """Keep mask that removes, in every class k, its ``round(fraction · noise_k · n_k)`` images of lowest keep
    probability (ties: the lower index goes first), leaving at least one image of every class.

    :param fraction: in [0, 1]; 0 keeps every image
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
    p = np.asarray(keep_probability, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if p.shape != labels.shape:
        raise ValueError(f"keep_probability has shape {p.shape}, labels {labels.shape}")
    kept = np.ones(len(p), dtype=bool)
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        n_remove = min(round(fraction * float(noise_rates[k]) * len(members)), len(members) - 1)
        if n_remove > 0:
            order = members[np.argsort(p[members], kind="stable")]
            kept[order[:n_remove]] = False
    return kept


def capped_policy_mask(
    keep_probability: np.ndarray, labels: np.ndarray, noise_rates: np.ndarray, threshold: float = 0.5
) -> np.ndarray:
    """The policy's keep mask (``keep_probability > threshold``) with no class thinned beyond its estimated
    noise: where a class's removals exceed ``round(noise_k · n_k)``, only that many of its lowest keep
    probabilities go (the :func:`class_budget_mask` of fraction 1), so a policy that collapsed towards
    removing everything keeps every class at its estimated clean share, and one that removes less is left as
    it is.
    """
    policy = np.asarray(keep_probability, dtype=np.float64) > threshold
    return policy | class_budget_mask(keep_probability, labels, noise_rates, 1.0)


def noise_record(noise_rates: np.ndarray) -> list[float]:
    """The estimated noise per class as a Selection's ``info`` records it (``estimated_noise_by_class``)."""
    return [round(float(r), 4) for r in noise_rates]


@dataclass
class BudgetChoice:
    """The outcome of :func:`choose_budget`.

    :param kept: the chosen keep mask
    :param fraction: the chosen budget fraction
    :param noise_rates: the estimated noise rate per class
    :param scores: validation macro-F1 (mean of the head fits) per fraction tried
    """

    kept: np.ndarray
    fraction: float
    noise_rates: np.ndarray
    scores: dict[float, float] = field(default_factory=dict)

    def to_info(self) -> dict[str, Any]:
        """The JSON-able record a Selection's ``info`` keeps."""
        return {
            "budget_fraction": self.fraction,
            "estimated_noise_by_class": noise_record(self.noise_rates),
            "budget_val_macro_f1": {str(f): round(s, 4) for f, s in self.scores.items()},
        }


def head_fit_score(
    classifier: EmotionClassifier,
    z_train: np.ndarray,
    z_val: np.ndarray,
    dataset: FERDataset,
    kept: np.ndarray,
    seeds: tuple[int, ...],
) -> float:
    """Validation macro-F1 of fresh dense heads trained on the kept images' conv features, mean over ``seeds``.

    The classifier's head is changed; the caller passes a clone.
    """
    scores = []
    for seed in seeds:
        classifier.fit_head(z_train[kept], dataset.y_train[kept], z_val, dataset.y_val, seed=seed, init="random")
        pred = classifier.head_proba(z_val).argmax(axis=1)
        scores.append(macro_f1(confusion_matrix(dataset.y_val, pred, dataset.num_classes)))
    return float(np.mean(scores))


def choose_budget(
    dataset: FERDataset,
    classifier: EmotionClassifier,
    keep_probability: np.ndarray,
    oof_probs: np.ndarray,
    *,
    seed: int,
    fractions: tuple[float, ...] = BUDGET_FRACTIONS,
) -> BudgetChoice:
    """Try every budget fraction and keep the best on validation (ties: the smaller fraction, keeping more).

    :param classifier: the pre-trained classifier whose conv trunk gives the features (it is not changed)
    :param keep_probability: the selector's keep probability per training image: the ranking
    :param oof_probs: out-of-fold class probabilities of the training images, for the noise estimate
    :param seed: seeds the head fits (the same seeds for every fraction: common random numbers)
    """
    if not fractions:
        raise ValueError("fractions: give at least one budget fraction")
    noise = estimate_class_noise(dataset.y_train, oof_probs, dataset.num_classes)
    model = classifier.clone()
    z_train = model.conv_features(dataset.x_train)
    z_val = model.conv_features(dataset.x_val)
    seeds = tuple(int(s) for s in np.random.SeedSequence([int(seed), 13]).generate_state(HEAD_FIT_SEEDS) >> 1)
    best: tuple[float, float, np.ndarray] | None = None
    scores: dict[float, float] = {}
    for fraction in sorted(set(float(f) for f in fractions)):
        kept = class_budget_mask(keep_probability, dataset.y_train, noise, fraction)
        scores[fraction] = head_fit_score(model, z_train, z_val, dataset, kept, seeds)
        if best is None or scores[fraction] > best[1]:
            best = (fraction, scores[fraction], kept)
    assert best is not None
    return BudgetChoice(kept=best[2], fraction=best[0], noise_rates=noise, scores=scores)
