"""Shared fixtures: every test gets its own cache directory, and tiny datasets are built in-process."""

from __future__ import annotations

import numpy as np
import pytest

from fer_select_env import FERDataset


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never read or write the user's real cache from a test."""
    monkeypatch.setenv("FER_SELECT_CACHE_DIR", str(tmp_path_factory.mktemp("fer_select_cache")))


def make_blob_dataset(
    n_train: int = 60,
    n_val: int = 28,
    n_test: int = 28,
    num_classes: int = 3,
    size: int = 16,
    noise_rate: float = 0.0,
    seed: int = 0,
) -> FERDataset:
    """A learnable toy task: class k is a bright square at a class-specific position, plus pixel noise."""
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


@pytest.fixture
def blob_dataset() -> FERDataset:
    return make_blob_dataset()
