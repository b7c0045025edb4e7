"""Stage 3 of Facial-R1 in miniature: the policy labels faces that have an emotion label but no AUs, a
quality check keeps the answers that are well formed, correct, and whose AUs fit the answered emotion's
prototype, and the kept answers join the supervised data for the next round."""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.policies import ActorCriticPolicy

from agents.reasoning.evaluation import decode, fitting_emotions
from fer_select_env.envs.text.rewards import accuracy_reward, format_reward
from fer_select_env.envs.text.vocabulary import ANSWER, END_ANSWER, END_THINK, THINK


def passes_quality_check(info: dict[str, Any], label: str, emotions: tuple[str, ...]) -> bool:
    """Well formed (R_format = 1), correct (R_acc = 1 against the emotion label) and AU-consistent: the
    answered emotion is one that best fits the AUs named in ``<think>``, and at least one AU is named
    unless the answer is neutral."""
    text = info["text"]
    if format_reward(text) != 1.0 or accuracy_reward(text, label) != 1.0:
        return False
    aus = set(info["predicted_aus"])
    if not aus and info["answer"] != "neutral":
        return False
    return info["answer"] in fitting_emotions(aus, emotions)


def consensus_completion(env: Any, face: int, passing: list[dict[str, Any]]) -> np.ndarray | None:
    """The completion ``<think>`` consensus AUs ``</think><answer>`` label ``</answer>`` of one face: the AUs
    named by at least half of its samples that passed the check (self-consistency), if it passes too."""
    votes: dict[str, int] = {}
    for info in passing:
        for au in info["predicted_aus"]:
            votes[au] = votes.get(au, 0) + 1
    vocab = env.vocabulary
    units = [u for u in vocab.units if 2 * votes.get(u, 0) >= len(passing)][: env.max_length - 5]
    label = env.dataset.class_names[int(env.labels[face])]
    ids = vocab.encode([THINK, *units, END_THINK, ANSWER, label, END_ANSWER])[: env.max_length]
    tokens = np.full(env.max_length, vocab.pad, np.int64)
    tokens[: len(ids)] = ids
    if not passes_quality_check(env.score(face, tokens), label, env.dataset.class_names):
        return None
    return tokens


def synthesize(
    policy: ActorCriticPolicy,
    env: Any,
    pool: np.ndarray,
    group_size: int,
    rng: np.random.Generator,
    consensus: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Sample ``group_size`` completions per face of ``pool`` (indices into ``env``'s split) and keep one per
    face whose samples pass :func:`passes_quality_check`: with ``consensus`` the AUs most of its passing
    samples name (:func:`consensus_completion`, when it passes the check itself), else the first passing
    sample.

    Returns ``(indices, tokens, stats)``: the faces that got a kept completion, their completions (n×L) and
    the shares of samples and faces that passed.
    """
    pool = np.asarray(pool, np.int64)
    names = env.dataset.class_names
    faces = np.repeat(pool, group_size)
    tokens = decode(policy, env, greedy=False, rng=rng, indices=faces)
    passing: dict[int, list[tuple[dict[str, Any], np.ndarray]]] = {}
    for j, face in enumerate(faces):
        info = env.score(int(face), tokens[j])
        if passes_quality_check(info, names[int(env.labels[face])], names):
            passing.setdefault(int(face), []).append((info, tokens[j]))
    passed = sum(len(v) for v in passing.values())
    chosen: dict[int, np.ndarray] = {}
    for face, samples in passing.items():
        agreed = consensus_completion(env, face, [info for info, _ in samples]) if consensus else None
        chosen[face] = agreed if agreed is not None else samples[0][1]
    kept_idx = list(chosen)
    kept_tok = [chosen[i] for i in kept_idx]
    stats = {
        "samples_passed": 100 * passed / max(len(pool) * group_size, 1),
        "faces_kept": 100 * len(kept_idx) / max(len(pool), 1),
    }
    tokens_out = np.stack(kept_tok) if kept_tok else np.zeros((0, env.max_length), np.int64)
    return np.array(kept_idx, np.int64), tokens_out, stats


__all__ = ["consensus_completion", "passes_quality_check", "synthesize"]
