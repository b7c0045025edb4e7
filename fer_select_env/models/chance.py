"""Is the embedded classifier better than chance? One definition, used by the env's first ``reset``, the
benchmark table and ``clean``'s summary.

A classifier whose validation accuracy cannot be told from what a constant guess gets makes every reward,
feature and out-of-fold score built on it noise: a selector then removes images at random. On 300 images the
default classifier sat at 1/7 on validation and cleanlab still removed 59 % of the data.

**Near chance**, precisely: with ``K`` classes and ``n`` validation images whose most frequent class holds a
share ``m``, chance is ``c = max(1/K, m)`` (the best a constant prediction does on that split), and the
classifier is near chance when its validation accuracy is below ``c + 2·sqrt(c·(1 − c)/n)``: chance plus two
binomial standard errors of an accuracy measured on ``n`` images. Below that line the accuracy is not
distinguishable from chance at about the 2 % level (one-sided), so a small validation split makes the line
higher. With no validation image there is nothing to judge and no warning.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from fer_select_env.core.metrics import total_accuracy
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models.cnn import ClassifierConfig
from fer_select_env.models.pretrain import pretrain_cache_path, pretrain_classifier

STANDARD_ERRORS = 2.0
"""How many binomial standard errors above chance the validation accuracy must reach."""

ADVICE = (
    "its probabilities and features carry almost no signal, so rewards, filters and selections built on them "
    "are close to random. Give it more data (more training and validation images), a smaller classifier "
    "(classifier_config width=8 or 4, feature_dim=32), or more epochs (classifier_config max_epochs and "
    "min_epochs); see docs/classifier.md"
)


class ClassifierNearChanceWarning(UserWarning):
    """The embedded classifier's validation accuracy is near chance (see :mod:`fer_select_env.models.chance`).

    Filter it like any warning: ``warnings.filterwarnings("ignore", category=ClassifierNearChanceWarning)``.
    """


@dataclass(frozen=True)
class ChanceCheck:
    """The verdict of :func:`check_near_chance`.

    :param val_accuracy: the classifier's accuracy on the validation split
    :param n_val: validation images
    :param num_classes: K
    :param chance: ``max(1/K, majority share of the validation labels)``
    :param threshold: ``chance + 2`` binomial standard errors at ``n_val``
    :param near_chance: ``val_accuracy < threshold`` (``False`` with no validation image)
    """

    val_accuracy: float
    n_val: int
    num_classes: int
    chance: float
    threshold: float
    near_chance: bool

    def message(self, subject: str = "the embedded classifier") -> str:
        """The warning's text: the figures, then what to do."""
        return (
            f"{subject} is near chance: validation accuracy {self.val_accuracy:.3f} on {self.n_val} images, below "
            f"{self.threshold:.3f} (chance {self.chance:.3f} = max(1/{self.num_classes}, the validation split's "
            f"majority-class share), plus {STANDARD_ERRORS:g} binomial standard errors); {ADVICE}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON-able scalars (for ``results.json`` and ``summary.json``)."""
        return asdict(self)


def chance_level(y_val: np.ndarray, num_classes: int) -> float:
    """``max(1/K, share of the most frequent validation label)``: what a constant prediction reaches."""
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    y = np.asarray(y_val)
    if y.ndim != 1:
        raise ValueError(f"y_val must be a 1-D array of labels, got shape {y.shape}")
    majority = float(np.bincount(y.astype(np.int64)).max() / len(y)) if len(y) else 0.0
    return max(1.0 / int(num_classes), majority)


def check_near_chance(val_accuracy: float, y_val: np.ndarray, num_classes: int) -> ChanceCheck:
    """Judge a validation accuracy against chance on the split ``y_val`` (definition in the module docstring)."""
    acc = float(val_accuracy)
    n = len(np.asarray(y_val))
    if n and not 0.0 <= acc <= 1.0:  # with no validation image the accuracy is NaN and nothing is judged
        raise ValueError(f"val_accuracy must lie in [0, 1], got {val_accuracy!r}")
    chance = chance_level(y_val, num_classes)
    margin = STANDARD_ERRORS * math.sqrt(chance * (1.0 - chance) / n) if n else 0.0
    threshold = min(1.0, chance + margin)
    return ChanceCheck(acc, n, int(num_classes), chance, threshold, near_chance=bool(n) and acc < threshold)


def warn_if_near_chance(check: ChanceCheck, subject: str = "the embedded classifier", stacklevel: int = 2) -> bool:
    """Issue a :class:`ClassifierNearChanceWarning` when ``check`` says near chance; returns whether it did."""
    if check.near_chance:
        warnings.warn(check.message(subject), ClassifierNearChanceWarning, stacklevel=stacklevel + 1)
    return check.near_chance


def pretrained_classifier_check(
    dataset: FERDataset,
    config: ClassifierConfig | None = None,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    cache_dir: str | os.PathLike | None = None,
    only_cached: bool = False,
) -> ChanceCheck | None:
    """:func:`check_near_chance` of the pre-trained classifier (Algorithm 1 line 2) that the env and the
    filters start from for these arguments: read from the pre-training cache, or trained and cached.

    ``only_cached=True`` returns ``None`` instead of training when the cache has no entry: after a selection,
    an entry exists exactly when the selection used the pre-trained classifier (``keep_all`` and ``oracle``
    use none), so nothing is trained only to be judged.
    """
    config = config or ClassifierConfig()
    if only_cached and not pretrain_cache_path(dataset, config, seed, cache_dir).is_file():
        return None
    clf, _ = pretrain_classifier(dataset, config, device=device, seed=seed, cache_dir=cache_dir)
    accuracy = total_accuracy(dataset.y_val, clf.predict(dataset.x_val)) if len(dataset.y_val) else math.nan
    return check_near_chance(accuracy, dataset.y_val, dataset.num_classes)


__all__ = [
    "STANDARD_ERRORS",
    "ChanceCheck",
    "ClassifierNearChanceWarning",
    "chance_level",
    "check_near_chance",
    "pretrained_classifier_check",
    "warn_if_near_chance",
]
