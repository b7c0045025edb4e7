"""Agents for FERSequence-v0 (early recognition): the bundled SB3 settings that learn there, batched evaluation
of a policy over every sequence of a split, the halt-or-wait action wrapper and the posterior perturbation
PPO learns under."""

from agents.sequence.augment import PosteriorJitter
from agents.sequence.curriculum import WaitPenaltyCurriculum
from agents.sequence.evaluation import commit_times
from agents.sequence.halting import ArgmaxCommit, HaltOrWait
from agents.sequence.settings import (
    SEQUENCE_ALGORITHMS,
    build_sequence_agent,
    sequence_agent_kwargs,
    train_sequence_agent,
    training_env,
)

__all__ = [
    "SEQUENCE_ALGORITHMS",
    "ArgmaxCommit",
    "HaltOrWait",
    "PosteriorJitter",
    "WaitPenaltyCurriculum",
    "build_sequence_agent",
    "commit_times",
    "sequence_agent_kwargs",
    "train_sequence_agent",
    "training_env",
]
