"""Reward formulas (Eq. 2-3, F1, DVRL, per-step) and cross-fitted scoring, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from fer_select_env.envs.select import rewards as r

PROBS = np.array(
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.25, 0.25], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]], dtype=np.float32
)
LABELS = np.array([0, 1, 2, 1, 2])
KEPT = np.array([True, True, False, False, True])


def test_label_probabilities():
    np.testing.assert_allclose(r.label_probabilities(PROBS, LABELS), [0.7, 0.8, 0.25, 0.3, 0.6])


# Column means of PROBS: the classifier's mean predicted probability of each class over the episode.
PRIOR = PROBS.astype(np.float64).mean(axis=0)  # [0.42, 0.35, 0.23]


@pytest.mark.parametrize(
    ("baseline", "b"),
    [
        ("uniform", np.full(5, 1 / 3)),
        ("mean", np.full(5, (0.7 + 0.8 + 0.25 + 0.3 + 0.6) / 5)),
        ("none", np.zeros(5)),
        # b_i = (1/n) Σ_j P(y_i | x_j): labels 0, 1, 2, 1, 2 read the prior of their own class.
        ("class_prior", np.array([0.42, 0.35, 0.23, 0.35, 0.23])),
    ],
)
def test_eq2_and_eq3_by_hand(baseline, b):
    p = np.array([0.7, 0.8, 0.25, 0.3, 0.6])
    rewards = r.eq2_sample_rewards(PROBS, LABELS, baseline)
    np.testing.assert_allclose(rewards, p - b, rtol=1e-6)
    # Eq. 3 sums over the kept set only: images 0, 1 and 4.
    assert r.eq3_episode_reward(rewards, KEPT) == pytest.approx(0.7 + 0.8 + 0.6 - b[[0, 1, 4]].sum(), rel=1e-6)


def test_class_prior_baseline_keeps_a_minority_class_that_uniform_removes():
    # An imbalanced episode: 9 images of class 0, one of class 2, K = 3. The minority image gets 0.25 for its
    # (correct) label, below chance 1/3, so the uniform baseline penalises keeping it; relative to the
    # classifier's prior for class 2 (small, since it rarely predicts it) it is a good image.
    probs = np.array([[0.9, 0.05, 0.05]] * 9 + [[0.6, 0.15, 0.25]])
    labels = np.array([0] * 9 + [2])
    assert r.eq2_sample_rewards(probs, labels, "uniform")[-1] < 0
    assert r.eq2_sample_rewards(probs, labels, "class_prior")[-1] == pytest.approx(0.25 - 0.07, rel=1e-5)
    # On a balanced episode with a symmetric classifier the prior is 1/K, the uniform reading.
    sym = np.array([[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]])
    np.testing.assert_allclose(
        r.eq2_sample_rewards(sym, [0, 1, 2], "class_prior"), r.eq2_sample_rewards(sym, [0, 1, 2], "uniform"), atol=1e-6
    )


def test_eq2_unknown_baseline():
    with pytest.raises(ValueError, match="baseline must be one of"):
        r.eq2_sample_rewards(PROBS, LABELS, "median")


def test_eq3_with_nothing_kept_is_zero():
    assert r.eq3_episode_reward(np.array([0.5, -0.2]), np.zeros(2, bool)) == 0.0


def test_f1_dvrl_and_per_step():
    assert r.f1_reward(0.61, 0.58) == pytest.approx(0.03)
    assert r.dvrl_reward(0.70, 0.75) == pytest.approx(-0.05)
    assert r.per_step_reward(1, 0.4) == pytest.approx(0.4)
    assert r.per_step_reward(0, 0.4) == 0.0


def test_fold_assignment_is_stratified_and_balanced():
    labels = np.repeat([0, 1, 2], [10, 7, 3])
    folds = r.fold_assignment(labels, 2, np.random.default_rng(0))
    for k in (0, 1, 2):
        counts = np.bincount(folds[labels == k], minlength=2)
        assert abs(counts[0] - counts[1]) <= 1
    assert abs(np.sum(folds == 0) - np.sum(folds == 1)) <= 1
    with pytest.raises(ValueError, match="n_folds must be >= 2"):
        r.fold_assignment(labels, 1, np.random.default_rng(0))


def test_cross_fit_never_scores_an_image_with_a_model_that_saw_it():
    n = 12
    kept = np.array([True] * 8 + [False] * 4)
    labels = np.arange(n) % 2
    calls = []

    def fit_predict(train_idx, predict_idx):
        calls.append((set(train_idx.tolist()), set(predict_idx.tolist())))
        out = np.zeros((len(predict_idx), 2), np.float32)
        out[:, 0] = 0.25  # marks "scored by a fold model"
        out[:, 1] = 0.75
        return out

    full = np.tile(np.array([[0.9, 0.1]], np.float32), (n, 1))
    probs = r.cross_fitted_probabilities(kept, labels, 2, np.random.default_rng(1), fit_predict, full, full)
    assert len(calls) == 2
    for train, pred in calls:
        assert not train & pred, "a fold model scored an image it trained on"
        assert train | pred == set(range(8)), "folds must partition the kept set"
    np.testing.assert_allclose(probs[kept, 0], 0.25)
    np.testing.assert_allclose(probs[~kept, 0], 0.9)  # removed images: model trained on all kept


def test_cross_fit_with_fewer_kept_images_than_folds_uses_fallback():
    kept = np.array([True, False, False])
    full = np.full((3, 2), 0.5, np.float32)
    fallback = np.array([[0.2, 0.8]] * 3, np.float32)

    def never(train_idx, predict_idx):
        raise AssertionError("no fold has training data")

    probs = r.cross_fitted_probabilities(kept, np.zeros(3, int), 2, np.random.default_rng(0), never, full, fallback)
    np.testing.assert_allclose(probs[0], [0.2, 0.8])
    np.testing.assert_allclose(probs[1:], 0.5)
