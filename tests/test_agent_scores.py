"""The suite scores of agents.experiment.scores, against examples worked by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.image import imread

from agents.experiment.scores import (
    format_score_table,
    gap_closed,
    interquartile_mean,
    plot_aggregate_intervals,
    probability_of_improvement,
    score_suite,
    stratified_bootstrap_ci,
    task_is_normalisable,
)

FAST = {"n_resamples": 300, "seed": 0}

# Task "a": the oracle is 10 points above keep_all on every seed. Task "b": the oracle equals keep_all.
SUITE = {
    "a": {
        "keep_all": [0.70, 0.72, 0.71],
        "oracle": [0.80, 0.82, 0.81],
        "reinforce": [0.75, 0.74, 0.76],  # gap closed 0.5, 0.2, 0.5
        "cleanlab": [0.78, 0.77, 0.79],  # 0.8, 0.5, 0.8
        "feng": [0.70, 0.73, 0.72],  # 0.0, 0.1, 0.1
    },
    "b": {
        "keep_all": [0.60, 0.61, 0.62],
        "oracle": [0.60, 0.61, 0.62],
        "reinforce": [0.61, 0.60, 0.63],
        "cleanlab": [0.59, 0.60, 0.61],
    },
}


def _scores(**kwargs):
    return score_suite(
        SUITE, rl_agents=["reinforce"], baseline_agents=["keep_all", "cleanlab", "feng"], **FAST, **kwargs
    )


# --------------------------------------------------------------------------- per task
def test_gap_closed_by_hand():
    assert gap_closed(SUITE["a"]["reinforce"], SUITE["a"]["keep_all"], SUITE["a"]["oracle"]) == pytest.approx(
        [0.5, 0.2, 0.5]
    )
    # keep_all and the oracle themselves are 0 and 1; an agent below keep_all is negative
    assert gap_closed([0.5, 0.9], [0.5, 0.5], [0.9, 1.0]) == pytest.approx([0.0, 0.8])
    assert gap_closed([0.4], [0.5], [0.7]) == pytest.approx([-0.5])


def test_gap_closed_is_nan_where_the_oracle_is_not_above_keep_all():
    gap = gap_closed([0.8, 0.8], [0.7, 0.7], [0.9, 0.7])
    assert gap[0] == pytest.approx(0.5) and np.isnan(gap[1])


def test_gap_closed_needs_paired_seeds():
    with pytest.raises(ValueError, match="paired by seed"):
        gap_closed([0.8, 0.8], [0.7, 0.7, 0.7], [0.9, 0.9, 0.9])
    with pytest.raises(ValueError, match="paired by seed"):
        gap_closed([0.8, 0.8], [0.7, 0.7], [0.9])


@pytest.mark.parametrize(
    ("keep_all", "oracle", "expected"),
    [
        ([0.70, 0.72, 0.71], [0.80, 0.82, 0.81], True),
        ([0.60, 0.61, 0.62], [0.60, 0.61, 0.62], False),  # no gap
        ([0.70, 0.70, 0.70], [0.705, 0.705, 0.705], False),  # a constant gap, but below one point
        ([0.70, 0.70, 0.70], [0.80, 0.65, 0.70], False),  # mean 1.67 points, twice the SE is 8.8
        ([0.6, 0.6, 0.6, 0.6], [0.70, 0.71, 0.72, 0.60], False),  # mean 8.25 > 2 SE = 5.6, but seed 3 has no gap
        ([0.70], [0.72], True),  # one seed: the min_gap rule alone
        ([0.70], [0.705], False),
    ],
)
def test_task_is_normalisable(keep_all, oracle, expected):
    assert task_is_normalisable(keep_all, oracle) is expected


def test_min_gap_is_a_parameter():
    assert task_is_normalisable([0.70], [0.705], min_gap=0.001)
    assert not task_is_normalisable([0.70, 0.70], [0.80, 0.80], min_gap=0.2)


# --------------------------------------------------------------------------- statistics
def test_interquartile_mean_trims_a_quarter_at_each_end():
    assert interquartile_mean(np.arange(1, 9)) == pytest.approx((3 + 4 + 5 + 6) / 4)
    # the order does not matter and the outliers are trimmed away
    assert interquartile_mean([100, 1, 2, 3, 4, 5, 6, -50]) == pytest.approx((2 + 3 + 4 + 5) / 4)
    with pytest.raises(ValueError):
        interquartile_mean([])


def test_probability_of_improvement_by_hand():
    assert probability_of_improvement([[0.8, 0.9]], [[0.1, 0.2, 0.3]]) == 1.0
    assert probability_of_improvement([[0.1, 0.2]], [[0.8, 0.9]]) == 0.0
    assert probability_of_improvement([[0.5, 0.6, 0.7]], [[0.5, 0.6, 0.7]]) == pytest.approx(0.5)
    # 0.5 vs (0.5, 0.8): ½ + 0; 0.7: 1 + 0; 0.9: 1 + 1 → 3.5 of 6 pairs
    assert probability_of_improvement([[0.5, 0.7, 0.9]], [[0.5, 0.8]]) == pytest.approx(7 / 12)
    # averaged over tasks, each task weighing the same whatever its seed count
    assert probability_of_improvement([[0.5, 0.7, 0.9], [0.9]], [[0.5, 0.8], [0.1]]) == pytest.approx((7 / 12 + 1) / 2)
    with pytest.raises(ValueError, match="number of tasks"):
        probability_of_improvement([[0.5]], [[0.5], [0.6]])


def _pooled(*samples):
    return interquartile_mean(np.concatenate(samples))


def test_bootstrap_interval_holds_the_estimate_and_is_reproducible():
    rng = np.random.default_rng(1)
    samples = [rng.normal(0.5, 0.1, 5), rng.normal(0.3, 0.1, 5)]
    low, high = stratified_bootstrap_ci(samples, _pooled, **FAST)
    assert low <= _pooled(*samples) <= high and low < high
    assert stratified_bootstrap_ci(samples, _pooled, **FAST) == (low, high)
    assert stratified_bootstrap_ci(samples, _pooled, n_resamples=300, seed=1) != (low, high)


def test_bootstrap_interval_shrinks_with_more_seeds():
    pattern = np.array([0.1, 0.3, 0.5, 0.7])
    widths = []
    for repeats in (1, 4, 16):
        low, high = stratified_bootstrap_ci([np.tile(pattern, repeats), np.tile(pattern, repeats)], _pooled, **FAST)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0


def test_bootstrap_resamples_within_each_sample():
    # Each sample is constant, so resampling within samples never changes the pooled mean; a pooled
    # (unstratified) bootstrap would.
    low, high = stratified_bootstrap_ci([np.zeros(4), np.ones(4)], lambda a, b: float(np.mean([*a, *b])), **FAST)
    assert low == high == pytest.approx(0.5)


def test_vectorised_and_plain_statistics_agree_and_one_run_samples_stay_fixed():
    samples = [np.array([0.2, 0.4, 0.9]), np.array([0.5]), np.array([0.1, 0.6])]

    def vectorised(*s, axis=-1):
        return np.mean(np.concatenate(s, axis=axis), axis=axis)

    plain = stratified_bootstrap_ci(samples, lambda *s: float(np.mean(np.concatenate(s))), **FAST)
    assert stratified_bootstrap_ci(samples, vectorised, **FAST) == pytest.approx(plain)
    # every sample a single run: nothing can vary
    assert stratified_bootstrap_ci([[0.3], [0.5]], _pooled, **FAST) == (0.4, 0.4)


# --------------------------------------------------------------------------- the suite
def test_score_suite_end_to_end():
    scores = _scores()
    json.dumps(scores, allow_nan=False)  # plain JSON, no NaN
    a, b = scores["tasks"]["a"], scores["tasks"]["b"]
    assert a["normalisable"] and a["oracle_gap"] == pytest.approx(0.1)
    assert a["agents"]["reinforce"]["gap_closed"] == pytest.approx([0.5, 0.2, 0.5])
    assert a["agents"]["oracle"]["gap_closed"] == pytest.approx([1.0, 1.0, 1.0])
    assert "keep_all" not in a["agents"] and "keep_all" not in scores["aggregate"]

    # task b is reported raw and left out
    assert not b["normalisable"] and "min_gap" in b["exclusion_reason"]
    assert scores["excluded_tasks"] == ["b"]
    assert b["agents"]["reinforce"]["gap_closed"] is None
    assert b["agents"]["reinforce"]["paired_difference"] == pytest.approx([0.01, -0.01, 0.01])
    assert b["agents"]["cleanlab"]["mean_paired_difference"] == pytest.approx(-0.01)

    agg = scores["aggregate"]
    # three scores each (task a only): the IQM of three values trims none
    assert agg["reinforce"]["iqm_gap_closed"] == pytest.approx(0.4) and agg["reinforce"]["n_scores"] == 3
    assert agg["cleanlab"]["iqm_gap_closed"] == pytest.approx(0.7)
    assert agg["feng"]["iqm_gap_closed"] == pytest.approx(0.2 / 3)
    assert scores["best_baseline"] == "cleanlab" == agg["reinforce"]["best_baseline"]
    # P(reinforce > keep_all): task a 9 of 9 pairs, task b 5 of 9 (hand-counted, ties ½)
    assert agg["reinforce"]["p_improve_keep_all"] == pytest.approx((1 + 5 / 9) / 2)
    # P(reinforce > cleanlab): task a 0, task b 7 of 9
    assert agg["reinforce"]["p_improve_best_baseline"] == pytest.approx(7 / 18)
    assert agg["cleanlab"]["p_improve_best_baseline"] is None  # not compared with itself
    assert agg["oracle"]["reference"] and not agg["reinforce"]["reference"] and agg["reinforce"]["rl"]
    assert agg["oracle"]["ci95"] == pytest.approx([1.0, 1.0])
    for entry in agg.values():
        low, high = entry["ci95"]
        assert low <= entry["iqm_gap_closed"] <= high
        low, high = entry["p_improve_keep_all_ci95"]
        assert low <= entry["p_improve_keep_all"] <= high
    assert scores["protocol"] == {
        **scores["protocol"],
        "min_gap": 0.01,
        "n_resamples": 300,
        "confidence": 0.95,
        "bootstrap": "stratified percentile (scipy.stats.bootstrap)",
    }
    assert _scores() == scores  # reproducible


def test_the_best_baseline_leaves_out_rl_and_reference_agents():
    scores = score_suite(SUITE, rl_agents=["cleanlab"], baseline_agents=["oracle", "cleanlab", "feng"], **FAST)
    assert scores["best_baseline"] == "feng"


def test_a_task_without_oracle_is_not_normalisable():
    suite = {"a": SUITE["a"], "c": {"keep_all": [0.5, 0.6], "reinforce": [0.6, 0.6]}}
    scores = score_suite(suite, rl_agents=["reinforce"], baseline_agents=[], **FAST)
    assert scores["excluded_tasks"] == ["c"] and scores["tasks"]["c"]["oracle_gap"] is None
    assert scores["best_baseline"] is None and scores["aggregate"]["reinforce"]["p_improve_best_baseline"] is None
    # P(> keep_all) still uses task c: 1 on a, (½ + 1) / 2 of the pairs on c
    assert scores["aggregate"]["reinforce"]["p_improve_keep_all"] == pytest.approx((1 + 0.75) / 2)


def test_no_normalisable_task_gives_no_aggregate_score(tmp_path):
    scores = score_suite({"b": SUITE["b"]}, rl_agents=["reinforce"], baseline_agents=["cleanlab"], **FAST)
    assert scores["aggregate"]["reinforce"]["iqm_gap_closed"] is None
    assert scores["aggregate"]["reinforce"]["ci95"] is None and scores["best_baseline"] is None
    assert "left out" in format_score_table(scores)
    assert plot_aggregate_intervals(scores, tmp_path / "none.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        ({"a": {**SUITE["a"], "feng": [0.7, 0.7]}}, "task 'a', agent 'feng'"),
        ({"a": SUITE["a"], "b": {"oracle": [0.8], "reinforce": [0.7]}}, "task 'b' has no 'keep_all'"),
        ({"a": {**SUITE["a"], "feng": [70.0, 73.0, 72.0]}}, r"task 'a', agent 'feng': macro-F1 must lie in \[0, 1\]"),
        ({"a": {**SUITE["a"], "feng": [0.7, float("nan"), 0.7]}}, "task 'a', agent 'feng'"),
        ({"a": {**SUITE["a"], "feng": []}}, "task 'a', agent 'feng'"),
        ({}, "no task"),
    ],
)
def test_bad_input_names_the_task_and_agent(suite, message):
    with pytest.raises(ValueError, match=message):
        score_suite(suite, rl_agents=[], baseline_agents=[], **FAST)


# --------------------------------------------------------------------------- table and picture
def test_score_table():
    table = format_score_table(_scores())
    lines = table.splitlines()
    assert "best non-RL baseline: cleanlab" in lines[0]
    assert lines[1].split()[:2] == ["agent", "IQM"]
    row = next(line for line in lines if line.startswith("reinforce"))
    assert "0.400 [" in row and "0.778 [" in row and "0.389 [" in row
    assert any(line.startswith("oracle (reference)") for line in lines)
    excluded = next(line for line in lines if line.startswith("excluded b"))
    assert "reinforce +0.33" in excluded and "cleanlab -1.00" in excluded
    assert "left out" in lines[-1]


def test_plot_writes_a_png(tmp_path):
    path = plot_aggregate_intervals(_scores(), tmp_path / "sub" / "aggregate.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert imread(path).shape[:2] == (100 + 45 * 4, 700)  # four agents
