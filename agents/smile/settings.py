"""The bundled settings of SB3's SAC and PPO (delta actions) and DQN (coordinate actions) on FERSmile-v0.

Why these values: an episode is 50 steps whose reward is the measured P(happy), so a policy is paid for
reaching a smile early and keeping it; ``gamma = 0.95`` (a horizon of about 20 steps) is enough for that.
The observation is stacked over the last two steps (Gymnasium's ``FrameStackObservation``), so that the
policy sees how the last change moved the measured happiness: a memoryless policy can only learn where the
population's taste lies on average, never which way this viewer's lies. Training skips the referee (a
fifth of a step); the evaluation envs keep it. The figures behind these choices are in ``docs/smile.md``.

``ppo_incumbent`` is PPO in the env's ``action="incumbent"`` mode: every action is a try around the
best-measured emoticon, which the env keeps and answers with, so the policy is a learned search. Its
settings were chosen on the validation viewers (``viewers="val"``), never on the test viewers; see
``docs/smile.md``. It is evaluated with sampled actions (:data:`DETERMINISTIC`): a deterministic policy
would propose the same try whenever it sees the same observation, and the search's edge is its random tries.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
from gymnasium.wrappers import FlattenObservation, FrameStackObservation
from stable_baselines3 import DQN, PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env

SMILE_ALGORITHMS: dict[str, str] = {
    "sac": "SB3 SAC, MlpPolicy, delta actions",
    "ppo": "SB3 PPO, MlpPolicy, delta actions, 8 envs",
    "dqn": "SB3 DQN, MlpPolicy, coordinate actions (Discrete(17)), the seed's stated next step",
    "ppo_incumbent": "SB3 PPO, MlpPolicy, incumbent actions (tries around the best-measured emoticon), 8 envs",
}
"""Algorithm name → what it runs."""

ACTION_MODE: dict[str, str] = {"sac": "delta", "ppo": "delta", "dqn": "coordinate", "ppo_incumbent": "incumbent"}
"""The env's ``action`` each algorithm is built for."""

ENV_KWARGS: dict[str, dict[str, Any]] = {"ppo_incumbent": {"reward": "incumbent_rise"}}
"""Env arguments an algorithm trains with (besides its action mode); an explicit env argument overrides them."""

DETERMINISTIC: dict[str, bool] = {"sac": True, "ppo": True, "dqn": True, "ppo_incumbent": False}
"""Whether the evaluation takes the policy's mode (``True``) or samples its actions (``False``)."""

HISTORY = 2
"""Steps of observation each policy sees (``FrameStackObservation``)."""

DEFAULT_TIMESTEPS: dict[str, int] = {"sac": 30_000, "ppo": 100_000, "dqn": 50_000, "ppo_incumbent": 100_000}
"""Training budget in env steps."""

N_ENVS: dict[str, int] = {"sac": 1, "ppo": 8, "dqn": 1, "ppo_incumbent": 8}

_KWARGS: dict[str, dict[str, Any]] = {
    "sac": {
        "learning_rate": 3e-4,
        "buffer_size": 100_000,
        "learning_starts": 1_000,
        "batch_size": 256,
        "gamma": 0.95,
        "policy_kwargs": {"net_arch": [128, 128]},
    },
    "ppo": {
        "n_steps": 100,  # two episodes per env: 16 episodes per update
        "batch_size": 200,
        "n_epochs": 10,
        "learning_rate": 3e-4,
        "gamma": 0.95,
        "gae_lambda": 0.95,
        "policy_kwargs": {"net_arch": [64, 64]},
    },
    "dqn": {
        "learning_rate": 5e-4,
        "buffer_size": 50_000,
        "learning_starts": 1_000,
        "batch_size": 128,
        "gamma": 0.95,
        "train_freq": 4,
        "target_update_interval": 1_000,
        "exploration_fraction": 0.3,
        "exploration_final_eps": 0.05,
        "policy_kwargs": {"net_arch": [64, 64]},
    },
    "ppo_incumbent": {
        "n_steps": 100,
        "batch_size": 200,
        "n_epochs": 10,
        "learning_rate": 3e-4,
        "gamma": 0.99,  # the rises sum to the final best measurement: pay the end, not only the next steps
        "gae_lambda": 0.95,
        "policy_kwargs": {"net_arch": [64, 64]},
    },
}


def _check(algo: str) -> str:
    if algo not in SMILE_ALGORITHMS:
        raise ValueError(f"algo: unknown {algo!r}; choices are {sorted(SMILE_ALGORITHMS)}")
    return algo


def smile_agent_kwargs(algo: str) -> dict[str, Any]:
    """A copy of the bundled constructor arguments of ``algo``."""
    return copy.deepcopy(_KWARGS[_check(algo)])


def with_history(env: gym.Env, history: int = HISTORY) -> gym.Env:
    """``env`` whose observation is the flattened stack of its last ``history`` observations."""
    return FlattenObservation(FrameStackObservation(env, history)) if history > 1 else env


def make_smile_env(algo: str, history: int = HISTORY, **env_kwargs: Any) -> gym.Env:
    """One FERSmile-v0 env in ``algo``'s action mode with the policy's observation history."""
    import fer_select_env  # noqa: F401  (registers the ids)

    kwargs = {**ENV_KWARGS.get(_check(algo), {}), **env_kwargs}
    return with_history(gym.make("FERSmile-v0", action=ACTION_MODE[algo], **kwargs), history)


def train_smile_agent(
    algo: str,
    total_timesteps: int | None = None,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    history: int = HISTORY,
    **overrides: Any,
) -> BaseAlgorithm:
    """``algo`` with its bundled settings, trained on fresh training viewers (``viewers="train"``, no
    referee) for ``total_timesteps`` (default :data:`DEFAULT_TIMESTEPS`), seeing ``history`` steps."""
    steps = DEFAULT_TIMESTEPS[_check(algo)] if total_timesteps is None else int(total_timesteps)
    kwargs = {"viewers": "train", "referee": False, **dict(env_kwargs or {})}
    venv = make_vec_env(lambda: make_smile_env(algo, history, **kwargs), n_envs=N_ENVS[algo], seed=seed)
    cls = {"sac": SAC, "ppo": PPO, "dqn": DQN, "ppo_incumbent": PPO}[algo]
    model = cls("MlpPolicy", venv, seed=seed, **{**smile_agent_kwargs(algo), **overrides})
    return model.learn(total_timesteps=steps)


__all__ = [
    "ACTION_MODE",
    "DEFAULT_TIMESTEPS",
    "DETERMINISTIC",
    "ENV_KWARGS",
    "HISTORY",
    "N_ENVS",
    "SMILE_ALGORITHMS",
    "make_smile_env",
    "smile_agent_kwargs",
    "train_smile_agent",
    "with_history",
]
