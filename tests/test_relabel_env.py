"""FERSelectRelabel-v0 (remove / keep / keep relabelled to the prediction), REINFORCE's categorical selector on
it, the ``reinforce_relabel`` agent, and ``fer-select clean``'s relabelled output."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.utils.env_checker import data_equivalence
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import fer_select_env  # noqa: F401  (registers the ids)
from agents import REINFORCE
from agents.common.selection import Selection
from agents.experiment.benchmark import select
from agents.experiment.cli import main
from agents.experiment.relabel_selection import relabel_selection_pass
from agents.experiment.settings import BenchmarkSettings, RLSettings
from agents.reinforce.reinforce import (
    REWARD_SCALINGS,
    expected_action_advantages,
    scale_rewards_by_action,
    scale_sample_rewards,
    selection_advantages,
)
from fer_select_env import FERDataset
from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.envs.select.relabel_env import FERSelectRelabelEnv
from fer_select_env.envs.select.rewards import eq2_candidate_rewards, eq2_sample_rewards
from fer_select_env.models import ClassifierConfig
from fer_select_env.models.chance import ClassifierNearChanceWarning
from fer_select_env.testing import SELECTOR_TEST_CONFIG, TINY_CLASSIFIER, make_blob_dataset

F, K = 16, 3  # feature_dim of both configs below, classes of the blob data
TINY = {"width": 4, "feature_dim": 16, "max_epochs": 3, "min_epochs": 1, "head_batch_size": 32, "head_max_epochs": 4}
ACTIONS = np.random.default_rng(0).integers(0, 3, size=64)


@pytest.fixture(scope="module")
def data() -> FERDataset:
    return make_blob_dataset(n_train=30, n_val=15, n_test=15, noise_rate=0.3)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One pre-training cache for the module (every test otherwise gets its own, and would pre-train again)."""
    return tmp_path_factory.mktemp("relabel_cache")


def make_env(data, cache, **kwargs) -> FERSelectRelabelEnv:
    # SELECTOR_TEST_CONFIG separates the blobs, so its predictions differ from the flipped labels.
    kwargs.setdefault("classifier_config", SELECTOR_TEST_CONFIG)
    return FERSelectRelabelEnv(dataset=data, cache_dir=cache, **kwargs)


def play(env, actions, seed=None):
    """One pass with ``actions[t]`` at step t; returns the observations, rewards and the terminal info."""
    obs, _ = env.reset(seed=seed)
    observations, rewards, t = [obs], [], 0
    while True:
        obs, reward, terminated, truncated, info = env.step(int(actions[t]))
        assert truncated is False
        observations.append(obs)
        rewards.append(reward)
        t += 1
        if terminated:
            return observations, rewards, info


def shown_probs(observations) -> np.ndarray:
    """The class distribution each step's label-aware observation shows (one row per step)."""
    return np.stack([o[2 * F + K : 2 * F + 2 * K] for o in observations[:-1]]).astype(np.float64)


# ---------------------------------------------------------------------------------------------- env
def test_both_env_checkers_pass(tmp_path):
    data = make_blob_dataset(n_train=12, n_val=9, n_test=9, noise_rate=0.25)
    env = gym.make("FERSelectRelabel-v0", dataset=data, classifier_config=TINY_CLASSIFIER, cache_dir=tmp_path)
    assert isinstance(env.unwrapped, FERSelectRelabelEnv)
    assert env.action_space == gym.spaces.Discrete(3) and env.observation_space.shape == (2 * F + 2 * K + 1,)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped, warn=True)
    # A checker's complaint is a warning from its package; the tiny classifier's near-chance one is expected.
    complaints = [
        str(w.message)
        for w in caught
        if any(pkg in str(w.filename) for pkg in ("gymnasium", "stable_baselines3", "fer_select_env"))
        and not issubclass(w.category, ClassifierNearChanceWarning)
    ]
    assert complaints == []


def test_terminal_reward_is_eq3_under_the_new_labels(data, cache, monkeypatch):
    env = make_env(data, cache)
    labels_before = data.y_train.copy()
    env.reset(seed=0)
    fitted = []
    fit_head = env.classifier.fit_head

    def spy(z, y, *args, **kwargs):
        fitted.append(np.array(y))
        return fit_head(z, y, *args, **kwargs)

    monkeypatch.setattr(env.classifier, "fit_head", spy)
    actions = np.tile([2, 1, 0, 2, 2], 6)
    observations, rewards, info = play(env, actions, seed=0)

    n = len(actions)
    given = data.y_train[info["sample_indices"]]
    predicted = shown_probs(observations).argmax(axis=1)
    new = np.where(actions == 2, predicted, given)
    assert (predicted != given)[actions == 2].any(), "no relabelling changed a label: the test would prove nothing"
    np.testing.assert_array_equal(info["new_labels"], new)
    np.testing.assert_array_equal(info["relabelled"], actions == 2)
    np.testing.assert_array_equal(info["kept"], actions != 0)
    assert info["new_labels"].dtype == np.int64 and info["relabelled_fraction"] == pytest.approx(np.mean(actions == 2))
    # The retraining fitted the kept images with their new labels; the dataset's labels are untouched.
    (labels,) = fitted
    np.testing.assert_array_equal(labels, new[actions != 0])
    np.testing.assert_array_equal(data.y_train, labels_before)

    # Eq. 2 with the new label and the class-prior baseline, Eq. 3 over the kept and relabelled images.
    p = info["sample_probs"].astype(np.float64)
    prior = p.mean(axis=0)
    rows = np.arange(n)
    r_new = p[rows, new] - prior[new]
    np.testing.assert_allclose(info["sample_rewards"], r_new, rtol=1e-5, atol=1e-6)
    assert rewards[-1] == pytest.approx(r_new[actions != 0].sum(), rel=1e-5, abs=1e-6) and rewards[:-1] == [0.0] * (
        n - 1
    )
    by_action = info["sample_rewards_by_action"]
    assert by_action.dtype == np.float32 and by_action.shape == (n, 3)
    expected = np.stack([np.zeros(n), p[rows, given] - prior[given], p[rows, predicted] - prior[predicted]], axis=1)
    np.testing.assert_allclose(by_action, expected, rtol=1e-5, atol=1e-6)
    # A kept image's reward is the column of its action (exactly), a removed one's is column 1.
    taken = np.where(actions == 0, 1, actions)
    np.testing.assert_array_equal(by_action[rows, taken], info["sample_rewards"])


@pytest.mark.parametrize("kwargs", [{"scoring": "cross_fit"}, {"retrain": "finetune"}])
def test_cross_fitting_and_network_retraining_fit_the_new_labels(data, cache, monkeypatch, kwargs):
    env = make_env(data, cache, classifier_config=TINY, **kwargs)
    env.reset(seed=0)
    fitted = []
    name = "fit_head" if env.retrain == "head" else "fit"
    original = getattr(env.classifier, name)

    def spy(x, y, *args, **kw):
        fitted.append(np.array(y))
        return original(x, y, *args, **kw)

    monkeypatch.setattr(env.classifier, name, spy)
    actions = np.tile([2, 1, 0], 10)
    _, _, info = play(env, actions, seed=0)
    np.testing.assert_array_equal(fitted[0], info["new_labels"][actions != 0])  # the main retraining
    taken = np.where(actions == 0, 1, actions)
    np.testing.assert_array_equal(info["sample_rewards_by_action"][np.arange(30), taken], info["sample_rewards"])


def test_per_step_pays_the_chosen_actions_eq2_from_the_scores_the_pass_began_with(data, cache):
    env = make_env(data, cache, reward="per_step", baseline="mean", persistent_classifier=False)
    actions = np.tile([0, 1, 2], 10)
    observations, rewards, _ = play(env, actions, seed=1)
    probs = shown_probs(observations)
    given = data.y_train[env._order]  # the pass's order: the label block's one-hots say the same
    np.testing.assert_array_equal(np.stack(observations[:-1])[:, 2 * F : 2 * F + K].argmax(1), given)
    rows = np.arange(len(actions))
    b = probs[rows, given].mean()  # the mean baseline over the episode's given labels
    pay = {0: np.zeros(len(rows)), 1: probs[rows, given] - b, 2: probs[rows, probs.argmax(1)] - b}
    expected = np.choose(actions, [pay[0], pay[1], pay[2]])
    np.testing.assert_allclose(rewards, expected, rtol=1e-5, atol=1e-6)


def test_candidate_rewards_are_eq2_for_the_labels_themselves():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=9)
    labels, candidates = rng.integers(0, 4, 9), rng.integers(0, 4, 9)
    for baseline in ("class_prior", "uniform", "mean", "none"):
        np.testing.assert_array_equal(
            eq2_candidate_rewards(probs, labels, labels, baseline), eq2_sample_rewards(probs, labels, baseline)
        )
    mean = probs[np.arange(9), labels].mean()  # the episode's baseline, not the candidates'
    np.testing.assert_allclose(
        eq2_candidate_rewards(probs, labels, candidates, "mean"), probs[np.arange(9), candidates] - mean, rtol=1e-6
    )


@pytest.mark.parametrize("action", [3, -1, 1.0, 2.0, "2", np.array([2]), None])
def test_invalid_actions_are_refused(data, cache, action):
    env = make_env(data, cache)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be 0 \(remove\), 1 \(keep\) or 2 \(keep relabelled"):
        env.step(action)
    for ok in (np.int64(2), np.array(2), True):
        env.step(ok)


def test_the_reward_options_without_a_per_image_reward_are_refused(data, cache):
    for reward in ("f1", "dvrl", 1):
        with pytest.raises(ValueError, match=r"reward must be one of \('eq3', 'per_step'\)"):
            make_env(data, cache, reward=reward)
    assert make_env(data, cache).observation_mode == "label_aware"


def test_same_seed_same_actions_same_infos(data, cache):
    def run(env):
        return [play(env, ACTIONS[episode:], seed=5 if episode == 0 else None) for episode in range(2)]

    assert data_equivalence(run(make_env(data, cache)), run(make_env(data, cache)), exact=True)


def test_save_and_load_mid_episode_resumes_identically(data, cache, tmp_path):
    a, b = make_env(data, cache), make_env(data, cache)
    play(a, ACTIONS, seed=4)
    a.reset()
    for t in range(7):
        a.step(int(ACTIONS[t]))
    state = a.get_state()
    assert {"relabelled", "new_labels", "predicted_labels", "step_rewards_by_action"} <= set(state["episode"])
    a.save_state(tmp_path / "state.pt")
    b.load_state(tmp_path / "state.pt")

    def finish(env):
        out, done, t = [], False, 7
        while not done:
            obs, reward, done, _, info = env.step(int(ACTIONS[t]))
            out.append((obs, reward, info))
            t += 1
        out.append(env.reset())
        return out

    assert data_equivalence(finish(a), finish(b), exact=True)

    # A FERSelect-v0 state does not load into the relabel env, nor back.
    base = FERSelectEnv(
        dataset=data, cache_dir=cache, classifier_config=SELECTOR_TEST_CONFIG, observation="label_aware"
    )
    base.reset(seed=0)
    base.save_state(tmp_path / "base.pt")
    with pytest.raises(ValueError, match="2 actions, but this env has Discrete\\(3\\)"):
        b.load_state(tmp_path / "base.pt")
    with pytest.raises(ValueError, match="3 actions, but this env has Discrete\\(2\\)"):
        base.load_state(tmp_path / "state.pt")
    del state["episode"]["new_labels"]
    with pytest.raises(ValueError, match="new_labels is missing"):
        b.set_state(state)


# ---------------------------------------------------------------------------------------------- REINFORCE
def test_categorical_advantage_by_hand():
    r = np.array([[0.0, 0.5, 0.2], [0.0, -0.3, 0.4]])
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    # 0.2 − (0.3·0.5 + 0.5·0.2) and 0 − (0.3·(−0.3) + 0.1·0.4)
    np.testing.assert_allclose(expected_action_advantages(r, np.array([2, 0]), probs), [-0.05, 0.05])
    with pytest.raises(ValueError, match="must be n×A"):
        expected_action_advantages(r, np.array([2]), probs)


def test_two_actions_reduce_to_the_bernoulli_advantage_and_scaling():
    rng = np.random.default_rng(1)
    r = rng.normal(size=12)
    a, p = rng.integers(0, 2, 12), rng.uniform(size=12)
    by_action = np.stack([np.zeros(12), r], axis=1)
    np.testing.assert_allclose(
        expected_action_advantages(by_action, a, np.stack([1 - p, p], axis=1)), selection_advantages(r, a, p)
    )
    for scaling in REWARD_SCALINGS:
        np.testing.assert_allclose(scale_rewards_by_action(by_action, scaling)[:, 1], scale_sample_rewards(r, scaling))


@pytest.mark.parametrize("scaling", REWARD_SCALINGS)
def test_scaling_keeps_every_images_best_action(scaling):
    r = np.random.default_rng(2).normal(size=(20, 3))
    r[:, 0] = 0.0
    scaled = scale_rewards_by_action(r, scaling)
    np.testing.assert_array_equal(scaled.argmax(axis=1), r.argmax(axis=1))


def test_categorical_policy_loss_is_the_hand_computed_weighted_log_likelihood():
    model = REINFORCE(
        "CategoricalMlpPolicy",
        "Acrobot-v1",  # Discrete(3) over a 6-d Box
        seed=0,
        reward_scaling="none",
        max_grad_norm=1e9,
        policy_kwargs={"normalize_observations": False},
    )
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(6, 6)).astype(np.float32)
    actions = np.array([2, 0, 1, 2, 0, 1])
    r = rng.normal(size=(6, 3))
    with th.no_grad():
        probs = model.policy.action_probabilities(th.as_tensor(obs)).numpy().astype(np.float64)
    adv = r[np.arange(6), actions] - (probs * r).sum(axis=1)
    expected = -np.mean(adv * np.log(probs[np.arange(6), actions]))
    stats = model.train_on_episode(obs, actions, np.zeros(6), {"sample_rewards_by_action": r})
    assert stats["train/policy_loss"] == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert stats["train/keep_probability"] == pytest.approx(1 - probs[:, 0].mean(), rel=1e-5)


def test_reinforce_learns_on_the_relabel_env_and_round_trips(data, cache, tmp_path):
    env = make_env(data, cache, classifier_config=TINY, persistent_classifier=False)
    with pytest.raises(ValueError, match="CategoricalMlpPolicy"):
        REINFORCE("MlpPolicy", env)
    model = REINFORCE("CategoricalMlpPolicy", env, seed=0, batch_size=16)
    before = th.nn.utils.parameters_to_vector(model.policy.parameters()).detach().clone()
    model.pretrain(1)
    model.learn(2 * env.episode_size)
    assert model._n_updates == 3 and model.num_timesteps == 60
    assert not th.equal(before, th.nn.utils.parameters_to_vector(model.policy.parameters()))
    assert {"train/action_2_probability", "env/relabelled_fraction"} <= set(model.pretrain_history[0])
    obs = np.random.default_rng(1).random((10, env.observation_space.shape[0])).astype(np.float32)
    actions, _ = model.predict(obs, deterministic=True)
    assert set(np.unique(actions)) <= {0, 1, 2}
    model.save(tmp_path / "selector.zip")
    loaded = REINFORCE.load(tmp_path / "selector.zip", env=env)
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)

    # The selection pass: the most probable action per image, the new labels as train_labels.
    selection = relabel_selection_pass(env, lambda o: np.array([0.2, 0.3, 0.5]), seed=0)
    assert selection.kept.all() and np.allclose(selection.keep_probability, 0.8)
    order, info = env._order, env.get_state()["episode"]
    np.testing.assert_array_equal(selection.train_labels[order], info["predicted_labels"])
    assert selection.info["relabel_actions"] == len(order)


# ---------------------------------------------------------------------------------------------- clean
def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_clean_writes_the_relabelled_column_and_keeps_the_given_labels(data, tmp_path, monkeypatch):
    import agents.experiment.cli.clean as clean_cli

    n = len(data.y_train)
    kept = np.arange(n) % 3 != 0
    new = data.y_train.copy()
    new[::4] = (new[::4] + 1) % K  # some kept, some removed
    selection = Selection.from_mask(kept, train_labels=new)
    monkeypatch.setattr(clean_cli, "select", lambda *a, **k: selection)
    data.to_npz(tmp_path / "in.npz")
    out = tmp_path / "out"
    assert main(["clean", "--data", str(tmp_path / "in.npz"), "--agent", "keep_all", "--out", str(out)]) == 0

    rows = _rows(out / "kept.csv")
    assert list(rows[0]) == ["index", "keep_probability", "sample_reward", "label", "relabelled", "new_label"]
    index = np.array([int(r["index"]) for r in rows])
    np.testing.assert_array_equal(index, np.flatnonzero(kept))
    np.testing.assert_array_equal([int(r["label"]) for r in rows], data.y_train[kept])
    np.testing.assert_array_equal([int(r["new_label"]) for r in rows], new[kept])
    np.testing.assert_array_equal([int(r["relabelled"]) for r in rows], (new != data.y_train)[kept])
    assert list(_rows(out / "all.csv")[0])[-3:] == ["relabelled", "new_label", "kept"]
    cleaned = FERDataset.from_npz(out / "kept.npz")
    np.testing.assert_array_equal(cleaned.y_train, new[kept])
    np.testing.assert_array_equal(cleaned.extras["y_train_given"], data.y_train[kept])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_relabelled"] == int(((new != data.y_train) & kept).sum()) > 0

    # Cleaned again (everything kept, relabelled once more): y_train_given still holds the first labels.
    again = tmp_path / "again"
    m = int(kept.sum())
    selection = Selection.from_mask(np.ones(m, bool), train_labels=(cleaned.y_train + 1) % K)
    assert main(["clean", "--data", str(out / "kept.npz"), "--agent", "keep_all", "--out", str(again)]) == 0
    twice = FERDataset.from_npz(again / "kept.npz")
    np.testing.assert_array_equal(twice.extras["y_train_given"], data.y_train[kept])
    np.testing.assert_array_equal(twice.y_train, (cleaned.y_train + 1) % K)


def test_train_resume_benchmark_and_clean_selector_agree_on_reinforce_relabel(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(tmp_path / "cache"))
    data = make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25)
    data.to_npz(tmp_path / "tiny.npz")
    args = ["--data", str(tmp_path / "tiny.npz"), "--classifier", json.dumps(TINY), "--agent", "reinforce_relabel"]
    budget = ["--episodes", "1", "--pretrain-episodes", "1"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main(["train", *args, *budget, "--out", str(whole)]) == 0
    assert main(["train", *args, *budget, "--out", str(parts), "--stop-after-episodes", "6"]) == 130
    assert main(["train", *args, *budget, "--out", str(parts), "--resume"]) == 0
    assert (whole / "selection.csv").read_bytes() == (parts / "selection.csv").read_bytes()
    meta = json.loads((whole / "selector.json").read_text())
    assert meta["policy"]["class"] == "CategoricalSelectorPolicy" and meta["policy"]["action_space"]["n"] == 3
    rows = _rows(whole / "selection.csv")
    assert list(rows[0]) == ["index", "keep_probability", "sample_reward", "label", "relabelled", "new_label", "kept"]

    # The benchmark's selector with the same settings and seed makes the same selection.
    settings = BenchmarkSettings(
        rl=RLSettings(episodes=1, pretrain_episodes=1), classifier_config=ClassifierConfig(**TINY)
    )
    selection = select("reinforce_relabel", data, 0, settings)
    np.testing.assert_array_equal([float(r["keep_probability"]) for r in rows], selection.keep_probability)
    np.testing.assert_array_equal([int(r["new_label"]) for r in rows], selection.train_labels)
    assert len(selection.history) == 10  # (1 + 1) passes, scaled by the gradient-step budget

    # clean --selector scores the data with the saved selector and writes the same selection.
    again = tmp_path / "again"
    assert main(["clean", "--data", str(tmp_path / "tiny.npz"), "--selector", str(whole), "--out", str(again)]) in (
        0,
        1,
    )
    assert (again / "all.csv").read_text() == (whole / "selection.csv").read_text()


def test_the_ansi_rendering_names_the_env_it_was_made_as(data, cache):
    direct = make_env(data, cache, render_mode="ansi")
    play(direct, [1] * len(data.y_train), seed=0)
    assert direct.render().startswith("FERSelectRelabel-v0 | episode 1")
    made = gym.make(
        "FERSelectRelabel-v0", dataset=data, classifier_config=SELECTOR_TEST_CONFIG, cache_dir=cache, render_mode="ansi"
    )
    play(made, [2] * len(data.y_train), seed=0)
    assert made.render().startswith("FERSelectRelabel-v0 | episode 1")
