"""``agents.clean``: arrays in, keep mask out, with the engine of ``fer-select clean`` behind it.

cleanlab users write ``find_label_issues(labels, pred_probs)``; here the selector trains its own classifier,
so the call takes the images::

    result = agents.clean(x_train, y_train, x_val, y_val, agent="cleanlab")
    x_kept, y_kept = x_train[result.keep], y_train[result.keep]

The validation split is what the embedded classifier early-stops on (never the images being cleaned). No test
split is asked for: nothing is evaluated. :class:`~fer_select_env.data.dataset.FERDataset` requires one, so
the validation arrays stand in as its test split; no selector reads the test split (only the benchmark's final
evaluation does, and this function runs none).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.common.selection import Selection
from agents.experiment.benchmark import select
from agents.experiment.registry import get_agent
from agents.experiment.report import reference_report
from agents.experiment.settings import BenchmarkSettings, RLSettings
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models import ClassifierConfig
from fer_select_env.models.chance import (
    ChanceCheck,
    ClassifierNearChanceWarning,
    pretrained_classifier_check,
    warn_if_near_chance,
)
from fer_select_env.models.cnn import as_classifier_config


@dataclass
class CleanResult:
    """What :func:`clean` found, in the order of the training arrays.

    :param keep: bool per training image: the images to train on
    :param keep_probability: the selector's probability of keeping each image, for the selectors that score
        (``reinforce``, ``reinforce_paper``, ``ppo``, ``feng``); ``None`` for the filters, whose decision is
        all there is (``keep_all``, ``predicted_neq_given``, ``small_loss``, ``cleanlab``, ``oracle``,
        ``ferplus_relabel``)
    :param relabel: the label to train each image on instead of the given one, for a selector that relabels
        (``ferplus_relabel``, from the FER+ votes); ``None`` for every selector that only keeps or removes
    :param sample_rewards: the last per-image rewards ``R_i`` (Eq. 2) of an RL selector; ``None`` otherwise
    :param classifier_check: the pre-trained classifier the selection used, against chance (``None`` when the
        selector used none); ``near_chance`` means the selection is close to random
    :param report: removal precision, recall and F1 when ``noise_train`` was given (what ``fer-select clean``
        writes to ``summary.json``)
    :param selection: the engine's :class:`~agents.common.Selection`, history and info included
    """

    keep: np.ndarray
    keep_probability: np.ndarray | None
    relabel: np.ndarray | None
    sample_rewards: np.ndarray | None
    classifier_check: ChanceCheck | None
    report: dict[str, Any] = field(default_factory=dict)
    selection: Selection | None = None

    @property
    def issues(self) -> np.ndarray:
        """Indices of the removed images (cleanlab's ``return_indices_ranked_by=None`` form)."""
        return np.flatnonzero(~self.keep)


def arrays_dataset(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    noise_train: np.ndarray | None = None,
    extras: Mapping[str, np.ndarray] | None = None,
) -> FERDataset:
    """The :class:`FERDataset` that :func:`clean` selects on: the validation arrays double as the test split
    the class requires, which no selector reads. Bad arrays raise the dataset's ``ValueError``."""
    return FERDataset.from_arrays(
        x_train,
        y_train,
        x_val,
        y_val,
        x_val,
        y_val,
        noise_train=noise_train,
        class_names=class_names,
        extras=extras,
    )


def _is_filter(selection: Selection) -> bool:
    # The filters of agents.baselines record their name under "filter"; their keep probability is the mask.
    return "filter" in selection.info


def clean(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    agent: str = "reinforce",
    seed: int = 0,
    episodes: int | None = None,
    pretrain_episodes: int | None = None,
    min_gradient_steps: int | None = RLSettings.min_gradient_steps,
    selection_rule: str = RLSettings.selection_rule,
    classifier_config: ClassifierConfig | Mapping[str, Any] | None = None,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    class_names: Sequence[str] | None = None,
    noise_train: np.ndarray | None = None,
    extras: Mapping[str, np.ndarray] | None = None,
    progress: bool = False,
) -> CleanResult:
    """Select the training images to keep, with any registered agent, as ``fer-select clean --agent`` does.

    :param x_train: uint8 images ``N×H×W`` or ``N×H×W×C``, the set to clean
    :param y_train: integer labels in ``[0, K)``, one per training image
    :param x_val: images the embedded classifier early-stops on (same shape), not cleaned
    :param y_val: their labels
    :param agent: a registered agent (``agents.experiment.registry.agent_names()``); the default
        ``reinforce`` trains an RL selector for ``pretrain_episodes + episodes`` passes over the data
    :param seed: seed of the selector and of the classifier's pre-training (same seed, same mask)
    :param episodes: RL passes (default :class:`~agents.experiment.settings.RLSettings`' 15)
    :param pretrain_episodes: REINFORCE passes against the frozen classifier first (default 5)
    :param min_gradient_steps: the RL budget in gradient steps (the passes grow to reach it; ``None``: passes
        as given); see :class:`~agents.experiment.settings.RLSettings`
    :param selection_rule: ``"policy_capped"`` (default), ``"policy"`` or ``"class_budget"``: how an RL selector's keep
        probabilities become the mask (:class:`~agents.experiment.settings.RLSettings`)
    :param classifier_config: the embedded classifier (a ``ClassifierConfig`` or a dict of its fields)
    :param device: ``cpu``, ``cuda`` or ``auto``
    :param cache_dir: the pre-training cache (default: the package's)
    :param class_names: K names (default: ``K`` = largest label + 1, FER2013's names when K = 7)
    :param noise_train: ground-truth noise kinds per training image (0 = clean), only for the ``report`` and
        for the ``oracle`` agent; selectors never read it
    :param extras: per-training-image arrays (``ferplus_votes`` for ``ferplus_relabel``)
    :param progress: progress bars while an RL agent trains
    :returns: a :class:`CleanResult`; a :class:`~fer_select_env.models.chance.ClassifierNearChanceWarning` is
        issued when the pre-trained classifier is near chance
    """
    spec = get_agent(agent)  # an unknown name is a ValueError listing the valid ones, before any work
    dataset = arrays_dataset(
        x_train, y_train, x_val, y_val, class_names=class_names, noise_train=noise_train, extras=extras
    )
    missing = spec.missing_requirement(dataset)
    if missing is not None:
        raise ValueError(f"agent {agent!r} {missing}: pass it to clean() (noise_train=, extras=)")
    config = as_classifier_config(classifier_config)
    defaults = RLSettings()
    rl = RLSettings(
        episodes=_budget("episodes", episodes, defaults.episodes),
        pretrain_episodes=_budget("pretrain_episodes", pretrain_episodes, defaults.pretrain_episodes),
        min_gradient_steps=min_gradient_steps,
        selection_rule=selection_rule,
        progress_bar=bool(progress),
    )
    settings = BenchmarkSettings(rl=rl, classifier_config=config, device=device, cache_dir=cache_dir)
    with warnings.catch_warnings():
        # The env warns at its first reset; the check below says it once, for every kind of selector.
        warnings.simplefilter("ignore", ClassifierNearChanceWarning)
        selection = select(agent, dataset, seed, settings)
    check = pretrained_classifier_check(
        dataset, config, seed=seed, device=device, cache_dir=cache_dir, only_cached=True
    )
    if check is not None:
        warn_if_near_chance(check, f"the pre-trained classifier behind {agent!r}", stacklevel=2)
    return CleanResult(
        keep=selection.kept.copy(),
        keep_probability=None if _is_filter(selection) else selection.keep_probability.copy(),
        relabel=None if selection.train_labels is None else selection.train_labels.copy(),
        sample_rewards=selection.sample_rewards,
        classifier_check=check,
        report=reference_report(selection, dataset),
        selection=selection,
    )


def _budget(name: str, value: int | None, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: must be a non-negative integer or None, got {value!r}")
    return int(value)


__all__ = ["CleanResult", "arrays_dataset", "clean"]
