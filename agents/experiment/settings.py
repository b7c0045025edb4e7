"""The two settings objects of an experiment: the RL selectors' budget and hyperparameters, and the sizes of a
benchmark run around them."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from fer_select_env.models import ClassifierConfig


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
    """

    rl: RLSettings = field(default_factory=RLSettings)
    classifier_config: ClassifierConfig = field(default_factory=ClassifierConfig)
    final_max_epochs: int | None = None
    final_patience: int = 8
    device: str = "cpu"
    cache_dir: str | os.PathLike | None = None

    def to_dict(self) -> dict[str, Any]:
        rl = {k: v for k, v in asdict(self.rl).items() if k not in ("classifier_config", "cache_dir")}
        return {
            "rl": rl,
            "classifier_config": self.classifier_config.to_dict(),
            "final_max_epochs": self.final_max_epochs,
            "final_patience": self.final_patience,
            "device": self.device,
        }
