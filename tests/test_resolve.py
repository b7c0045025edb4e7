"""The env's `dataset=` argument: scenario names (rendered once, then cached), npz paths, datasets."""

from __future__ import annotations

import numpy as np
import pytest

from fer_select_env import FERDataset
from fer_select_env.data.resolve import load_or_make_synthetic, resolve_dataset

SMALL = {"n_train": 40, "n_val": 14, "n_test": 14, "image_size": 16}


def test_scenario_is_rendered_once_then_read_from_cache(tmp_path, monkeypatch):
    first = load_or_make_synthetic("face", tmp_path, **SMALL)
    cached = list((tmp_path / "datasets").glob("synthetic-face-*.npz"))
    assert len(cached) == 1
    import fer_select_env.data.scenarios as scenarios

    def no_render(**kwargs):
        raise AssertionError("a cached scenario must not be rendered again")

    monkeypatch.setattr(scenarios, "make_synthetic_dataset", no_render)
    again = resolve_dataset("face", SMALL, tmp_path)
    assert again.fingerprint() == first.fingerprint()
    assert (again.noise_train == 3).sum() == 10  # 25% no-face of 40


def test_different_arguments_get_different_cache_entries(tmp_path):
    a = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL)
    b = load_or_make_synthetic("label_symmetric", tmp_path, **{**SMALL, "seed": 1})
    assert a.fingerprint() != b.fingerprint()
    assert len(list((tmp_path / "datasets").glob("*.npz"))) == 2


def test_corrupt_cache_entry_is_rebuilt(tmp_path):
    first = load_or_make_synthetic("mixed", tmp_path, **SMALL)
    (path,) = (tmp_path / "datasets").glob("*.npz")
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="ignoring unreadable cached dataset"):
        again = load_or_make_synthetic("mixed", tmp_path, **SMALL)
    assert again.fingerprint() == first.fingerprint()


def test_resolve_accepts_dataset_and_path_and_rejects_the_rest(tmp_path):
    ds = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL)
    assert resolve_dataset(ds) is ds
    ds.to_npz(tmp_path / "d.npz")
    assert isinstance(resolve_dataset(str(tmp_path / "d.npz")), FERDataset)
    with pytest.raises(ValueError, match="unknown scenario"):
        load_or_make_synthetic("gaussian", tmp_path)
    with pytest.raises(TypeError, match="dataset must be a FERDataset"):
        resolve_dataset(np.zeros(3))


def test_class_distribution_enters_the_cache_key(tmp_path):
    balanced = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL)
    spelled = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL, class_distribution="balanced")
    assert spelled.fingerprint() == balanced.fingerprint()
    assert len(list((tmp_path / "datasets").glob("*.npz"))) == 1  # the default spelled out shares the entry
    named = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL, class_distribution="fer2013")
    weights = [3995, 436, 4097, 7215, 4830, 3171, 4965]
    listed = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL, class_distribution=weights)
    as_array = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL, class_distribution=np.array(weights))
    assert named.fingerprint() == listed.fingerprint() == as_array.fingerprint() != balanced.fingerprint()
    assert len(list((tmp_path / "datasets").glob("*.npz"))) == 2
    other = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL, class_distribution=[1, 1, 1, 5, 1, 1, 1])
    assert other.fingerprint() not in (named.fingerprint(), balanced.fingerprint())
    with pytest.raises(ValueError, match="class_distribution"):
        load_or_make_synthetic("label_symmetric", tmp_path, **SMALL, class_distribution=[1, 2])
