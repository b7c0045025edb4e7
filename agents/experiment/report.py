"""The run report: what the noise ground truth and the FER+ votes say about a selection, the library
versions, and the files it is written to (JSON, the selection CSV). ``results.json`` runs, ``clean``'s
``summary.json`` and the one-line summaries of ``train`` and ``clean`` are all built from here."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.common.selection import Selection
from fer_select_env import __version__
from fer_select_env.core.cache import atomic_write_bytes
from fer_select_env.core.seeding import thread_limit
from fer_select_env.data.dataset import NOISE_CLEAN, FERDataset
from fer_select_env.data.ferplus import dataset_reference_report
from fer_select_env.envs.select.metrics import keep_probability_by_noise_kind, removal_scores
from fer_select_env.models import ClassifierConfig
from fer_select_env.models.chance import ChanceCheck, pretrained_classifier_check

CLASSIFIER_CHECK_KEY = "classifier_check"
"""The ``results.json`` meta key of :func:`classifier_checks`: one :class:`ChanceCheck` dict per seed."""


def reference_report(selection: Selection, dataset: FERDataset) -> dict[str, Any]:
    """The selection held against what the dataset knows of its labels: with ``noise_train``, the removal
    precision, recall and F1 and the keep probability per noise kind; with FER+ votes,
    ``ferplus_reference``. Empty when the dataset has neither."""
    report: dict[str, Any] = {}
    if dataset.noise_train is not None:
        report.update(removal_scores(selection.kept, dataset.noise_train != NOISE_CLEAN))
        report["keep_probability_by_noise_kind"] = keep_probability_by_noise_kind(
            selection.keep_probability, dataset.noise_train
        )
    reference = dataset_reference_report(dataset, selection.kept)
    if reference is not None:
        report["ferplus_reference"] = reference
    return report


def summary_line(selection: Selection, report: Mapping[str, Any]) -> str:
    """``kept K of N training images (…)``, then what :func:`reference_report` found, in one line."""
    n, k = len(selection.kept), int(selection.kept.sum())
    line = f"kept {k} of {n} training images ({selection.kept_fraction:.1%})"
    if "removal_f1" in report:
        line += (
            f"; against the noise ground truth: removal precision {report['removal_precision']:.3f}, "
            f"recall {report['removal_recall']:.3f}, F1 {report['removal_f1']:.3f}"
        )
    ref = report.get("ferplus_reference")
    if ref is not None:
        line += (
            f"; labels disputed by the FER+ majority: {ref['removed_disagree_rate']:.1%} of the removed images, "
            f"{ref['kept_disagree_rate']:.1%} of the kept, {ref['base_disagree_rate']:.1%} of all"
        )
    return line


def classifier_checks(
    dataset: FERDataset,
    config: ClassifierConfig,
    seeds: Sequence[int],
    *,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    threads: int | None = None,
    only_cached: bool = False,
) -> list[dict[str, Any]]:
    """The pre-trained classifier of every seed against chance (``{"seed", **ChanceCheck.to_dict()}``), for
    ``results.json``'s meta under :data:`CLASSIFIER_CHECK_KEY`. It is the classifier the env and the filters
    of that seed start from (same cache entry). ``threads``: the benchmark's thread count, under which a
    pre-training made here must run so that the agents load the classifier they would have trained;
    ``only_cached``: skip the seeds whose classifier is not in the cache (trains nothing)."""
    checks = []
    with thread_limit(threads):
        for seed in seeds:
            check = pretrained_classifier_check(
                dataset, config, seed=int(seed), device=device, cache_dir=cache_dir, only_cached=only_cached
            )
            if check is not None:
                checks.append({"seed": int(seed), **check.to_dict()})
    return checks


def near_chance_note(results: Mapping[str, Any]) -> str | None:
    """A warning line for a table of ``results`` whose pre-trained classifier is near chance on some seed
    (read from the meta's :data:`CLASSIFIER_CHECK_KEY`); ``None`` when none is, or when nothing was recorded."""
    checks = [c for c in results.get("meta", {}).get(CLASSIFIER_CHECK_KEY) or [] if c.get("near_chance")]
    if not checks:
        return None
    total = len(results["meta"][CLASSIFIER_CHECK_KEY])
    worst = min(checks, key=lambda c: c["val_accuracy"])
    check = ChanceCheck(**{f.name: worst[f.name] for f in dataclasses.fields(ChanceCheck)})
    seeds = ", ".join(str(c["seed"]) for c in checks)
    subject = f"the pre-trained classifier of seed {worst['seed']}"
    return (
        f"**Warning** (seed {seeds}; {len(checks)} of {total} seeds near chance): {check.message(subject)}. "
        "Every selection in this table rests on that classifier."
    )


def library_versions() -> dict[str, str]:
    """The versions a result depends on, recorded next to it."""
    import gymnasium
    import stable_baselines3
    import torch

    return {
        "python": platform.python_version(),
        "fer_select": __version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "numpy": np.__version__,
    }


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars turned into lists and Python scalars, and dict keys into
    strings, so that ``json.dumps`` takes it."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically (a Ctrl-C never leaves half a file)."""
    atomic_write_bytes(Path(path), json.dumps(jsonable(value), indent=1, allow_nan=True).encode())


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically."""
    atomic_write_bytes(Path(path), text.encode())


CSV_COLUMNS: tuple[str, ...] = ("index", "keep_probability", "sample_reward", "label")
RELABEL_COLUMNS: tuple[str, ...] = ("relabelled", "new_label")
"""The columns after ``label`` of a selection that relabels (``train_labels``)."""


def selection_csv(selection: Selection, dataset: FERDataset, only_kept: bool) -> str:
    """``index,keep_probability,sample_reward,label`` (+ ``kept`` for every image); an empty
    ``sample_reward`` where the selector has none. Floats are written so that they read back exactly.

    A selection with ``train_labels`` (a relabelling) also has ``relabelled`` (1 where its label differs from
    the given ``label``) and ``new_label`` (the label it trains on) after ``label``."""
    labels = selection.train_labels
    columns = CSV_COLUMNS if labels is None else (*CSV_COLUMNS, *RELABEL_COLUMNS)
    columns = columns if only_kept else (*columns, "kept")
    lines = [",".join(columns)]
    rewards = selection.sample_rewards
    for i in range(len(selection.kept)):
        if only_kept and not selection.kept[i]:
            continue
        row = [
            str(i),
            repr(float(selection.keep_probability[i])),
            "" if rewards is None else repr(float(rewards[i])),
            str(int(dataset.y_train[i])),
        ]
        if labels is not None:
            row += [str(int(labels[i] != dataset.y_train[i])), str(int(labels[i]))]
        if not only_kept:
            row.append(str(int(selection.kept[i])))
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"
