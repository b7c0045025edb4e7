"""Greedy decoding of a policy over a whole FERReason-v0 split, and the metrics the issue's bar reads:
AU-F1 (macro over AUs, and micro), accuracy, format rate, reasoning-answer alignment and hallucinated AUs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from sklearn.metrics import f1_score
from stable_baselines3.common.policies import ActorCriticPolicy

from agents.common.inference import policy_logits
from fer_select_env.envs.text.rewards import (
    CORE_PROBABILITY,
    accuracy_reward,
    core_units,
    fitting_emotions,
    format_reward,
)


def decode(
    policy: ActorCriticPolicy,
    env: Any,
    greedy: bool = True,
    rng: np.random.Generator | None = None,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """Completions for faces ``indices`` (default: the whole split) of the unwrapped FERReason-v0 ``env``, one
    batched policy call per token position; greedy (argmax) or sampled. Returns n×L token ids."""
    vocab, length = env.vocabulary, env.max_length
    faces = np.arange(env.num_prompts) if indices is None else np.asarray(indices, np.int64)
    tokens = np.full((len(faces), length), vocab.pad, np.int64)
    alive = np.ones(len(faces), bool)
    policy.set_training_mode(False)
    gen = th.Generator().manual_seed(int(rng.integers(2**31))) if rng is not None else None
    for t in range(length):
        rows = np.flatnonzero(alive)
        if rows.size == 0:
            break
        obs = env.observation_batch(faces[rows], tokens[rows], np.full(rows.size, t))
        masks = None
        if getattr(env, "action_masking", False):
            masks = np.stack([vocab.grammar_mask(tokens[r, :t], length) for r in rows])
        with th.no_grad():
            logits = policy_logits(policy, obs, masks)
            if greedy:
                a = logits.argmax(dim=1)
            else:
                a = th.multinomial(th.softmax(logits, dim=1), 1, generator=gen).squeeze(1)
        a = a.cpu().numpy()
        tokens[rows, t] = a
        alive[rows[a == vocab.eos]] = False
    return tokens


def reasoning_metrics(env: Any, tokens: np.ndarray, indices: np.ndarray | None = None) -> dict[str, Any]:
    """The bar's metrics of completions ``tokens`` for faces ``indices`` of ``env``'s split (percent):

    * ``au_f1_macro`` / ``au_f1_micro``: F1 of the AUs named in ``<think>`` against the truth, over the faces
      whose AUs are known (scikit-learn's multilabel F1; an AU never present nor predicted is left out of
      the macro mean);
    * ``accuracy``, ``format_rate``: R_acc = 1 and R_format = 1 rates;
    * ``alignment``: the answered emotion is one that best fits the AUs named (:func:`fitting_emotions`);
    * ``hallucinated_au_rate``: the share of named AUs absent from the truth (micro, known faces);
    * ``reward``: the mean summed reward.
    """
    faces = np.arange(env.num_prompts) if indices is None else np.asarray(indices, np.int64)
    infos = [env.score(int(i), tokens[j]) for j, i in enumerate(faces)]
    units = env.vocabulary.units
    names = env.dataset.class_names
    known = np.array([info["au_known"] for info in infos])
    pred = np.array([[u in info["predicted_aus"] for u in units] for info in infos], bool).reshape(
        len(infos), len(units)
    )
    truth = np.asarray(env.au_truth)[faces]
    out: dict[str, Any] = {
        "n": len(faces),
        "accuracy": 100
        * float(
            np.mean([accuracy_reward(info["text"], names[env.labels[i]]) for info, i in zip(infos, faces, strict=True)])
        ),
        "format_rate": 100 * float(np.mean([format_reward(info["text"]) for info in infos])),
        "alignment": 100
        * float(np.mean([info["answer"] in fitting_emotions(set(info["predicted_aus"]), names) for info in infos])),
        "reward": float(np.mean([sum(info["rewards"].values()) for info in infos])),
        "mean_length": float((tokens != env.vocabulary.pad).sum(axis=1).mean()),
    }
    if known.any():
        p, t = pred[known], truth[known]
        seen = (p | t).any(axis=0)
        out["au_f1_macro"] = 100 * float(f1_score(t[:, seen], p[:, seen], average="macro", zero_division=0))
        out["au_f1_micro"] = 100 * float(f1_score(t, p, average="micro", zero_division=0))
        named = p.sum()
        out["hallucinated_au_rate"] = 100 * float((p & ~t).sum() / named) if named else 0.0
    return out


__all__ = ["CORE_PROBABILITY", "core_units", "decode", "fitting_emotions", "reasoning_metrics"]
