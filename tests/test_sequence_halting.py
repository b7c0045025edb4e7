"""Halt-or-wait (agents.sequence.halting): two actions on FERSequence-v0, the commit to the classifier's argmax."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from agents.sequence import commit_times
from agents.sequence.halting import ArgmaxCommit, HaltOrWait


def test_passes_both_env_checkers(make_sequence_env):
    env = HaltOrWait(make_sequence_env())
    check_env(env.unwrapped, skip_render_check=True)
    with pytest.warns(UserWarning, match="different from the unwrapped"):
        check_env(env, skip_render_check=True)
    sb3_check_env(env)


def test_a_commit_goes_to_the_argmax_of_the_posterior_it_was_shown(make_sequence_env):
    base = make_sequence_env(wait_penalty=0.25)
    env = HaltOrWait(make_sequence_env(wait_penalty=0.25))
    for i in range(base.num_sequences):
        obs, _ = env.reset(options={"index": i})
        base.reset(options={"index": i})
        _, r_wait, *_ = env.step(0)
        assert r_wait == -0.25  # a wait is the env's wait
        obs = env.unwrapped.observations_at(1)[i]
        _, reward, terminated, _, info = env.step(1)
        expected = int(np.argmax(base.posteriors[i, 1]))
        assert terminated and info["prediction"] == expected and info["t_commit"] == 1
        assert reward == (1.0 if expected == base.labels[i] else -1.0)
        assert expected == int(np.argmax(obs[: base.num_classes]))


def test_bad_actions_and_observations_are_refused(make_sequence_env):
    env = HaltOrWait(make_sequence_env())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(2)
    with pytest.raises(ValueError, match="posterior"):
        HaltOrWait(make_sequence_env(observation="pixels"))


class _HaltAt:
    """Halts every sequence at frame ``t`` of ``num_frames`` (read from the observation's (t+1)/T)."""

    def __init__(self, t: int, num_frames: int):
        self.t, self.num_frames = t, num_frames

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        frames = np.rint(observation[:, -1] * self.num_frames).astype(int) - 1
        return (frames == self.t).astype(np.int64), state


def test_argmax_commit_scores_a_halting_model_as_the_env_plays_it(make_sequence_env):
    env = make_sequence_env()
    t_commit, predictions = commit_times(ArgmaxCommit(_HaltAt(2, env.num_frames), env.num_classes), env)
    assert (t_commit == 2).all()
    np.testing.assert_array_equal(predictions, env.posteriors[:, 2].argmax(axis=1))
