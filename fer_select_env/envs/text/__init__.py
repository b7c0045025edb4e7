"""The token-MDP env family shared by FERReason-v0 (and later FEROpenVocab-v0): vocabularies, verifiable rewards,
envs."""
