"""Stage 3 of Facial-R1 in miniature: the policy labels faces that have an emotion label but no AUs, a
quality check keeps the answers that are well formed, correct, and whose AUs fit the answered emotion's
prototype, and the kept answers join the supervised data for the next round."""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.policies import ActorCriticPolicy

from agents.reasoning.evaluation import decode, fitting_emotions
from fer_select_env.envs.text.rewards import accuracy_reward, format_reward


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


def synthesize(
    policy: ActorCriticPolicy, env: Any, pool: np.ndarray, group_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Sample ``group_size`` completions per face of ``pool`` (indices into ``env``'s split) and keep, per
    face, the first that passes :func:`passes_quality_check`.

    Returns ``(indices, tokens, stats)``: the faces that got a kept completion, their completions (n×L) and
    the shares of samples and faces that passed.
    """
    pool = np.asarray(pool, np.int64)
    names = env.dataset.class_names
    faces = np.repeat(pool, group_size)
    tokens = decode(policy, env, greedy=False, rng=rng, indices=faces)
    chosen: dict[int, np.ndarray] = {}
    passed = 0
    for j, face in enumerate(faces):
        info = env.score(int(face), tokens[j])
        if passes_quality_check(info, names[int(env.labels[face])], names):
            passed += 1
            chosen.setdefault(int(face), tokens[j])
    kept_idx = list(chosen)
    kept_tok = [chosen[i] for i in kept_idx]
    stats = {
        "samples_passed": 100 * passed / max(len(pool) * group_size, 1),
        "faces_kept": 100 * len(kept_idx) / max(len(pool), 1),
    }
    tokens_out = np.stack(kept_tok) if kept_tok else np.zeros((0, env.max_length), np.int64)
    return np.array(kept_idx, np.int64), tokens_out, stats


__all__ = ["passes_quality_check", "synthesize"]
