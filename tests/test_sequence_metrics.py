"""FERSequence's early-classification metrics, checked by hand on four tiny sequences."""

from __future__ import annotations

import numpy as np
import pytest

from fer_select_env.envs.sequence.metrics import (
    NO_COMMIT,
    EarlyOutcome,
    average_cost,
    early_metrics,
    episode_returns,
    front_accuracy_at,
    front_auc,
    harmonic_mean,
    on_or_above_front,
    pareto_front,
)

# T = 4 frames, K = 4 classes (class 3 never occurs in the labels)
T, K = 4, 4
T_COMMIT = np.array([0, 2, 3, 1])
PREDICTIONS = np.array([1, 0, NO_COMMIT, 2])
LABELS = np.array([1, 2, 0, 2])
# right, wrong, no commit (wrong), right -> accuracy 2/4
# earliness (t + 1) / T = 1/4, 3/4, 4/4, 2/4 -> mean 2.5/4 = 0.625


def test_accuracy_earliness_hm_and_avg_cost_by_hand():
    m = early_metrics(T_COMMIT, PREDICTIONS, LABELS, T, K)
    assert m["accuracy"] == 0.5
    assert m["earliness"] == pytest.approx(0.625)
    assert m["earliness_gain"] == pytest.approx(0.375)
    # 2 * 0.5 * 0.375 / (0.5 + 0.375) = 0.375 / 0.875 = 3/7
    assert m["hm"] == pytest.approx(3 / 7)
    # (1 - 0.5) + alpha * 0.625
    assert m["avg_cost"] == pytest.approx({0.01: 0.50625, 0.1: 0.5625, 0.5: 0.8125})
    assert m["no_commit_rate"] == 0.25 and m["num_sequences"] == 4


def test_per_class_accuracy_is_recall_and_omits_absent_classes():
    m = early_metrics(T_COMMIT, PREDICTIONS, LABELS, T, K)
    # class 0: the no-commit (0/1); class 1: right (1/1); class 2: wrong then right (1/2); class 3 absent
    assert m["per_class_accuracy"] == {0: 0.0, 1: 1.0, 2: 0.5}


def test_mean_return_pays_lambda_per_wait_but_not_for_the_last_frame_wait():
    lam = 0.1
    outcome = EarlyOutcome(T_COMMIT, PREDICTIONS, LABELS, T, K)
    # +1 - 0;  -1 - 2λ;  no commit: -1 - 3λ (waits on frames 0..2 pay, the last-frame wait does not); +1 - λ
    expected = [1.0, -1.2, -1.3, 0.9]
    np.testing.assert_allclose(episode_returns(outcome, lam), expected)
    m = early_metrics(T_COMMIT, PREDICTIONS, LABELS, T, K, wait_penalty=lam)
    assert m["mean_return"] == pytest.approx(np.mean(expected)) and m["mean_return"] == pytest.approx(-0.15)
    assert early_metrics(T_COMMIT, PREDICTIONS, LABELS, T, K)["mean_return"] == 0.0  # λ = 0: (1 - 1 - 1 + 1) / 4


def test_one_frame_sequences_and_custom_alphas():
    m = early_metrics([0, 0], [1, 0], [1, 1], 1, 2, alphas=(0.0, 2.0))
    assert m["earliness"] == 1.0 and m["earliness_gain"] == 0.0 and m["hm"] == 0.0
    assert m["avg_cost"] == {0.0: 0.5, 2.0: 2.5}


def test_hm_and_avg_cost_helpers():
    assert harmonic_mean(0.0, 0.0) == 0.0 and harmonic_mean(1.0, 0.0) == 0.0
    assert harmonic_mean(0.8, 0.4) == pytest.approx(2 * 0.32 / 1.2)
    assert average_cost(0.8, 0.5, 0.1) == pytest.approx(0.25)


# (earliness, accuracy): (0.6, 0.7) and (0.2, 0.4) are dominated, (0.5, 0.8) comes twice
POINTS = [(1.0, 0.9), (0.5, 0.8), (0.6, 0.7), (0.2, 0.5), (0.2, 0.4), (0.5, 0.8)]
FRONT = [(0.2, 0.5), (0.5, 0.8), (1.0, 0.9)]


def test_pareto_front_by_hand():
    np.testing.assert_array_equal(pareto_front(POINTS), FRONT)
    np.testing.assert_array_equal(pareto_front(FRONT), FRONT)
    # equal accuracy later is dominated; a single point is its own front
    np.testing.assert_array_equal(pareto_front([(0.3, 0.6), (0.7, 0.6)]), [(0.3, 0.6)])
    np.testing.assert_array_equal(pareto_front([(0.4, 0.1)]), [(0.4, 0.1)])


def test_front_auc_by_hand():
    # 0 on [0, 0.2), 0.5 on [0.2, 0.5), 0.8 on [0.5, 1); the point at e = 1 adds nothing
    assert front_auc(POINTS) == pytest.approx(0.5 * 0.3 + 0.8 * 0.5)
    assert front_auc(FRONT, start=0.2) == pytest.approx((0.5 * 0.3 + 0.8 * 0.5) / 0.8)
    # start above the first point: it counts from start on
    assert front_auc(FRONT, start=0.4) == pytest.approx((0.5 * 0.1 + 0.8 * 0.5) / 0.6)
    # perfect on frame 0 of T = 4 frames: 1 - 1/T over [0, 1], 1 over [1/T, 1]
    assert front_auc([(0.25, 1.0)]) == pytest.approx(0.75)
    assert front_auc([(0.25, 1.0)], start=0.25) == pytest.approx(1.0)


def test_front_accuracy_at_and_on_or_above_front():
    assert front_accuracy_at(POINTS, 0.1) == 0.0  # nothing that early
    assert front_accuracy_at(POINTS, 0.2) == 0.5
    assert front_accuracy_at(POINTS, 0.6) == 0.8
    assert front_accuracy_at(POINTS, 1.0) == 0.9
    assert on_or_above_front((0.6, 0.795), FRONT)  # within 1 point of 0.8
    assert not on_or_above_front((0.6, 0.78), FRONT)
    assert on_or_above_front((0.6, 0.78), FRONT, tolerance=0.05)
    assert on_or_above_front((0.1, 0.0), FRONT)  # earlier than every front point
    assert on_or_above_front((0.2, 0.49), FRONT)  # same earliness, within 1 point
    assert not on_or_above_front((0.2, 0.48), FRONT)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t_commit": [0, 4, 3, 1]}, "t_commit: entries must be in \\[0, 3\\]"),
        ({"t_commit": [0, -1, 3, 1]}, "t_commit"),
        ({"t_commit": [0, 1.5, 3, 1]}, "t_commit: values must be integers"),
        ({"predictions": [1, 0, NO_COMMIT, 4]}, "predictions: entries must be in \\[-1, 3\\]"),
        ({"predictions": [NO_COMMIT, 0, 0, 2]}, "only possible on the last frame"),
        ({"labels": [1, 2, 0, -1]}, "labels: entries must be in \\[0, 3\\]"),
        ({"labels": [1, 2, 0]}, "differ in length"),
        ({"labels": [[1, 2, 0, 2]]}, "labels: must be 1-D"),
        ({"t_commit": [], "predictions": [], "labels": []}, "at least one sequence"),
        ({"num_frames": 0}, "num_frames"),
        ({"num_classes": 1}, "num_classes"),
        ({"wait_penalty": -0.1}, "wait_penalty"),
        ({"alphas": (0.1, float("nan"))}, "alphas\\[1\\]"),
    ],
)
def test_bad_outcomes_raise_naming_the_argument(kwargs, match):
    args = {
        "t_commit": T_COMMIT,
        "predictions": PREDICTIONS,
        "labels": LABELS,
        "num_frames": T,
        "num_classes": K,
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        early_metrics(**args)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: pareto_front([0.2, 0.5]), "points: must be a non-empty list"),
        (lambda: pareto_front([]), "points: must be a non-empty list"),
        (lambda: pareto_front([(0.2, 1.5)]), "points: earliness and accuracy must be finite"),
        (lambda: front_auc(FRONT, start=1.0), "start: must be below 1"),
        (lambda: front_auc(FRONT, start=-0.1), "start"),
        (lambda: front_accuracy_at(FRONT, 1.2), "earliness"),
        (lambda: on_or_above_front((0.2, 0.5, 0.1), FRONT), "point: must be one"),
        (lambda: on_or_above_front((0.2, 1.5), FRONT), "point: earliness and accuracy"),
        (lambda: on_or_above_front((0.2, 0.5), FRONT, tolerance=-0.01), "tolerance"),
        (lambda: harmonic_mean(1.1, 0.5), "accuracy"),
        (lambda: average_cost(0.5, 0.5, -1.0), "alpha"),
    ],
)
def test_bad_points_raise_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_accuracy_earliness_picture(tmp_path):
    from PIL import Image

    from fer_select_env.envs.sequence.plots import FRONT_SIZE, plot_accuracy_earliness

    curve = [(0.1, 0.2), (0.5, 0.6), (0.9, 0.8)]
    path = plot_accuracy_earliness(
        curve, curve, {"ppo": {"0.01": (0.6, 0.78)}}, {"last_frame": (1.0, 0.81)}, tmp_path / "f.png"
    )
    assert Image.open(path).size == (100 * FRONT_SIZE[0], 100 * FRONT_SIZE[1])
    with pytest.raises(ValueError, match="curve"):
        plot_accuracy_earliness([], curve, {}, {}, tmp_path / "g.png")
    with pytest.raises(ValueError, match=r"agents\['ppo'\]"):
        plot_accuracy_earliness(curve, curve, {"ppo": {"0.01": (float("nan"), 0.5)}}, {}, tmp_path / "h.png")
