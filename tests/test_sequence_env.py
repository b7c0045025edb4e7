"""FERSequence-v0: spaces, the reward against a hand computation, replays, determinism and bad input.
(Both env checkers and registration run for every id in tests/envs/test_registry.py.)"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import fer_select_env  # noqa: F401  (registers the ids)
from fer_select_env.envs.sequence.env import FERSequenceEnv, posterior_features
from fer_select_env.testing import TINY_SEQUENCE_CLASSIFIER

T = 4  # the frames of conftest's sequence_dataset


@pytest.fixture
def dataset(sequence_dataset):
    return sequence_dataset


@pytest.fixture
def env(make_sequence_env):
    return make_sequence_env(wait_penalty=0.05)


def test_spaces(env, dataset):
    k = dataset.num_classes
    assert env.action_space == gym.spaces.Discrete(k + 1)
    assert env.observation_space.shape == (k + 3,)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    p = env.posteriors[info["index"], 0]
    assert np.allclose(obs[:k], p, atol=1e-6) and obs[k] == pytest.approx(p.max(), abs=1e-6)
    assert obs[k + 2] == pytest.approx(1 / T)
    assert env.posteriors.shape == (env.num_sequences, T, k)


def test_posterior_features_by_hand():
    obs = posterior_features(np.array([0.5, 0.5, 0.0]), t=1, num_frames=4)
    assert np.allclose(obs, [0.5, 0.5, 0.0, 0.5, np.log(2) / np.log(3), 0.5])


def test_rewards_match_a_hand_computation(env):
    # wait, wait, then commit to the right class: -λ - λ + 1
    _, info = env.reset(seed=0, options={"index": 0})
    label = info["label"]
    rewards = [env.step(0)[1], env.step(0)[1]]
    _, r, terminated, truncated, info = env.step(label + 1)
    assert rewards == [-0.05, -0.05] and r == 1.0 and terminated and not truncated
    assert info["correct"] and info["prediction"] == label and info["t_commit"] == 2
    assert info["earliness"] == pytest.approx(3 / T)
    # a wrong commit on the first frame: -1, earliness 1/T
    env.reset(options={"index": 0})
    _, r, terminated, _, info = env.step((label + 1) % env.num_classes + 1)
    assert r == -1.0 and terminated and not info["correct"] and info["earliness"] == pytest.approx(1 / T)


def test_waiting_out_the_sequence_is_a_wrong_commit(env):
    env.reset(options={"index": 1})
    rewards = []
    for _ in range(T):
        _, r, terminated, _, info = env.step(0)
        rewards.append(r)
    assert rewards == [-0.05] * (T - 1) + [-1.0] and terminated
    assert info["prediction"] == -1 and not info["correct"] and info["t_commit"] == T - 1 and info["earliness"] == 1.0
    with pytest.raises(ResetNeeded):
        env.step(0)


def test_index_option_replays_a_sequence(env):
    a, info_a = env.reset(seed=1, options={"index": 2})
    b, info_b = env.reset(seed=7, options={"index": 2})
    assert info_a["index"] == info_b["index"] == 2 and np.array_equal(a, b)


def test_same_seed_same_episodes(make_sequence_env):
    def indices(seed):
        e = make_sequence_env()
        e.reset(seed=seed)
        return [e.reset()[1]["index"] for _ in range(8)]

    assert indices(3) == indices(3)


def test_pixels_observation(make_sequence_env):
    env = make_sequence_env(observation="pixels")
    obs, _ = env.reset(seed=0, options={"index": 0})
    assert env.observation_space.contains(obs)
    assert np.array_equal(obs["frame"][0], env.frames[0, 0]) and obs["time"][0] == pytest.approx(1 / T)
    obs, *_ = env.step(0)
    assert np.array_equal(obs["frame"][0], env.frames[0, 1])


def test_render_modes(make_sequence_env):
    env = make_sequence_env(render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().shape == (16, 16, 3)
    env = make_sequence_env(render_mode="ansi")
    env.reset(seed=0)
    assert "FERSequence-v0" in env.render()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "holdout"}, "split"),
        ({"observation": "frames"}, "observation"),
        ({"wait_penalty": -0.1}, "wait_penalty"),
        ({"wait_penalty": "0.1"}, "wait_penalty"),
        ({"classifier": 3}, "classifier"),
        ({"classifier": "transformer"}, "kind"),
        ({"dataset": 5}, "dataset"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_arguments_name_themselves(dataset, tmp_path, kwargs, match):
    base = {"dataset": dataset, "classifier": dict(TINY_SEQUENCE_CLASSIFIER), "cache_dir": tmp_path}
    with pytest.raises(ValueError, match=match):
        FERSequenceEnv(**{**base, **kwargs})


def test_bad_actions_and_options(env):
    env.reset(seed=0)
    for action in (-1, env.num_classes + 1, 1.0, "1"):
        with pytest.raises(ValueError, match="action"):
            env.step(action)
    with pytest.raises(ValueError, match="index"):
        env.reset(options={"index": env.num_sequences})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"replay": 1})


def test_a_path_and_gym_make(dataset, tmp_path):
    path = tmp_path / "seq.npz"
    dataset.to_npz(path)
    env = gym.make(
        "FERSequence-v0", dataset=str(path), classifier=dict(TINY_SEQUENCE_CLASSIFIER), cache_dir=str(tmp_path)
    )
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.close()


def test_stepping_under_no_grad_and_inference_mode(dataset, tmp_path):
    import torch

    with torch.inference_mode():
        env = FERSequenceEnv(dataset=dataset, classifier=dict(TINY_SEQUENCE_CLASSIFIER), cache_dir=tmp_path / "c")
        env.reset(seed=0)
        assert env.step(1)[2]
