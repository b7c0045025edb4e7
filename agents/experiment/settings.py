"""The two settings objects of an experiment: the RL selectors' budget and hyperparameters, and the sizes of a
benchmark run around them."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from fer_select_env.models import ClassifierConfig
from fer_select_env.models.classifier import LR_SCHEDULES, MONITORS

SELECTION_RULES: tuple[str, ...] = ("class_budget", "policy", "policy_capped")
"""How an RL selector's keep probabilities become its selection (:attr:`RLSettings.selection_rule`)."""

MAX_PASS_FACTOR = 5
"""The most :meth:`RLSettings.scaled_passes` multiplies the passes by."""

FINAL_VAL_LABELS: tuple[str, ...] = ("dataset", "ferplus")
"""What the final training may early-stop on (:attr:`BenchmarkSettings.final_val_labels`)."""

FINAL_SAMPLE_WEIGHTS: tuple[str, ...] = ("none", "keep_probability", "class_normalised")
"""How the final training weights its images (:attr:`BenchmarkSettings.final_sample_weights`)."""


@dataclass
class RLSettings:
    """Budget and hyperparameters of the RL selectors (the benchmark's defaults).

    :param episodes: passes over the training set in ``learn`` (at least; see ``min_gradient_steps``)
    :param pretrain_episodes: REINFORCE passes against the fixed pre-trained classifier first (§3.3)
    :param min_gradient_steps: the budget in gradient steps: where ``pretrain_episodes + episodes`` passes
        give the selector fewer optimiser steps than this, both pass counts are scaled up by the same factor
        until they give at least this many (:meth:`scaled_passes`). The default 400 is what the 20 passes give
        REINFORCE on the 5,000-image synthetic default (20 minibatches of 256 a pass), so that data is
        unchanged while 800 images get 100 passes instead of 20 (4 steps a pass). The passes grow at most
        :data:`MAX_PASS_FACTOR` times, so a few dozen images are not passed over hundreds of times (a pass
        costs a retraining whatever its size). ``None``: passes as given
    :param selection_rule: how the trained selector's keep probabilities become the selection:
        ``"policy_capped"`` (default) is the policy's own decision, except that no class loses more than its
        estimated noise (the lowest keep probabilities of a class go first:
        :func:`agents.common.budget.capped_policy_mask`); ``"policy"`` keeps an image iff its keep probability
        is above 1/2 (the policy's own decision, the paper's); ``"class_budget"`` ranks the images of each
        class by them and removes the share of the class's estimated noise chosen on validation
        (:func:`agents.common.budget.choose_budget`; the default until ``docs/results.md``'s "Three selection
        rules" measured it behind both others)
    :param learning_rate: Adam learning rate of the selector
    :param reward_scaling: REINFORCE's ``reward_scaling`` (see :func:`agents.reinforce.reinforce.scale_sample_rewards`)
    :param ppo_learning_rate: PPO's learning rate
    :param persistent_classifier: the env flag; ``False`` (default here) restarts every pass from the
        pre-trained classifier so that the state distribution stays fixed while the selector learns
    :param classifier_config: the embedded classifier (``None``: the package default)
    :param device: torch device of the selector and of the env's classifier
    :param cache_dir: the env's pre-training cache (``None``: the package default)
    :param tensorboard_log: TensorBoard directory, ``None`` for none
    :param progress_bar: SB3's progress bar during ``learn``
    :param verbose: SB3's ``verbose``
    :param extra_env_kwargs: more ``FERSelectEnv`` arguments for every RL selector (e.g. ``baseline``)
    """

    episodes: int = 15
    pretrain_episodes: int = 5
    min_gradient_steps: int | None = 400
    selection_rule: str = "policy_capped"
    learning_rate: float = 3e-4
    reward_scaling: str = "balanced"
    ppo_learning_rate: float = 3e-4
    persistent_classifier: bool = False
    classifier_config: ClassifierConfig | None = None
    device: str = "cpu"
    cache_dir: str | os.PathLike | None = None
    tensorboard_log: str | None = None
    progress_bar: bool = False
    verbose: int = 0
    extra_env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("episodes", "pretrain_episodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.selection_rule not in SELECTION_RULES:
            raise ValueError(f"selection_rule must be one of {SELECTION_RULES}, got {self.selection_rule!r}")
        value = self.min_gradient_steps
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"min_gradient_steps must be a positive integer or None, got {value!r}")

    def scaled_passes(self, steps_per_pass: int) -> tuple[int, int]:
        """``(pre-training passes, learning passes)`` for an algorithm that takes ``steps_per_pass`` gradient
        steps per pass over the training images (issue 13's budget rule).

        With ``P = pretrain_episodes + episodes`` passes and ``s`` steps a pass, a budget of ``m =
        min_gradient_steps`` needs ``T = max(P, ceil(m / s))`` passes; the pre-training passes are
        ``round(pretrain_episodes · T / P)`` and the rest learn, with ``T`` at most ``MAX_PASS_FACTOR · P``.
        So the share of pre-training stays the paper's, a large dataset keeps its passes, and a small one
        (down to about 800 images for REINFORCE) gets as many optimiser steps as the default data does.
        """
        steps_per_pass = max(1, int(steps_per_pass))
        passes = self.pretrain_episodes + self.episodes
        if self.min_gradient_steps is None or passes == 0:
            return self.pretrain_episodes, self.episodes
        total = max(passes, min(MAX_PASS_FACTOR * passes, math.ceil(self.min_gradient_steps / steps_per_pass)))
        pretrain = round(self.pretrain_episodes * total / passes)
        return pretrain, total - pretrain

    def scaled(self, steps_per_pass: int) -> RLSettings:
        """A copy whose ``pretrain_episodes`` and ``episodes`` are :meth:`scaled_passes` (the budget applied,
        so ``min_gradient_steps`` is ``None`` in the copy)."""
        pretrain, episodes = self.scaled_passes(steps_per_pass)
        return dataclasses.replace(self, pretrain_episodes=pretrain, episodes=episodes, min_gradient_steps=None)


@dataclass
class BenchmarkSettings:
    """Everything that sizes a benchmark run.

    :param rl: budget and hyperparameters of the RL selectors
    :param classifier_config: the embedded classifier and the final classifier (same architecture)
    :param final_max_epochs: epoch cap of the final training (``None``: the config's ``max_epochs``, 20)
    :param final_patience: early-stopping patience of the final training. The narrow CPU classifier's
        validation loss is bumpy: with the classifier's default patience of 4 a run stopped at epoch 11
        (best epoch 7, val accuracy 0.755) on a subset whose oracle twin trained to 0.826.
    :param device: torch device of every classifier and selector of the run (copied into ``rl``)
    :param cache_dir: the pre-training cache (``None``: the package default; copied into ``rl``)
    :param threads: PyTorch's CPU thread count for the whole run, set by the benchmark itself. Results are
        reproducible for a given count; the default 1 makes them independent of the machine's core count
        and keeps parallel benchmark processes from oversubscribing the cores.
    :param final_repeats: how many times each selection's final classifier is trained (seeds from
        :func:`final_seed`, the same for every agent: common random numbers); the reported test figures are
        the mean over the repeats, and every repeat is kept
    :param final_lr_schedule: the final training's learning-rate schedule, ``"constant"`` or ``"cosine"``
        (decayed to zero over the epoch cap; see :meth:`~fer_select_env.models.EmotionClassifier.fit`)
    :param final_min_steps: with a number, the final training takes at least this many gradient steps before
        early stopping may end it, and its epoch cap rises to fit them: sized in steps, so that a small kept
        set (a few hundred images, a few steps per epoch) is not stopped on the plateau of its first epochs.
        The default 640 is what ``min_epochs=8`` gives the 5,000-image synthetic default (79 steps an epoch),
        so every kept set gets at least the steps the default one gets. ``None``: the epoch-based
        ``min_epochs`` and cap of the classifier config only
    :param final_val_labels: the labels the final training early-stops on: ``"dataset"`` (the dataset's own
        validation labels) or ``"ferplus"`` (the FER+ majority, on the validation rows that have one)
    :param final_ema_epochs: with a number, the final training validates and keeps an exponential moving
        average of its weights with a horizon of that many epochs (``ema_epochs`` of
        :meth:`~fer_select_env.models.EmotionClassifier.fit`); ``None``: the weights themselves. The default 1
        cut the seed-to-seed spread of keep_all on the synthetic default from 2.46 to 1.38 macro-F1 points and
        raised its mean by 4 (``benchmarks/bench_final_repeats.py``; docs/results.md)
    :param final_monitor: what the final training early-stops on and keeps its best epoch by:
        ``"val_accuracy"`` (default; the loss breaks ties) or ``"val_loss"``. On a few hundred noisy labels the
        validation loss kept the near-uniform first epoch (chance-level macro-F1) of a run whose later epochs
        were far more accurate but over-confident (``monitor`` of
        :meth:`~fer_select_env.models.EmotionClassifier.fit`)
    :param final_sample_weights: ``"none"`` (default): the final classifier trains on the kept images, each
        counting once. ``"keep_probability"``: it trains on every training image whose keep probability is
        above 0, its cross-entropy weighted by that probability (``sample_weight`` of
        :meth:`~fer_select_env.models.EmotionClassifier.fit`; how DVRL trains its final model). The filters'
        keep probability is their 0/1 mask, so they train as with ``"none"``; ``kept`` still defines the kept
        fraction and the removal metrics. ``"class_normalised"``: only the kept images, each weighted by its
        keep probability over the mean of its class's kept images, so that no class loses weight to the
        policy's class preferences. See :func:`agents.experiment.benchmark.final_sample_weight`
    """

    rl: RLSettings = field(default_factory=RLSettings)
    classifier_config: ClassifierConfig = field(default_factory=ClassifierConfig)
    final_max_epochs: int | None = None
    final_patience: int = 8
    device: str = "cpu"
    cache_dir: str | os.PathLike | None = None
    threads: int = 1
    final_repeats: int = 1
    final_lr_schedule: str = "constant"
    final_min_steps: int | None = 640
    final_val_labels: str = "dataset"
    final_ema_epochs: float | None = 1.0
    final_monitor: str = "val_accuracy"
    final_sample_weights: str = "none"

    def __post_init__(self) -> None:
        for name in ("threads", "final_repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.final_min_steps is not None and (
            isinstance(self.final_min_steps, bool)
            or not isinstance(self.final_min_steps, int)
            or self.final_min_steps < 1
        ):
            raise ValueError(f"final_min_steps must be a positive integer or None, got {self.final_min_steps!r}")
        if self.final_lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"final_lr_schedule must be one of {LR_SCHEDULES}, got {self.final_lr_schedule!r}")
        if self.final_val_labels not in FINAL_VAL_LABELS:
            raise ValueError(f"final_val_labels must be one of {FINAL_VAL_LABELS}, got {self.final_val_labels!r}")
        if self.final_monitor not in MONITORS:
            raise ValueError(f"final_monitor must be one of {MONITORS}, got {self.final_monitor!r}")
        if self.final_sample_weights not in FINAL_SAMPLE_WEIGHTS:
            raise ValueError(
                f"final_sample_weights must be one of {FINAL_SAMPLE_WEIGHTS}, got {self.final_sample_weights!r}"
            )
        if self.final_ema_epochs is not None and (
            isinstance(self.final_ema_epochs, bool)
            or not isinstance(self.final_ema_epochs, (int, float))
            or not self.final_ema_epochs > 0
        ):
            raise ValueError(f"final_ema_epochs must be a positive number or None, got {self.final_ema_epochs!r}")

    def to_dict(self) -> dict[str, Any]:
        rl = {k: v for k, v in asdict(self.rl).items() if k not in ("classifier_config", "cache_dir")}
        out = {
            "rl": rl,
            "classifier_config": self.classifier_config.to_dict(),
            "final_max_epochs": self.final_max_epochs,
            "final_patience": self.final_patience,
            "device": self.device,
            "threads": self.threads,
            "final_repeats": self.final_repeats,
            "final_lr_schedule": self.final_lr_schedule,
            "final_min_steps": self.final_min_steps,
            "final_val_labels": self.final_val_labels,
            "final_ema_epochs": self.final_ema_epochs,
            "final_monitor": self.final_monitor,
        }
        # Recorded only when not the default: benchmark.reusable_agents reuses the runs of an existing
        # results.json only when its meta.settings equal these, so a new key on every run would make every
        # results file written before the option existed (trained unweighted) stale.
        if self.final_sample_weights != "none":
            out["final_sample_weights"] = self.final_sample_weights
        return out
