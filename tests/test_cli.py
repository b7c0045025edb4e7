"""The ``fer-select`` console script: every subcommand, its help, its errors, ``clean``'s outputs, and that an
interrupted ``train`` resumed from its checkpoint ends exactly as the uninterrupted run.

Subcommands run through the installed ``fer-select`` script when there is one, else ``python -m agents.experiment.cli``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch as th

from agents.experiment.benchmark import BenchmarkSettings, select
from agents.experiment.checkpoint import MANIFEST, read_checkpoint
from agents.experiment.cli import build_parser, main
from agents.experiment.settings import RLSettings
from fer_select_env import FERDataset
from fer_select_env.models import ClassifierConfig
from fer_select_env.testing import make_blob_dataset, write_fer2013_copy

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 3, "min_epochs": 1, "head_batch_size": 32, "head_max_epochs": 4}
BUDGET = ["--episodes", "3", "--pretrain-episodes", "1", "--min-gradient-steps", "0"]  # 4 passes of 40 images
SCRIPT = [shutil.which("fer-select")] if shutil.which("fer-select") else [sys.executable, "-m", "agents.experiment.cli"]


def _dataset(num_classes: int = 3, seed: int = 0) -> FERDataset:
    """40 training images with label noise, class names and per-split extras (``ident`` numbers the rows)."""
    ds = make_blob_dataset(n_train=40, n_val=21, n_test=21, num_classes=num_classes, noise_rate=0.25, seed=seed)
    return FERDataset.from_arrays(
        ds.x_train,
        ds.y_train,
        ds.x_val,
        ds.y_val,
        ds.x_test,
        ds.y_test,
        noise_train=ds.noise_train,
        class_names=[f"c{k}" for k in range(num_classes)],
        extras={"ident": np.arange(40), "votes": np.arange(80).reshape(40, 2)},
        extras_val={"ident": np.arange(21)},
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A scratch directory with the tiny npz and one cache shared by every subprocess of this module."""
    root = tmp_path_factory.mktemp("cli")
    _dataset().to_npz(root / "tiny.npz")
    return root


def _env(work: Path) -> dict[str, str]:
    return {**os.environ, "FER_SELECT_CACHE_DIR": str(work / "cache")}


def run_cli(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SCRIPT, *args], capture_output=True, text=True, env=_env(work), cwd=work, timeout=120)


def _train_args(work: Path, out: Path) -> list[str]:
    return ["train", "--data", str(work / "tiny.npz"), "--classifier", json.dumps(TINY), *BUDGET, "--out", str(out)]


@pytest.fixture(scope="module")
def trained(work):
    """``fer-select train`` run once, uninterrupted: the reference for resume and ``clean --selector``."""
    out = work / "uninterrupted"
    proc = run_cli(work, *_train_args(work, out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def interrupted(work):
    """``fer-select train`` stopped by a simulated Ctrl-C halfway through its 3rd pass (2 checkpointed)."""
    out = work / "interrupted"
    proc = run_cli(work, *_train_args(work, out), "--stop-after-episodes", "2")
    assert proc.returncode == 130, proc.stderr
    assert "interrupted" in proc.stderr and "--resume" in proc.stderr and "Traceback" not in proc.stderr
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _params(zip_path: Path) -> dict[str, th.Tensor]:
    from agents import REINFORCE

    return REINFORCE.load(zip_path).policy.state_dict()


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------- help
def _parser_of(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    if not command:
        return parser
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[command]


@pytest.mark.parametrize("command", ["", "train", "benchmark", "clean"])
def test_help_explains_every_flag(work, command):
    proc = run_cli(work, *command.split(), "--help")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith(f"usage: fer-select {command}".rstrip())
    for action in _parser_of(command)._actions:
        if action.option_strings:
            assert action.help and action.help != argparse.SUPPRESS, action.option_strings
            assert action.option_strings[-1] in proc.stdout
    if command == "":
        assert all(name in proc.stdout for name in ("train", "benchmark", "clean"))
    if command == "clean":
        assert "kept.npz" in proc.stdout and "soft sample weight" in proc.stdout


# ---------------------------------------------------------------------------------------------- errors
def test_wrong_flag_is_a_one_line_error(work):
    proc = run_cli(work, "clean", "--agent", "keep_all", "--out", "x", "--colour", "blue")
    assert proc.returncode == 2
    assert _one_error_line(proc.stderr) == (
        "fer-select clean: error: unrecognized arguments: --colour blue (see fer-select clean --help)"
    )


@pytest.mark.parametrize("content", [b"not an npz at all", None])
def test_malformed_npz_is_a_one_line_error(content, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    if content is None:
        np.savez(bad, x_train=np.zeros((3, 8, 8), np.uint8))  # a real npz without the required keys
    else:
        bad.write_bytes(content)
    assert main(["clean", "--data", str(bad), "--agent", "keep_all", "--out", str(tmp_path / "o")]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("fer-select clean: error: ") and "bad.npz" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--agent", "dqn"], "unknown agent(s) dqn; choose from keep_all"),
        (["train", "--agent", "cleanlab"], "has nothing to train"),
        (["clean", "--agent", "dqn"], "unknown agent(s) dqn"),
        (["clean"], "give --agent"),
        (["train", "--data", "missing.npz"], "no such file: missing.npz"),
        (["clean", "--agent", "keep_all", "--data", "missing.npz"], "no such file: missing.npz"),
        (["train", "--classifier", '{"widht": 3}'], "unknown ClassifierConfig field"),
        (["train", "--classifier", "[1]"], "expected a JSON object"),
        (["train", "--episodes", "-1"], "--episodes must be >= 0"),
        (["clean", "--selector", "nowhere/selector.zip"], "no such file: nowhere/selector.zip"),
        (["train"], "the following arguments are required: --out"),
    ],
)
def test_errors_are_one_line_and_nonzero(argv, message, tmp_path, capsys):
    argv = [*argv, "--out", str(tmp_path / "out")] if argv != ["train"] else argv
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"fer-select {argv[0]}: error: ") and message in line


def test_incompatible_or_damaged_selector_is_refused(work, trained, tmp_path, capsys):
    five = tmp_path / "five.npz"
    _dataset(num_classes=5).to_npz(five)
    assert main(["clean", "--data", str(five), "--selector", str(trained), "--out", str(tmp_path / "o")]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "incompatible selector" in line and "3 classes" in line and "5 classes" in line

    assert main(["clean", "--selector", str(trained), "--agent", "ppo", "--out", str(tmp_path / "o")]) == 2
    assert "trained as 'reinforce', not --agent 'ppo'" in _one_error_line(capsys.readouterr().err)

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(trained / "selector.zip", bare / "selector.zip")  # without its selector.json
    assert main(["clean", "--selector", str(bare), "--out", str(tmp_path / "o")]) == 2
    assert "selector.json is missing" in _one_error_line(capsys.readouterr().err)

    shutil.copy(trained / "selector.json", bare / "selector.json")
    (bare / "selector.zip").write_bytes(b"PK garbage")
    data = str(Path(work) / "tiny.npz")
    assert main(["clean", "--data", data, "--selector", str(bare), "--out", str(tmp_path / "o")]) == 2
    assert "cannot load selector" in _one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------------------------------------- clean
def test_clean_writes_csvs_and_a_loadable_kept_subset(work, tmp_path):
    out = tmp_path / "new" / "dir"  # created on demand
    proc = run_cli(work, "clean", "--data", str(work / "tiny.npz"), "--agent", "oracle", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "kept 30 of 40" in proc.stdout
    ds = FERDataset.from_npz(work / "tiny.npz")
    expected = np.flatnonzero(ds.noise_train == 0)

    rows = _read_csv(out / "kept.csv")
    assert list(rows[0]) == ["index", "keep_probability", "sample_reward", "label"]
    assert [int(r["index"]) for r in rows] == expected.tolist()
    assert all(r["keep_probability"] == "1.0" and r["sample_reward"] == "" for r in rows)  # oracle: no R_i
    assert [int(r["label"]) for r in rows] == ds.y_train[expected].tolist()
    every = _read_csv(out / "all.csv")
    assert list(every[0]) == ["index", "keep_probability", "sample_reward", "label", "kept"]
    assert len(every) == 40 and [int(r["kept"]) for r in every] == (ds.noise_train == 0).astype(int).tolist()

    kept = FERDataset.from_npz(out / "kept.npz")
    np.testing.assert_array_equal(kept.x_train, ds.x_train[expected])
    np.testing.assert_array_equal(kept.y_train, ds.y_train[expected])
    np.testing.assert_array_equal(kept.noise_train, np.zeros(30))
    np.testing.assert_array_equal(kept.extras["ident"], expected)  # extras follow their rows
    np.testing.assert_array_equal(kept.extras["votes"], ds.extras["votes"][expected])
    for split in ("val", "test"):  # untouched
        np.testing.assert_array_equal(kept.split(split)[0], ds.split(split)[0])
        np.testing.assert_array_equal(kept.split(split)[1], ds.split(split)[1])
    np.testing.assert_array_equal(kept.extras_val["ident"], np.arange(21))
    assert kept.class_names == ds.class_names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agent"] == "oracle" and summary["n_kept"] == 30 and summary["removal_f1"] == 1.0


def test_clean_trains_an_rl_agent_and_reports_sample_rewards(work, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(work / "cache"))
    argv = ["clean", "--data", str(work / "tiny.npz"), "--agent", "reinforce_paper", "--classifier", json.dumps(TINY)]
    code = main([*argv, "--episodes", "1", "--pretrain-episodes", "0", "--out", str(tmp_path)])
    every = _read_csv(tmp_path / "all.csv")
    assert len(every) == 40 and all(r["sample_reward"] != "" for r in every)
    kept = [r for r in every if r["kept"] == "1"]
    # Whatever a one-pass selector keeps, kept.csv, kept.npz and the exit status agree with it.
    assert len(_read_csv(tmp_path / "kept.csv")) == len(kept)
    if kept:
        assert code == 0 and len(FERDataset.from_npz(tmp_path / "kept.npz").y_train) == len(kept)
    else:
        assert code == 1 and not (tmp_path / "kept.npz").exists()
        assert "keeps no training image" in _one_error_line(capsys.readouterr().err)


def test_clean_with_a_trained_selector_reproduces_its_selection(work, trained, tmp_path):
    out = tmp_path / "cleaned"
    proc = run_cli(
        work, "clean", "--data", str(work / "tiny.npz"), "--selector", str(trained / "selector.zip"), "--out", str(out)
    )
    every = _read_csv(out / "all.csv")
    # Same data, same seed: a fresh env and the saved selector give train's own final selection, no training.
    assert every == _read_csv(trained / "selection.csv")
    assert proc.returncode == (0 if any(r["kept"] == "1" for r in every) else 1), proc.stderr
    assert "scored" in proc.stdout and "training reinforce" not in proc.stdout
    # A new dataset with the same classes is scored too.
    other = tmp_path / "other.npz"
    _dataset(seed=5).to_npz(other)
    assert main(["clean", "--data", str(other), "--selector", str(trained), "--out", str(tmp_path / "o2")]) in (0, 1)
    base = ["clean", "--data", str(work / "tiny.npz"), "--selector", str(trained)]
    assert len(_read_csv(tmp_path / "o2" / "all.csv")) == 40
    # --rl-selection reaches the saved selector too: under "policy" an image is kept iff p > 1/2.
    assert main([*base, "--rl-selection", "policy", "--out", str(tmp_path / "o3")]) in (0, 1)
    rows = _read_csv(tmp_path / "o3" / "all.csv")
    assert [r["kept"] == "1" for r in rows] == [float(r["keep_probability"]) > 0.5 for r in rows]
    assert [r["keep_probability"] for r in rows] == [r["keep_probability"] for r in every]


# ---------------------------------------------------------------------------------------------- benchmark
def test_benchmark_subcommand_is_the_benchmark_engine(work, tmp_path, capsys):
    out = tmp_path / "results.json"
    args = ["--data", str(work / "tiny.npz"), "--agents", "keep_all,oracle", "--classifier", json.dumps(TINY),
            "--final-min-steps", "0"]  # fmt: skip
    proc = run_cli(work, "benchmark", *args, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert set(results["agents"]) == {"keep_all", "oracle"} and "macro-F1" in proc.stdout
    assert main(["benchmark", *args, "--agents", "keep_all,dqn", "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("fer-select benchmark: error: unknown agent(s) dqn")


# ---------------------------------------------------------------------------------------------- train / resume
def test_train_writes_selector_history_and_checkpoint(trained):
    meta = json.loads((trained / "selector.json").read_text())
    assert (meta["agent"], meta["algorithm"], meta["observation"]) == ("reinforce", "REINFORCE", "label_aware")
    assert meta["observation_shape"] == [2 * 16 + 2 * 3 + 1] and meta["classifier_config"]["width"] == 4
    history = json.loads((trained / "history.json").read_text())
    assert len(history) == 4 and history[0]["pretrain"] == 1.0 and "pretrain" not in history[1]
    assert {"episode_reward", "kept_fraction", "removal_f1"} <= set(history[1])
    checkpoint = read_checkpoint(trained / "checkpoint")
    assert checkpoint is not None and checkpoint.units_done == 4 and checkpoint.manifest["unit"] == "pass"
    assert {p.name for p in (trained / "checkpoint").iterdir()} == {MANIFEST, "unit-00004"}


def test_resumed_training_ends_as_the_uninterrupted_run(work, trained, interrupted, tmp_path):
    out = _copy(interrupted, tmp_path / "resumed")
    assert read_checkpoint(out / "checkpoint").units_done == 2
    assert not (out / "selector.zip").exists()
    # A checkpoint directory without a manifest entry (a write cut short) is ignored and replaced.
    (out / "checkpoint" / "unit-00003").mkdir()
    (out / "checkpoint" / "unit-00003" / "selector.zip").write_bytes(b"half")
    proc = run_cli(work, *_train_args(work, out), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "resuming reinforce" in proc.stdout and "after 2 passes" in proc.stdout

    final, reference = _params(out / "selector.zip"), _params(trained / "selector.zip")
    assert final.keys() == reference.keys()
    for key in final:
        assert th.equal(final[key], reference[key]), key
    assert (out / "selection.csv").read_bytes() == (trained / "selection.csv").read_bytes()
    assert json.loads((out / "history.json").read_text()) == json.loads((trained / "history.json").read_text())
    assert {p.name for p in (out / "checkpoint").iterdir()} == {MANIFEST, "unit-00004"}


def test_resume_needs_the_flag_and_the_same_settings(work, interrupted, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(work / "cache"))
    out = _copy(interrupted, tmp_path / "run")
    assert main(_train_args(work, out)) == 2
    assert "holds a checkpoint (2 passes of 4 done): add --resume" in _one_error_line(capsys.readouterr().err)
    assert main([*_train_args(work, out), "--resume", "--seed", "1"]) == 2
    assert "different seed (0, not 1)" in _one_error_line(capsys.readouterr().err)
    env_state = next((out / "checkpoint").glob("unit-*")) / "env_state.pt"
    env_state.write_bytes(env_state.read_bytes()[:-10])
    assert main([*_train_args(work, out), "--resume"]) == 2
    assert "missing or damaged" in _one_error_line(capsys.readouterr().err)


def test_checkpoint_without_manifest_is_ignored(work, interrupted, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(work / "cache"))
    out = _copy(interrupted, tmp_path / "run")
    (out / "checkpoint" / MANIFEST).unlink()
    assert read_checkpoint(out / "checkpoint") is None
    assert main([*_train_args(work, out), "--resume"]) == 0
    assert "no valid checkpoint" in capsys.readouterr().out
    assert len(json.loads((out / "history.json").read_text())) == 4  # trained from the first pass
    assert read_checkpoint(out / "checkpoint").units_done == 4


def test_train_matches_the_benchmark_selectors_and_resumes_ppo(work, tmp_path, monkeypatch):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(work / "cache"))
    ds = FERDataset.from_npz(work / "tiny.npz")
    settings = BenchmarkSettings(
        rl=RLSettings(episodes=3, pretrain_episodes=1, min_gradient_steps=None),
        classifier_config=ClassifierConfig(**TINY),
    )
    for agent in ("reinforce", "ppo"):
        whole, parts = tmp_path / f"{agent}_whole", tmp_path / f"{agent}_parts"
        assert main([*_train_args(work, whole), "--agent", agent]) == 0
        assert main([*_train_args(work, parts), "--agent", agent, "--stop-after-episodes", "2"]) == 130
        assert main([*_train_args(work, parts), "--agent", agent, "--resume"]) == 0
        assert (whole / "selection.csv").read_bytes() == (parts / "selection.csv").read_bytes(), agent
        # The same selection as the benchmark's selector with the same settings and seed.
        probs = np.array([float(r["keep_probability"]) for r in _read_csv(whole / "selection.csv")])
        np.testing.assert_array_equal(probs, select(agent, ds, 0, settings).keep_probability)
    # PPO's observation statistics travel as numbers in selector.json (no pickle next to the selector).
    stats = json.loads((tmp_path / "ppo_whole" / "selector.json").read_text())["vec_normalize"]
    assert len(stats["obs_rms"]["mean"]) == 2 * 16 + 2 * 3 + 1 and stats["obs_rms"]["count"] > 1
    assert not list((tmp_path / "ppo_whole").glob("*.pkl"))


def test_clean_reads_the_fer2013_evaluation_copy_and_reports_ferplus(work, tmp_path):
    path = tmp_path / "fer2013.npz"
    write_fer2013_copy(path, n=42)
    out = tmp_path / "clean"
    proc = run_cli(work, "clean", "--data", str(path), "--agent", "keep_all", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "labels disputed by the FER+ majority" in proc.stdout


def test_stratified_subset_keeps_every_class_in_proportion():
    ds = make_blob_dataset(n_train=90, n_val=12, n_test=12, num_classes=3, noise_rate=0.2, seed=4)
    sub = ds.stratified_train_subset(30, seed=0)
    assert len(sub.y_train) == 30
    expected = np.bincount(ds.y_train, minlength=3) * 30 / 90
    assert np.abs(np.bincount(sub.y_train, minlength=3) - expected).max() <= 0.5  # rounded per class
    # Rows are a subset in file order, with their noise ground truth; val and test are untouched.
    rows = [int(np.flatnonzero((ds.x_train == x).all(axis=(1, 2)))[0]) for x in sub.x_train]
    assert rows == sorted(rows)
    np.testing.assert_array_equal(sub.noise_train, ds.noise_train[rows])
    np.testing.assert_array_equal(sub.x_val, ds.x_val)
    assert ds.stratified_train_subset(1000, seed=0) is ds
    assert ds.stratified_train_subset(30, seed=0).fingerprint() == sub.fingerprint()
