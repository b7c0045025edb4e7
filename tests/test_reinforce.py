"""REINFORCE on SB3's API: update sign and weighting by hand, save/load, determinism, vector envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import fer_select_env  # noqa: F401
from agents import REINFORCE
from agents.reinforce.reinforce import reward_to_go, selection_advantages
from fer_select_env.testing import make_blob_dataset

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 2, "head_batch_size": 32, "head_max_epochs": 4}


def test_selection_advantages_by_hand():
    r = np.array([0.5, 0.5, -0.3, -0.3])
    a = np.array([1, 0, 1, 0])
    p = np.array([0.8, 0.8, 0.4, 0.4])
    np.testing.assert_allclose(selection_advantages(r, a, p), [0.1, -0.4, -0.18, 0.12])


def test_reward_to_go():
    np.testing.assert_allclose(reward_to_go(np.array([1.0, 0.0, 2.0]), 0.5), [1.5, 1.0, 2.0])


def _model(**kwargs) -> REINFORCE:
    return REINFORCE("MlpPolicy", "CartPole-v1", seed=0, learning_rate=1e-2, **kwargs)


def test_update_moves_keep_probability_toward_positive_reward_whatever_the_action():
    model = _model()
    obs = np.tile(np.array([[0.1, -0.2, 0.3, 0.05]], np.float32), (4, 1))
    obs[2:] = [[-0.4, 0.2, -0.1, 0.3]]
    obs_t = th.as_tensor(obs)
    before = model.policy.keep_probability(obs_t).detach().numpy()
    # Image type A (rows 0-1) is good (R>0): once kept, once removed. Type B (rows 2-3) is bad (R<0).
    info = {"sample_rewards": np.array([0.6, 0.6, -0.6, -0.6], np.float32)}
    for _ in range(20):
        model.train_on_episode(obs, np.array([1, 0, 1, 0]), np.zeros(4), info)
    after = model.policy.keep_probability(obs_t).detach().numpy()
    assert after[0] > before[0] and after[2] < before[2]


def test_policy_loss_is_the_hand_computed_weighted_log_likelihood():
    model = _model(reward_scaling="none", max_grad_norm=1e9, policy_kwargs={"normalize_observations": False})
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(6, 4)).astype(np.float32)
    actions = np.array([1, 0, 1, 1, 0, 0])
    r = np.array([0.3, -0.2, -0.5, 0.1, 0.4, -0.1])
    with th.no_grad():
        p = model.policy.keep_probability(th.as_tensor(obs)).numpy().astype(np.float64)
    log_pi = np.where(actions == 1, np.log(p), np.log(1 - p))
    expected = -np.mean((actions - p) * r * log_pi)
    stats = model.train_on_episode(obs, actions, np.zeros(6), {"sample_rewards": r})
    assert stats["train/policy_loss"] == pytest.approx(expected, rel=1e-4, abs=1e-6)


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    make_blob_dataset(n_train=16, n_val=9, n_test=9, noise_rate=0.25).to_npz(path)
    return str(path)


def _env(path):
    return gym.make("fer_select_env:FERSelectLabelAware-v0", dataset=path, classifier_config=TINY)


def test_learn_predict_save_load_round_trip(tiny_npz, tmp_path):
    model = REINFORCE("MlpPolicy", _env(tiny_npz), seed=3)
    model.learn(64)
    assert model._n_updates == 4 and model.num_timesteps == 64
    obs = np.random.default_rng(1).random((10, model.observation_space.shape[0])).astype(np.float32)
    actions, state = model.predict(obs, deterministic=True)
    assert actions.shape == (10,) and set(np.unique(actions)) <= {0, 1} and state is None
    model.save(tmp_path / "selector.zip")
    loaded = REINFORCE.load(tmp_path / "selector.zip", env=_env(tiny_npz))
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    loaded.learn(16, reset_num_timesteps=False)
    assert loaded.num_timesteps == 80


def test_deterministic_training_for_a_seed(tiny_npz):
    params = []
    for _ in range(2):
        model = REINFORCE("MlpPolicy", _env(tiny_npz), seed=7)
        model.learn(48)
        params.append(th.nn.utils.parameters_to_vector(model.policy.parameters()).detach().numpy())
    np.testing.assert_array_equal(params[0], params[1])


def test_vec_envs_dummy_and_subproc(tiny_npz):
    dummy = DummyVecEnv([lambda: _env(tiny_npz)] * 2)
    model = REINFORCE("MlpPolicy", dummy, seed=0)
    model.learn(64)
    assert model._n_updates == 4  # two envs, two episodes each
    sub = SubprocVecEnv([lambda: _env(tiny_npz)], start_method="spawn")
    try:
        REINFORCE("MlpPolicy", sub, seed=0).learn(32)
    finally:
        sub.close()


def test_other_discrete_two_env_and_bad_spaces():
    model = _model()
    model.learn(300)
    assert model._n_updates >= 1
    with pytest.raises(ValueError, match="Discrete\\(2\\)"):
        REINFORCE("MlpPolicy", "Acrobot-v1")


def test_reward_scalings_keep_every_sign_and_balance_the_groups():
    from agents.reinforce.reinforce import scale_sample_rewards

    r = np.array([0.6, 0.7, 0.5, -0.05, 0.0])
    for scaling in ("balanced", "sign", "std", "none"):
        out = scale_sample_rewards(r, scaling)
        np.testing.assert_array_equal(np.sign(out), np.sign(r))
    balanced = scale_sample_rewards(r, "balanced")
    # Equal total pull for "keep" and "remove", whatever their counts and magnitudes.
    assert balanced[balanced > 0].sum() == pytest.approx(-balanced[balanced < 0].sum())
    np.testing.assert_allclose(scale_sample_rewards(r, "sign")[:4], [1.0, 0.7 / 0.6, 0.5 / 0.6, -1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="reward_scaling must be one of"):
        scale_sample_rewards(r, "rank")
    with pytest.raises(ValueError, match="reward_scaling must be one of"):
        _model(reward_scaling="rank")


def test_normalizer_ties_the_kept_mean_block_to_the_feature_block(tiny_npz):
    model = REINFORCE("MlpPolicy", _env(tiny_npz), seed=0)
    assert model.policy.feature_dim == 16  # read from the env
    rng = np.random.default_rng(0)
    obs = rng.normal(2.0, 3.0, size=(50, model.observation_space.shape[0])).astype(np.float32)
    obs[:, 16:32] = 0.5 + 0.001 * rng.normal(size=(50, 16))  # a kept mean that barely moves within a pass
    model.policy.update_normalizer(th.as_tensor(obs))
    np.testing.assert_array_equal(model.policy.obs_var[16:32].numpy(), model.policy.obs_var[:16].numpy())
    assert abs(float(model.policy.normalize(th.as_tensor(obs))[:, 16:32].abs().max())) < 3.0


def test_pretrain_freezes_the_classifier_and_updates_the_selector(tiny_npz):
    env = _env(tiny_npz)
    model = REINFORCE("MlpPolicy", env, seed=0)
    before = th.nn.utils.parameters_to_vector(model.policy.parameters()).detach().clone()
    model.pretrain(2)
    assert len(model.pretrain_history) == 2 and model._n_updates == 2
    assert not th.equal(before, th.nn.utils.parameters_to_vector(model.policy.parameters()))
    unwrapped = env.unwrapped
    assert unwrapped.episode_count == 2
    pretrained = unwrapped._pretrained_head()
    for key, value in unwrapped.classifier.get_head_state().items():  # both passes ran without retraining
        assert th.equal(value, pretrained[key])
    model.learn(16)  # learn() starts from a fresh, unfrozen reset
    assert not unwrapped._frozen and model.num_timesteps == 16
    with pytest.raises(ValueError, match="episodes must be >= 0"):
        model.pretrain(-1)


def test_running_return_baseline_by_hand():
    """``return_baseline="running"``: G_t − b_t with b_t a running mean per step index, updated after use."""
    env = gym.make("CartPole-v1")
    model = REINFORCE("CategoricalMlpPolicy", env, return_baseline="running", reward_scaling="none", seed=0)
    first = model._running_advantages(np.array([1.0]))
    assert first.tolist() == [0.0] and model._baseline == [1.0]  # b starts at the first return
    second = model._running_advantages(np.array([-1.0, 0.5]))
    # b_0 = 1 (seen), b_1 starts at b_0 = 1: advantages -2 and -0.5, then b_0 = 1 + 0.02·(-2)
    assert second.tolist() == [-2.0, -0.5]
    assert model._baseline == pytest.approx([0.96, 0.99])
    with pytest.raises(ValueError, match="return_baseline"):
        REINFORCE("CategoricalMlpPolicy", env, return_baseline="ema")
