"""The non-RL references of FERSequence-v0 (last frame, ml_edm's threshold rule and sweep, the oracle), by hand."""

from __future__ import annotations

import numpy as np
import pytest

from agents.baselines import early
from agents.baselines.early import (
    EARLY_BASELINES,
    last_frame,
    oracle,
    threshold,
    threshold_grid,
    threshold_sweep,
)
from fer_select_env.envs.sequence.metrics import early_metrics, pareto_front


def _rows(*top: tuple[int, float]) -> np.ndarray:
    """One sequence of K = 3 posteriors: frame t puts ``prob`` on class ``k`` and splits the rest evenly."""
    p = np.empty((len(top), 3))
    for t, (k, prob) in enumerate(top):
        p[t] = (1.0 - prob) / 2
        p[t, k] = prob
    return p


# N = 3 sequences, T = 4 frames, K = 3 classes; (argmax, top probability) per frame
POSTERIORS = np.stack(
    [
        _rows((0, 0.4), (1, 0.6), (2, 0.9), (1, 0.5)),  # tops 0.4 0.6 0.9 0.5
        _rows((1, 0.4), (1, 0.5), (0, 0.5), (2, 0.6)),  # never above 0.6
        _rows((2, 0.85), (0, 0.9), (0, 0.9), (0, 0.9)),  # confident from frame 0
    ]
)
LABELS = np.array([2, 1, 0])


def test_last_frame_commits_on_the_last_frame_to_its_argmax():
    t_commit, pred = last_frame(POSTERIORS)
    np.testing.assert_array_equal(t_commit, [3, 3, 3])
    np.testing.assert_array_equal(pred, [1, 2, 0])
    assert t_commit.dtype == np.int64 and pred.dtype == np.int64


def test_threshold_commits_on_the_first_confident_frame_else_is_forced_at_the_end():
    t_commit, pred = threshold(POSTERIORS, 0.8)
    np.testing.assert_array_equal(t_commit, [2, 3, 0])  # sequence 1 never reaches 0.8: forced on T - 1
    np.testing.assert_array_equal(pred, [2, 2, 2])
    t_commit, pred = threshold(POSTERIORS, 0.6)  # >=: a top of exactly 0.6 commits
    np.testing.assert_array_equal(t_commit, [1, 3, 0])
    np.testing.assert_array_equal(pred, [1, 2, 2])
    # nothing reaches 1: every sequence is forced, which is the last-frame rule
    for got, want in zip(threshold(POSTERIORS, 1.0), last_frame(POSTERIORS), strict=True):
        np.testing.assert_array_equal(got, want)


def test_threshold_at_one_over_k_commits_on_frame_zero_even_for_a_rounded_uniform_posterior():
    t_commit, pred = threshold(POSTERIORS, 1 / 3)
    np.testing.assert_array_equal(t_commit, [0, 0, 0])
    np.testing.assert_array_equal(pred, [0, 1, 2])
    # a uniform posterior rounded just below 1/K still commits on frame 0 at tau = 1/K
    uniform = np.full((2, 5, 7), np.nextafter(1 / 7, 0.0))
    assert uniform.max() < threshold_grid(7)[0]
    np.testing.assert_array_equal(threshold(uniform, threshold_grid(7)[0])[0], [0, 0])
    # just above 1/K a uniform posterior never commits early
    np.testing.assert_array_equal(threshold(uniform, 0.15)[0], [4, 4])


def test_the_threshold_grid_is_ml_edms():
    grid = threshold_grid(7)
    assert grid.shape == (41,) and grid[0] == pytest.approx(1 / 7) and grid[-1] == 1.0
    np.testing.assert_allclose(np.diff(grid), (1 - 1 / 7) / 40)
    assert threshold_grid(2)[0] == 0.5 and early.THRESHOLD_GRID_SIZE == 41


def test_threshold_sweep_scores_every_tau_and_gives_its_front():
    sweep = threshold_sweep(POSTERIORS, LABELS, wait_penalty=0.1)
    rows, front = sweep  # a NamedTuple: unpacks too
    assert len(rows) == 41 and [r["tau"] for r in rows] == pytest.approx(list(threshold_grid(3)))
    # tau = 1/3: all on frame 0, predictions (0, 1, 2) against labels (2, 1, 0): 1 right
    first = rows[0]
    assert first["earliness"] == pytest.approx(0.25) and first["accuracy"] == pytest.approx(1 / 3)
    assert first["mean_return"] == pytest.approx((-1 + 1 - 1) / 3)
    # tau = 1: last frame, predictions (1, 2, 0): 1 right (sequence 2)
    last = rows[-1]
    assert last["earliness"] == 1.0 and last["accuracy"] == pytest.approx(1 / 3)
    assert last["mean_return"] == pytest.approx((-1.3 - 1.3 + 1 - 0.3) / 3)
    # each row is early_metrics of threshold at its tau
    t_commit, pred = threshold(POSTERIORS, rows[20]["tau"])
    assert {k: v for k, v in rows[20].items() if k != "tau"} == early_metrics(
        t_commit, pred, LABELS, 4, 3, wait_penalty=0.1
    )
    np.testing.assert_array_equal(front, pareto_front([(r["earliness"], r["accuracy"]) for r in rows]))
    custom = threshold_sweep(POSTERIORS, LABELS, taus=[1 / 3, 0.8, 1.0])
    # tau = 0.8: commits (2, 3, 0) to (2, 2, 2): sequence 0 right -> accuracy 1/3, earliness (3 + 4 + 1) / 12
    assert custom.rows[1]["earliness"] == pytest.approx(8 / 12) and custom.rows[1]["accuracy"] == pytest.approx(1 / 3)
    np.testing.assert_allclose(custom.front, [(0.25, 1 / 3)])  # the two later points are dominated


def test_oracle_commits_where_the_argmax_turns_right_for_good():
    labels = np.array([1, 1, 1, 0])
    seqs = np.stack(
        [
            _rows((0, 0.6), (1, 0.6), (2, 0.6), (1, 0.6), (1, 0.7), (1, 0.8)),  # wrong right wrong right right right
            _rows((1, 0.6), (1, 0.6), (1, 0.6), (1, 0.6), (1, 0.6), (2, 0.6)),  # right until the last: wrong
            _rows((1, 0.5), (1, 0.6), (1, 0.6), (1, 0.6), (1, 0.6), (1, 0.6)),  # right throughout
            _rows((1, 0.5), (2, 0.6), (1, 0.6), (1, 0.6), (1, 0.6), (0, 0.6)),  # right only on the last frame
        ]
    )
    t_commit, pred = oracle(seqs, labels)
    np.testing.assert_array_equal(t_commit, [3, 5, 0, 5])
    np.testing.assert_array_equal(pred, [1, 2, 1, 0])


def test_the_registry_names_the_three_rules():
    assert EARLY_BASELINES == {"last_frame": last_frame, "threshold": threshold, "oracle": oracle}
    t_commit, _ = EARLY_BASELINES["threshold"](POSTERIORS, 0.8)
    np.testing.assert_array_equal(t_commit, [2, 3, 0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: last_frame(POSTERIORS[0]), "posteriors: must be N×T×K"),
        (lambda: last_frame(np.ones((2, 3, 1))), "posteriors: must be N×T×K"),
        (lambda: last_frame(np.zeros((2, 0, 3))), "posteriors: must be N×T×K"),
        (lambda: last_frame(POSTERIORS * 2), "posteriors: entries must be finite probabilities"),
        (lambda: last_frame(np.where(POSTERIORS > 0.8, np.nan, POSTERIORS)), "posteriors: entries must be finite"),
        (lambda: last_frame(POSTERIORS * 0.9), "posteriors: p\\[0, \\d\\] sums to 0.9, not 1"),
        (lambda: threshold(POSTERIORS, 1.5), "tau"),
        (lambda: threshold(POSTERIORS, True), "tau"),
        (lambda: threshold_grid(1), "num_classes"),
        (lambda: oracle(POSTERIORS, [2, 1]), "labels: must have shape \\(3,\\)"),
        (lambda: oracle(POSTERIORS, [2, 1, 3]), "labels: must be classes in \\[0, 2\\]"),
        (lambda: threshold_sweep(POSTERIORS, [2.5, 1, 0]), "labels"),
        (lambda: threshold_sweep(POSTERIORS, LABELS, taus=[]), "taus: need at least one"),
        (lambda: threshold_sweep(POSTERIORS, LABELS, taus=[0.5, -1.0]), "taus\\[1\\]"),
        (lambda: threshold_sweep(POSTERIORS, LABELS, wait_penalty=-1.0), "wait_penalty"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
