"""FERReason-v0's three stages (SFT, GRPO, synthesis), their evaluation and the experiment that compares
them: the experiment layer of the token envs, like :mod:`agents.sequence` for FERSequence-v0."""
