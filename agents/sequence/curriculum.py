"""A wait-penalty curriculum for policy-gradient agents on FERSequence-v0 (an SB3 callback).

Why: at initialisation a policy commits to a random class, so a commit is right 1 time in K whatever the
frame, and waiting only costs. With λ > 0 PPO learns to commit at frame 0 before it learns which class to
commit to, and stays there (the ablation in ``docs/sequence.md``, λ = 0.03, seed 0: 16.0 % at earliness
8.3 % without the curriculum, 78.4 % at 63.8 % with it). Starting at λ = 0 lets it learn to read the
posterior first; λ then rises linearly to its target, and the last part of training runs at the target.
"""

from __future__ import annotations

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

RAMP = (0.2, 0.6)
"""The fractions of the budget between which λ rises from 0 to its target (0 before, the target after)."""


def curriculum_penalty(progress: float, target: float, ramp: tuple[float, float] = RAMP) -> float:
    """λ at ``progress`` (the fraction of the training budget spent): 0, a linear rise, then ``target``."""
    start, end = ramp
    if not 0.0 <= start < end <= 1.0:
        raise ValueError(f"ramp: must satisfy 0 <= start < end <= 1, got {ramp}")
    return target * min(max((progress - start) / (end - start), 0.0), 1.0)


def set_wait_penalty(vec_env: VecEnv, value: float) -> None:
    """Set λ on every env of ``vec_env`` where it lives, under any wrappers.

    Why not ``vec_env.set_attr``: it sets the attribute on the outermost wrapper, and since Gymnasium 1.0 a
    wrapper no longer forwards attributes, so the env under a ``gym.make`` (or any other) wrapper would keep
    its λ. Gymnasium's ``set_wrapper_attr`` sets it on the layer that defines it.
    """
    vec_env.env_method("set_wrapper_attr", "wait_penalty", float(value))


class WaitPenaltyCurriculum(BaseCallback):
    """Sets every env's ``wait_penalty`` from :func:`curriculum_penalty` before each rollout.

    :param target: the λ the agent is meant for (the env's at the end of training)
    :param total_timesteps: the budget that ``progress`` is measured against
    """

    def __init__(self, target: float, total_timesteps: int, ramp: tuple[float, float] = RAMP, verbose: int = 0):
        super().__init__(verbose)
        self.target, self.total, self.ramp = float(target), int(total_timesteps), ramp
        curriculum_penalty(0.0, self.target, ramp)  # checks the ramp now, not at the first rollout

    def _set(self) -> None:
        value = curriculum_penalty(self.num_timesteps / max(self.total, 1), self.target, self.ramp)
        set_wait_penalty(self.training_env, value)
        self.logger.record("train/wait_penalty", value)

    def _on_training_start(self) -> None:
        self._set()

    def _on_rollout_start(self) -> None:
        self._set()

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        set_wait_penalty(self.training_env, self.target)


__all__ = ["RAMP", "WaitPenaltyCurriculum", "curriculum_penalty", "set_wait_penalty"]
