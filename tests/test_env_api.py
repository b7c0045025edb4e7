"""SB3 vector envs and make_vec_env on FERSelect (the checks every id passes are in tests/envs/)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import fer_select_env  # noqa: F401
from fer_select_env.testing import TINY_CLASSIFIER, make_blob_dataset

TINY = TINY_CLASSIFIER


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    make_blob_dataset(n_train=12, n_val=9, n_test=9, noise_rate=0.25).to_npz(path)
    return str(path)


def _episode_through_vec_env(vec_env) -> dict:
    vec_env.seed(0)
    vec_env.reset()
    while True:
        _, rewards, dones, infos = vec_env.step(np.ones(vec_env.num_envs, dtype=np.int64))
        if dones[0]:
            return {"reward": float(rewards[0]), **infos[0]}


def test_sb3_dummy_and_subproc_vec_envs_deliver_terminal_info(tiny_npz):
    def make():
        return gym.make("fer_select_env:FERSelect-v0", dataset=tiny_npz, classifier_config=TINY)

    dummy = DummyVecEnv([make])
    sub = SubprocVecEnv([make], start_method="spawn")
    try:
        a, b = _episode_through_vec_env(dummy), _episode_through_vec_env(sub)
    finally:
        dummy.close()
        sub.close()
    for info in (a, b):
        assert "sample_rewards" in info and "terminal_observation" in info
        assert info["kept"].all()
    np.testing.assert_allclose(a["sample_rewards"], b["sample_rewards"])
    assert a["reward"] == pytest.approx(b["reward"])


def test_sb3_make_vec_env_works_out_of_the_box(tiny_npz):
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("FERSelect-v0", n_envs=1, env_kwargs={"dataset": tiny_npz, "classifier_config": TINY})
    try:
        obs = venv.reset()
        assert obs.shape == (1, *venv.observation_space.shape)
    finally:
        venv.close()
