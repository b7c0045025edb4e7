"""The cached pre-training of the classifier on the noisy train split (Algorithm 1 line 2)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch

from fer_select_env.core.cache import atomic_write_bytes, cache_key, resolve_cache_dir
from fer_select_env.core.seeding import check_seed
from fer_select_env.core.version import __version__
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models.classifier import EmotionClassifier, FitReport
from fer_select_env.models.cnn import ClassifierConfig


def pretrain_cache_path(
    dataset: FERDataset,
    config: ClassifierConfig,
    seed: int,
    cache_dir: str | Path | None = None,
) -> Path:
    """Where :func:`pretrain_classifier` caches its result for these inputs."""
    key = cache_key(dataset.fingerprint(), config.to_dict(), __version__, int(seed), "pretrain")
    return resolve_cache_dir(cache_dir) / "classifiers" / f"{key}.pt"


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
    the dataset fingerprint, the config, the package version and the seed; a later call with the same
    inputs loads it and returns ``(classifier, None)``. An unreadable cache file is ignored with a warning
    and rewritten. ``device`` and ``num_threads`` are not part of the key (they do not change what is
    learned beyond floating-point rounding).
    """
    config = config or ClassifierConfig()
    seed = check_seed(seed)
    path = pretrain_cache_path(dataset, config, seed, cache_dir)
    clf = EmotionClassifier.for_dataset(dataset, config, device=device, seed=seed, num_threads=num_threads)
    if path.is_file():
        try:
            state = torch.load(io.BytesIO(path.read_bytes()), map_location=clf.device, weights_only=True)
            clf.load_state_dict(state)
            return clf, None
        except Exception as exc:  # any corruption or mismatch: retrain rather than crash
            warnings.warn(
                f"ignoring unreadable classifier cache {path} ({type(exc).__name__}: {exc}); retraining",
                RuntimeWarning,
                stacklevel=2,
            )
    report = clf.fit(
        dataset.x_train,
        dataset.y_train,
        dataset.x_val,
        dataset.y_val,
        seed=seed,
        strategy="scratch",
        progress=progress,
    )
    buf = io.BytesIO()
    state = clf.state_dict()
    state["pretrain_report"] = report.to_dict()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())
    return clf, report
