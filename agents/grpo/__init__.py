"""GRPO (Group Relative Policy Optimization), the critic-free policy optimiser of the token envs."""

from agents.grpo.grpo import GRPO, group_advantages

__all__ = ["GRPO", "group_advantages"]
