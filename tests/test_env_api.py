"""Both env checkers, registration in a spawned process, and SB3 vector envs."""

from __future__ import annotations

import multiprocessing as mp
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import make_blob_dataset
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import fer_select_env  # noqa: F401
from fer_select_env.env import FERSelectEnv

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 2, "head_batch_size": 32, "head_max_epochs": 4}


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    make_blob_dataset(n_train=12, n_val=9, n_test=9, noise_rate=0.25).to_npz(path)
    return str(path)


@pytest.mark.parametrize("env_id", ["FERSelect-v0", "FERSelectLabelAware-v0"])
def test_gymnasium_check_env_passes_without_warnings(env_id, tiny_npz):
    env = gym.make(env_id, dataset=tiny_npz, classifier_config=TINY, render_mode="ansi")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(env.unwrapped)
    messages = [str(w.message) for w in caught if "gymnasium" in str(w.filename) or "fer_select" in str(w.filename)]
    assert messages == []
    env.close()


@pytest.mark.parametrize("observation", ["paper", "label_aware"])
def test_sb3_check_env_passes(observation, tiny_npz):
    env = FERSelectEnv(dataset=tiny_npz, observation=observation, classifier_config=TINY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env, warn=True)
    assert [str(w.message) for w in caught if "stable_baselines3" in str(w.filename)] == []


def _make_in_fresh_process(path: str, queue) -> None:
    # A spawned interpreter has not imported fer_select_env: the "module:" prefix must register it.
    env = gym.make("fer_select_env:FERSelect-v0", dataset=path, classifier_config=TINY)
    obs, _ = env.reset(seed=0)
    obs, _reward, terminated, _truncated, info = env.step(1)
    queue.put((obs.shape, type(terminated).__name__, sorted(info)))


def test_registration_in_a_spawned_subprocess(tiny_npz):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_make_in_fresh_process, args=(tiny_npz, queue))
    proc.start()
    result = queue.get(timeout=120)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert result == ((32,), "bool", ["sample_index"])


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
