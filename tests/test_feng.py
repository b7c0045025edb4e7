"""Feng et al. 2018's selector (the paper's "DCNN+Sigmoid"): update sign, keep-ratio guard, bag modes, and
the link to FERSelect-v0's paper observation."""

from __future__ import annotations

import numpy as np
import pytest

from agents.baselines.feng import FengSelector, feng, frozen_classifier_inputs, policy_gradient
from agents.common.selection import Selection
from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.testing import SELECTOR_TEST_CONFIG, make_blob_dataset

CFG = SELECTOR_TEST_CONFIG


@pytest.fixture(scope="module")
def blobs():
    return make_blob_dataset(n_train=150, n_val=60, noise_rate=0.3, seed=0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("feng_cache"))


def good_and_bad(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half the images confident (log-prob -0.05, feature 0 high), half not (-3, feature 1 high).

    Labels alternate, so both halves are spread over both classes.
    """
    rng = np.random.default_rng(seed)
    good = np.arange(n) < n // 2
    features = rng.normal(0, 0.1, size=(n, 3))
    features[good, 0] += 1.0
    features[~good, 1] += 1.0
    log_probs = np.where(good, -0.05, -3.0)
    return features, log_probs, np.arange(n) % 2


# ------------------------------------------------------------------------------------------ the update
def test_policy_gradient_by_hand():
    """Two episodes over two images; the one that kept image 0 and removed image 1 earned more."""
    features = np.array([[1.0, 0.0], [0.0, 1.0]])
    means = np.zeros((2, 2, 2))
    actions = np.array([[1, 0], [0, 1]])
    probs = np.full((2, 2), 0.5)
    rewards = np.array([-0.1, -2.0])  # baseline -1.05: advantages +0.95, -0.95
    g = policy_gradient(features, means, actions, probs, rewards)
    # Σ_e A_e Σ_t (a - p) f_t / (E n): episode 0 gives 0.95·[0.5, -0.5], episode 1 gives -0.95·[-0.5, 0.5].
    np.testing.assert_allclose(g[:2], [0.95 / 4, -0.95 / 4])
    np.testing.assert_allclose(g[2:4], 0.0)
    assert g[4] == pytest.approx(0.0)  # each episode kept one image: no push on the bias
    # An ascent step raises image 0's keep logit and lowers image 1's.
    assert g[:2] @ features[0] > 0 > g[:2] @ features[1]


def test_policy_gradient_is_zero_when_every_episode_earns_the_same():
    g = policy_gradient(
        np.eye(2), np.zeros((3, 2, 2)), np.array([[1, 0], [0, 1], [1, 1]]), np.full((3, 2), 0.5), [1.0] * 3
    )
    np.testing.assert_array_equal(g, 0.0)


def test_training_raises_the_keep_probability_of_rewarded_images():
    features, log_probs, labels = good_and_bad()
    sel = FengSelector(lr=0.05, keep_ratio=None, bags="none", seed=0)
    sel.fit(features, log_probs, labels, epochs=15)
    p, _ = sel.select(features, labels)
    good = log_probs > -1
    assert p[good].mean() > 0.5 > p[~good].mean()


# ------------------------------------------------------------------------------------------ the keep-ratio guard
def test_without_a_guard_the_mean_log_prob_reward_collapses_the_selection():
    """The degeneration of Feng's reward: keeping fewer images keeps raising the mean log-prob."""
    rng = np.random.default_rng(1)
    features = rng.normal(size=(80, 4))
    log_probs = -np.exp(features[:, 0])  # every image is worse than some other one
    labels = np.zeros(80, dtype=int)
    sel = FengSelector(lr=0.05, keep_ratio=None, bags="none", seed=0)
    history = sel.fit(features, log_probs, labels, epochs=200)
    assert history[-1]["mean_keep_probability"] < 0.2
    assert sel.select(features, labels)[1].mean() < 0.1

    guarded = FengSelector(lr=0.05, keep_ratio=0.8, bags="none", seed=0)
    history = guarded.fit(features, log_probs, labels, epochs=200)
    assert history[-1]["mean_keep_probability"] > 0.7
    p, kept = guarded.select(features, labels)
    assert abs(kept.sum() - 64) <= 2  # 0.8 · 80, up to decisions whose running-mean state moved
    np.testing.assert_array_equal(kept, p >= 0.5)
    # ... and the ones it drops are the worst-scored.
    assert log_probs[~kept].mean() < log_probs[kept].mean()


@pytest.mark.parametrize("ratio", [0.5, 0.8, 0.95])
def test_keep_ratio_sets_the_kept_fraction(ratio):
    features, log_probs, labels = good_and_bad(n=100)
    sel = FengSelector(keep_ratio=ratio, seed=3)
    sel.fit(features, log_probs, labels, epochs=10)
    p, kept = sel.select(features, labels)
    assert abs(kept.sum() - ratio * 100) <= 2
    np.testing.assert_array_equal(kept, p >= 0.5)


# ------------------------------------------------------------------------------------------ bags
def test_bag_modes_partition_the_images():
    labels = np.array([2, 0, 1, 0, 2, 2, 1])
    by_class = FengSelector(bags="class").make_bags(labels)
    assert sorted(len(b) for b in by_class) == [2, 2, 3]
    assert all(len(set(labels[b])) == 1 for b in by_class)
    assert sorted(np.concatenate(by_class)) == list(range(7))
    (whole,) = FengSelector(bags="none").make_bags(labels)
    assert sorted(whole) == list(range(7))
    with pytest.raises(ValueError, match="bags"):
        FengSelector(bags="pairs")


def test_class_bags_compare_images_only_within_their_class():
    """Class 1's images all score -3 and class 0's -0.5. One bag: class 1 should go. Class bags: every episode
    of a bag earns the same, so there is nothing to learn and the policy stays where it started."""
    n = 60
    labels = np.arange(n) % 2
    features = np.stack([labels == 0, labels == 1], axis=1).astype(float)
    features += np.random.default_rng(0).normal(0, 0.1, size=features.shape)
    # Exactly representable, so that equal rewards are exactly equal and the gradient exactly 0.
    log_probs = np.where(labels == 0, -0.5, -3.0)

    one_bag = FengSelector(lr=0.05, keep_ratio=None, bags="none", seed=0)
    one_bag.fit(features, log_probs, labels, epochs=15)
    p, _ = one_bag.select(features, labels)
    assert p[labels == 1].max() < p[labels == 0].min()
    assert p[labels == 1].mean() < 0.2

    per_class = FengSelector(lr=0.05, keep_ratio=None, bags="class", seed=0)
    per_class.fit(features, log_probs, labels, epochs=15)
    np.testing.assert_array_equal(per_class.w, 0.0)
    p, kept = per_class.select(features, labels)
    np.testing.assert_allclose(p, 0.5)
    assert kept.all()


# ------------------------------------------------------------------------------------------ policy on env observations
def test_raw_weights_are_the_same_policy_on_raw_observations():
    features, log_probs, labels = good_and_bad()
    sel = FengSelector(seed=0)
    sel.fit(features, log_probs, labels, epochs=3)
    rng = np.random.default_rng(0)
    f, m = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    standardised = np.concatenate([sel._standardise(f), sel._standardise(m)], axis=1) @ sel.w + sel.b
    np.testing.assert_allclose(sel.keep_probability(np.concatenate([f, m], axis=1)), 1 / (1 + np.exp(-standardised)))


def test_features_are_the_env_paper_observation(blobs, cache):
    features, log_probs = frozen_classifier_inputs(blobs, config=CFG, cache_dir=cache)
    env = FERSelectEnv(dataset=blobs, classifier_config=CFG, cache_dir=cache)
    obs, info = env.reset(seed=0)
    f = CFG.feature_dim
    np.testing.assert_allclose(obs[:f], features[info["sample_index"]], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(obs[f:], 0.0)
    assert log_probs.shape == (len(blobs.y_train),) and np.all(log_probs <= 0)


# ------------------------------------------------------------------------------------------ feng()
def test_feng_returns_a_deterministic_selection_with_history(blobs, cache):
    sel = feng(blobs, epochs=4, config=CFG, cache_dir=cache)
    n = len(blobs.y_train)
    assert isinstance(sel, Selection) and sel.keep_probability.shape == (n,)
    assert len(sel.history) == 4
    assert {"mean_reward", "kept_fraction", "mean_keep_probability", "greedy_kept_fraction"} <= set(sel.history[0])
    assert abs(sel.kept.sum() - 0.8 * n) <= 2
    np.testing.assert_array_equal(sel.kept, sel.keep_probability >= 0.5)
    assert sel.info["bags"] == "class" and sel.info["keep_ratio"] == 0.8
    again = feng(blobs, epochs=4, config=CFG, cache_dir=cache)
    np.testing.assert_array_equal(sel.keep_probability, again.keep_probability)


def test_feng_options(blobs, cache):
    sel = feng(blobs, epochs=2, bags="none", scoring="out_of_fold", keep_ratio=None, config=CFG, cache_dir=cache)
    assert sel.info["scoring"] == "out_of_fold" and sel.info["bags"] == "none"
    with pytest.raises(ValueError, match="scoring"):
        feng(blobs, scoring="oracle", config=CFG, cache_dir=cache)
    with pytest.raises(ValueError, match="keep_ratio"):
        feng(blobs, keep_ratio=1.0, config=CFG, cache_dir=cache)
