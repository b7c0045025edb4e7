"""Tiny datasets for tests and examples: built in memory in a second, in the package's real formats."""

from __future__ import annotations

import os

import numpy as np

from fer_select_env.data.dataset import FERDataset
from fer_select_env.models.cnn import ClassifierConfig

SELECTOR_TEST_CONFIG = ClassifierConfig(
    width=4,
    feature_dim=16,
    max_epochs=15,
    min_epochs=5,
    batch_size=32,
    lr=3e-3,
    head_batch_size=32,
    head_max_epochs=30,
    head_patience=5,
)
"""Small enough to pre-train in about a second; measured to separate the blobs' flipped labels (1.0 removal
precision for the three label filters on seeds 0-2). Shared by the baseline tests."""

TINY_CLASSIFIER: dict[str, int] = {
    "width": 4,
    "feature_dim": 16,
    "max_epochs": 2,
    "head_batch_size": 32,
    "head_max_epochs": 4,
}
"""The smallest classifier the env accepts, as ``classifier_config=`` fields: for API checks, not learning."""

TINY_SEQUENCE_CLASSIFIER: dict[str, object] = {
    "kind": "cnn_avg",
    "width": 2,
    "feature_dim": 8,
    "epochs": 1,
    "min_epochs": 1,
}
"""The smallest FERSequence-v0 classifier, as ``classifier=`` fields: for API checks, not learning."""


def make_blob_dataset(
    n_train: int = 60,
    n_val: int = 28,
    n_test: int = 28,
    num_classes: int = 3,
    size: int = 16,
    noise_rate: float = 0.0,
    seed: int = 0,
) -> FERDataset:
    """A learnable toy task: class k is a bright square at a class-specific position, plus pixel noise.

    ``noise_rate`` of the training labels are flipped to another class and marked in ``noise_train``.
    """
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % num_classes
        rng.shuffle(y)
        x = rng.integers(0, 60, size=(n, size, size)).astype(np.uint8)
        step = max(1, (size - 4) // max(1, num_classes - 1))
        for i, k in enumerate(y):
            r = c = min(k * step, size - 4)
            x[i, r : r + 4, c : c + 4] = 230
        return x, y

    (xtr, ytr), (xva, yva), (xte, yte) = split(n_train), split(n_val), split(n_test)
    noise = np.zeros(n_train, dtype=np.int64)
    n_flip = round(noise_rate * n_train)
    if n_flip:
        idx = rng.choice(n_train, n_flip, replace=False)
        ytr = ytr.copy()
        ytr[idx] = (ytr[idx] + rng.integers(1, num_classes, n_flip)) % num_classes
        noise[idx] = 1
    return FERDataset.from_arrays(xtr, ytr, xva, yva, xte, yte, noise_train=noise)


def write_fer2013_copy(path: str | os.PathLike, n: int = 42, seed: int = 0) -> None:
    """A tiny file in the layout of the FER2013 evaluation copy (``images``, ``labels``, ``usage``, ``row``,
    ``ferplus_votes``), a third of the rows per split, with a learnable bright square per class."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 7).astype(np.uint8)
    images = rng.integers(0, 60, (n, 48, 48), dtype=np.uint8)
    for i, k in enumerate(labels):
        images[i, 4 * k : 4 * k + 8, 4 * k : 4 * k + 8] = 230
    np.savez_compressed(
        path,
        images=images,
        labels=labels,
        usage=np.repeat([0, 1, 2], n // 3).astype(np.uint8),
        row=np.arange(n, dtype=np.int32),
        ferplus_votes=rng.integers(0, 4, (n, 10)).astype(np.uint8),
    )


__all__ = ["SELECTOR_TEST_CONFIG", "TINY_CLASSIFIER", "make_blob_dataset", "write_fer2013_copy"]
