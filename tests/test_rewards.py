"""Reward formulas (Eq. 2-3, F1, DVRL, per-step) and cross-fitted scoring, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from fer_select_env import rewards as r

PROBS = np.array(
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.25, 0.25], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]], dtype=np.float32
)
LABELS = np.array([0, 1, 2, 1, 2])
KEPT = np.array([True, True, False, False, True])


def test_label_probabilities():
    np.testing.assert_allclose(r.label_probabilities(PROBS, LABELS), [0.7, 0.8, 0.25, 0.3, 0.6])


@pytest.mark.parametrize(
    ("baseline", "b"), [("uniform", 1 / 3), ("mean", (0.7 + 0.8 + 0.25 + 0.3 + 0.6) / 5), ("none", 0.0)]
)
def test_eq2_and_eq3_by_hand(baseline, b):
    p = np.array([0.7, 0.8, 0.25, 0.3, 0.6])
    rewards = r.eq2_sample_rewards(p, baseline, num_classes=3)
    np.testing.assert_allclose(rewards, p - b, rtol=1e-6)
    # Eq. 3 sums over the kept set only: images 0, 1 and 4.
    assert r.eq3_episode_reward(rewards, KEPT) == pytest.approx(0.7 + 0.8 + 0.6 - 3 * b, rel=1e-6)


def test_eq2_unknown_baseline():
    with pytest.raises(ValueError, match="baseline must be one of"):
        r.eq2_sample_rewards(np.ones(2), "median", 3)


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
