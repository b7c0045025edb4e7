"""The ``reinforce_relabel`` agent: REINFORCE's categorical selector on FERSelectRelabel-v0, which removes an
image, keeps it, or keeps it relabelled to the embedded classifier's prediction.

Its :class:`~agents.common.Selection` sets ``kept`` (the most probable action is not "remove"),
``keep_probability`` (``1 − π(remove)``) and ``train_labels`` (the prediction for a relabelled image, the given
label otherwise), so the benchmark's final classifier trains on the corrected labels and ``fer-select clean``
writes them. The registry (:mod:`agents.experiment.registry`) names the functions defined here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from agents.common.callbacks import pretrain_row
from agents.common.selection import Selection
from agents.experiment.rl_selection import (
    build_reinforce,
    make_selection_env,
    reinforce_steps_per_pass,
    train_reinforce,
)
from agents.experiment.settings import RLSettings
from agents.reinforce import REINFORCE
from fer_select_env.data.dataset import FERDataset
from fer_select_env.envs.select.relabel_env import REMOVE, FERSelectRelabelEnv

CATEGORICAL_POLICY = "CategoricalMlpPolicy"
"""REINFORCE's policy over remove / keep / relabel."""

OBSERVATION = "label_aware"
"""The state ``reinforce_relabel`` learns on: the prediction it may adopt must be in it."""


def make_relabel_env(
    dataset: FERDataset, observation: str, seed: int, settings: RLSettings, **kwargs: Any
) -> FERSelectRelabelEnv:
    """FERSelectRelabel-v0 with the arguments :func:`~agents.experiment.rl_selection.make_selection_env` gives
    every RL selector of the benchmark."""
    env = make_selection_env(dataset, observation, seed, settings, env_class=FERSelectRelabelEnv, **kwargs)
    assert isinstance(env, FERSelectRelabelEnv)
    return env


def build_relabel_reinforce(env: Any, seed: int, settings: RLSettings) -> REINFORCE:
    """The benchmark's REINFORCE (:func:`~agents.experiment.rl_selection.build_reinforce`) with the categorical
    policy over remove / keep / relabel."""
    return build_reinforce(env, seed, settings, policy=CATEGORICAL_POLICY)


def action_probability_function(
    model: BaseAlgorithm, vec_normalize: VecNormalize | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """``obs -> π(·|obs)`` of a trained selector over a ``Discrete(n)`` action, for one raw observation.

    A policy with an ``action_probabilities`` method (REINFORCE's) is asked directly; any other SB3 policy is
    read from its action distribution. ``vec_normalize``: as in
    :func:`~agents.common.inference.keep_probability_function`.
    """
    policy = model.policy
    direct = getattr(policy, "action_probabilities", None)

    def action_probabilities(obs: np.ndarray) -> np.ndarray:
        batch = obs[None] if vec_normalize is None else vec_normalize.normalize_obs(obs[None])
        obs_t = th.as_tensor(batch, device=model.device)
        with th.no_grad():
            probs = direct(obs_t) if direct is not None else policy.get_distribution(obs_t).distribution.probs
        return probs[0].cpu().numpy().astype(np.float64)

    return action_probabilities


def relabel_selection_pass(
    env: FERSelectRelabelEnv, action_probabilities: Callable[[np.ndarray], np.ndarray], seed: int
) -> Selection:
    """One deterministic pass taking each image's most probable action; the result in dataset order.

    ``kept``: that action is not "remove"; ``keep_probability``: ``1 − π(remove)``; ``train_labels``: the label
    the env kept each image with (``info["new_labels"]``), the given label for the others.
    """
    n = len(env.dataset.y_train)
    probs = np.full((n, int(env.action_space.n)), np.nan)
    obs, info = env.reset(seed=seed)
    done = False
    while not done:
        p = action_probabilities(obs)
        probs[info["sample_index"]] = p
        obs, _reward, done, _truncated, info = env.step(int(np.argmax(p)))
    if np.isnan(probs).any():
        raise RuntimeError("the selection pass did not visit every training image (episode_size < train size?)")
    order = info["sample_indices"]
    rewards = np.zeros(n)
    rewards[order] = info["sample_rewards"]
    labels = env.dataset.y_train.astype(np.int64)
    labels[order] = info["new_labels"]
    kept = probs.argmax(axis=1) != REMOVE
    changed = kept & (labels != env.dataset.y_train)
    return Selection(
        keep_probability=np.clip(1.0 - probs[:, REMOVE], 0.0, 1.0),
        kept=kept,
        sample_rewards=rewards,
        train_labels=labels,
        info={"relabel_actions": int(info["relabelled"].sum()), "relabelled": int(changed.sum())},
    )


def relabel_pass_of_model(
    env: FERSelectRelabelEnv, model: BaseAlgorithm, vec_normalize: VecNormalize | None, seed: int
) -> Selection:
    """:func:`relabel_selection_pass` with a trained model (the registry's ``RLTraining.selection``)."""
    return relabel_selection_pass(env, action_probability_function(model, vec_normalize), seed)


def reinforce_relabel_selector(dataset: FERDataset, *, seed: int = 0, settings: RLSettings | None = None) -> Selection:
    """The benchmark's ``reinforce_relabel``: §3.3 pre-training, then Algorithm 1, as ``reinforce`` does, on
    FERSelectRelabel-v0 with the counterfactual per-action rewards; then :func:`relabel_selection_pass`."""
    settings = settings or RLSettings()
    env = make_relabel_env(dataset, OBSERVATION, seed, settings)
    settings = settings.scaled(reinforce_steps_per_pass(env.episode_size))
    model, history, _ = train_reinforce(env, seed, settings, "reinforce_relabel", policy=CATEGORICAL_POLICY)
    selection = relabel_pass_of_model(env, model, None, seed)
    selection.history = [*[pretrain_row(s) for s in model.pretrain_history], *history]
    selection.info.update(
        pretrain_episodes=settings.pretrain_episodes, episodes=settings.episodes, observation=OBSERVATION
    )
    return selection


__all__ = [
    "action_probability_function",
    "build_relabel_reinforce",
    "make_relabel_env",
    "reinforce_relabel_selector",
    "relabel_pass_of_model",
    "relabel_selection_pass",
]
