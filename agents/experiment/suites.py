"""Named, versioned task suites: the fixed lists of datasets and seeds a benchmark runs, stored as data.

A suite is a JSON file ``suites/<name>-v<version>.json`` in this package (``quick-v1``, ``standard-v1``,
``fer2013-v1``). A published version is never edited: a change is a new file with the next version, so a
paper that cites ``standard-v1`` keeps pointing at the same tasks. :func:`get_suite` resolves a bare name
to its highest version. A task is a dataset plus its run seeds: a ``synthetic`` one is rendered from a
scenario (once, then cached), a ``fer2013`` one reads the FER2013 evaluation copy the user points at.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fer_select_env.core.checks import check_positive_int, check_rate
from fer_select_env.data import FERDataset
from fer_select_env.data.scenarios import SCENARIOS, class_distribution_weights

TASK_KINDS: dict[str, str] = {
    "synthetic": "rendered locally from a scenario, sizes, a noise rate, a class distribution and a seed",
    "fer2013": "the FER2013 evaluation copy (a path the user gives), optionally a stratified train subset",
}
"""Kinds of task, kind → what its dataset is."""

SYNTHETIC_PARAMS = ("scenario", "n_train", "n_val", "n_test", "noise_rate", "class_distribution", "seed")
"""The parameters of a synthetic task, all required so that a definition never leans on a default."""

FER2013_PARAMS = ("train_limit", "seed")
"""The optional parameters of a fer2013 task: a stratified train subset of ``train_limit`` rows, drawn
with ``seed`` (default 0); without ``train_limit`` every training row is used."""

_SUITE_KEYS = ("name", "version", "description", "tasks")
_TASK_KEYS = ("name", "kind", "params", "seeds", "description")
_SUITE_NAME = re.compile(r"[a-z][a-z0-9_]*")
_TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # safe in file names and results keys
_SUITE_ID = re.compile(r"(?P<name>[a-z][a-z0-9_]*)-v(?P<version>[1-9][0-9]*)")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _split_id(suite_id: str) -> tuple[str, int]:
    match = _SUITE_ID.fullmatch(suite_id)
    assert match is not None  # only ids that matched are listed
    return match["name"], int(match["version"])


def _check_synthetic(params: dict[str, Any]) -> dict[str, Any]:
    """The params, checked, with numbers in one spelling (0 and 0.0 must not give two fingerprints)."""
    missing = [k for k in SYNTHETIC_PARAMS if k not in params]
    if missing:
        raise ValueError(f"params: missing {missing}; a synthetic task sets all of {list(SYNTHETIC_PARAMS)}")
    if params["scenario"] not in SCENARIOS:
        raise ValueError(f"params.scenario: unknown {params['scenario']!r}; valid choices are {sorted(SCENARIOS)}")
    weights = class_distribution_weights(params["class_distribution"])
    present = int((weights > 0).sum())
    for split in ("n_train", "n_val", "n_test"):
        n = check_positive_int(f"params.{split}", params[split])
        if n < present:  # a split without some class leaves its per-class scores undefined
            raise ValueError(f"params.{split}: {n} is fewer than the {present} classes the distribution holds")
    if params["noise_rate"] is None:
        raise ValueError("params.noise_rate: must be a number in [0, 1] (the suite states it, not the default)")
    check_rate(params["noise_rate"], "params.noise_rate")
    if not _is_int(params["seed"]) or params["seed"] < 0:
        raise ValueError(f"params.seed: must be a non-negative integer, got {params['seed']!r}")
    dist = params["class_distribution"]
    return {
        **{k: int(params[k]) for k in ("n_train", "n_val", "n_test", "seed")},
        "scenario": params["scenario"],
        "noise_rate": float(params["noise_rate"]),
        "class_distribution": dist if isinstance(dist, str) else [float(w) for w in dist],
    }


def _check_fer2013(params: dict[str, Any]) -> dict[str, Any]:
    """The params, checked; the subset seed is spelled out (default 0) when there is a subset."""
    limit = params.get("train_limit")
    if limit is not None and (not _is_int(limit) or limit < 1):
        raise ValueError(f"params.train_limit: must be a positive integer, got {limit!r}")
    seed = params.get("seed", 0)
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"params.seed: must be a non-negative integer, got {seed!r}")
    return {} if limit is None else {"train_limit": int(limit), "seed": int(seed)}


@dataclass(frozen=True)
class Task:
    """One dataset of a suite and the run seeds every agent is run with on it.

    :param kind: one of :data:`TASK_KINDS`
    :param params: the dataset's definition (:data:`SYNTHETIC_PARAMS` or :data:`FER2013_PARAMS`)
    :param seeds: the run seeds (agents and final training); a synthetic dataset's render seed is
        ``params["seed"]``, fixed per task, so every run seed sees the same images
    """

    name: str
    kind: str
    params: dict[str, Any]
    seeds: tuple[int, ...]
    description: str = ""

    def __post_init__(self) -> None:
        where = f"task {self.name!r}"
        if not isinstance(self.name, str) or not _TASK_NAME.fullmatch(self.name):
            raise ValueError(f"{where}: name must match {_TASK_NAME.pattern}")
        if self.kind not in TASK_KINDS:
            raise ValueError(f"{where}: kind: unknown {self.kind!r}; valid kinds are {sorted(TASK_KINDS)}")
        if not isinstance(self.params, dict):
            raise ValueError(f"{where}: params must be an object, got {type(self.params).__name__}")
        allowed = SYNTHETIC_PARAMS if self.kind == "synthetic" else FER2013_PARAMS
        unknown = sorted(set(self.params) - set(allowed))
        if unknown:
            raise ValueError(f"{where}: params: unknown keys {unknown}; a {self.kind} task takes {list(allowed)}")
        seeds = self.seeds
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
            raise ValueError(f"{where}: seeds must be a list of non-negative integers, got {seeds!r}")
        seeds = tuple(seeds)
        if not seeds or not all(_is_int(s) and s >= 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError(f"{where}: seeds must be distinct non-negative integers, at least one, got {seeds!r}")
        if not isinstance(self.description, str):
            raise ValueError(f"{where}: description must be a string")
        try:
            params = (_check_synthetic if self.kind == "synthetic" else _check_fer2013)(self.params)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        # Frozen: keep a normalised copy, so that editing the caller's dict or list cannot change the task.
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "seeds", tuple(int(s) for s in seeds))

    def definition(self) -> dict[str, Any]:
        """What determines the runs: kind, params and seeds (the name and description are labels)."""
        return {"kind": self.kind, "params": self.params, "seeds": list(self.seeds)}

    def fingerprint(self) -> str:
        """A sha256 of :meth:`definition` as canonical JSON: equal definitions give equal strings.

        It names the task's definition, not its images: a synthetic task renders the images of the installed
        renderer, so cite the package version too (or ``FERDataset.fingerprint()`` of what was loaded).
        """
        blob = json.dumps(self.definition(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The task as JSON: its name, description, definition and fingerprint."""
        return {
            "name": self.name,
            "description": self.description,
            **self.definition(),
            "fingerprint": self.fingerprint(),
        }


@dataclass(frozen=True)
class Suite:
    """A named, versioned list of tasks (``standard`` version 1 is ``standard-v1``)."""

    name: str
    version: int
    description: str
    tasks: tuple[Task, ...] = field(default_factory=tuple)

    @property
    def id(self) -> str:
        """The citable id, ``<name>-v<version>``."""
        return f"{self.name}-v{self.version}"

    def task(self, name: str) -> Task:
        """The task called ``name``."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise ValueError(f"task: {name!r} is not in suite {self.id}; its tasks are {[t.name for t in self.tasks]}")

    def fingerprint(self) -> str:
        """A sha256 over the id and every task's fingerprint, in order."""
        blob = json.dumps([self.id, [[t.name, t.fingerprint()] for t in self.tasks]], separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The suite as JSON, to record in ``results.json`` next to the results it produced."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "fingerprint": self.fingerprint(),
            "tasks": [t.to_dict() for t in self.tasks],
        }


def _suite_from_json(raw: object, source: str) -> Suite:
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: a suite file holds one JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_SUITE_KEYS))
    missing = [k for k in _SUITE_KEYS if k not in raw]
    if unknown or missing:
        raise ValueError(f"{source}: unknown keys {unknown}, missing keys {missing}; a suite has {list(_SUITE_KEYS)}")
    name, version = raw["name"], raw["version"]
    if not isinstance(name, str) or not _SUITE_NAME.fullmatch(name):
        raise ValueError(f"{source}: name must match {_SUITE_NAME.pattern}, got {name!r}")
    if not _is_int(version) or version < 1:
        raise ValueError(f"{source}: version must be a positive integer, got {version!r}")
    if not isinstance(raw["description"], str) or not isinstance(raw["tasks"], list) or not raw["tasks"]:
        raise ValueError(f"{source}: description must be a string and tasks a non-empty list")
    tasks = []
    for i, entry in enumerate(raw["tasks"]):
        label = entry.get("name", f"#{i}") if isinstance(entry, dict) else f"#{i}"
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: task {label}: must be an object")
        unknown = sorted(set(entry) - set(_TASK_KEYS))
        missing = [k for k in ("name", "kind", "params", "seeds") if k not in entry]
        if unknown or missing:
            raise ValueError(
                f"{source}: task {label!r}: unknown keys {unknown}, missing keys {missing}; "
                f"a task has {list(_TASK_KEYS)}"
            )
        try:
            tasks.append(Task(**entry))
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
    names = [t.name for t in tasks]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{source}: task names must be unique; repeated: {repeated}")
    return Suite(name=name, version=int(version), description=raw["description"], tasks=tuple(tasks))


def load_suite_file(path: str | os.PathLike) -> Suite:
    """Read and validate one suite file; its file name must be the suite's id (``<name>-v<version>.json``)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the suite file: {exc}") from None
    suite = _suite_from_json(raw, str(path))
    if path.name != f"{suite.id}.json":
        raise ValueError(f"{path}: the file of suite {suite.id} must be called {suite.id}.json")
    return suite


def _directory(directory: str | os.PathLike | None) -> Path:
    if directory is not None:
        return Path(directory)
    # The shipped suites are package data next to this module (pyproject's package-data).
    return Path(str(resources.files("agents.experiment").joinpath("suites")))


def _suite_files(directory: str | os.PathLike | None) -> dict[str, Path]:
    """Suite id → its file, for every ``<name>-v<version>.json`` in the directory."""
    folder = _directory(directory)
    if not folder.is_dir():
        raise ValueError(f"directory: {folder} is not a folder of suite files")
    return {p.stem: p for p in sorted(folder.glob("*.json")) if _SUITE_ID.fullmatch(p.stem)}


def suite_ids(directory: str | os.PathLike | None = None) -> list[str]:
    """Every versioned suite id (``quick-v1``, ...), by name and then version."""
    return sorted(_suite_files(directory), key=_split_id)


def suite_names(directory: str | os.PathLike | None = None) -> list[str]:
    """The suite names (``fer2013``, ``quick``, ``standard``), each resolving to its highest version."""
    return sorted({_split_id(i)[0] for i in _suite_files(directory)})


def get_suite(name: str, directory: str | os.PathLike | None = None) -> Suite:
    """The suite ``name``: a bare name (``"quick"``) is its highest version, an id (``"quick-v1"``) that one.

    :param directory: a folder of suite files to read instead of the shipped ones
    """
    files = _suite_files(directory)
    if name in files:
        return load_suite_file(files[name])
    versions = [i for i in files if _split_id(i)[0] == name]
    if not versions:
        raise ValueError(
            f"suite: unknown {name!r}; valid names are {suite_names(directory)} and the versioned ids "
            f"{suite_ids(directory)}"
        )
    return load_suite_file(files[max(versions, key=_split_id)])


def load_task_dataset(
    task: Task, *, cache_dir: str | os.PathLike | None = None, fer2013_path: str | os.PathLike | None = None
) -> FERDataset:
    """The task's dataset: a synthetic one rendered once and then read from the cache, or FER2013.

    :param cache_dir: where rendered datasets are cached (default: ``$FER_SELECT_CACHE_DIR`` or
        ``~/.cache/fer-select``)
    :param fer2013_path: the FER2013 evaluation copy (or any layout ``load_fer2013`` reads); a fer2013 task
        needs it, the synthetic ones ignore it
    """
    if not isinstance(task, Task):
        raise ValueError(f"task: must be a Task, got {type(task).__name__}")
    if task.kind == "synthetic":
        from fer_select_env.data.resolve import load_or_make_synthetic

        params = dict(task.params)
        return load_or_make_synthetic(params.pop("scenario"), cache_dir, **params)
    if fer2013_path is None:
        raise ValueError(
            f"fer2013_path: task {task.name!r} runs on FER2013, which is not shipped; pass the path of the "
            "FER2013 evaluation copy (fer2013.npz) or of fer2013.csv"
        )
    from fer_select_env.data import load_fer2013

    dataset = load_fer2013(fer2013_path)
    limit = task.params.get("train_limit")
    return dataset if limit is None else dataset.stratified_train_subset(limit, task.params.get("seed", 0))


__all__ = [
    "FER2013_PARAMS",
    "SYNTHETIC_PARAMS",
    "TASK_KINDS",
    "Suite",
    "Task",
    "get_suite",
    "load_suite_file",
    "load_task_dataset",
    "suite_ids",
    "suite_names",
]
