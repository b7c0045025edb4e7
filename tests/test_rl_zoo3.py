"""rl-baselines3-zoo on FERSelect: the shipped hyperparameter files (agents/zoo/*.yml) hold the package's own
PPO settings, the search spaces keep gamma at 0 and rollouts in passes, and ``rl_zoo3.train`` runs end to end
on 40 images with the shipped files, plain and through ``agents.zoo.train``."""

from __future__ import annotations

import csv
import fnmatch
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO

import fer_select_env
from agents.experiment.rl_selection import PPO_ENV_KWARGS, PPO_KWARGS
from agents.experiment.settings import RLSettings
from agents.zoo import PASS_LENGTH, ZOO_ALGOS, ZOO_ENV_IDS, load_zoo_hyperparams, write_zoo_config, zoo_hyperparams_path
from fer_select_env.testing import make_blob_dataset

ROOT = Path(__file__).resolve().parents[1]
TINY = {"width": 4, "feature_dim": 16, "max_epochs": 3, "min_epochs": 1, "head_batch_size": 32, "head_max_epochs": 4}
N_TRAIN = 40  # one pass of the tiny data: n_steps in the runs below
DOC_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SHARED_ENV_KWARGS = {"reward": "per_step", "baseline": "mean", "persistent_classifier": False}


# ------------------------------------------------------------------ the shipped files


@pytest.mark.parametrize("algo", ZOO_ALGOS)
def test_shipped_file_holds_the_packages_settings(algo):
    pytest.importorskip("yaml")
    config = load_zoo_hyperparams(algo)
    assert set(config) == set(ZOO_ENV_IDS)
    assert set(ZOO_ENV_IDS) <= set(fer_select_env.ENV_IDS) and all(i in gym.registry for i in ZOO_ENV_IDS)
    for block in config.values():
        assert block["gamma"] == 0.0 and block["gae_lambda"] == 1.0
        assert block["normalize"] == {"norm_obs": True, "norm_reward": False}
        assert block["policy"] == "MlpPolicy" and block["n_envs"] == 1
        assert block["env_kwargs"] == {**SHARED_ENV_KWARGS, "episode_size": PASS_LENGTH}
        assert block["n_timesteps"] % PASS_LENGTH == 0  # whole passes
        if algo == "ppo":
            assert block["n_steps"] == PASS_LENGTH  # one rollout is one pass
            assert PASS_LENGTH % block["batch_size"] == 0
        else:
            assert PASS_LENGTH % block["n_steps"] == 0  # no A2C rollout straddles two passes


def test_ppo_file_matches_rl_selection():
    """The zoo's PPO is the benchmark's PPO: any change to PPO_KWARGS or PPO_ENV_KWARGS must reach ppo.yml."""
    pytest.importorskip("yaml")
    block = load_zoo_hyperparams("ppo")["FERSelectLabelAware-v0"]
    assert {k: block[k] for k in PPO_KWARGS} == PPO_KWARGS
    assert {k: block["env_kwargs"][k] for k in PPO_ENV_KWARGS} == PPO_ENV_KWARGS
    assert block["learning_rate"] == RLSettings().ppo_learning_rate
    assert block["env_kwargs"]["persistent_classifier"] == RLSettings().persistent_classifier


def test_shipped_files_are_package_data():
    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["agents"]
    for algo in ZOO_ALGOS:
        path = zoo_hyperparams_path(algo)
        assert path.is_file()
        relative = path.relative_to(ROOT / "agents").as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), (relative, patterns)


def test_unknown_algo_and_bad_overrides_are_refused(tmp_path):
    pytest.importorskip("yaml")
    with pytest.raises(ValueError, match="algo: no rl-zoo3 hyperparameter file for 'dqn'"):
        zoo_hyperparams_path("dqn")
    with pytest.raises(ValueError, match="env_kwargs: must be a dict"):
        write_zoo_config("ppo", tmp_path / "x.yml", env_kwargs=[("dataset", "x.npz")])
    with pytest.raises(ValueError, match="give the env's arguments as env_kwargs="):
        write_zoo_config("ppo", tmp_path / "x.yml", hyperparams={"env_kwargs": {}})
    with pytest.raises(ValueError, match="plain YAML"):
        write_zoo_config("ppo", tmp_path / "x.yml", env_kwargs={"classifier_config": object()})


def test_write_zoo_config_merges_into_every_id(tmp_path):
    yaml = pytest.importorskip("yaml")
    out = write_zoo_config(
        "ppo", tmp_path / "sub" / "mine.yml", env_kwargs={"dataset": tmp_path / "d.npz"}, hyperparams={"n_steps": 40}
    )
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    for env_id in ZOO_ENV_IDS:
        assert written[env_id]["env_kwargs"] == {
            **SHARED_ENV_KWARGS,
            "episode_size": PASS_LENGTH,
            "dataset": str(tmp_path / "d.npz"),
        }
        assert written[env_id]["n_steps"] == 40 and written[env_id]["gamma"] == 0.0
    assert load_zoo_hyperparams("ppo")["FERSelect-v0"]["n_steps"] == PASS_LENGTH  # the shipped file is untouched


# ------------------------------------------------------------------ the search spaces


def _draw(algo: str, pass_length: int, n: int = 30) -> list[tuple[dict, dict]]:
    optuna = pytest.importorskip("optuna")
    from agents.zoo.samplers import CONVERTERS, SAMPLERS

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = []
    for _ in range(n):
        trial = study.ask()
        trial.set_user_attr("pass_length", pass_length)
        hyperparams = SAMPLERS[algo](trial, 0, 1, {})
        drawn.append((hyperparams, CONVERTERS[algo](trial.params)))
        study.tell(trial, 0.0)
    return drawn


def test_ppo_search_keeps_gamma_zero_and_whole_passes():
    drawn = _draw("ppo", pass_length=40)
    for hyperparams, converted in drawn:
        assert hyperparams == converted  # what --trial-id reloads is what the trial trained with
        assert hyperparams["gamma"] == 0.0 and hyperparams["gae_lambda"] == 1.0
        assert hyperparams["n_steps"] in (40, 80, 160)
        assert 1 <= hyperparams["batch_size"] <= hyperparams["n_steps"]
    assert {h["n_steps"] for h, _ in drawn} == {40, 80, 160}  # every choice is reachable


def test_a2c_search_keeps_gamma_zero_and_divides_the_pass():
    drawn = _draw("a2c", pass_length=2048)
    for hyperparams, converted in drawn:
        assert hyperparams == converted
        assert hyperparams["gamma"] == 0.0
        assert 2048 % hyperparams["n_steps"] == 0 and hyperparams["n_steps"] >= 128


def test_sampler_without_pass_length_says_how_to_run():
    optuna = pytest.importorskip("optuna")
    from agents.zoo.samplers import sample_ppo_params

    trial = optuna.create_study().ask()
    with pytest.raises(ValueError, match=r"pass_length.*agents\.zoo\.train"):
        sample_ppo_params(trial, 0, 1, {})


def test_rl_zoo3_ships_no_top_level_agents():
    """rl_zoo3 must not shadow this package's top-level ``agents`` name."""
    pytest.importorskip("rl_zoo3")
    top_levels = {Path(str(f)).parts[0] for f in importlib.metadata.distribution("rl_zoo3").files or []}
    assert "agents" not in top_levels and "agents.py" not in top_levels


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("zoo") / "tiny.npz"
    make_blob_dataset(n_train=N_TRAIN, n_val=21, n_test=21, noise_rate=0.25).to_npz(path)
    return path


def _run(module: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}  # the tiny classifier warns
    common = ["--seed", "0", "--num-threads", "1", "--device", "cpu", "--verbose", "0", "-f", str(cwd / "logs")]
    result = subprocess.run(
        [sys.executable, "-m", module, *args, *common], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_plain_rl_zoo3_trains_ppo_with_the_shipped_file(tiny_npz, tmp_path, monkeypatch):
    """The documented plain command (--env-kwargs replaces the file's env_kwargs, so all of them are given),
    then docs/rl_zoo3.md's Python examples on its output: the selection pass of the trained policy."""
    pytest.importorskip("rl_zoo3")
    env_kwargs = {**SHARED_ENV_KWARGS, "episode_size": N_TRAIN, "dataset": str(tiny_npz), "classifier_config": TINY}
    args = ["--algo", "ppo", "--env", "FERSelectLabelAware-v0", "--gym-packages", "fer_select_env"]
    args += ["-conf", str(zoo_hyperparams_path("ppo")), "-n", "120", "--eval-freq", "-1"]
    args += ["-params", f"n_steps:{N_TRAIN}", "batch_size:20"]
    args += ["--env-kwargs", *(f"{k}:{v!r}" for k, v in env_kwargs.items())]
    _run("rl_zoo3.train", args, tmp_path)
    run = tmp_path / "logs" / "ppo" / "FERSelectLabelAware-v0_1"
    assert (run / "FERSelectLabelAware-v0.zip").is_file()
    assert (run / "FERSelectLabelAware-v0" / "vecnormalize.pkl").is_file()  # normalize: took effect
    model = PPO.load(run / "FERSelectLabelAware-v0.zip", device="cpu")
    assert (model.gamma, model.gae_lambda, model.n_steps, model.n_epochs) == (0.0, 1.0, N_TRAIN, 4)
    assert model.observation_space.shape == (2 * TINY["feature_dim"] + 2 * 3 + 1,)  # label-aware, 3 classes

    # the docs' examples build FERSelectLabelAware-v0 with its defaults: make those the tiny data and classifier
    monkeypatch.setitem(gym.registry["FERSelectLabelAware-v0"].kwargs, "dataset", str(tiny_npz))
    monkeypatch.setitem(gym.registry["FERSelectLabelAware-v0"].kwargs, "classifier_config", TINY)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(DOC_BLOCK.findall((ROOT / "docs" / "rl_zoo3.md").read_text(encoding="utf-8"))):
        exec(compile(block, f"rl_zoo3.md[{i}]", "exec"), namespace)
    assert namespace["selection"].kept.shape == (N_TRAIN,)
    assert (tmp_path / "ppo_my_faces.yml").is_file()


def test_runner_trains_a2c_and_evaluates_on_the_files_env(tiny_npz, tmp_path):
    """Through agents.zoo.train the file's env_kwargs also build the evaluation env (plain rl-zoo3 2.9.2 would
    evaluate on FERSelect's defaults: the default dataset, whose observations do not fit the model)."""
    pytest.importorskip("rl_zoo3")
    config = write_zoo_config(
        "a2c",
        tmp_path / "a2c.yml",
        env_kwargs={"dataset": str(tiny_npz), "classifier_config": TINY, "episode_size": N_TRAIN},
        hyperparams={"n_steps": N_TRAIN // 2},  # divides the pass, as the file's 256 divides 2048
    )
    args = ["--algo", "a2c", "--env", "FERSelectLabelAware-v0", "-conf", str(config), "-n", "120"]
    _run("agents.zoo.train", [*args, "--eval-freq", "60", "--eval-episodes", "1"], tmp_path)
    run = tmp_path / "logs" / "a2c" / "FERSelectLabelAware-v0_1"
    assert (run / "FERSelectLabelAware-v0.zip").is_file()
    with np.load(run / "evaluations.npz") as evaluations:
        assert evaluations["timesteps"].tolist() == [60, 120]
        assert (evaluations["ep_lengths"] == N_TRAIN).all()  # the file's episode_size, not the default data's


def test_runner_optimizes_ppo_in_the_fer_search_space(tiny_npz, tmp_path):
    pytest.importorskip("rl_zoo3")
    config = write_zoo_config(
        "ppo",
        tmp_path / "ppo.yml",
        env_kwargs={"dataset": str(tiny_npz), "classifier_config": TINY, "episode_size": N_TRAIN},
        hyperparams={"n_steps": N_TRAIN, "batch_size": 20},
    )
    args = ["--algo", "ppo", "--env", "FERSelectLabelAware-v0", "-conf", str(config), "-n", "80", "-optimize"]
    args += ["--n-trials", "2", "--n-evaluations", "1", "--eval-episodes", "1", "--sampler", "random"]
    _run("agents.zoo.train", [*args, "--pruner", "none", "--no-optim-plots"], tmp_path)
    (report,) = (tmp_path / "logs" / "ppo").glob("report_FERSelectLabelAware-v0_2-trials-80-random-none_*.csv")
    with open(report, newline="", encoding="utf-8") as f:
        trials = list(csv.DictReader(f))
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE"]
    for t in trials:
        assert float(t["user_attrs_gamma"]) == 0.0 and int(t["user_attrs_pass_length"]) == N_TRAIN
        assert int(t["params_n_steps"]) in (N_TRAIN, 2 * N_TRAIN, 4 * N_TRAIN)
