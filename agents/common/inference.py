"""Reading a trained selector: ``obs -> P(keep)`` for any SB3 model over the keep/remove action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import VecNormalize


def policy_logits(policy: BasePolicy, obs: Any, masks: np.ndarray | None = None) -> th.Tensor:
    """The action logits of an SB3 categorical policy on a batch of raw (numpy) observations; with ``masks``
    (n×A bool, sb3-contrib's convention) the disallowed actions get −1e9. Gradients flow unless the caller
    is under ``no_grad``."""
    obs_t, _ = policy.obs_to_tensor(obs)
    logits = policy.get_distribution(obs_t).distribution.logits
    if masks is not None:
        logits = logits.masked_fill(~th.as_tensor(masks, device=logits.device), -1e9)
    return logits


def keep_probability_function(
    model: BaseAlgorithm, vec_normalize: VecNormalize | None = None
) -> Callable[[np.ndarray], float]:
    """``obs -> P(keep)`` of a trained selector, for one raw observation of the env.

    A policy with a ``keep_probability`` method (REINFORCE's :class:`~agents.reinforce.SelectorPolicy`) is
    asked directly; any other SB3 policy over ``Discrete(2)`` (PPO, A2C, ...) is read from its action
    distribution. With ``vec_normalize`` the observation first goes through the statistics the model was
    trained with (set its ``training`` to ``False`` so that reading does not update them).
    """
    policy = model.policy
    direct = getattr(policy, "keep_probability", None)

    def keep_probability(obs: np.ndarray) -> float:
        batch = obs[None] if vec_normalize is None else vec_normalize.normalize_obs(obs[None])
        obs_t = th.as_tensor(batch, device=model.device)
        with th.no_grad():
            if direct is not None:
                return float(direct(obs_t))
            return float(policy.get_distribution(obs_t).distribution.probs[0, 1])

    return keep_probability
