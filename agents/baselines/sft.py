"""Stage 1 of Facial-R1 in miniature: a template teacher that writes AU reasoning from the truth, and
supervised fine-tuning (token cross-entropy) of any SB3 policy on its sequences in FERReason-v0.

The teacher stands in for Facial-R1's AU-knowledge instruction data. Its hallucination rate h makes it
imperfect the way written instructions are: each true AU is dropped with probability h, and wrong AUs are
added at a rate that makes the expected numbers of dropped and added units equal (h·|truth| each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch as th
from stable_baselines3.common.policies import ActorCriticPolicy

from agents.common.inference import policy_logits
from fer_select_env.envs.text.vocabulary import ANSWER, END_ANSWER, END_THINK, THINK, Vocabulary


def teacher_tokens(
    vocabulary: Vocabulary,
    au_rows: np.ndarray,
    labels: np.ndarray,
    max_length: int,
    rng: np.random.Generator,
    hallucination: float = 0.0,
) -> np.ndarray:
    """Teacher completions ``<think> AUs </think> <answer> label </answer> <eos>`` as an n×L array of token
    ids padded with ``vocabulary.pad``; AUs in the vocabulary's order, cut to what fits in ``max_length``.

    :param au_rows: n×A bool truth sets
    :param labels: n emotion indices (answer words)
    :param hallucination: h in [0, 1]
    """
    if not 0.0 <= float(hallucination) <= 1.0:
        raise ValueError(f"hallucination: must lie in [0, 1], got {hallucination}")
    au_rows = np.asarray(au_rows, bool)
    n, a = au_rows.shape
    room = max_length - 5  # <think> </think> <answer> word </answer>; EOS may be cut
    out = np.full((n, max_length), vocabulary.pad, np.int64)
    for i in range(n):
        truth = au_rows[i]
        shown = truth & (rng.random(a) >= hallucination)
        k = int(truth.sum())
        if k and k < a:
            shown |= ~truth & (rng.random(a) < hallucination * k / (a - k))
        units = [vocabulary.units[j] for j in np.flatnonzero(shown)][:room]
        parts = [THINK, *units, END_THINK, ANSWER, vocabulary.words[int(labels[i])], END_ANSWER]
        ids = vocabulary.encode(parts)[:max_length]
        out[i, : len(ids)] = ids
    return out


def sequence_lengths(tokens: np.ndarray, pad: int) -> np.ndarray:
    """The number of non-padding tokens of each row."""
    return (np.asarray(tokens) != pad).sum(axis=1)


def token_steps(
    indices: np.ndarray, tokens: np.ndarray, pad: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (face, prefix, prefix length, next token) of a set of completions: the supervised pairs."""
    lengths = sequence_lengths(tokens, pad)
    rows = np.repeat(np.arange(len(tokens)), lengths)
    t = np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else np.zeros(0, np.int64)
    return np.asarray(indices)[rows], tokens[rows], t, tokens[rows, t]


@dataclass
class SFTReport:
    """What :func:`train_sft` did: the loss per epoch on the training and validation sequences."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0


def token_loss(policy: ActorCriticPolicy, obs: dict[str, np.ndarray], targets: np.ndarray) -> th.Tensor:
    """The mean token cross-entropy of ``policy`` on observations and their next tokens (SFT's loss)."""
    logits = policy_logits(policy, obs)
    return th.nn.functional.cross_entropy(logits, th.as_tensor(targets, device=policy.device))


def train_sft(
    policy: ActorCriticPolicy,
    env: object,
    indices: np.ndarray,
    tokens: np.ndarray,
    val: tuple[object, np.ndarray, np.ndarray] | None = None,
    epochs: int = 30,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    patience: int = 5,
    seed: int = 0,
) -> SFTReport:
    """Token cross-entropy on teacher completions, in place on ``policy`` (any SB3 policy over
    FERReason-v0's observation), with early stopping on validation completions.

    :param env: the (unwrapped) FERReason-v0 env whose faces ``indices`` point into; it builds the
        observations (``observation_batch``)
    :param tokens: n×L completions padded with the vocabulary's pad id
    :param val: ``(val_env, val_indices, val_tokens)``; the weights of the epoch with the lowest validation
        loss are kept. Without it, the last epoch's are
    """
    pad = env.vocabulary.pad  # type: ignore[attr-defined]
    idx, prefixes, lengths, targets = token_steps(indices, tokens, pad)
    if len(targets) == 0:
        raise ValueError("tokens: no teacher token to learn from")
    obs = env.observation_batch(idx, prefixes, lengths)  # type: ignore[attr-defined]
    val_obs = None
    if val is not None:
        v_env, v_idx, v_tokens = val
        vi, vp, vl, v_targets = token_steps(v_idx, v_tokens, pad)
        val_obs = v_env.observation_batch(vi, vp, vl)  # type: ignore[attr-defined]
    optimizer = th.optim.Adam(policy.parameters(), lr=learning_rate)
    rng = np.random.default_rng(seed)
    report = SFTReport()
    best, best_state, waited = np.inf, None, 0
    for epoch in range(int(epochs)):
        policy.set_training_mode(True)
        order = rng.permutation(len(targets))
        losses = []
        for start in range(0, len(order), batch_size):
            b = order[start : start + batch_size]
            loss = token_loss(policy, {k: v[b] for k, v in obs.items()}, targets[b])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item() * len(b))
        report.train_loss.append(float(np.sum(losses) / len(targets)))
        policy.set_training_mode(False)
        if val_obs is None:
            continue
        with th.no_grad():
            v = float(token_loss(policy, val_obs, v_targets).item())
        report.val_loss.append(v)
        if v < best - 1e-6:
            best, waited, report.best_epoch = v, 0, epoch
            best_state = {k: t.detach().clone() for k, t in policy.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    if best_state is not None:
        policy.load_state_dict(best_state)
    else:
        report.best_epoch = len(report.train_loss) - 1
    return report


def teacher_dataset(
    env: object, rows: Sequence[int] | np.ndarray, rng: np.random.Generator, hallucination: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, tokens)``: teacher completions for the faces ``rows`` of ``env``'s split whose AUs are known."""
    rows = np.asarray(rows, np.int64)
    rows = rows[np.asarray(env.au_known)[rows]]  # type: ignore[attr-defined]
    tokens = teacher_tokens(
        env.vocabulary,  # type: ignore[attr-defined]
        np.asarray(env.au_truth)[rows],  # type: ignore[attr-defined]
        np.asarray(env.labels)[rows],  # type: ignore[attr-defined]
        env.max_length,  # type: ignore[attr-defined]
        rng,
        hallucination,
    )
    return rows, tokens


__all__ = [
    "SFTReport",
    "sequence_lengths",
    "teacher_dataset",
    "teacher_tokens",
    "token_loss",
    "token_steps",
    "train_sft",
]
