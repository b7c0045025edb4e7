"""Agents for FERSequence-v0 (early recognition): the bundled SB3 settings that learn there, and batched
evaluation of a policy over every sequence of a split, and the halt-or-wait action wrapper."""

from agents.sequence.curriculum import WaitPenaltyCurriculum
from agents.sequence.evaluation import commit_times
from agents.sequence.halting import ArgmaxCommit, HaltOrWait
from agents.sequence.settings import (
    SEQUENCE_ALGORITHMS,
    build_sequence_agent,
    sequence_agent_kwargs,
    train_sequence_agent,
)

__all__ = [
    "SEQUENCE_ALGORITHMS",
    "ArgmaxCommit",
    "HaltOrWait",
    "WaitPenaltyCurriculum",
    "build_sequence_agent",
    "commit_times",
    "sequence_agent_kwargs",
    "train_sequence_agent",
]
