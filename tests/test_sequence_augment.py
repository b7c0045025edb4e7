"""The posterior jitter of PPO's training envs (agents.sequence.augment) and where the bundled settings use it."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from agents.experiment.sequence_benchmark import SequenceBenchmarkSettings, _settings_dict
from agents.sequence.augment import PosteriorJitter, jitter_posterior
from agents.sequence.settings import POSTERIOR_JITTER, training_env


class _FixedNoise:
    """A generator whose normal draws are a given vector."""

    def __init__(self, noise):
        self.noise = np.asarray(noise, float)

    def normal(self, loc, scale, size):
        return loc + scale * self.noise[:size]


def test_jitter_by_hand():
    p = np.array([0.5, 0.3, 0.2])
    obs = np.array([*p, 0.5, 0.9, 0.25], np.float32)
    out = jitter_posterior(obs, 2.0, 3, _FixedNoise([0.0, np.log(5 / 3) / 2, 0.0]))
    # log p + 2·noise: p ∝ (0.5, 0.5, 0.2)
    q = np.array([0.5, 0.5, 0.2]) / 1.2
    entropy = -(q * np.log(q)).sum() / np.log(3)
    np.testing.assert_allclose(out, [*q, q.max(), entropy, 0.25], rtol=1e-5)
    assert out.dtype == np.float32


def test_the_wrapped_env_passes_both_checkers_and_replays_for_a_seed(make_sequence_env):
    env = PosteriorJitter(make_sequence_env(), 1.0)
    with pytest.warns(UserWarning, match="different from the unwrapped"):
        check_env(env, skip_render_check=True)
    sb3_check_env(env)

    def episode(seed):
        obs = [env.reset(seed=seed)[0]]
        done = False
        while not done:
            o, _, done, _, _ = env.step(0)
            obs.append(o)
        return np.stack(obs)

    first = episode(3)
    np.testing.assert_array_equal(first, episode(3))
    clean = env.unwrapped.observations_at(0)[env.unwrapped._index]
    assert not np.allclose(first[0], clean)  # perturbed ...
    assert first[0][-1] == clean[-1]  # ... but t/T is kept
    np.testing.assert_allclose(first[:, :-3].sum(axis=1), 1.0, rtol=1e-5)


def test_bad_sigma_and_observation_are_refused(make_sequence_env):
    for sigma in (0, -1.0, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="sigma"):
            PosteriorJitter(make_sequence_env(), sigma)
    with pytest.raises(ValueError, match="posterior"):
        PosteriorJitter(make_sequence_env(observation="pixels"), 1.0)


def test_only_ppo_trains_on_jittered_envs_by_default(make_sequence_env):
    env = make_sequence_env()
    wrapped = training_env("ppo", env)
    assert isinstance(wrapped, PosteriorJitter) and wrapped.sigma == POSTERIOR_JITTER
    assert training_env("ppo", env, None) is env and training_env("dqn", env) is env
    with pytest.raises(ValueError, match="algo"):
        training_env("sac", env)


def test_benchmark_records_the_jitter_and_refuses_bad_values():
    assert _settings_dict(SequenceBenchmarkSettings())["posterior_jitter"] == POSTERIOR_JITTER
    assert _settings_dict(SequenceBenchmarkSettings(posterior_jitter=None))["posterior_jitter"] is None
    for bad in (0.0, -0.5, float("inf"), "x"):
        with pytest.raises(ValueError, match="posterior_jitter"):
            SequenceBenchmarkSettings(posterior_jitter=bad)
