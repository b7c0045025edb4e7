"""The Markdown tables of results.json that docs/results.md shows (fer-select report)."""

from __future__ import annotations

import json

import pytest

from agents.experiment.cli import main
from agents.experiment.results_tables import aggregate_table, benchmark_table, mean_interval


def test_mean_interval_is_the_student_t_interval_over_seeds():
    mean, low, high = mean_interval([0.1, 0.2, 0.3])
    # s = 0.1, t(0.975, 2) = 4.3027: half-width 4.3027 * 0.1 / sqrt(3) = 0.2484
    assert mean == pytest.approx(0.2) and high - mean == pytest.approx(0.24841, abs=1e-4)
    assert low == pytest.approx(mean - (high - mean))
    assert mean_interval([0.5]) == (0.5, 0.5, 0.5) and mean_interval([None]) is None


def _run(seed, f1, kept=1.0, **extra):
    return {"seed": seed, "test_macro_f1": f1, "test_accuracy": f1, "kept_fraction": kept,
            "removal_precision": None, "removal_recall": None, "removal_f1": None, **extra}  # fmt: skip


def test_benchmark_table_pairs_by_seed_and_adds_the_ferplus_columns():
    fp = {"macro_f1": 0.5, "accuracy": 0.6, "n_rows": 17}
    results = {
        "agents": {
            "keep_all": {"runs": [_run(0, 0.60, test_ferplus=fp), _run(1, 0.70, test_ferplus=fp)]},
            "cleanlab": {"runs": [_run(1, 0.75, 0.8, test_ferplus={**fp, "macro_f1": 0.55}), _run(0, 0.62, 0.7)]},
        }
    }
    table = benchmark_table(results)
    row = next(line for line in table.splitlines() if line.startswith("| `cleanlab`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "68.5 [-14.1, 151.1]"  # mean of 0.75 and 0.62 with its 2-seed t-interval
    assert cells[3].startswith("+3.5")  # paired by seed: (0.05 + 0.02) / 2
    assert cells[5].startswith("75.0")  # kept
    assert cells[-1] == "+5.0"  # only seed 1 has FER+ figures on both sides
    assert "on the 17 test rows that have one" in table
    assert "removal P" not in table  # no ground truth, no removal columns
    assert "Noise floor" not in table  # one final training per run: nothing to measure it on
    for run, f1s in zip(results["agents"]["keep_all"]["runs"], ([0.58, 0.62], [0.70, 0.70]), strict=True):
        run["final_repeats"] = [{"macro_f1": f} for f in f1s]
    # pooled std: sqrt(mean(var([.58, .62]), var([.70, .70]))) = sqrt(0.0008 / 2) = 0.02
    assert "Noise floor: keep_all's repeat-to-repeat std 2.00 points (2 final-training repeats x 2 seeds)." in (
        benchmark_table(results)
    )


def test_aggregate_table_names_the_reference_and_the_excluded_tasks():
    scores = {
        "aggregate": {
            "cleanlab": {"iqm_gap_closed": 0.5, "ci95": [0.25, 0.75], "p_improve_keep_all": 0.9,
                         "p_improve_keep_all_ci95": [0.8, 1.0], "p_improve_best_baseline": None,
                         "p_improve_best_baseline_ci95": None, "n_scores": 6, "reference": False},
            "oracle": {"iqm_gap_closed": 1.0, "ci95": [1.0, 1.0], "p_improve_keep_all": 1.0,
                       "p_improve_keep_all_ci95": [1.0, 1.0], "n_scores": 6, "reference": True},
        },
        "best_baseline": "cleanlab",
        "excluded_tasks": ["face-n500"],
        "tasks": {"face-n500": {"exclusion_reason": "the oracle gains 0.2 points over keep_all"}},
    }  # fmt: skip
    table = aggregate_table(scores)
    assert "| `cleanlab` | 0.50 [0.25, 0.75] | 0.90 [0.80, 1.00] | – | 6 |" in table
    assert "`oracle` (reference)" in table and "`face-n500` is left out" in table


def test_report_command_prints_the_tables_and_refuses_other_files(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"agents": {"keep_all": {"runs": [_run(0, 0.6)]}}}))
    assert main(["report", str(path)]) == 0
    assert "| `keep_all` | 1 | 60.0 |" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main(["report", str(tmp_path / "bad.json")]) == 2
    assert "not a results.json" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.json")]) == 2
