"""Run a policy over every sequence of a FERSequence-v0 split at once (T batched ``predict`` calls)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class _Predictor(Protocol):
    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False
    ) -> tuple[np.ndarray, Any]: ...


def commit_times(model: _Predictor, env: Any, deterministic: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(t_commit, predictions)`` of ``model`` on every sequence of ``env``'s split, in index order.

    Each sequence is played as one episode of the env: the model sees frame t's observation, and an action
    ``k ≥ 1`` commits to class ``k−1`` at frame t. A sequence never committed on gets ``t_commit = T−1`` and
    prediction ``−1`` (the env's "wait on the last frame is a wrong commit"). Recurrent policies
    (sb3-contrib's RecurrentPPO) get their state carried from frame to frame, as in an episode.

    :param model: anything with SB3's ``predict(obs, state, episode_start, deterministic)``
    :param env: a FERSequence-v0 env (wrapped or not)
    """
    base = env.unwrapped
    n, t_len = base.num_sequences, base.num_frames
    t_commit = np.full(n, t_len - 1, np.int64)
    predictions = np.full(n, -1, np.int64)
    active = np.ones(n, bool)
    state, starts = None, np.ones(n, bool)
    for t in range(t_len):
        actions, state = model.predict(
            base.observations_at(t), state=state, episode_start=starts, deterministic=deterministic
        )
        starts = np.zeros(n, bool)
        actions = np.asarray(actions).reshape(n)
        commit = active & (actions > 0)
        predictions[commit], t_commit[commit] = actions[commit] - 1, t
        active &= ~commit
        if not active.any():
            break
    return t_commit, predictions


__all__ = ["commit_times"]
