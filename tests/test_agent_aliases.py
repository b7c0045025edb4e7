"""The import paths of the agents package from before the layout of issue 11 still work, and name the new
modules themselves (so that monkeypatching an old name patches the new module)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

import agents
from fer_select_env.testing import make_blob_dataset

MOVED = {
    "agents.selection": "agents.common.selection",
    "agents.feng": "agents.baselines.feng",
    "agents.filters": "agents.baselines.filters",
    "agents.benchmark": "agents.experiment.benchmark",
    "agents.checkpoint": "agents.experiment.checkpoint",
    "agents.rl_selection": "agents.experiment.rl_selection",
    "agents.cli": "agents.experiment.cli",
}


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_module_path_is_the_new_module(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


OLD_NAMES = {
    "agents": [*agents.__all__],
    "agents.baselines": ["BASELINES"],
    "agents.benchmark": ["AGENT_NAMES", "BASELINE_AGENTS", "RL_AGENTS", "BenchmarkSettings", "select", "run_benchmark"],
    "agents.checkpoint": ["MANIFEST", "read_checkpoint", "train_resumable", "units_for"],
    "agents.cli": [
        "main",
        "build_parser",
        "benchmark_main",
        "build_benchmark_parser",
        "stratified_subset",
        "kept_subset",
        "keep_probability_function",
        "selector_selection",
        "write_selector",
    ],
    "agents.rl_selection": [
        "PPO_ENV_KWARGS",
        "PPO_KWARGS",
        "EpisodeHistory",
        "RLSettings",
        "make_selection_env",
        "reinforce_selector",
        "ppo_selector",
        "selection_pass",
    ],
}


@pytest.mark.parametrize("module", sorted(OLD_NAMES))
def test_the_old_names_are_importable(module):
    loaded = importlib.import_module(module)
    assert [n for n in OLD_NAMES[module] if not hasattr(loaded, n)] == []


def test_the_old_tables_are_read_from_the_registry():
    from agents.baselines import BASELINES as OLD_BASELINES
    from agents.benchmark import AGENT_NAMES, BASELINE_AGENTS, RL_AGENTS

    assert OLD_BASELINES is agents.BASELINES and list(agents.BASELINES) == list(BASELINE_AGENTS)
    assert agents.BASELINES["cleanlab"] is agents.cleanlab
    assert AGENT_NAMES == (*BASELINE_AGENTS[:1], *RL_AGENTS, *BASELINE_AGENTS[1:])


def test_the_feng_function_survives_the_feng_module_alias():
    import agents.feng  # noqa: F401  (the kept module path)
    from agents import feng

    assert callable(feng) and feng is importlib.import_module("agents.baselines.feng").feng


def test_the_old_dataset_operations_call_the_dataset_methods():
    from agents.cli import kept_subset, stratified_subset

    ds = make_blob_dataset(n_train=90, n_val=12, n_test=12, num_classes=3, noise_rate=0.2, seed=4)
    assert stratified_subset(ds, 30, seed=0).fingerprint() == ds.stratified_train_subset(30, seed=0).fingerprint()
    kept = np.arange(90) % 3 == 0
    assert kept_subset(ds, kept.astype(int)).fingerprint() == ds.train_subset(kept).fingerprint()


def test_python_m_agents_cli_still_runs_the_command():
    proc = subprocess.run([sys.executable, "-m", "agents.cli", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("fer-select "), proc.stderr
