"""FERSelect-v0's native vector env (FERSelectVectorEnv) and the SB3 adapter over it (GymnasiumVecEnv).

The registry-wide check (tests/envs/test_registry.py) already compares the vector env with Gymnasium's
SyncVectorEnv on both ids; here: the single env's own trajectory, reward settings, determinism, bad input,
the shared pre-training, the adapter against SB3's DummyVecEnv, and PPO and REINFORCE learning through it.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

import fer_select_env  # noqa: F401  (registers the ids)
from agents import REINFORCE
from agents.common.vec_env import GymnasiumVecEnv, unbatch_info
from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.envs.select.vector_env import FERSelectVectorEnv
from fer_select_env.testing import TINY_CLASSIFIER, make_blob_dataset


@pytest.fixture(scope="module")
def data():
    return make_blob_dataset(n_train=12, n_val=9, n_test=9, noise_rate=0.25)


@pytest.fixture
def kwargs(tmp_path):
    return {"classifier_config": dict(TINY_CLASSIFIER), "cache_dir": str(tmp_path)}


def _vector(data, n, **kwargs):
    return gym.make_vec("FERSelect-v0", num_envs=n, vectorization_mode="vector_entry_point", dataset=data, **kwargs)


def test_make_vec_builds_the_native_env_with_batched_spaces(data, kwargs):
    venv = gym.make_vec("FERSelectLabelAware-v0", num_envs=4, dataset=data, **kwargs)
    single = FERSelectEnv(data, observation="label_aware", **kwargs)
    assert isinstance(venv, FERSelectVectorEnv)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert venv.single_observation_space == single.observation_space
    assert venv.observation_space.shape == (4, *single.observation_space.shape)
    assert venv.action_space == gym.spaces.MultiDiscrete([2, 2, 2, 2])
    obs, info = venv.reset(seed=0)
    assert obs in venv.observation_space and obs.dtype == np.float32
    assert info["sample_index"].shape == (4,) and info["_sample_index"].all()


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"observation": "label_aware", "reward": "per_step"},
        {"reward": "f1", "persistent_classifier": False},
        {"scoring": "cross_fit", "baseline": "mean"},
        {"episode_size": 5},
    ],
    ids=["eq3", "label_aware_per_step", "f1_fresh", "cross_fit_mean", "subset"],
)
def test_one_pass_is_the_single_envs_trajectory(data, kwargs, settings):
    """num_envs=1, reset with the single env's seed and given its actions, returns what the single env does,
    terminal info and the next passes (after the classifier moved, where it persists) included."""
    venv = _vector(data, 1, **kwargs, **settings)
    env = FERSelectEnv(data, **kwargs, **settings)
    rng = np.random.default_rng(1)
    obs, info = venv.reset(seed=7)
    want_obs, want_info = env.reset(seed=7)
    assert data_equivalence(obs[0], want_obs, exact=True) and info["sample_index"][0] == want_info["sample_index"]
    ends = 0
    while ends < 3:
        action = int(rng.integers(2))
        obs, reward, terminated, truncated, info = venv.step(np.array([action]))
        want = env.step(action)
        assert data_equivalence(obs[0], want[0], exact=True)
        assert reward.dtype == np.float64 and reward[0] == want[1]
        assert terminated[0] == want[2] and not truncated[0]
        want_info = want[4]
        assert set(unbatch_info(info, 1)[0]) == set(want_info)
        for key, value in want_info.items():
            assert data_equivalence(np.asarray(info[key][0]), np.asarray(value), exact=False), key
        if want[2]:
            ends += 1
            assert info["kept"][0].shape == (env.episode_size,)
            obs, reward, terminated, _, info = venv.step(np.array([0]))  # NextStep: this step only resets
            want_obs, want_info = env.reset()
            assert data_equivalence(obs[0], want_obs, exact=True) and reward[0] == 0.0 and not terminated[0]
            assert info["sample_index"][0] == want_info["sample_index"]


def test_same_step_mode_hands_over_the_final_observation_and_info(data, kwargs):
    venv = _vector(data, 2, autoreset_mode="SameStep", **kwargs)
    sync = SyncVectorEnv(
        [lambda: FERSelectEnv(data, **kwargs) for _ in range(2)], autoreset_mode=AutoresetMode.SAME_STEP
    )
    got, want = venv.reset(seed=3), sync.reset(seed=3)
    for _ in range(12):
        got, want = venv.step(np.array([1, 0])), sync.step(np.array([1, 0]))
        assert data_equivalence(got, want, exact=True)
    obs, _, terminated, _, info = got
    assert terminated.all() and info["_final_obs"].all() and info["_final_info"].all()
    assert info["final_info"]["kept"][0].all() and not info["final_info"]["kept"][1].any()
    assert info["final_info"]["retrained"].tolist() == [True, False]  # nothing kept: no retraining
    assert not np.array_equal(obs[0], info["final_obs"][0])  # the next pass's first observation


def test_same_seed_same_run_and_the_seed_matters(data, kwargs):
    def run(seed):
        venv = _vector(data, 3, **kwargs)
        venv.action_space.seed(0)
        out = [venv.reset(seed=seed)]
        out += [venv.step(venv.action_space.sample()) for _ in range(30)]
        return out

    assert data_equivalence(run(5), run(5), exact=True)
    assert not data_equivalence(run(5), run(6))


def test_per_step_rewards_are_the_kept_images_eq2_rewards(data, kwargs):
    """Hand computation: a per-step reward is a_i · R_i with R_i from the scores at the start of the pass."""
    venv = _vector(data, 2, reward="per_step", **kwargs)
    venv.reset(seed=0)
    expected = np.stack([env._step_rewards for env in venv.unwrapped.envs])
    actions = np.array([[1, 0]] * 6 + [[0, 1]] * 6)
    paid = np.stack([venv.step(a)[1] for a in actions])
    np.testing.assert_array_equal(paid, np.where(actions == 1, expected.T, 0.0))


def test_sub_envs_share_one_pretraining_and_the_conv_features(data, kwargs):
    venv = _vector(data, 3, **kwargs)
    venv.reset(seed=0)
    first, *rest = venv.unwrapped.envs
    for env in rest:
        assert env._conv_train is first._conv_train and env.classifier is not first.classifier
        assert env._probs_train is not first._probs_train  # overwritten in place by a pass's end
    for _ in range(12):
        venv.step(np.array([1, 1, 0]))
    assert [env.episode_count for env in venv.unwrapped.envs] == [1, 1, 1]
    assert venv.unwrapped.get_attr("retrain_seconds")[0] is not None


@pytest.mark.parametrize(
    ("build", "name"),
    [
        ({"num_envs": 0}, "num_envs"),
        ({"num_envs": 2.0}, "num_envs"),
        ({"autoreset_mode": "Disabled"}, "autoreset_mode"),
        ({"reward": "eq9"}, "reward"),
    ],
)
def test_bad_construction_raises_value_error_naming_the_argument(data, kwargs, build, name):
    with pytest.raises(ValueError, match=name):
        FERSelectVectorEnv(**{"num_envs": 2, **build}, dataset=data, **kwargs)


@pytest.mark.parametrize(
    ("actions", "name"),
    [
        (np.array([1, 2]), "actions"),
        (np.array([1.0, 0.0]), "actions"),
        (np.array([1]), "actions"),
        ([[1, 0]], "actions"),
    ],
)
def test_bad_actions_raise_value_error(data, kwargs, actions, name):
    venv = _vector(data, 2, **kwargs)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=name):
        venv.step(actions)


def test_bad_seed_and_step_before_reset(data, kwargs):
    venv = _vector(data, 2, **kwargs)
    with pytest.raises(ResetNeeded):
        venv.step(np.array([1, 1]))
    with pytest.raises(ValueError, match="seed"):
        venv.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="reset option"):
        venv.reset(options={"reset_classifier": "yes"})


def test_render_ansi_gives_one_text_per_pass(data, kwargs):
    venv = _vector(data, 2, render_mode="ansi", **kwargs)
    venv.reset(seed=0)
    venv.step(np.array([1, 0]))
    texts = venv.render()
    assert len(texts) == 2 and "kept so far 1" in texts[0] and "kept so far 0" in texts[1]


# ---------------------------------------------------------------------- the SB3 adapter
def test_adapter_matches_dummy_vec_env_step_for_step(data, kwargs):
    """Observations, rewards, dones, infos (terminal_observation, TimeLimit.truncated), reset_infos, seeds
    and options used once (the first pass frozen, the auto-reset ones not): as SB3's DummyVecEnv."""
    settings = {"observation": "label_aware", "reward": "per_step", **kwargs}
    adapter = GymnasiumVecEnv(_vector(data, 3, autoreset_mode="SameStep", **settings))
    dummy = DummyVecEnv([lambda: FERSelectEnv(data, **settings) for _ in range(3)])
    for venv in (adapter, dummy):
        venv.seed(4)
        venv.set_options({"freeze_classifier": True})
    assert data_equivalence(adapter.reset(), dummy.reset(), exact=True)
    assert data_equivalence(adapter.reset_infos, dummy.reset_infos, exact=True)
    rng = np.random.default_rng(0)
    dones_seen = 0
    for _ in range(30):
        actions = rng.integers(0, 2, 3)
        got, want = adapter.step(actions), dummy.step(actions)
        assert data_equivalence(got, want, exact=True)
        assert data_equivalence(adapter.reset_infos, dummy.reset_infos, exact=True)
        dones_seen += int(got[2].all())
    assert dones_seen == 2
    assert adapter.get_attr("feature_dim") == dummy.get_attr("feature_dim")
    assert adapter.env_method("render", indices=[1]) == [None]


def test_adapter_refuses_next_step_envs_and_mixed_options(data, kwargs):
    with pytest.raises(ValueError, match="autoreset_mode"):
        GymnasiumVecEnv(_vector(data, 2, **kwargs))
    with pytest.raises(ValueError, match="venv"):
        GymnasiumVecEnv(FERSelectEnv(data, **kwargs))
    adapter = GymnasiumVecEnv(_vector(data, 2, autoreset_mode="SameStep", **kwargs))
    adapter.set_options([{"freeze_classifier": True}, {}])
    with pytest.raises(ValueError, match="options"):
        adapter.reset()


def test_reinforce_and_ppo_learn_through_the_adapter(data, kwargs):
    venv = VecMonitor(GymnasiumVecEnv(_vector(data, 2, autoreset_mode="SameStep", reward="per_step", **kwargs)))
    model = REINFORCE("MlpPolicy", venv, seed=0, batch_size=8)
    model.pretrain(2)
    model.learn(48)
    assert model.num_timesteps == 48 and model._n_updates == 2 + 4  # one update per finished pass
    assert len(model.ep_info_buffer) == 4
    ppo = PPO("MlpPolicy", venv, seed=0, n_steps=12, batch_size=12, n_epochs=1)
    ppo.learn(48)
    assert ppo.num_timesteps == 48 and len(ppo.ep_info_buffer) == 4


def test_reinforce_on_one_native_pass_is_reinforce_on_the_single_env(data, kwargs):
    """num_envs=1 through the adapter is the single env through Monitor and DummyVecEnv: the same trained
    policy, bit for bit, after §3.3 pre-training and learning (what `--num-envs 1` of the main job relies on)."""
    from stable_baselines3.common.monitor import Monitor

    from agents.common.vec_env import make_native_vec_env

    def trained(env):
        model = REINFORCE("MlpPolicy", env, seed=3, batch_size=8)
        model.pretrain(1)
        model.learn(36)
        return [p.detach().clone() for p in model.policy.parameters()]

    native = trained(make_native_vec_env("FERSelect-v0", 1, dataset=data, **kwargs))
    single = trained(Monitor(FERSelectEnv(data, **kwargs)))
    assert all(bool((a == b).all()) for a, b in zip(native, single, strict=True))


def test_restoring_the_pretrained_classifier_restores_its_state_features(data, kwargs):
    """persistent_classifier=False reuses the pre-trained head's features at each reset instead of
    recomputing them: they must be what recomputing gives."""
    env = FERSelectEnv(data, persistent_classifier=False, **kwargs)
    env.reset(seed=0)
    for _ in range(12):
        env.step(1)
    assert not np.array_equal(env._features, env._initial_features)  # the retrained head moved them
    env.reset()
    np.testing.assert_array_equal(env._features, env.classifier.head_features(env._conv_train).astype(np.float32))
