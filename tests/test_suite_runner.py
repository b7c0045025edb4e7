"""A tiny task suite end to end: every task run, scored (gap closed, IQM with intervals, probability of
improvement), written to one results.json with a top-level aggregate block, and resumed on a rerun."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agents.experiment.settings import BenchmarkSettings, RLSettings
from agents.experiment.suite_runner import format_suite_tables, run_suite, runnable_agents
from agents.experiment.suites import get_suite
from fer_select_env.models import ClassifierConfig
from fer_select_env.testing import make_blob_dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import benchmark as benchmark_cli  # noqa: E402

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 3, "min_epochs": 1, "head_batch_size": 32, "head_max_epochs": 4}


def _task(name: str, scenario: str, n_train: int) -> dict:
    params = {"scenario": scenario, "n_train": n_train, "n_val": 21, "n_test": 28, "noise_rate": 0.3, "seed": 0}
    params["class_distribution"] = "balanced"
    return {"name": name, "description": "", "kind": "synthetic", "params": params, "seeds": [0, 1]}


@pytest.fixture
def tiny_suite(tmp_path):
    folder = tmp_path / "suites"
    folder.mkdir()
    suite = {
        "name": "tiny",
        "version": 1,
        "description": "two tiny tasks for the tests",
        "tasks": [_task("sym-n56", "label_symmetric", 56), _task("conf-n63", "label_confusion", 63)],
    }
    (folder / "tiny-v1.json").write_text(json.dumps(suite))
    return get_suite("tiny", directory=folder)


def _settings() -> BenchmarkSettings:
    return BenchmarkSettings(
        rl=RLSettings(episodes=1, pretrain_episodes=1),
        classifier_config=ClassifierConfig.from_dict(TINY),
        final_max_epochs=3,
        final_min_steps=None,  # the step-sized default would train these tiny sets for hundreds of epochs
        final_repeats=2,
    )


def test_a_tiny_suite_end_to_end_and_resumed(tiny_suite, tmp_path):
    out = tmp_path / "suite.json"
    plots = tmp_path / "plots"
    agents = ["keep_all", "predicted_neq_given", "oracle", "ferplus_relabel"]
    seen = []
    results = run_suite(
        tiny_suite, agents, _settings(), out=out, plots_dir=plots, on_run=lambda t, a, r: seen.append((t, a))
    )
    on_disk = json.loads(out.read_text())
    assert on_disk["meta"]["suite"]["id"] == "tiny-v1" and on_disk["meta"]["threads"] == 1
    assert set(on_disk["tasks"]) == {"sym-n56", "conf-n63"}
    assert on_disk["skipped"]["sym-n56"] == {"ferplus_relabel": "needs FER+ votes"}
    assert len(seen) == 2 * 3 * 2  # tasks x runnable agents x seeds
    for task in on_disk["tasks"].values():
        assert set(task["agents"]) == {"keep_all", "predicted_neq_given", "oracle"}
        assert all(len(block["runs"]) == 2 for block in task["agents"].values())
    aggregate = on_disk["aggregate"]
    assert aggregate == on_disk["scores"]["aggregate"] == results["aggregate"]
    entry = aggregate["predicted_neq_given"]
    assert {"iqm_gap_closed", "ci95", "p_improve_keep_all", "p_improve_best_baseline"} <= set(entry)
    assert "oracle" in aggregate and aggregate["oracle"]["reference"]
    for name, info in on_disk["scores"]["tasks"].items():
        if info["normalisable"]:
            assert aggregate["oracle"]["iqm_gap_closed"] == pytest.approx(1.0), name
            low, high = entry["ci95"]
            assert low <= entry["iqm_gap_closed"] <= high
    assert (plots / "aggregate_intervals.png").read_bytes()[:4] == b"\x89PNG"
    table = format_suite_tables(on_disk)
    assert "== sym-n56" in table and "noise floor" in table and "tiny-v1" in table

    # A rerun with the same file runs nothing again.
    seen.clear()
    again = run_suite(tiny_suite, agents, _settings(), out=out, on_run=lambda t, a, r: seen.append((t, a)))
    assert (
        again["tasks"]["sym-n56"]["agents"]["keep_all"]["runs"]
        == on_disk["tasks"]["sym-n56"]["agents"]["keep_all"]["runs"]
    )
    assert [s for s in seen] == [(t, a) for t, a, *_ in [(x[0], x[1]) for x in seen]]  # callbacks may replay


def test_keep_all_is_required_and_agents_that_cannot_run_are_named(tiny_suite):
    with pytest.raises(ValueError, match="scored against keep_all"):
        run_suite(tiny_suite, ["cleanlab"], _settings())
    ok, skipped = runnable_agents(["keep_all", "oracle", "ferplus_relabel"], make_blob_dataset())
    assert ok == ["keep_all", "oracle"] and set(skipped) == {"ferplus_relabel"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suite", "quick", "--data", "x.npz"], "--suite fixes the datasets and seeds"),
        (["--suite", "quick", "--seeds", "0"], "--suite fixes the datasets and seeds"),
        (["--suite", "nope"], "suite: unknown 'nope'"),
        (["--threads", "0"], "--threads must be >= 1"),
        (["--final-repeats", "0"], "--final-repeats must be >= 1"),
        (["--tasks", "a"], "--tasks and --reuse need --suite"),
        (["--suite", "quick", "--reuse", "no_such.json"], "--reuse"),
    ],
)
def test_suite_and_protocol_flags_are_checked(args, message, capsys, tmp_path):
    assert benchmark_cli.main([*args, "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_suite_split_with_tasks_is_put_together_by_reuse(tiny_suite, tmp_path):
    agents = ["keep_all", "predicted_neq_given", "oracle"]
    part_a, part_b, whole = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "whole.json"
    run_suite(tiny_suite, agents, _settings(), out=part_a, tasks=["sym-n56"])
    run_suite(tiny_suite, ["keep_all", "oracle"], _settings(), out=part_b, tasks=["conf-n63"])
    assert set(json.loads(part_a.read_text())["tasks"]) == {"sym-n56"}
    merged = run_suite(tiny_suite, agents, _settings(), out=whole, reuse=[part_a, part_b])
    # the parts' runs are taken verbatim (their wall times included: nothing was run again) ...
    a, b = json.loads(part_a.read_text()), json.loads(part_b.read_text())
    assert merged["tasks"]["sym-n56"]["agents"] == a["tasks"]["sym-n56"]["agents"]
    for agent in ("keep_all", "oracle"):
        assert merged["tasks"]["conf-n63"]["agents"][agent] == b["tasks"]["conf-n63"]["agents"][agent]
    # ... and what no part held is run: predicted_neq_given on the second task
    assert len(merged["tasks"]["conf-n63"]["agents"]["predicted_neq_given"]["runs"]) == 2
    assert set(merged["tasks"]) == {"sym-n56", "conf-n63"} and "predicted_neq_given" in merged["aggregate"]
    # the whole run equals one made in one go
    one_go = run_suite(tiny_suite, agents, _settings(), out=tmp_path / "one.json")
    for task in one_go["tasks"]:
        for agent, block in one_go["tasks"][task]["agents"].items():
            assert _untimed(block["runs"]) == _untimed(merged["tasks"][task]["agents"][agent]["runs"]), (task, agent)


def _untimed(value):
    """``value`` without its wall-time fields (``*seconds*`` keys, at any depth)."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def test_reuse_and_tasks_refuse_what_does_not_fit(tiny_suite, tmp_path):
    with pytest.raises(ValueError, match="'nope' not in suite tiny-v1"):
        run_suite(tiny_suite, ["keep_all"], _settings(), tasks=["nope"])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"meta": {"suite": {"fingerprint": "x"}}, "tasks": {}}))
    with pytest.raises(ValueError, match="not a results file of suite tiny-v1"):
        run_suite(tiny_suite, ["keep_all"], _settings(), reuse=[other])
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="not a readable results file"):
        run_suite(tiny_suite, ["keep_all"], _settings(), reuse=[broken])
