"""Metrics against hand computations and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from fer_select_env.core import metrics as m
from fer_select_env.envs.select import metrics as sm

Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2, 2, 2, 0, 2])


def test_confusion_matrix_by_hand():
    cm = m.confusion_matrix(Y_TRUE, Y_PRED, 4)
    expected = np.array([[2, 1, 0, 0], [0, 1, 1, 0], [1, 0, 4, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(cm, expected)


def test_average_accuracy_is_mean_recall_and_eq8_is_mean_precision():
    cm = m.confusion_matrix(Y_TRUE, Y_PRED, 3)
    # recalls 2/3, 1/2, 4/5 ; precisions 2/3, 1/2, 4/5 on this example... make them differ:
    assert m.average_accuracy(cm) == pytest.approx((2 / 3 + 1 / 2 + 4 / 5) / 3)
    assert m.average_accuracy(cm) == pytest.approx(recall_score(Y_TRUE, Y_PRED, average="macro"))
    assert m.mean_precision(cm) == pytest.approx(precision_score(Y_TRUE, Y_PRED, average="macro"))
    y_pred = np.array([0, 0, 0, 0, 0, 2, 2, 2, 2, 2])
    cm2 = m.confusion_matrix(Y_TRUE, y_pred, 3)
    assert m.average_accuracy(cm2) == pytest.approx((1 + 0 + 1) / 3)
    assert m.mean_precision(cm2) == pytest.approx((3 / 5 + 0 + 1) / 3)


def test_macro_f1_matches_sklearn_and_eq7_is_different():
    cm = m.confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert m.macro_f1(cm) == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro"))
    y_pred = np.array([0, 0, 0, 0, 0, 2, 2, 2, 2, 2])
    cm2 = m.confusion_matrix(Y_TRUE, y_pred, 3)
    p, r = (3 / 5 + 0 + 1) / 3, 2 / 3
    assert m.macro_f1_eq7(cm2) == pytest.approx(2 * p * r / (p + r))
    assert m.macro_f1(cm2) == pytest.approx(f1_score(Y_TRUE, y_pred, average="macro"))
    assert m.macro_f1(cm2) != pytest.approx(m.macro_f1_eq7(cm2))


def test_class_absent_from_truth_is_left_out_of_recall_mean():
    cm = m.confusion_matrix(np.array([0, 0, 1]), np.array([0, 2, 1]), 3)
    assert np.isnan(m.per_class_recall(cm)[2])
    assert m.average_accuracy(cm) == pytest.approx((0.5 + 1.0) / 2)
    assert m.macro_f1(cm) == pytest.approx(f1_score([0, 0, 1], [0, 2, 1], average="macro"))


def test_total_accuracy_and_summary():
    assert m.total_accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.7)
    s = m.classification_summary(Y_TRUE, Y_PRED, 3, ("a", "b", "c"))
    assert s["accuracy"] == pytest.approx(0.7)
    assert s["per_class_accuracy"] == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 0.8})
    assert s["confusion_matrix"][2] == [1, 0, 4]


def test_removal_scores_by_hand():
    kept = np.array([1, 0, 0, 1, 0, 1], bool)
    noisy = np.array([0, 1, 0, 1, 1, 0], bool)
    s = sm.removal_scores(kept, noisy)
    # removed = {1, 2, 4}; noisy removed = {1, 4}; noisy = {1, 3, 4}
    assert s["removal_precision"] == pytest.approx(2 / 3)
    assert s["removal_recall"] == pytest.approx(2 / 3)
    assert s["removal_f1"] == pytest.approx(2 / 3)


def test_removal_scores_edge_cases():
    noisy = np.array([0, 1], bool)
    assert sm.removal_scores(np.ones(2, bool), noisy) == {
        "removal_precision": 0.0,
        "removal_recall": 0.0,
        "removal_f1": 0.0,
    }
    everything = sm.removal_scores(np.zeros(2, bool), noisy)
    assert everything["removal_precision"] == 0.5 and everything["removal_recall"] == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        sm.removal_scores(np.ones(3, bool), noisy)


def test_keep_probability_by_noise_kind():
    probs = np.array([0.9, 0.8, 0.2, 0.4, 0.1, 1.0])
    kinds = np.array([0, 0, 1, 1, 3, 0])
    out = sm.keep_probability_by_noise_kind(probs, kinds)
    assert out == pytest.approx({"clean": 0.9, "label_flipped": 0.3, "no_face": 0.1})


def test_detection_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    truth = rng.random(200) < 0.3
    score = np.round(truth * 0.5 + rng.random(200), 1)  # rounding creates ties
    assert sm.detection_auc(score, truth) == pytest.approx(roc_auc_score(truth, score))
    assert np.isnan(sm.detection_auc(score, np.zeros(200, bool)))
