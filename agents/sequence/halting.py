"""Halt-or-wait: an agent decides only *when* to commit, and the commit goes to the classifier's argmax.

EARLIEST (Hartvigsen et al., KDD 2019) and the early-classification baselines of ml_edm split the decision
this way: a halting policy chooses between waiting and stopping, and the classifier names the class. On
FERSequence-v0's ``Discrete(K+1)`` actions a policy must learn both, and a stochastic policy that may pick a
wrong class at a later frame rates waiting below what the classifier would gain by it. With two actions the
value of a wait is what the classifier is worth later, so at λ = 0 waiting is never rated worse than it is.

The env is unchanged: :class:`HaltOrWait` maps the agent's ``Discrete(2)`` action onto the env's (0 waits;
1 commits to ``argmax p_t``, read from the posterior observation), and :class:`ArgmaxCommit` does the same
for a trained model's ``predict``, so that :func:`~agents.sequence.evaluation.commit_times` scores it.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def _commit_actions(halt: np.ndarray, observations: np.ndarray, num_classes: int) -> np.ndarray:
    """The env's actions for halting decisions: 0 where ``halt`` is 0, else 1 + the posterior's argmax."""
    posterior = np.asarray(observations)[..., :num_classes]
    return np.where(np.asarray(halt) > 0, 1 + posterior.argmax(axis=-1), 0).astype(np.int64)


class HaltOrWait(gym.ActionWrapper):
    """FERSequence-v0 (``observation="posterior"``) with ``Discrete(2)`` actions: 0 waits, 1 commits to the
    argmax of the current posterior.

    :raises ValueError: when the env's observation is not the posterior (the pixels carry no posterior)
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        if getattr(env.unwrapped, "observation", None) != "posterior":
            raise ValueError("HaltOrWait: the env's observation must be 'posterior' (it reads p_t from it)")
        self.num_classes = int(env.unwrapped.num_classes)
        self.action_space = spaces.Discrete(2)
        self._last_obs: np.ndarray | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._last_obs = np.asarray(obs)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        self._last_obs = np.asarray(obs)
        return obs, reward, terminated, truncated, info

    def action(self, action: Any) -> np.int64:
        if not self.action_space.contains(action):
            raise ValueError(f"action: must be 0 (wait) or 1 (commit to the argmax), got {action!r}")
        if self._last_obs is None:
            raise gym.error.ResetNeeded("HaltOrWait: call reset() before step()")
        return np.int64(_commit_actions(np.asarray(action), self._last_obs, self.num_classes))


class ArgmaxCommit:
    """A model trained on :class:`HaltOrWait` envs, whose ``predict`` returns FERSequence-v0's actions."""

    def __init__(self, model: Any, num_classes: int):
        self.model, self.num_classes = model, int(num_classes)

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False
    ) -> tuple[np.ndarray, Any]:
        halt, state = self.model.predict(
            observation, state=state, episode_start=episode_start, deterministic=deterministic
        )
        return _commit_actions(halt, observation, self.num_classes), state


__all__ = ["ArgmaxCommit", "HaltOrWait"]
