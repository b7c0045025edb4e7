"""What users of the wider ecosystem do by habit works: stepping under ``torch.no_grad()`` or
``torch.inference_mode()``, fork-started vector envs, and reading the pictures, logs and warnings (issue 15:
items 1, 2, 6 and 8)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import data_equivalence

from agents import REINFORCE
from agents.experiment.cli import main
from agents.experiment.report import classifier_checks, near_chance_note
from agents.experiment.results_tables import benchmark_table
from fer_select_env import FERDataset, FERSelectEnv
from fer_select_env.envs.select import plots
from fer_select_env.models import ClassifierConfig
from fer_select_env.models.chance import (
    ChanceCheck,
    ClassifierNearChanceWarning,
    chance_level,
    check_near_chance,
    pretrained_classifier_check,
)
from fer_select_env.testing import SELECTOR_TEST_CONFIG, TINY_CLASSIFIER, make_blob_dataset

LEARNS = dataclasses.replace(SELECTOR_TEST_CONFIG, max_epochs=30, min_epochs=15)
"""Measured to leave the plateau on the 60-image blobs (validation accuracy 0.96; 15 epochs stay at 0.32)."""
TINY_CONFIG = ClassifierConfig(**TINY_CLASSIFIER)  # what the env and --classifier make of TINY_CLASSIFIER


def _tiny() -> FERDataset:
    return make_blob_dataset(n_train=12, n_val=9, n_test=9, noise_rate=0.25)


def _chance_data(n: int = 30) -> FERDataset:
    """Labels that no image predicts (pure pixel noise): any classifier is at chance on it."""
    rng = np.random.default_rng(0)

    def split(m: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.integers(0, 255, (m, 16, 16), dtype=np.uint8), rng.integers(0, 3, m)

    return FERDataset.from_arrays(*split(n), *split(n), *split(9))


# ------------------------------------------------------------------ item 1: the caller's grad mode
def _episodes(mode, cache, **kwargs) -> list:
    """Two whole episodes (built, pre-trained and stepped inside ``mode``): every reset and step output."""
    out = []
    with mode():
        env = FERSelectEnv(_tiny(), classifier_config=TINY_CLASSIFIER, cache_dir=cache, **kwargs)
        for episode in range(2):
            out.append(env.reset(seed=episode))
            actions = np.random.default_rng(episode).integers(0, 2, len(env.dataset.y_train))
            for a in actions:
                out.append(env.step(int(a)))
    return out


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode], ids=["no_grad", "inference_mode"])
@pytest.mark.parametrize(
    "kwargs", [{"scoring": "cross_fit"}, {"retrain": "finetune", "reward": "dvrl"}], ids=["head", "finetune"]
)
def test_stepping_under_the_callers_grad_mode_gives_the_normal_results(mode, kwargs, tmp_path):
    # Each run pre-trains in its own cache, so the pre-training runs under the mode too.
    normal = _episodes(contextlib.nullcontext, tmp_path / "normal", **kwargs)
    other = _episodes(mode, tmp_path / "other", **kwargs)
    assert data_equivalence(normal, other)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()  # the caller's mode is restored


# ------------------------------------------------------------------ item 2: fork-started vector envs
_FORK_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, sys
    import numpy as np, torch, gymnasium as gym
    import fer_select_env
    from fer_select_env.testing import TINY_CLASSIFIER, make_blob_dataset

    def threads_in_child(kw):
        gym.make("FERSelect-v0", **kw)
        return torch.get_num_threads()

    def two_threads_in_child(kw):
        try:
            gym.make("FERSelect-v0", num_threads=2, **kw)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    if __name__ == "__main__":
        path = sys.argv[1] + "/d.npz"
        make_blob_dataset(n_train=40, n_val=12, n_test=9, noise_rate=0.2).to_npz(path)
        kw = {"dataset": path, "classifier_config": TINY_CLASSIFIER, "episode_size": 10, "cache_dir": sys.argv[1]}
        torch.set_num_threads(2)  # a thread pool in the parent, whatever the machine's core count
        gym.make("FERSelect-v0", **kw).reset(seed=0)  # the docs' warm-up: the parent runs torch
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(1) as pool:
            print("child threads", pool.apply(threads_in_child, (kw,)))
            print("child error:", pool.apply(two_threads_in_child, (kw,)))
        venv = gym.vector.AsyncVectorEnv([lambda: gym.make("FERSelect-v0", **kw) for _ in range(2)], context="fork")
        venv.reset(seed=0)
        for _ in range(25):  # two and a half episodes: two retrainings in each worker
            *_, infos = venv.step(np.ones(2, dtype=np.int64))
        venv.close()
        print("stepped", torch.get_num_threads())
    """
)


def _run_to_the_end(argv: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``argv`` in its own process group; on a hang, kill the group (forked workers included) and fail."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"hung for {timeout} s (deadlocked fork workers?); its output:\n{out}\n{err[-2000:]}")
    return proc.returncode, out, err


@pytest.mark.timeout(150)
def test_fork_started_vector_envs_run_and_refuse_threads_fast(tmp_path):
    # In a subprocess: a hang must not wedge the test process, and the parent's thread pool is ours to set.
    code, out, err = _run_to_the_end([sys.executable, "-W", "ignore", "-c", _FORK_SCRIPT, str(tmp_path)], 120)
    assert code == 0, err[-3000:]
    lines = out.splitlines()
    assert "child threads 1" in lines  # the env dropped a forked worker to one thread before any torch op
    error = next(line for line in lines if line.startswith("child error:"))
    assert "made by fork" in error and "spawn" in error  # num_threads=2 in a forked worker fails fast
    assert "stepped 2" in lines  # the parent's own thread count is untouched


def test_the_main_process_keeps_its_threads_and_num_threads_is_checked():
    before = torch.get_num_threads()
    FERSelectEnv(_tiny(), classifier_config=TINY_CLASSIFIER)
    assert torch.get_num_threads() == before
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="num_threads"):
            FERSelectEnv(_tiny(), num_threads=bad)


# ------------------------------------------------------------------ item 6: near chance
def test_chance_is_the_better_constant_guess_plus_two_standard_errors():
    balanced = np.arange(42) % 7
    assert chance_level(balanced, 7) == pytest.approx(1 / 7)
    # 2 * sqrt((1/7)(6/7)/42) = 0.10798
    check = check_near_chance(0.25, balanced, 7)
    assert check.threshold == pytest.approx(1 / 7 + 0.10798, abs=1e-5) and check.near_chance
    assert not check_near_chance(0.26, balanced, 7).near_chance
    skewed = np.array([0] * 30 + [1] * 10)  # a constant "0" scores 0.75: chance is the majority share
    assert chance_level(skewed, 7) == 0.75
    assert check_near_chance(0.80, skewed, 7).near_chance  # 0.75 + 2 * sqrt(.75 * .25 / 40) = 0.887
    assert not check_near_chance(float("nan"), np.array([], int), 7).near_chance  # no validation: no verdict
    with pytest.raises(ValueError, match="val_accuracy"):
        check_near_chance(1.5, balanced, 7)


def test_first_reset_warns_when_the_classifier_is_near_chance(tmp_path):
    env = FERSelectEnv(_chance_data(), classifier_config=TINY_CLASSIFIER, cache_dir=tmp_path)
    with pytest.warns(ClassifierNearChanceWarning, match=r"near chance: validation accuracy .* more data") as rec:
        env.reset(seed=0)
    ours = [w for w in rec if issubclass(w.category, ClassifierNearChanceWarning)]
    assert len(ours) == 1 and ours[0].filename == __file__  # it names the line that called reset
    assert env.classifier_check.near_chance
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassifierNearChanceWarning)
        env.reset(seed=1)  # once per env, not at every reset


def test_first_reset_is_silent_when_the_classifier_learned(tmp_path):
    env = FERSelectEnv(make_blob_dataset(noise_rate=0.2), classifier_config=LEARNS, cache_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassifierNearChanceWarning)
        env.reset(seed=0)
    assert not env.classifier_check.near_chance and env.classifier_check.val_accuracy > 0.8


def test_benchmark_table_warns_below_a_near_chance_classifier(tmp_path):
    checks = classifier_checks(_chance_data(), TINY_CONFIG, [0, 1], cache_dir=tmp_path, threads=1)
    assert [c["seed"] for c in checks] == [0, 1] and all(c["near_chance"] for c in checks)
    run = {"seed": 0, "test_macro_f1": 0.3, "test_accuracy": 0.3, "kept_fraction": 1.0,
           "removal_precision": None, "removal_recall": None, "removal_f1": None}  # fmt: skip
    results = {"meta": {"classifier_check": checks}, "agents": {"keep_all": {"runs": [run]}}}
    table = benchmark_table(results)
    assert "**Warning** (seed 0, 1; 2 of 2 seeds near chance)" in table and "more epochs" in table
    fine = {**checks[0], "val_accuracy": 0.99, "near_chance": False}
    assert near_chance_note({"meta": {"classifier_check": [fine]}}) is None
    assert "Warning" not in benchmark_table({"agents": results["agents"]})  # nothing recorded: nothing said
    # only_cached: a seed whose classifier was never pre-trained is not trained just to be judged
    assert classifier_checks(_chance_data(), TINY_CONFIG, [7], cache_dir=tmp_path, only_cached=True) == []


def test_clean_summary_warns_and_records_the_check(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(tmp_path / "cache"))
    _chance_data().to_npz(tmp_path / "noise.npz")
    argv = ["clean", "--data", str(tmp_path / "noise.npz"), "--classifier", json.dumps(TINY_CLASSIFIER)]
    with pytest.warns(ClassifierNearChanceWarning, match="behind 'cleanlab' is near chance") as rec:
        assert main([*argv, "--agent", "cleanlab", "--out", str(tmp_path / "c")]) in (0, 1)
    assert len([w for w in rec if issubclass(w.category, ClassifierNearChanceWarning)]) == 1  # said once
    check = json.loads((tmp_path / "c" / "summary.json").read_text())["classifier_check"]
    data = FERDataset.from_npz(tmp_path / "noise.npz")
    expected = pretrained_classifier_check(data, TINY_CONFIG, seed=0, cache_dir=tmp_path / "cache", only_cached=True)
    assert check["near_chance"] and check == expected.to_dict()
    # keep_all uses no classifier: nothing to judge, nothing trained for it
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassifierNearChanceWarning)
        assert main([*argv, "--agent", "keep_all", "--seed", "5", "--out", str(tmp_path / "k")]) == 0
    assert json.loads((tmp_path / "k" / "summary.json").read_text())["classifier_check"] is None
    assert ChanceCheck(**check).message().startswith("the embedded classifier is near chance")


# ------------------------------------------------------------------ item 8: smaller gaps
def test_render_shows_no_internal_key(tmp_path):
    env = FERSelectEnv(_tiny(), classifier_config=TINY_CLASSIFIER, cache_dir=tmp_path, render_mode="ansi")
    env.reset(seed=0)
    for _ in range(len(env.dataset.y_train)):
        env.step(1)
    text = env.render()
    assert "episode_reward=" in text and "val_accuracy=" in text
    assert "_episode_reward" not in text and "retrained" not in text


def test_reinforce_logs_the_removal_scores_it_documents(tmp_path):
    env = FERSelectEnv(_tiny(), classifier_config=TINY_CLASSIFIER, cache_dir=tmp_path)
    model = REINFORCE("MlpPolicy", env, seed=0)
    model.pretrain(1)
    stats = model.pretrain_history[0]
    for key in ("env/removal_precision", "env/removal_recall", "env/removal_f1", "env/kept_fraction"):
        assert key in stats, key


def test_per_run_pictures_name_the_agent_and_seed(tmp_path, monkeypatch):
    figures = []
    save = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig) or save(fig, path))
    label = plots.run_title("reinforce", 3)
    history = [{"episode_reward": 1.0, "kept_fraction": 0.8, "val_accuracy": 0.5, "val_macro_f1": 0.4}] * 3
    plots.plot_episode_rewards(history, tmp_path / "a.png", run_label=label)
    plots.plot_selection_progress(history, tmp_path / "b.png", run_label=label)
    plots.plot_sample_reward_distribution([0.1, -0.2, 0.3], tmp_path / "c.png", run_label=label)
    ds = _tiny()
    p = np.linspace(0, 1, len(ds.y_train))
    plots.plot_image_gallery(ds.x_train, p, ds.y_train, ds.class_labels, tmp_path / "d.png", run_label=label)
    titles = [fig.axes[0].get_title() for fig in figures[:3]] + [figures[3].subfigs[0]._suptitle.get_text()]
    assert all(t.startswith("reinforce, seed 3: ") for t in titles), titles
    assert figures[0].axes[1].get_title() == "Retrained classifier on the validation split"  # once per picture
    plots.plot_episode_rewards(history, tmp_path / "e.png")
    assert figures[-1].axes[0].get_title() == "Reward per episode"  # unchanged without a label
