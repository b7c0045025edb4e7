"""Agents for FERSequence-v0 (early recognition): the bundled SB3 settings that learn there, and batched
evaluation of a policy over every sequence of a split."""

from agents.sequence.curriculum import WaitPenaltyCurriculum
from agents.sequence.evaluation import commit_times
from agents.sequence.settings import (
    SEQUENCE_ALGORITHMS,
    build_sequence_agent,
    sequence_agent_kwargs,
    train_sequence_agent,
)

__all__ = [
    "SEQUENCE_ALGORITHMS",
    "WaitPenaltyCurriculum",
    "build_sequence_agent",
    "commit_times",
    "sequence_agent_kwargs",
    "train_sequence_agent",
]
