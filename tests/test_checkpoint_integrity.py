"""Damaged and inconsistent checkpoints (issue 14, item 8): every one is a ValueError naming the file.

A truncated ``env_state.pt`` or ``trainer.pt`` (its manifest re-signed, so that the sha256 check passes),
a manifest whose ``units_done`` disagrees with the unit's own files, and a ``directory`` that points
outside the checkpoint root are refused, and ``train --resume`` reports them as one line with status 2.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from agents.experiment.checkpoint import MANIFEST, CheckpointError, read_checkpoint
from agents.experiment.cli import main
from fer_select_env import FERSelectEnv
from fer_select_env.testing import make_blob_dataset

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 2, "min_epochs": 1, "head_batch_size": 32, "head_max_epochs": 2}


def _train_args(data: Path, out: Path, episodes: int) -> list[str]:
    budget = ["--episodes", str(episodes), "--pretrain-episodes", "1", "--min-gradient-steps", "0"]
    return ["train", "--data", str(data), "--classifier", json.dumps(TINY), *budget, "--out", str(out)]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A tiny dataset, its cache, and a finished 3-pass REINFORCE run (1 pre-training pass + 2)."""
    root = tmp_path_factory.mktemp("integrity")
    make_blob_dataset(n_train=24, n_val=12, n_test=12, num_classes=3, noise_rate=0.25).to_npz(root / "tiny.npz")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_SELECT_CACHE_DIR", str(root / "cache"))
        assert main(_train_args(root / "tiny.npz", root / "run", 2)) == 0
    return root


@pytest.fixture
def run(work, tmp_path, monkeypatch):
    """A copy of the finished run, to damage."""
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(work / "cache"))
    return shutil.copytree(work / "run", tmp_path / "run")


def _manifest(run: Path) -> dict:
    return json.loads((run / "checkpoint" / MANIFEST).read_text())


def _write_manifest(run: Path, manifest: dict, resign: bool = True) -> None:
    if resign:  # what anyone who damages or plants a file can do: the sha256 then proves nothing
        directory = run / "checkpoint" / manifest["directory"]
        for name in manifest["files"]:
            if (directory / name).is_file():
                manifest["files"][name]["sha256"] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    (run / "checkpoint" / MANIFEST).write_text(json.dumps(manifest))


def _resume(work: Path, run: Path, capsys) -> tuple[int, str]:
    code = main([*_train_args(work / "tiny.npz", run, 4), "--resume"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) <= 1 and "Traceback" not in err and "unexpected" not in err, err
    return code, lines[0] if lines else ""


@pytest.mark.parametrize("name", ["env_state.pt", "trainer.pt", "policy.pt", "optimizer.pt"])
def test_a_truncated_file_is_an_error_naming_it(work, run, capsys, name):
    manifest = _manifest(run)
    path = run / "checkpoint" / manifest["directory"] / name
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    _write_manifest(run, manifest)
    code, line = _resume(work, run, capsys)
    assert code == 2 and str(path) in line and "not a readable torch file" in line


def test_a_truncated_env_state_is_a_value_error_for_the_env_too(work, tmp_path):
    env = FERSelectEnv(make_blob_dataset(n_train=12, n_val=6, n_test=6), classifier_config=TINY, cache_dir=tmp_path)
    env.reset(seed=0)
    env.save_state(tmp_path / "state.pt")
    data = (tmp_path / "state.pt").read_bytes()
    (tmp_path / "state.pt").write_bytes(data[:-40])
    with pytest.raises(ValueError, match=r"state\.pt: not a readable torch file"):
        env.load_state(tmp_path / "state.pt")


def test_units_done_must_match_the_units_own_state(work, run, capsys):
    manifest = _manifest(run)
    assert manifest["units_done"] == 3 and manifest["directory"] == "unit-00003"
    _write_manifest(run, {**manifest, "units_done": 2})
    with pytest.raises(CheckpointError, match="'units_done' is 2 but 'directory' is unit-00003"):
        read_checkpoint(run / "checkpoint")
    assert _resume(work, run, capsys)[0] == 2

    # Renaming the directory to match does not help: the unit's own trainer.pt says 3.
    (run / "checkpoint" / "unit-00003").rename(run / "checkpoint" / "unit-00002")
    _write_manifest(run, {**manifest, "units_done": 2, "directory": "unit-00002"})
    code, line = _resume(work, run, capsys)
    assert code == 2 and "trainer.pt holds the state after 3 units" in line and "says 2" in line


def test_timesteps_and_history_must_match_units_done(work, run, capsys):
    manifest = _manifest(run)
    _write_manifest(run, {**manifest, "num_timesteps": manifest["num_timesteps"] + 24})
    code, line = _resume(work, run, capsys)
    assert code == 2 and "does not hold the state after 3 units" in line and "inconsistent" in line


@pytest.mark.parametrize(
    "directory", ["../elsewhere", "/tmp", "unit-00003/../unit-00003", "sub/unit-00003", "unit-3", "", None, 3]
)
def test_the_directory_must_be_a_unit_child_of_the_root(work, run, capsys, directory):
    manifest = _manifest(run)
    _write_manifest(run, {**manifest, "directory": directory}, resign=False)
    with pytest.raises(ValueError, match="'directory' must name a unit directory"):
        read_checkpoint(run / "checkpoint")
    code, line = _resume(work, run, capsys)
    assert code == 2 and "'directory' must name a unit directory" in line


def test_units_done_and_files_are_checked(work, run):
    manifest = _manifest(run)
    for bad in (0, -1, "3", True, None):
        _write_manifest(run, {**manifest, "units_done": bad}, resign=False)
        with pytest.raises(CheckpointError, match="'units_done' must be a positive integer"):
            read_checkpoint(run / "checkpoint")
    files = {**manifest["files"], "../../outside": {"sha256": "0"}}
    _write_manifest(run, {**manifest, "files": files}, resign=False)
    with pytest.raises(CheckpointError, match="'files' must list exactly"):
        read_checkpoint(run / "checkpoint")


def test_the_intact_checkpoint_still_resumes(work, run, capsys):
    code, _ = _resume(work, run, capsys)
    assert code == 0
    assert read_checkpoint(run / "checkpoint").units_done == 5
