"""The agent registry: one entry is enough for the benchmark engine, ``fer-select train``, ``fer-select clean``,
``clean --selector`` and the CLI help to know an agent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import agents
from agents.common.selection import Selection
from agents.experiment.benchmark import run_benchmark
from agents.experiment.cli import build_parser, main
from agents.experiment.registry import (
    AgentSpec,
    RLTraining,
    agent_names,
    agent_table,
    get_agent,
    register_agent,
    unregister_agent,
)
from agents.experiment.rl_selection import build_reinforce, reinforce_selector
from agents.experiment.settings import BenchmarkSettings, RLSettings
from agents.reinforce import REINFORCE
from fer_select_env import FERDataset
from fer_select_env.models import ClassifierConfig
from fer_select_env.testing import make_blob_dataset

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 3, "min_epochs": 1, "head_batch_size": 32, "head_max_epochs": 4}


def every_other(dataset, *, seed=0, **classifier_options) -> Selection:
    """A toy filter: keeps the even-numbered training images."""
    return Selection.from_mask(np.arange(len(dataset.y_train)) % 2 == 0, info={"filter": "every_other"})


def _build_toy_reinforce(vec_env, seed: int, settings: RLSettings, n_images: int) -> REINFORCE:
    return build_reinforce(vec_env, seed, settings)


@pytest.fixture
def toy_agents():
    """A toy filter and a toy RL agent, registered for one test and removed after it."""
    specs = [
        AgentSpec("toy_filter", "keeps every other training image", every_other),
        AgentSpec(
            "toy_rl",
            "REINFORCE on the paper's state under another name",
            reinforce_selector("paper"),
            RLTraining(REINFORCE, "paper", _build_toy_reinforce, pretrains=True, tb_name="toy_rl"),
        ),
    ]
    for spec in specs:
        register_agent(spec)
    yield specs
    for spec in specs:
        unregister_agent(spec.name)


@pytest.fixture
def tiny_npz(tmp_path) -> Path:
    path = tmp_path / "tiny.npz"
    make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25).to_npz(path)
    return path


def _subparser(command: str):
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return sub.choices[command]


def test_the_builtin_agents_and_their_kinds():
    assert agent_names() == (
        "keep_all",
        "reinforce",
        "reinforce_paper",
        "reinforce_relabel",
        "ppo",
        "grpo",
        "feng",
        "predicted_neq_given",
        "small_loss",
        "cleanlab",
        "oracle",
        "ferplus_relabel",
    )
    assert agent_names(trainable=True) == ("reinforce", "reinforce_paper", "reinforce_relabel", "ppo")
    assert get_agent("oracle").needs_ground_truth and not get_agent("cleanlab").needs_ground_truth
    assert get_agent("ferplus_relabel").needs_ferplus and not get_agent("oracle").needs_ferplus
    assert [n for n in agent_names() if get_agent(n).reference] == ["oracle", "ferplus_relabel"]
    assert set(agents.BASELINES) == set(agent_names(rl=False))
    assert get_agent("grpo").is_rl and not get_agent("grpo").trainable  # an RL agent `train` does not checkpoint
    assert agent_names(rl=True) == ("reinforce", "reinforce_paper", "reinforce_relabel", "ppo", "grpo")
    assert agent_table().count("\n") == len(agent_names()) + 1
    with pytest.raises(ValueError, match="already registered"):
        register_agent(AgentSpec("keep_all", "again", every_other))
    with pytest.raises(ValueError, match=r"unknown agent\(s\) dqn; choose from keep_all"):
        get_agent("dqn")


def test_a_registered_agent_reaches_the_benchmark_and_the_help(toy_agents, tiny_npz):
    assert "toy_filter" in agents.BASELINES and "toy_rl" not in agents.BASELINES
    for command in ("benchmark", "clean"):
        assert "toy_filter" in _subparser(command).format_help(), command
    assert "toy_rl" in _subparser("train").format_help() and "toy_filter" not in _subparser("train").format_help()

    dataset = FERDataset.from_npz(tiny_npz)
    settings = BenchmarkSettings(
        rl=RLSettings(episodes=1, pretrain_episodes=0),
        classifier_config=ClassifierConfig(**TINY),
        final_min_steps=None,
    )
    results = run_benchmark(dataset, ["toy_filter"], [0], settings)
    (run,) = results["agents"]["toy_filter"]["runs"]
    assert run["kept_fraction"] == 0.5 and run["info"] == {"filter": "every_other"}


def test_clean_and_train_accept_a_registered_agent(toy_agents, tiny_npz, tmp_path, capsys):
    out = tmp_path / "clean"
    assert main(["clean", "--data", str(tiny_npz), "--agent", "toy_filter", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agent"] == "toy_filter" and summary["n_kept"] == 20

    assert main(["train", "--data", str(tiny_npz), "--agent", "toy_filter", "--out", str(tmp_path / "t")]) == 2
    assert (
        "'toy_filter' has nothing to train (only reinforce, reinforce_paper, reinforce_relabel, ppo, toy_rl do)"
        in capsys.readouterr().err
    )

    trained = tmp_path / "toy_rl"
    budget = ["--episodes", "1", "--pretrain-episodes", "1", "--classifier", json.dumps(TINY)]
    assert main(["train", "--data", str(tiny_npz), "--agent", "toy_rl", *budget, "--out", str(trained)]) == 0
    meta = json.loads((trained / "selector.json").read_text())
    assert (meta["agent"], meta["algorithm"], meta["observation"]) == ("toy_rl", "REINFORCE", "paper")
    again = tmp_path / "again"
    code = main(["clean", "--data", str(tiny_npz), "--selector", str(trained), "--out", str(again)])
    assert code in (0, 1)  # 1: a one-pass selector may keep nothing
    assert (again / "all.csv").read_text() == (trained / "selection.csv").read_text()


def test_unregistered_agents_are_gone(toy_agents):
    unregister_agent("toy_filter")
    try:
        assert "toy_filter" not in agent_names() and "toy_filter" not in agents.BASELINES
        with pytest.raises(ValueError, match="unknown agent"):
            get_agent("toy_filter")
    finally:
        register_agent(toy_agents[0])


def test_eq2_baseline_flag_reaches_ppos_env(tmp_path):
    """``--eq2-baseline`` (``RLSettings.extra_env_kwargs``) overrides an agent's own env arguments: PPO's
    bundled per-step reward uses the ``mean`` baseline, and the flag must replace it."""
    from agents.experiment.cli import build_parser
    from agents.experiment.cli.args import budget_settings
    from agents.experiment.registry import get_agent
    from agents.experiment.rl_selection import PPO_ENV_KWARGS, make_selection_env
    from agents.experiment.settings import RLSettings
    from fer_select_env.models import ClassifierConfig
    from fer_select_env.testing import TINY_CLASSIFIER, make_blob_dataset

    args = build_parser().parse_args(["benchmark", "--eq2-baseline", "class_prior"])
    assert budget_settings(args)["extra_env_kwargs"] == {"baseline": "class_prior"}
    data = make_blob_dataset(n_train=12, n_val=9, n_test=9)
    config = ClassifierConfig(**TINY_CLASSIFIER)
    plain_settings = RLSettings(classifier_config=config, cache_dir=tmp_path)
    flagged_settings = RLSettings(classifier_config=config, cache_dir=tmp_path, **budget_settings(args))
    training = get_agent("ppo").training
    for settings, baseline in ((plain_settings, "mean"), (flagged_settings, "class_prior")):
        # both roads to PPO's env: the registry's (train, clean) and the benchmark's ppo_selector
        for env in (
            training.make_env(data, 0, settings),
            make_selection_env(data, "label_aware", 0, settings, **PPO_ENV_KWARGS),
        ):
            assert (env.baseline, env.reward_mode) == (baseline, "per_step")


def test_rl_reward_flag_reaches_reinforces_env(tmp_path):
    """``--rl-reward eq3_dvrl`` joins ``--eq2-baseline`` in ``RLSettings.extra_env_kwargs`` and replaces the
    env reward of the benchmark's REINFORCE; a reward no env offers is refused by the parser."""
    from agents.experiment.cli import build_parser
    from agents.experiment.cli.args import budget_settings
    from agents.experiment.registry import get_agent
    from agents.experiment.settings import RLSettings
    from fer_select_env.models import ClassifierConfig
    from fer_select_env.testing import TINY_CLASSIFIER, make_blob_dataset

    parser = build_parser()
    args = parser.parse_args(["benchmark", "--rl-reward", "eq3_dvrl", "--eq2-baseline", "uniform"])
    assert budget_settings(args)["extra_env_kwargs"] == {"baseline": "uniform", "reward": "eq3_dvrl"}
    assert "extra_env_kwargs" not in budget_settings(parser.parse_args(["benchmark"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["benchmark", "--rl-reward", "per_step"])  # PPO's, not a terminal reward
    data = make_blob_dataset(n_train=12, n_val=9, n_test=9)
    config = ClassifierConfig(**TINY_CLASSIFIER)
    settings = RLSettings(classifier_config=config, cache_dir=tmp_path, **budget_settings(args))
    env = get_agent("reinforce").training.make_env(data, 0, settings)
    assert (env.reward_mode, env.baseline) == ("eq3_dvrl", "uniform")
