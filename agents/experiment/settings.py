"""The two settings objects of an experiment: the RL selectors' budget and hyperparameters, and the sizes of a
benchmark run around them."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from fer_select_env.models import ClassifierConfig
from fer_select_env.models.classifier import LR_SCHEDULES, MONITORS

FINAL_VAL_LABELS: tuple[str, ...] = ("dataset", "ferplus")
"""What the final training may early-stop on (:attr:`BenchmarkSettings.final_val_labels`)."""


@dataclass
class RLSettings:
    """Budget and hyperparameters of the RL selectors (the benchmark's defaults).

    :param episodes: passes over the training set in ``learn``
    :param pretrain_episodes: REINFORCE passes against the fixed pre-trained classifier first (§3.3)
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
        if self.final_ema_epochs is not None and (
            isinstance(self.final_ema_epochs, bool)
            or not isinstance(self.final_ema_epochs, (int, float))
            or not self.final_ema_epochs > 0
        ):
            raise ValueError(f"final_ema_epochs must be a positive number or None, got {self.final_ema_epochs!r}")

    def to_dict(self) -> dict[str, Any]:
        rl = {k: v for k, v in asdict(self.rl).items() if k not in ("classifier_config", "cache_dir")}
        return {
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
