"""FERSelect-v0: spaces, rewards against hand computations, determinism, edge cases, save/restore."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import data_equivalence

import fer_select_env
from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.testing import make_blob_dataset

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 3, "head_batch_size": 32, "head_max_epochs": 8}


def make_env(ds=None, **kwargs) -> FERSelectEnv:
    kwargs.setdefault("classifier_config", TINY)
    return FERSelectEnv(dataset=ds if ds is not None else make_blob_dataset(noise_rate=0.3), **kwargs)


def run_episode(env, actions=None, seed=None):
    """Play one pass; ``actions`` is a function of the dataset index (default: keep everything)."""
    obs, info = env.reset(seed=seed)
    observations, rewards = [obs], []
    while True:
        a = 1 if actions is None else actions(info["sample_index"]) if "sample_index" in info else 1
        obs, r, terminated, truncated, info_next = env.step(a)
        observations.append(obs)
        rewards.append(r)
        assert truncated is False
        if terminated:
            return observations, rewards, info_next
        info = info_next


def test_spaces_paper_and_label_aware():
    env = make_env()
    assert env.action_space == gym.spaces.Discrete(2)
    assert env.observation_space.shape == (32,) and env.observation_space.dtype == np.float32
    la = make_env(observation="label_aware")
    k = la.num_classes
    assert la.observation_space.shape == (32 + 2 * k + 1,)
    assert np.all(la.observation_space.high[32:] == 1.0)
    obs, _ = la.reset(seed=0)
    assert la.observation_space.contains(obs)


def test_registration_and_label_aware_id():
    assert set(fer_select_env.ENV_IDS) <= set(gym.registry)
    env = gym.make("FERSelectLabelAware-v0", dataset=make_blob_dataset(), classifier_config=TINY)
    assert env.unwrapped.observation_mode == "label_aware"
    assert env.spec.max_episode_steps is None
    env.close()


def test_observation_is_feature_plus_mean_of_kept_features():
    env = make_env()
    ds = env.dataset
    obs, info = env.reset(seed=3)
    clf = env.classifier
    feats = clf.features(ds.x_train)
    np.testing.assert_allclose(obs[:16], feats[info["sample_index"]], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(obs[16:], 0.0)  # nothing kept yet
    kept = []
    for a in (1, 0, 1, 1):
        kept_idx = info["sample_index"]
        if a:
            kept.append(kept_idx)
        obs, _, _, _, info = env.step(a)
    np.testing.assert_allclose(obs[16:], feats[kept].mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(obs[:16], feats[info["sample_index"]], rtol=1e-4, atol=1e-5)


def test_label_aware_block_is_onehot_probs_and_label_prob():
    env = make_env(observation="label_aware")
    obs, info = env.reset(seed=0)
    k, y = env.num_classes, env.dataset.y_train[info["sample_index"]]
    onehot, probs, p_label = obs[32 : 32 + k], obs[32 + k : 32 + 2 * k], obs[-1]
    np.testing.assert_array_equal(onehot, np.eye(k)[y])
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert p_label == pytest.approx(probs[y])


def test_terminal_reward_matches_hand_computation_in_sample():
    """Eq. 2-3 by hand: retrained classifier's P(y_i|x_i) minus 1/K, summed over the kept images."""
    env = make_env(scoring="in_sample", baseline="uniform")
    keep = lambda i: int(i % 3 != 0)  # noqa: E731
    _, rewards, info = run_episode(env, keep, seed=1)
    ds, clf = env.dataset, env.classifier
    order = info["sample_indices"]
    probs = clf.predict_proba(ds.x_train[order])
    p = probs[np.arange(len(order)), ds.y_train[order]]
    r_i = p - 1.0 / env.num_classes
    kept = np.array([keep(i) for i in order], bool)
    np.testing.assert_array_equal(info["kept"], kept)
    np.testing.assert_allclose(info["sample_rewards"], r_i, atol=1e-5)
    assert rewards[-1] == pytest.approx(r_i[kept].sum(), abs=1e-4)
    assert all(r == 0.0 for r in rewards[:-1])
    assert info["kept_fraction"] == pytest.approx(kept.mean())


def test_class_prior_baseline_is_the_mean_predicted_probability_of_each_label_class():
    """Eq. 2 read literally: b_i = (1/n) Σ_j P(y_i | x_j) over the episode, from the same scores as R_i."""
    env = make_env(scoring="in_sample", baseline="class_prior")
    keep = lambda i: int(i % 4 != 0)  # noqa: E731
    _, rewards, info = run_episode(env, keep, seed=3)
    ds, clf = env.dataset, env.classifier
    order, kept = info["sample_indices"], info["kept"]
    probs = clf.predict_proba(ds.x_train[order])
    np.testing.assert_allclose(info["sample_probs"], probs, atol=1e-5)
    y = ds.y_train[order]
    r_i = probs[np.arange(len(order)), y] - probs.mean(axis=0)[y]
    np.testing.assert_allclose(info["sample_rewards"], r_i, atol=1e-5)
    assert rewards[-1] == pytest.approx(r_i[kept].sum(), abs=1e-4)


def test_cross_fit_scores_removed_images_with_main_model_and_kept_ones_out_of_fold():
    env = make_env(scoring="cross_fit", baseline="mean")
    keep = lambda i: int(i % 2 == 0)  # noqa: E731
    _, rewards, info = run_episode(env, keep, seed=2)
    ds, clf = env.dataset, env.classifier
    order, kept = info["sample_indices"], info["kept"]
    p_main = clf.predict_proba(ds.x_train[order])[np.arange(len(order)), ds.y_train[order]]
    np.testing.assert_allclose(info["sample_label_probs"][~kept], p_main[~kept], atol=1e-5)
    assert not np.allclose(info["sample_label_probs"][kept], p_main[kept], atol=1e-3)
    expected = info["sample_label_probs"] - info["sample_label_probs"].mean()
    np.testing.assert_allclose(info["sample_rewards"], expected, atol=1e-5)
    assert rewards[-1] == pytest.approx(expected[kept].sum(), abs=1e-4)


def test_terminal_info_keys_and_removal_metrics():
    env = make_env()
    noisy = env.dataset.noise_train != 0
    _, _, info = run_episode(env, lambda i: int(not noisy[i]), seed=0)  # the oracle
    assert info["removal_precision"] == 1.0 and info["removal_recall"] == 1.0 and info["removal_f1"] == 1.0
    n = len(env.dataset.y_train)
    assert info["sample_rewards"].dtype == np.float32 and info["sample_rewards"].shape == (n,)
    assert info["kept"].dtype == bool and sorted(info["sample_indices"]) == list(range(n))
    assert 0.0 <= info["val_accuracy"] <= 1.0 and 0.0 <= info["val_macro_f1"] <= 1.0
    clean = make_blob_dataset()
    clean.noise_train = None
    _, _, info2 = run_episode(make_env(clean), seed=0)
    assert "removal_f1" not in info2


def test_non_terminal_info_is_tiny():
    env = make_env()
    _, info = env.reset(seed=0)
    _, _, _, _, info = env.step(1)
    assert set(info) == {"sample_index"}


def test_determinism_two_envs_same_seed_same_actions():
    ds = make_blob_dataset(noise_rate=0.3)
    envs = [make_env(ds, observation="label_aware") for _ in range(2)]
    traces = []
    for env in envs:
        rng = np.random.default_rng(7)
        trace = []
        for episode in range(2):
            obs, info = env.reset(seed=11 if episode == 0 else None)
            trace.append((obs, info))
            done = False
            while not done:
                obs, r, done, trunc, info = env.step(int(rng.integers(2)))
                trace.append((obs, r, done, trunc, info))
        traces.append(trace)
    assert data_equivalence(traces[0], traces[1], exact=True)


def test_episode_size_subset_and_oversize_warning():
    ds = make_blob_dataset(n_train=60)
    env = make_env(ds, episode_size=10)
    _, rewards, info = run_episode(env, seed=0)
    assert len(rewards) == 10 and len(set(info["sample_indices"])) == 10
    with pytest.warns(UserWarning, match="exceeds the 60 training images"):
        big = make_env(ds, episode_size=1000)
    assert big.episode_size == 60
    with pytest.raises(ValueError, match="episode_size: must be a positive integer"):
        make_env(ds, episode_size=0)


def test_every_image_removed_keeps_classifier_and_gives_zero_reward():
    env = make_env()
    env.reset(seed=0)
    before = env.classifier.get_head_state()
    val_before = dict(env._val_metrics)
    _, rewards, info = run_episode(env, lambda i: 0, seed=0)
    assert rewards[-1] == 0.0 and info["retrained"] is False and info["kept_fraction"] == 0.0
    after = env.classifier.get_head_state()
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in before)
    assert info["val_accuracy"] == val_before["val_accuracy"]
    assert np.isfinite(info["sample_rewards"]).all()


def test_only_one_class_kept_trains_and_scores():
    env = make_env(reward="f1")
    y = env.dataset.y_train
    _, rewards, info = run_episode(env, lambda i: int(y[i] == 0), seed=0)
    assert info["retrained"] is True and np.isfinite(rewards[-1])
    np.testing.assert_allclose(info["sample_rewards"], rewards[-1])


def test_step_before_reset_after_end_and_bad_action():
    env = make_env()
    with pytest.raises(ResetNeeded, match="before reset"):
        env.step(1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be 0 \(remove\) or 1 \(keep\), got 2"):
        env.step(2)
    run_episode(env, seed=0)
    with pytest.warns(UserWarning, match="after the pass ended"):
        _obs, r, terminated, _truncated, info = env.step(1)
    assert r == 0.0 and terminated is True and info == {}


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"observation": "pixels"}, r"observation must be one of \('paper', 'label_aware'\)"),
        ({"reward": "accuracy"}, "reward must be one of"),
        ({"baseline": "median"}, "baseline must be one of"),
        ({"scoring": "oof"}, "scoring must be one of"),
        ({"retrain": "all"}, r"retrain must be one of \('head', 'finetune', 'scratch'\)"),
        ({"n_folds": 1}, "n_folds: must be an integer >= 2"),
        ({"render_mode": "human"}, "render_mode must be None or one of"),
        ({"dataset": "no_such_scenario_or_file"}, "neither an existing .npz file nor a scenario name"),
        ({"classifier_config": {"widht": 3}}, "unknown ClassifierConfig field"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, pattern):
    ds = kwargs.pop("dataset", make_blob_dataset())
    with pytest.raises(ValueError, match=pattern):
        make_env(ds, **kwargs)


def test_dataset_from_npz_path(tmp_path):
    ds = make_blob_dataset()
    ds.to_npz(tmp_path / "d.npz")
    env = make_env(str(tmp_path / "d.npz"))
    assert env.dataset.fingerprint() == ds.fingerprint()
    with pytest.raises(FileNotFoundError):
        make_env(str(tmp_path / "missing.npz"))


def test_per_step_reward_pays_lagged_eq2():
    env = make_env(reward="per_step", baseline="uniform")
    _, _, info1 = run_episode(env, seed=0)
    p_prev = dict(zip(info1["sample_indices"].tolist(), info1["sample_label_probs"].tolist(), strict=True))
    _, info = env.reset()
    total, expected = 0.0, 0.0
    done = False
    while not done:
        i = info["sample_index"]
        a = int(i % 2 == 0)
        _obs, r, done, _, info = env.step(a)
        assert r == pytest.approx(a * (p_prev[i] - 1 / env.num_classes), abs=1e-5)
        total += r
        expected += a * (p_prev[i] - 1 / env.num_classes)
    assert total == pytest.approx(expected, abs=1e-4)


def test_f1_and_dvrl_rewards():
    env = make_env(reward="f1")
    env.reset(seed=0)
    f1_before = env._val_metrics["val_macro_f1"]
    _, rewards, info = run_episode(env, seed=0)
    assert rewards[-1] == pytest.approx(info["val_macro_f1"] - f1_before)
    env = make_env(reward="dvrl")
    _, rewards, info = run_episode(env, lambda i: int(i % 4 != 0), seed=0)
    assert -1.0 <= rewards[-1] <= 1.0
    np.testing.assert_allclose(info["sample_rewards"], rewards[-1])


def test_eq3_dvrl_adds_the_dvrl_reward_to_every_eq2_reward():
    """reward="eq3_dvrl" against a hand computation from the two rewards it combines, on the same pass."""
    ds = make_blob_dataset(noise_rate=0.3)
    keep = lambda i: int(i % 3 != 0)  # noqa: E731
    _, _, eq3 = run_episode(make_env(ds, reward="eq3"), keep, seed=0)
    _, dvrl_rewards, _ = run_episode(make_env(ds, reward="dvrl"), keep, seed=0)
    _, rewards, info = run_episode(make_env(ds, reward="eq3_dvrl"), keep, seed=0)
    d = dvrl_rewards[-1]
    assert info["dvrl_reward"] == pytest.approx(d)
    np.testing.assert_allclose(info["sample_rewards"], eq3["sample_rewards"] + d, atol=1e-6)
    assert rewards[-1] == pytest.approx(float((eq3["sample_rewards"] + d)[info["kept"]].sum()), abs=1e-4)
    assert all(r == 0.0 for r in rewards[:-1])


def test_classifier_persists_across_episodes_and_reset_option_restores_it():
    env = make_env()
    obs0, info0 = env.reset(seed=5)
    run_episode(env, lambda i: int(i % 2 == 0), seed=5)
    obs1, info1 = env.reset(seed=5)
    assert info1["sample_index"] == info0["sample_index"]
    assert not np.allclose(obs0, obs1), "retraining the head must change the state features"
    obs2, _ = env.reset(seed=5, options={"reset_classifier": True})
    np.testing.assert_allclose(obs2, obs0, atol=1e-6)
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"shuffle": False})


def test_render_ansi():
    env = make_env(render_mode="ansi")
    run_episode(env, seed=0)
    text = env.render()
    assert "episode 1" in text and "val_accuracy=" in text
    assert make_env().render() is None


def test_save_and_restore_mid_episode(tmp_path):
    ds = make_blob_dataset(noise_rate=0.3)
    a, b = make_env(ds), make_env(ds)
    actions = np.random.default_rng(0).integers(0, 2, size=500)
    run_episode(a, lambda i: int(actions[i]), seed=4)
    a.reset()
    for t in range(7):
        a.step(int(actions[t]))
    a.save_state(tmp_path / "state.pt")
    b.load_state(tmp_path / "state.pt")

    def finish(env):
        out, done, t = [], False, 7
        while not done:
            obs, r, done, _, info = env.step(int(actions[t]))
            out.append((obs, r, info))
            t += 1
        out.append(env.reset())
        return out

    assert data_equivalence(finish(a), finish(b), exact=True)
    other = make_env(make_blob_dataset(seed=9))
    with pytest.raises(ValueError, match="different dataset"):
        other.load_state(tmp_path / "state.pt")


@pytest.mark.parametrize("retrain", ["finetune", "scratch"])
def test_full_network_retrain_modes_run_an_episode(retrain):
    env = make_env(make_blob_dataset(n_train=30, n_val=12), retrain=retrain)
    _, rewards, info = run_episode(env, lambda i: int(i % 3 != 0), seed=0)
    assert info["retrained"] and np.isfinite(rewards[-1])
    assert np.isfinite(info["sample_rewards"]).all()


def test_freeze_classifier_option_skips_retraining():
    env = make_env()
    env.reset(seed=0)
    state = env.classifier.get_head_state()
    env.reset(seed=1, options={"freeze_classifier": True})
    done = False
    while not done:
        _, _, done, _, info = env.step(0 if env._t % 2 else 1)
    assert info["retrained"] is False
    for key, value in env.classifier.get_head_state().items():
        assert torch.equal(value, state[key])
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"freeze": True})


def test_non_persistent_classifier_restarts_every_pass_from_the_pretrained_one():
    env = make_env(persistent_classifier=False)
    env.reset(seed=0)
    features0 = env._features.copy()
    run_episode(env, seed=0)
    assert not np.array_equal(env._features, features0)  # retrained at the end of the pass
    env.reset(seed=0)
    np.testing.assert_array_equal(env._features, features0)
