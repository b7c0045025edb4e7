"""RL selectors for the benchmark: train an agent on FERSelect-v0, then read its keep probability per image.

The settings here are the ones that learn on the synthetic default (measured in ``docs/results.md``);
``examples/train_reinforce.py`` and ``examples/train_ppo.py`` use the same ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from agents.reinforce import REINFORCE
from agents.selection import Selection
from fer_select_env.classifier import ClassifierConfig
from fer_select_env.data.dataset import FERDataset
from fer_select_env.env import FERSelectEnv

HISTORY_KEYS: tuple[str, ...] = (
    "episode_reward",
    "kept_fraction",
    "val_accuracy",
    "val_macro_f1",
    "removal_precision",
    "removal_recall",
    "removal_f1",
)


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
    :param tensorboard_log: TensorBoard directory, ``None`` for none
    :param progress_bar: SB3's progress bar during ``learn``
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


class EpisodeHistory(BaseCallback):
    """Collects the scalar summary of every finished pass from the terminal ``info`` and records it under
    ``env/`` in SB3's logger (TensorBoard), for any algorithm (PPO, A2C, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if done:
                row = {k: float(info[k]) for k in HISTORY_KEYS[1:] if k in info}
                if "episode" in info:
                    row["episode_reward"] = float(info["episode"]["r"])
                self.history.append(row)
                for key, value in row.items():
                    self.logger.record(f"env/{key}", value)
        return True


def make_selection_env(
    dataset: FERDataset, observation: str, seed: int, settings: RLSettings, **kwargs: Any
) -> FERSelectEnv:
    """The env every RL selector of the benchmark trains on (classifier pre-training seeded by ``seed``)."""
    env_kwargs: dict[str, Any] = {
        "observation": observation,
        "persistent_classifier": settings.persistent_classifier,
        "classifier_config": settings.classifier_config,
        "classifier_seed": seed,
        "device": settings.device,
        "cache_dir": settings.cache_dir,
        **settings.extra_env_kwargs,
        **kwargs,
    }
    return FERSelectEnv(dataset, **env_kwargs)


def selection_pass(env: FERSelectEnv, keep_probability: Callable[[np.ndarray], float], seed: int) -> Selection:
    """One deterministic pass: keep an image iff its keep probability is above 1/2; record every probability.

    The keep probabilities are indexed by training image (``info["sample_index"]``), so the result is in
    dataset order whatever the pass's shuffled order.
    """
    n = len(env.dataset.y_train)
    probs = np.full(n, np.nan)
    obs, info = env.reset(seed=seed)
    done = False
    while not done:
        index = info["sample_index"]
        p = float(keep_probability(obs))
        probs[index] = p
        obs, _reward, done, _truncated, info = env.step(int(p > 0.5))
    if np.isnan(probs).any():
        raise RuntimeError("the selection pass did not visit every training image (episode_size < train size?)")
    rewards = np.zeros(n)
    rewards[info["sample_indices"]] = info["sample_rewards"]
    return Selection(keep_probability=probs, kept=probs > 0.5, sample_rewards=rewards)


def build_reinforce(env: Any, seed: int, settings: RLSettings) -> REINFORCE:
    """The benchmark's REINFORCE (also what ``fer-select train`` builds)."""
    return REINFORCE(
        "MlpPolicy",
        env,
        learning_rate=settings.learning_rate,
        reward_scaling=settings.reward_scaling,
        seed=seed,
        device=settings.device,
        tensorboard_log=settings.tensorboard_log,
        verbose=settings.verbose,
    )


def build_ppo(vec_env: Any, seed: int, settings: RLSettings, n_images: int) -> PPO:
    """The benchmark's PPO on a ``VecNormalize``-wrapped env of ``n_images`` images per pass."""
    return PPO(
        "MlpPolicy",
        vec_env,
        learning_rate=settings.ppo_learning_rate,
        n_steps=min(2048, n_images),
        batch_size=min(PPO_KWARGS["batch_size"], n_images),
        seed=seed,
        device=settings.device,
        tensorboard_log=settings.tensorboard_log,
        verbose=settings.verbose,
        **{k: v for k, v in PPO_KWARGS.items() if k != "batch_size"},
    )


def _train_reinforce(env: FERSelectEnv, seed: int, settings: RLSettings, tb_log_name: str) -> tuple[REINFORCE, list]:
    model = build_reinforce(Monitor(env), seed, settings)
    model.pretrain(settings.pretrain_episodes, progress_bar=settings.progress_bar)
    history = EpisodeHistory()
    n = env.episode_size
    model.learn(settings.episodes * n, callback=history, tb_log_name=tb_log_name, progress_bar=settings.progress_bar)
    return model, history.history


def reinforce_selector(observation: str) -> Callable[..., Selection]:
    """The benchmark's ``reinforce`` (``observation="label_aware"``) or ``reinforce_paper`` (``"paper"``)."""

    def select(dataset: FERDataset, *, seed: int = 0, settings: RLSettings | None = None) -> Selection:
        settings = settings or RLSettings()
        env = make_selection_env(dataset, observation, seed, settings)
        model, history = _train_reinforce(env, seed, settings, f"reinforce_{observation}")
        policy = model.policy

        def keep_probability(obs: np.ndarray) -> float:
            with th.no_grad():
                return float(policy.keep_probability(th.as_tensor(obs[None], device=model.device)))

        selection = selection_pass(env, keep_probability, seed)
        selection.history = [*[_pretrain_row(s) for s in model.pretrain_history], *history]
        selection.info.update(
            pretrain_episodes=settings.pretrain_episodes, episodes=settings.episodes, observation=observation
        )
        return selection

    return select


def _pretrain_row(stats: dict[str, float]) -> dict[str, float]:
    row = {k.removeprefix("env/"): float(v) for k, v in stats.items() if k.startswith("env/")}
    row["pretrain"] = 1.0
    return row


PPO_ENV_KWARGS: dict[str, Any] = {"reward": "per_step", "baseline": "mean"}
"""The env PPO learns on: dense per-step rewards ``a_i·R_i`` with the ``mean`` baseline of Eq. 2. With the
``uniform`` baseline (and the default ``class_prior``, ≈ 1/K on balanced data) a mislabelled image's reward is
close to 0 (≈ -0.02 on the synthetic default), and PPO's value-baseline advantage then has nothing to
separate; centring on the mean makes it ≈ -0.5."""

PPO_KWARGS: dict[str, Any] = {
    "gamma": 0.0,
    "n_epochs": 4,
    "batch_size": 256,
    "ent_coef": 0.0,
    "gae_lambda": 1.0,
}
"""PPO settings that learn on FERSelect-v0 with ``reward="per_step"``. Each decision's per-step reward
``a_i·R_i`` depends only on that decision, so the honest discount is 0 (with the terminal Eq. 3 reward and
SB3's default ``gamma=0.99`` the reward would be invisible to all but the last few hundred decisions)."""


def ppo_selector(dataset: FERDataset, *, seed: int = 0, settings: RLSettings | None = None) -> Selection:
    """SB3's PPO, unmodified, on the label-aware env with the dense per-step reward (:data:`PPO_ENV_KWARGS`)
    and SB3's ``VecNormalize`` for the observations."""
    settings = settings or RLSettings()
    env = make_selection_env(dataset, "label_aware", seed, settings, **PPO_ENV_KWARGS)
    n = env.episode_size
    vec = VecNormalize(DummyVecEnv([lambda: Monitor(env)]), norm_obs=True, norm_reward=False)
    model: BaseAlgorithm = build_ppo(vec, seed, settings, n)
    history = EpisodeHistory()
    total = (settings.episodes + settings.pretrain_episodes) * n
    model.learn(total, callback=CallbackList([history]), tb_log_name="ppo", progress_bar=settings.progress_bar)

    vec.training = False

    def keep_probability(obs: np.ndarray) -> float:
        obs_t = th.as_tensor(vec.normalize_obs(obs[None]), device=model.device)
        with th.no_grad():
            dist = model.policy.get_distribution(obs_t)
            return float(dist.distribution.probs[0, 1])

    selection = selection_pass(env, keep_probability, seed)
    selection.history = history.history
    selection.info.update(episodes=settings.episodes + settings.pretrain_episodes, **PPO_KWARGS)
    return selection
