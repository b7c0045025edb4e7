"""The cached pre-training of the classifier on the noisy train split (Algorithm 1 line 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fer_select_env.core.cache import cache_key, cache_subdir, read_cache_entry, write_cache_entry
from fer_select_env.core.seeding import check_seed
from fer_select_env.core.version import __version__
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models.classifier import EmotionClassifier, FitReport
from fer_select_env.models.cnn import ClassifierConfig

CACHE_FORMAT = 2
"""2: ``{"cache_format", "inputs", "classifier", "pretrain_report"}``, the inputs checked on every read; 1
(before) was the bare classifier state, which is ignored and retrained."""


def pretrain_inputs(dataset: FERDataset, config: ClassifierConfig, seed: int) -> dict[str, Any]:
    """What a cached pre-training was made from: stored in the entry, compared on every read, and hashed
    into its file name."""
    inputs: dict[str, Any] = {
        "dataset_fingerprint": dataset.fingerprint(),
        "config": config.to_dict(),
        "version": __version__,
        "seed": int(seed),
    }
    inputs["key"] = cache_key(inputs["dataset_fingerprint"], inputs["config"], __version__, inputs["seed"], "pretrain")
    return inputs


def _cache_path(inputs: dict[str, Any], cache_dir: str | Path | None) -> Path:
    return cache_subdir(cache_dir, "classifiers") / f"{inputs['key']}.pt"


def pretrain_cache_path(
    dataset: FERDataset,
    config: ClassifierConfig,
    seed: int,
    cache_dir: str | Path | None = None,
) -> Path:
    """Where :func:`pretrain_classifier` caches its result for these inputs."""
    return _cache_path(pretrain_inputs(dataset, config, seed), cache_dir)


def _cached_state(path: Path, inputs: dict[str, Any], clf: EmotionClassifier) -> bool:
    """Load the entry at ``path`` into ``clf`` if it is readable and was made from ``inputs``; otherwise warn
    and return False (the caller retrains and overwrites it)."""

    def apply(entry: dict[str, Any]) -> bool:
        clf.load_state_dict(entry["classifier"])
        return True

    loaded = read_cache_entry(
        path, inputs, CACHE_FORMAT, apply, what="classifier cache", category=RuntimeWarning, map_location=clf.device
    )
    return loaded is True


def pretrain_classifier(
    dataset: FERDataset,
    config: ClassifierConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    num_threads: int | None = None,
) -> tuple[EmotionClassifier, FitReport | None]:
    """Pre-train the classifier on the whole (noisy) train split: Algorithm 1 line 2, cached on disk.

    Trains from scratch on ``(x_train, y_train)`` with early stopping on ``(x_val, y_val)``; the test
    split is never touched. The result is stored under ``<cache>/classifiers/<key>.pt``, the key hashing
    the dataset fingerprint, the config, the package version and the seed; the entry records those inputs
    too. A later call with the same inputs loads it and returns ``(classifier, None)``. An entry that is
    unreadable, or that records other inputs (or none), is ignored with a warning, retrained and rewritten;
    it is read with ``torch.load(weights_only=True)``, so a file naming Python objects is refused unrun.
    ``device`` and ``num_threads`` are not part of the key (they do not change what is learned beyond
    floating-point rounding).
    """
    config = config or ClassifierConfig()
    seed = check_seed(seed)
    inputs = pretrain_inputs(dataset, config, seed)
    path = _cache_path(inputs, cache_dir)
    clf = EmotionClassifier.for_dataset(dataset, config, device=device, seed=seed, num_threads=num_threads)
    if path.is_file() and _cached_state(path, inputs, clf):
        return clf, None
    report = clf.fit(
        dataset.x_train,
        dataset.y_train,
        dataset.x_val,
        dataset.y_val,
        seed=seed,
        strategy="scratch",
        progress=progress,
    )
    write_cache_entry(path, inputs, CACHE_FORMAT, classifier=clf.state_dict(), pretrain_report=report.to_dict())
    return clf, report
