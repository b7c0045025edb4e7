"""The caches are not trusted on a key match (issue 14, item 9).

A cache entry records the inputs it was made from (and a synthetic npz the fingerprint of its content);
an entry that records other inputs, none, or content that changed since is ignored with a warning and
rebuilt, never used. A cache directory that every user may write to is refused; one its group or others
may write to is warned about.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import warnings
import zipfile

import numpy as np
import pytest
import torch

from fer_select_env import FERDataset
from fer_select_env.core.cache import CacheWarning, check_cache_dir, resolve_cache_dir
from fer_select_env.data.resolve import CACHE_META, load_or_make_synthetic
from fer_select_env.models import ClassifierConfig, pretrain_cache_path, pretrain_classifier
from fer_select_env.testing import make_blob_dataset

TINY = ClassifierConfig(width=4, feature_dim=16, max_epochs=2, min_epochs=1, head_batch_size=32, head_max_epochs=2)
SMALL = {"n_train": 30, "n_val": 12, "n_test": 12, "image_size": 16}
posix_only = pytest.mark.skipif(os.name == "nt", reason="mode bits are not checked on Windows")


def _weights(clf) -> list[torch.Tensor]:
    return [p.detach().clone() for p in clf.model.state_dict().values()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------------------------------- classifier
def test_a_classifier_entry_planted_from_other_data_is_ignored_and_retrained(tmp_path):
    ours, theirs = make_blob_dataset(n_train=24, n_val=12, seed=0), make_blob_dataset(n_train=24, n_val=12, seed=7)
    honest, _ = pretrain_classifier(ours, TINY, seed=0, cache_dir=tmp_path)
    planted, _ = pretrain_classifier(theirs, TINY, seed=0, cache_dir=tmp_path)
    path = pretrain_cache_path(ours, TINY, 0, tmp_path)
    shutil.copy(pretrain_cache_path(theirs, TINY, 0, tmp_path), path)  # a valid state, at the predictable path
    with pytest.warns(RuntimeWarning, match="ignoring classifier cache .*dataset_fingerprint, key differ"):
        again, report = pretrain_classifier(ours, TINY, seed=0, cache_dir=tmp_path)
    assert report is not None and _same(_weights(again), _weights(honest))
    assert not _same(_weights(again), _weights(planted))
    _, report = pretrain_classifier(ours, TINY, seed=0, cache_dir=tmp_path)  # the rebuilt entry is used
    assert report is None


def test_a_bare_classifier_state_without_its_inputs_is_ignored(tmp_path):
    ds = make_blob_dataset(n_train=24, n_val=12)
    clf, _ = pretrain_classifier(ds, TINY, seed=0, cache_dir=tmp_path)
    path = pretrain_cache_path(ds, TINY, 0, tmp_path)
    torch.save(clf.state_dict(), path)  # the format-1 entry: a loadable state, but no record of its inputs
    with pytest.warns(RuntimeWarning, match="does not record its inputs"):
        _, report = pretrain_classifier(ds, TINY, seed=0, cache_dir=tmp_path)
    assert report is not None


# ---------------------------------------------------------------------------------------------- synthetic npz
def _npz_with_meta_of(dataset: FERDataset, path, meta_source) -> None:
    """``dataset`` written to ``path`` with the cache record copied from ``meta_source`` (or none)."""
    dataset.to_npz(path)
    if meta_source is not None:
        with zipfile.ZipFile(meta_source) as src, zipfile.ZipFile(path, "a") as dst:
            dst.writestr(f"{CACHE_META}.npy", src.read(f"{CACHE_META}.npy"))


@pytest.mark.parametrize("keep_record", [True, False])
def test_a_replaced_synthetic_npz_is_ignored_and_rendered_again(tmp_path, keep_record):
    first = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL)
    (path,) = (tmp_path / "datasets").glob("*.npz")
    original = tmp_path / "original.npz"
    shutil.copy(path, original)
    zeros = FERDataset.from_arrays(
        first.x_train, np.zeros_like(first.y_train), first.x_val, first.y_val, first.x_test, first.y_test
    )
    _npz_with_meta_of(zeros, path, original if keep_record else None)
    why = "does not match the fingerprint" if keep_record else "does not record how it was made"
    with pytest.warns(CacheWarning, match=why):
        again = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL)
    assert again.fingerprint() == first.fingerprint() and again.y_train.any()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # rewritten: read back without a warning
        assert load_or_make_synthetic("label_symmetric", tmp_path, **SMALL).fingerprint() == first.fingerprint()


def test_an_entry_recording_other_inputs_is_not_used(tmp_path):
    load_or_make_synthetic("label_symmetric", tmp_path, **SMALL)
    other = load_or_make_synthetic("label_symmetric", tmp_path, **{**SMALL, "seed": 1})
    paths = sorted((tmp_path / "datasets").glob("*.npz"), key=lambda p: p.stat().st_mtime)
    shutil.copy(paths[1], paths[0])  # seed 1's complete entry, under seed 0's name
    with pytest.warns(CacheWarning, match="records other inputs"):
        again = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL)
    assert again.fingerprint() != other.fingerprint()


def test_the_cached_npz_records_its_inputs_and_stays_a_plain_dataset(tmp_path):
    first = load_or_make_synthetic("label_symmetric", tmp_path, **SMALL)
    (path,) = (tmp_path / "datasets").glob("*.npz")
    assert FERDataset.from_npz(path).fingerprint() == first.fingerprint()
    with np.load(path, allow_pickle=False) as archive:
        record = json.loads(str(archive[CACHE_META]))
    assert record["scenario"] == "label_symmetric" and record["kwargs"]["n_train"] == 30
    assert record["fingerprint"] == first.fingerprint() and len(record["source_sha256"]) == 64


# ---------------------------------------------------------------------------------------------- directories
@posix_only
def test_a_world_writable_cache_dir_without_sticky_bit_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ValueError, match="writable by every user"):
        resolve_cache_dir(shared)
    with pytest.raises(ValueError, match="writable by every user"):
        pretrain_classifier(make_blob_dataset(n_train=24, n_val=12), TINY, cache_dir=shared)


@posix_only
@pytest.mark.parametrize(("mode", "who"), [(0o1777, "others"), (0o770, "its group"), (0o1775, "its group")])
def test_a_cache_dir_others_may_write_to_is_warned_about_once(tmp_path, mode, who):
    shared = tmp_path / f"shared{mode:o}"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.warns(CacheWarning, match=f"writable by {who}"):
        resolve_cache_dir(shared)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        check_cache_dir(shared)  # once per directory


@posix_only
def test_a_private_cache_dir_passes_silently(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert resolve_cache_dir(private) == private
    assert not stat.S_IMODE(private.stat().st_mode) & 0o022


@posix_only
def test_a_cache_dir_it_creates_is_never_world_writable(tmp_path):
    old = os.umask(0)
    try:
        with pytest.warns(CacheWarning, match="writable by its group"):
            made = resolve_cache_dir(tmp_path / "made" / "here")
    finally:
        os.umask(old)
    assert not stat.S_IMODE(made.stat().st_mode) & stat.S_IWOTH
