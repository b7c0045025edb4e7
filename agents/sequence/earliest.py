"""EARLIEST's form of the earliness pressure (Hartvigsen et al., KDD 2019): on the policy, not in the reward.

EARLIEST's loss adds ``λ · mean_b Σ_t −log p_halt,t`` to REINFORCE's, and its reward is ±1 for every step
before the halt with no cost per wait. Here that is the package's REINFORCE on FERSequence-v0 made with
``wait_penalty=0`` (the env then pays ±1 at the commit and nothing for a wait; with γ = 1 every step before
the commit gets the commit's ±1, as in EARLIEST), plus ``halt_penalty · mean(−log(1 − π(wait | s)))`` over
the minibatch's states: the policy is pushed toward halting by its own probabilities. The env's form (the
Martinez et al. −λ per wait) is what PPO, DQN and the plain REINFORCE learn from.
"""

from __future__ import annotations

from typing import Any

import torch as th

from agents.reinforce import REINFORCE


class EarliestREINFORCE(REINFORCE):
    """REINFORCE with EARLIEST's policy-side earliness penalty (see the module docstring).

    :param halt_penalty: λ of EARLIEST's ``λ · mean(−log p_halt)``; 0 gives the plain REINFORCE
    :param kwargs: :class:`~agents.REINFORCE`'s arguments (the policy must be ``"CategoricalMlpPolicy"``,
        action 0 = wait)
    """

    def __init__(self, *args: Any, halt_penalty: float = 0.0, **kwargs: Any) -> None:
        if not float(halt_penalty) >= 0.0:
            raise ValueError(f"halt_penalty must be >= 0, got {halt_penalty}")
        self.halt_penalty = float(halt_penalty)
        super().__init__(*args, **kwargs)

    def auxiliary_loss(self, obs: th.Tensor) -> th.Tensor | float:
        if self.halt_penalty == 0.0:
            return 0.0
        log_pi = th.log_softmax(self.policy.action_logits(obs), dim=-1)
        log_halt = th.logsumexp(log_pi[:, 1:], dim=-1)  # log(1 − π(wait | s)), computed stably
        return self.halt_penalty * (-log_halt).mean()


__all__ = ["EarliestREINFORCE"]
