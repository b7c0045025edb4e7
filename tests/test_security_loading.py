"""No file the package loads may run code (issue 14, item 1).

Every load path gets a planted pickle whose ``__reduce__`` creates a marker file when it is unpickled: the
env's ``load_state``, every file of a ``train --resume`` checkpoint (its manifest re-signed, as whoever
plants a file can do), ``clean --selector`` (SB3's pickled ``data`` entries, the ``policy.pth`` member, a
``VecNormalize`` pickle next to the selector), and both caches. Loading must refuse or ignore the file, and
the marker must never appear. The first test shows that the payload does fire when something unpickles it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.experiment.cli import main
from agents.reinforce import REINFORCE
from fer_select_env import FERSelectEnv
from fer_select_env.core.serialization import load_tensor_file, tensor_file_bytes, to_tensor_tree
from fer_select_env.data.resolve import load_or_make_synthetic
from fer_select_env.models import ClassifierConfig, pretrain_cache_path, pretrain_classifier
from fer_select_env.testing import make_blob_dataset

TINY = {"width": 4, "feature_dim": 16, "max_epochs": 2, "min_epochs": 1, "head_batch_size": 32, "head_max_epochs": 2}
UNIT_FILES = ("policy.pt", "optimizer.pt", "env_state.pt", "trainer.pt")


class Payload:
    """Unpickling this creates the file ``marker`` (a stand-in for any code a crafted file could run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _payload_bytes(marker: Path) -> bytes:
    return pickle.dumps({"format": 2, "state": Payload(marker)}, protocol=2)


def _torch_payload(path: Path, marker: Path) -> None:
    torch.save({"format": 2, "state": Payload(marker)}, path)


def _resign(root: Path) -> None:
    """Recompute the manifest's sha256 of every file, as anyone who can plant a file can."""
    manifest = json.loads((root / "checkpoint.json").read_text())
    directory = root / manifest["directory"]
    for name in manifest["files"]:
        data = (directory / name).read_bytes()
        manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (root / "checkpoint.json").write_text(json.dumps(manifest))


def _train_args(data: Path, out: Path, agent: str = "reinforce", episodes: int = 1) -> list[str]:
    return [
        "train",
        "--data",
        str(data),
        "--agent",
        agent,
        "--classifier",
        json.dumps(TINY),
        "--episodes",
        str(episodes),
        "--pretrain-episodes",
        "1" if agent == "reinforce" else "0",
        "--out",
        str(out),
    ]


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A tiny dataset, one cache, and one finished REINFORCE and PPO ``train`` run (2 units and 1 unit)."""
    root = tmp_path_factory.mktemp("security")
    make_blob_dataset(n_train=24, n_val=12, n_test=12, num_classes=3, noise_rate=0.25).to_npz(root / "tiny.npz")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_SELECT_CACHE_DIR", str(root / "cache"))
        for agent in ("reinforce", "ppo"):
            assert main(_train_args(root / "tiny.npz", root / agent, agent)) == 0
    return root


@pytest.fixture
def cache_env(work, monkeypatch):
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(work / "cache"))
    return work


def test_the_payload_fires_when_unpickled(tmp_path):
    marker = tmp_path / "marker"
    pickle.loads(_payload_bytes(marker))
    assert marker.exists()  # so that every "marker absent" below means something


# ---------------------------------------------------------------------------------------------- the env
def test_env_load_state_refuses_a_pickle(tmp_path):
    env = FERSelectEnv(make_blob_dataset(n_train=12, n_val=6, n_test=6), classifier_config=TINY, cache_dir=tmp_path)
    marker, path = tmp_path / "marker", tmp_path / "state.pt"
    _torch_payload(path, marker)
    with pytest.raises(ValueError, match=r"state\.pt: refused to load"):
        env.load_state(path)
    assert not marker.exists()


def test_an_old_pickled_env_state_is_named_as_such(tmp_path):
    env = FERSelectEnv(make_blob_dataset(n_train=12, n_val=6, n_test=6), classifier_config=TINY, cache_dir=tmp_path)
    torch.save({"format": 1, "probs_train": np.zeros(3)}, tmp_path / "old.pt")  # numpy pickled, as format 1 did
    with pytest.raises(ValueError, match="older version of fer-select"):
        env.load_state(tmp_path / "old.pt")


def test_tensor_files_round_trip_arrays_and_refuse_objects(tmp_path):
    state = {"a": np.arange(5, dtype=np.uint32), "b": (np.ones(2, bool), 3, None), "t": torch.ones(2), "s": np.int64(4)}
    (tmp_path / "s.pt").write_bytes(tensor_file_bytes(state))
    back = load_tensor_file(tmp_path / "s.pt")
    assert back["a"].dtype == np.uint32 and back["a"].tolist() == [0, 1, 2, 3, 4]
    assert back["b"][0].dtype == bool and back["b"][1:] == (3, None) and torch.equal(back["t"], torch.ones(2))
    assert back["s"] == 4 and type(back["s"]) is int
    with pytest.raises(ValueError, match="dtype object"):
        to_tensor_tree({"x": np.array([object()])})


# ---------------------------------------------------------------------------------------------- train --resume
@pytest.mark.parametrize("name", UNIT_FILES)
def test_resume_refuses_a_pickle_in_any_checkpoint_file(cache_env, tmp_path, capsys, name):
    out = tmp_path / "run"
    shutil.copytree(cache_env / "reinforce", out)
    (unit,) = (out / "checkpoint").glob("unit-*")
    marker = tmp_path / "marker"
    _torch_payload(unit / name, marker)
    _resign(out / "checkpoint")
    assert main([*_train_args(cache_env / "tiny.npz", out, episodes=2), "--resume"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert name in line and "refused to load" in line
    assert not marker.exists()


def test_resume_never_reads_planted_pickles_beside_the_checkpoint(cache_env, tmp_path):
    """An SB3 zip and a VecNormalize pickle in a PPO unit (what format 1 read) are not looked at."""
    out = tmp_path / "ppo"
    shutil.copytree(cache_env / "ppo", out)
    (unit,) = (out / "checkpoint").glob("unit-*")
    marker = tmp_path / "marker"
    (unit / "vecnormalize.pkl").write_bytes(_payload_bytes(marker))
    (unit / "selector.zip").write_bytes(_payload_bytes(marker))
    assert main([*_train_args(cache_env / "tiny.npz", out, "ppo", episodes=2), "--resume"]) == 0
    assert not marker.exists()


def test_resume_refuses_a_format_1_checkpoint(cache_env, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(cache_env / "reinforce", out)
    manifest = json.loads((out / "checkpoint" / "checkpoint.json").read_text())
    (out / "checkpoint" / "checkpoint.json").write_text(json.dumps({**manifest, "format": 1}))
    assert main([*_train_args(cache_env / "tiny.npz", out, episodes=2), "--resume"]) == 2
    assert "older version of fer-select" in _one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------------------------------------- clean --selector
def _rewrite_zip(path: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in {**members, **replace}.items():
            archive.writestr(name, data)


def _poison_sb3_data(path: Path, marker: Path) -> None:
    """Replace the serialized entries of SB3's ``data`` with the payload, base64 as SB3 writes them."""
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("data"))
    encoded = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    for value in data.values():
        if isinstance(value, dict) and ":serialized:" in value:
            value[":serialized:"] = encoded
    _rewrite_zip(path, {"data": json.dumps(data).encode()})


@pytest.mark.parametrize("agent", ["reinforce", "ppo"])
def test_clean_selector_never_unpickles_sb3_data_or_vecnormalize(cache_env, tmp_path, agent):
    selector = tmp_path / "sel"
    shutil.copytree(cache_env / agent, selector)
    marker = tmp_path / "marker"
    _poison_sb3_data(selector / "selector.zip", marker)
    (selector / "selector_vecnormalize.pkl").write_bytes(_payload_bytes(marker))
    (selector / "vecnormalize.pkl").write_bytes(_payload_bytes(marker))
    args = ["clean", "--data", str(cache_env / "tiny.npz"), "--selector", str(selector), "--out", str(tmp_path / "o")]
    assert main(args) in (0, 1)  # scored (1: it kept nothing), from the weights and selector.json alone
    assert not marker.exists()
    expected = (cache_env / agent / "selection.csv").read_text()
    assert (tmp_path / "o" / "all.csv").read_text() == expected


def test_sb3_load_of_the_same_zip_runs_the_payload_as_documented(cache_env, tmp_path):
    """What ``clean --selector`` avoids: SB3's own ``load`` unpickles ``data`` (REINFORCE.load says so)."""
    path = tmp_path / "selector.zip"
    shutil.copy(cache_env / "reinforce" / "selector.zip", path)
    marker = tmp_path / "marker"
    _poison_sb3_data(path, marker)
    with pytest.raises(Exception):  # noqa: B017 (whatever SB3 makes of the file object it got)
        REINFORCE.load(path)
    assert marker.exists()
    assert "unpickles" in REINFORCE.load.__doc__ and "trust" in REINFORCE.load.__doc__


def test_clean_selector_refuses_a_pickled_policy_member(cache_env, tmp_path, capsys):
    selector = tmp_path / "sel"
    shutil.copytree(cache_env / "reinforce", selector)
    marker = tmp_path / "marker"
    _rewrite_zip(selector / "selector.zip", {"policy.pth": _payload_bytes(marker)})
    args = ["clean", "--data", str(cache_env / "tiny.npz"), "--selector", str(selector), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "cannot load selector" in line and "policy.pth" in line
    assert not marker.exists()


def test_clean_selector_refuses_a_format_1_description(cache_env, tmp_path, capsys):
    selector = tmp_path / "sel"
    shutil.copytree(cache_env / "ppo", selector)
    meta = json.loads((selector / "selector.json").read_text())
    meta.update(format=1, vec_normalize="selector_vecnormalize.pkl")
    (selector / "selector.json").write_text(json.dumps(meta))
    marker = tmp_path / "marker"
    (selector / "selector_vecnormalize.pkl").write_bytes(_payload_bytes(marker))
    args = ["clean", "--data", str(cache_env / "tiny.npz"), "--selector", str(selector), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    assert "older version of fer-select" in _one_error_line(capsys.readouterr().err)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------- caches
def test_a_pickled_classifier_cache_entry_is_ignored_unrun(tmp_path):
    ds = make_blob_dataset(n_train=24, n_val=12, n_test=12)
    config = ClassifierConfig(**TINY)
    path = pretrain_cache_path(ds, config, 0, tmp_path)
    marker = tmp_path / "marker"
    _torch_payload(path, marker)
    with pytest.warns(RuntimeWarning, match="unreadable classifier cache .*refused to load"):
        _, report = pretrain_classifier(ds, config, seed=0, cache_dir=tmp_path)
    assert report is not None and not marker.exists()  # retrained, and the entry rewritten
    _, report = pretrain_classifier(ds, config, seed=0, cache_dir=tmp_path)
    assert report is None


def test_a_pickled_synthetic_cache_entry_is_ignored_unrun(tmp_path):
    small = {"n_train": 30, "n_val": 12, "n_test": 12, "image_size": 16}
    first = load_or_make_synthetic("label_symmetric", tmp_path, **small)
    (path,) = (tmp_path / "datasets").glob("*.npz")
    marker = tmp_path / "marker"
    arrays = {"x_train": np.array([Payload(marker)], dtype=object), "y_train": np.zeros(1)}
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=True, **arrays)
    with pytest.warns(UserWarning, match="ignoring unreadable cached dataset"):
        again = load_or_make_synthetic("label_symmetric", tmp_path, **small)
    assert again.fingerprint() == first.fingerprint() and not marker.exists()
