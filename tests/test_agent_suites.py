"""The task suites: shipped files validate, names resolve, bad files are refused, tasks load their datasets."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agents.experiment import suites
from agents.experiment.suites import Suite, Task, get_suite, load_suite_file, load_task_dataset, suite_ids, suite_names
from fer_select_env.data.scenarios import SCENARIOS, class_counts
from fer_select_env.testing import write_fer2013_copy

SHIPPED = Path(suites.__file__).with_name("suites")

TINY_PARAMS = {
    "scenario": "label_symmetric",
    "n_train": 28,
    "n_val": 14,
    "n_test": 14,
    "noise_rate": 0.25,
    "class_distribution": "balanced",
    "seed": 0,
}


def _tiny_task(**params) -> Task:
    return Task(name="tiny", kind="synthetic", params={**TINY_PARAMS, **params}, seeds=(0, 1))


def _suite_json(**overrides) -> dict:
    task = {"name": "a", "kind": "synthetic", "params": dict(TINY_PARAMS), "seeds": [0, 1, 2]}
    return {"name": "mine", "version": 1, "description": "a test suite", "tasks": [task], **overrides}


def _write(folder: Path, raw: dict, name: str | None = None) -> Path:
    path = folder / (name or f"{raw['name']}-v{raw['version']}.json")
    path.write_text(json.dumps(raw))
    return path


# ----------------------------------------------------------------------------------------- shipped suites
def test_the_shipped_suites_load_and_validate():
    assert suite_names() == ["fer2013", "quick", "standard"]
    assert {"quick-v1", "standard-v1", "fer2013-v1"} <= set(suite_ids())
    for suite_id in suite_ids():
        suite = load_suite_file(SHIPPED / f"{suite_id}.json")
        assert suite.id == suite_id and suite.description and suite.tasks
        for task in suite.tasks:
            assert task.seeds == (0, 1, 2)
            if task.kind == "synthetic":
                assert task.params["scenario"] in SCENARIOS


def test_the_suites_cover_what_the_issue_asks():
    quick, standard, fer = get_suite("quick"), get_suite("standard"), get_suite("fer2013")
    assert 2 <= len(quick.tasks) <= 3 and all(t.params["n_train"] <= 1000 for t in quick.tasks)
    assert len(standard.tasks) >= 6 and all(t.kind == "synthetic" for t in standard.tasks)
    p = [t.params for t in standard.tasks]
    sizes = [q["n_train"] for q in p]
    assert min(sizes) <= 1000 and max(sizes) >= 10_000
    symmetric = [q["noise_rate"] for q in p if q["scenario"] == "label_symmetric"]
    assert min(symmetric) == pytest.approx(0.1) and max(symmetric) == pytest.approx(0.4)
    assert {"label_confusion", "face"} <= {q["scenario"] for q in p}
    assert any(q["class_distribution"] == "fer2013" for q in p)
    assert all(q["n_test"] >= 1000 for q in p)  # macro-F1 not dominated by test sampling
    assert [t.kind for t in fer.tasks] == ["fer2013"] * len(fer.tasks)
    assert "train_limit" not in fer.tasks[0].params  # Table 1: every training row


def test_names_resolve_to_the_highest_version_and_ids_to_theirs(tmp_path):
    for suite_id in ("quick-v1", "standard-v1"):
        shutil.copy(SHIPPED / f"{suite_id}.json", tmp_path)
    raw = json.loads((SHIPPED / "quick-v1.json").read_text())
    _write(tmp_path, {**raw, "version": 2, "description": "the next one"})
    assert suite_ids(tmp_path) == ["quick-v1", "quick-v2", "standard-v1"]
    assert get_suite("quick", tmp_path).id == "quick-v2"
    assert get_suite("quick-v1", tmp_path).id == "quick-v1"
    assert get_suite("quick").id == "quick-v1"  # the shipped folder
    with pytest.raises(ValueError, match="suite: unknown 'nope'") as err:
        get_suite("nope")
    assert "quick" in str(err.value) and "standard-v1" in str(err.value)
    with pytest.raises(ValueError, match="unknown 'quick-v9'"):
        get_suite("quick-v9", tmp_path)


# -------------------------------------------------------------------------------------------- bad files
@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r.update(extra=1), r"unknown keys \['extra'\]"),
        (lambda r: r.pop("description"), r"missing keys \['description'\]"),
        (lambda r: r["tasks"][0].update(budget=3), r"task 'a': unknown keys \['budget'\]"),
        (lambda r: r["tasks"][0]["params"].update(scenario="gaussian"), r"task 'a'.*scenario: unknown 'gaussian'"),
        (lambda r: r["tasks"][0]["params"].update(n_train=0), r"task 'a'.*params.n_train: must be a positive"),
        (lambda r: r["tasks"][0]["params"].update(n_val=5), r"task 'a'.*params.n_val: 5 is fewer than the 7"),
        (lambda r: r["tasks"][0]["params"].update(n_test=2.5), r"task 'a'.*params.n_test"),
        (lambda r: r["tasks"][0]["params"].update(noise_rate=1.5), r"task 'a'.*noise_rate"),
        (lambda r: r["tasks"][0]["params"].pop("seed"), r"task 'a'.*missing \['seed'\]"),
        (lambda r: r["tasks"][0]["params"].update(size=48), r"task 'a'.*unknown keys \['size'\]"),
        (lambda r: r["tasks"][0]["params"].update(class_distribution=[1, 2]), r"task 'a'.*class_distribution"),
        (lambda r: r["tasks"][0].update(kind="rafdb"), r"task 'a'.*kind: unknown 'rafdb'"),
        (lambda r: r["tasks"][0].update(seeds=[]), r"task 'a'.*seeds"),
        (lambda r: r["tasks"][0].update(seeds=[0, 0]), r"task 'a'.*seeds"),
        (lambda r: r["tasks"].append(dict(r["tasks"][0])), r"repeated: \['a'\]"),
        (lambda r: r.update(version=0), "version must be a positive integer"),
    ],
)
def test_a_malformed_suite_file_is_refused_naming_the_file_and_task(tmp_path, edit, message):
    raw = _suite_json()
    edit(raw)
    path = _write(tmp_path, raw, "mine-v1.json")
    with pytest.raises(ValueError, match=message) as err:
        get_suite("mine", tmp_path)
    assert str(path) in str(err.value)


def test_unreadable_or_misnamed_files_are_refused(tmp_path):
    (tmp_path / "mine-v1.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"mine-v1\.json: cannot read the suite file"):
        get_suite("mine", tmp_path)
    _write(tmp_path, _suite_json(version=2), "mine-v1.json")
    with pytest.raises(ValueError, match=r"must be called mine-v2\.json"):
        get_suite("mine-v1", tmp_path)
    with pytest.raises(ValueError, match="not a folder of suite files"):
        get_suite("mine", tmp_path / "missing")


# ------------------------------------------------------------------------------------------ fingerprints
def test_fingerprint_is_stable_and_follows_the_definition():
    task = _tiny_task()
    # Pinned: a suite's citation must not change when the code around it does.
    assert task.fingerprint() == "4a1a93fb9d3458a4fe56f45313a6914b8a0bee97101f15eceb970f1356bff8a4"
    canonical = (
        '{"kind":"synthetic","params":{"class_distribution":"balanced","n_test":14,"n_train":28,"n_val":14,'
        '"noise_rate":0.25,"scenario":"label_symmetric","seed":0},"seeds":[0,1]}'
    )
    assert task.fingerprint() == hashlib.sha256(canonical.encode()).hexdigest()  # sha256 of canonical JSON
    assert _tiny_task(noise_rate=0.25, n_train=28).fingerprint() == task.fingerprint()
    assert _tiny_task(seed=0, noise_rate=0.250).fingerprint() == task.fingerprint()
    assert replace(task, name="renamed", description="labels only").fingerprint() == task.fingerprint()
    assert _tiny_task(n_train=29).fingerprint() != task.fingerprint()
    assert replace(task, seeds=(0, 1, 2)).fingerprint() != task.fingerprint()
    assert _tiny_task(class_distribution="fer2013").fingerprint() != task.fingerprint()


def test_suite_to_dict_is_json_and_carries_every_task():
    suite = get_suite("standard")
    record = json.loads(json.dumps(suite.to_dict()))
    assert record["id"] == "standard-v1" and record["version"] == 1
    assert [t["name"] for t in record["tasks"]] == [t.name for t in suite.tasks]
    assert [t["fingerprint"] for t in record["tasks"]] == [t.fingerprint() for t in suite.tasks]
    assert record["fingerprint"] == get_suite("standard-v1").fingerprint()
    assert suite.task("face50-n2000").params["scenario"] == "face"
    with pytest.raises(ValueError, match="not in suite standard-v1"):
        suite.task("nope")


def test_a_task_keeps_its_own_copy_of_its_params():
    params = dict(TINY_PARAMS, class_distribution=[1, 1, 1, 2, 1, 1, 1])
    task = Task(name="t", kind="synthetic", params=params, seeds=[0])
    params["class_distribution"][3] = 9
    params["n_train"] = 99
    assert task.params["class_distribution"][3] == 2.0 and task.params["n_train"] == 28
    assert isinstance(get_suite("quick"), Suite)


# -------------------------------------------------------------------------------------- loading datasets
def test_load_task_dataset_renders_a_synthetic_task_once(tmp_path, monkeypatch):
    task = _tiny_task(class_distribution="fer2013", scenario="label_confusion")
    ds = load_task_dataset(task, cache_dir=tmp_path)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (28, 14, 14)
    assert (ds.noise_train != 0).sum() == 7
    assert np.bincount(ds.y_test, minlength=7).tolist() == class_counts(14, "fer2013").tolist()
    assert len(list((tmp_path / "datasets").glob("*.npz"))) == 1
    import fer_select_env.data.scenarios as scenarios

    def no_render(**kwargs):
        raise AssertionError("a cached task must not be rendered again")

    monkeypatch.setattr(scenarios, "make_synthetic_dataset", no_render)
    assert load_task_dataset(task, cache_dir=tmp_path).fingerprint() == ds.fingerprint()
    listed = _tiny_task(class_distribution=[1, 0, 1, 1, 1, 1, 1], n_val=7, n_test=7)
    with pytest.raises(AssertionError, match="must not be rendered"):  # a new definition is a new entry
        load_task_dataset(listed, cache_dir=tmp_path)


def test_load_task_dataset_reads_fer2013_and_its_subset(tmp_path):
    path = tmp_path / "fer2013.npz"
    write_fer2013_copy(path, n=63)
    whole = Task(name="fer", kind="fer2013", params={}, seeds=(0,))
    ds = load_task_dataset(whole, fer2013_path=path)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (21, 21, 21)
    subset = Task(name="fer-14", kind="fer2013", params={"train_limit": 14}, seeds=(0,))
    assert subset.params == {"train_limit": 14, "seed": 0}
    small = load_task_dataset(subset, fer2013_path=path)
    assert len(small.y_train) == 14 and len(small.y_test) == 21
    assert np.bincount(small.y_train, minlength=7).tolist() == [2] * 7  # stratified
    with pytest.raises(ValueError, match="fer2013_path: task 'fer' runs on FER2013"):
        load_task_dataset(whole)
    with pytest.raises(ValueError, match=r"params\.train_limit"):
        Task(name="bad", kind="fer2013", params={"train_limit": 0}, seeds=(0,))
    with pytest.raises(ValueError, match="task: must be a Task"):
        load_task_dataset({"kind": "fer2013"})
