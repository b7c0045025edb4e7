"""FERDataset: validation, npz round trip, K inference and error messages that name the key."""

from __future__ import annotations

import numpy as np
import pytest

from fer_select_env import FERDataset
from fer_select_env.data import FER2013_CLASS_NAMES, noise_kind_name
from fer_select_env.testing import make_blob_dataset


def _arrays(n=(6, 4, 4), shape=(8, 8), k=3):
    rng = np.random.default_rng(0)
    out = {}
    for split, m in zip(("train", "val", "test"), n, strict=True):
        out[f"x_{split}"] = rng.integers(0, 255, (m, *shape), dtype=np.uint8)
        out[f"y_{split}"] = np.arange(m) % k
    return out


def test_from_arrays_infers_k_from_largest_label():
    a = _arrays()
    a["y_test"] = np.array([0, 1, 2, 4])
    ds = FERDataset.from_arrays(**a)
    assert ds.num_classes == 5
    assert ds.class_labels == tuple(f"class_{k}" for k in range(5))


def test_class_names_fix_k_and_reject_labels_beyond_them():
    a = _arrays()
    ds = FERDataset.from_arrays(**a, class_names=["a", "b", "c", "d"])
    assert ds.num_classes == 4
    a["y_val"] = np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"y_val: label 3 at index 3 is outside \[0, 3\)"):
        FERDataset.from_arrays(**a, class_names=["a", "b", "c"])


def test_npz_round_trip_keeps_everything(tmp_path):
    a = _arrays(shape=(8, 8, 3))
    noise = np.array([0, 1, 2, 3, 0, 5])
    ds = FERDataset.from_arrays(
        **a,
        noise_train=noise,
        class_names=FER2013_CLASS_NAMES[:3],
        extras={"votes": np.ones((6, 10), np.uint8)},
        extras_test={"action_units": np.zeros((4, 13), np.float32)},
    )
    path = tmp_path / "sub" / "d.npz"
    ds.to_npz(path)
    back = FERDataset.from_npz(path)
    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "noise_train"):
        np.testing.assert_array_equal(getattr(back, key), getattr(ds, key))
    assert back.class_names == ("angry", "disgust", "fear")
    np.testing.assert_array_equal(back.extras["votes"], ds.extras["votes"])
    assert back.extras_test["action_units"].shape == (4, 13)
    assert back.extras_val == {}
    assert back.fingerprint() == ds.fingerprint()
    assert back.num_channels == 3 and back.image_shape == (8, 8, 3)
    assert not list(tmp_path.glob("sub/*.tmp*")), "atomic write left a temporary file"


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), r"x_train: images must have dtype uint8"),
        (lambda a: a.update(x_val=a["x_val"][:, :, 0]), r"x_val: images must be N×H×W or N×H×W×C"),
        (lambda a: a.update(x_test=a["x_test"][:0], y_test=a["y_test"][:0]), r"x_test: the split is empty"),
        (lambda a: a.update(y_train=a["y_train"][:5]), r"y_train: has 5 labels but the matching images have 6"),
        (lambda a: a.update(y_val=np.array([0, 1, -1, 0])), r"y_val: label -1 at index 2 is outside"),
        (lambda a: a.update(y_train=a["y_train"] + 0.5), r"y_train: labels must be integers"),
        (lambda a: a.update(y_train=a["y_train"].reshape(2, 3)), r"y_train: labels must be a 1-D array"),
        (lambda a: a.update(x_val=np.zeros((4, 9, 8), np.uint8)), r"x_val: image shape \(9, 8\) differs"),
    ],
)
def test_bad_arrays_raise_value_error_naming_the_key(mutate, pattern):
    a = _arrays()
    mutate(a)
    with pytest.raises(ValueError, match=pattern):
        FERDataset.from_arrays(**a)


def test_bad_noise_and_extras_are_named():
    a = _arrays()
    with pytest.raises(ValueError, match="noise_train: must be a 1-D array with one entry per train image"):
        FERDataset.from_arrays(**a, noise_train=np.zeros(5, int))
    with pytest.raises(ValueError, match="noise_train: must be integers"):
        FERDataset.from_arrays(**a, noise_train=np.zeros(6, float))
    with pytest.raises(ValueError, match=r"extras\['votes'\]: must have one row per train image"):
        FERDataset.from_arrays(**a, extras={"votes": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="class_names: names must be unique"):
        FERDataset.from_arrays(**a, class_names=["a", "a", "b"])


def test_from_npz_missing_key_and_missing_file(tmp_path):
    a = _arrays()
    del a["y_test"]
    path = tmp_path / "bad.npz"
    np.savez(path, **a)
    with pytest.raises(ValueError, match=r"missing required key\(s\) \['y_test'\]"):
        FERDataset.from_npz(path)
    with pytest.raises(FileNotFoundError, match="dataset file not found"):
        FERDataset.from_npz(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"not a readable \.npz file"):
        FERDataset.from_npz(junk)


def test_from_npz_rejects_wrong_dtype_and_non_string_class_names(tmp_path):
    a = _arrays()
    a["x_val"] = a["x_val"].astype(np.int16)
    np.savez(tmp_path / "d.npz", **a)
    with pytest.raises(ValueError, match="x_val: images must have dtype uint8"):
        FERDataset.from_npz(tmp_path / "d.npz")
    a = _arrays()
    np.savez(tmp_path / "e.npz", **a, class_names=np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="class_names: must be a string array"):
        FERDataset.from_npz(tmp_path / "e.npz")


def test_fingerprint_changes_with_data():
    a = _arrays()
    ds1 = FERDataset.from_arrays(**a)
    a["y_train"] = a["y_train"].copy()
    a["y_train"][0] = 2
    assert FERDataset.from_arrays(**a).fingerprint() != ds1.fingerprint()


def test_noise_kind_names():
    assert [noise_kind_name(k) for k in range(5)] == ["clean", "label_flipped", "half_face", "no_face", "kind_4"]


def test_train_subset_restricts_only_the_train_split():
    ds = make_blob_dataset(n_train=30, noise_rate=0.3)
    ds.extras["marker"] = np.arange(30)
    kept = np.arange(30) % 3 != 0
    sub = ds.train_subset(kept)
    assert len(sub.y_train) == 20 and np.array_equal(sub.extras["marker"], np.flatnonzero(kept))
    assert np.array_equal(sub.noise_train, ds.noise_train[kept])
    assert np.array_equal(sub.x_val, ds.x_val) and np.array_equal(sub.y_test, ds.y_test)
    with pytest.raises(ValueError, match="boolean mask with one entry per train image"):
        ds.train_subset(np.flatnonzero(kept))


def test_stratified_train_subset_keeps_every_class_in_proportion():
    ds = make_blob_dataset(n_train=90, num_classes=3)
    sub = ds.stratified_train_subset(30, seed=0)
    assert np.bincount(sub.y_train).tolist() == [10, 10, 10]
    assert ds.stratified_train_subset(1000, seed=0) is ds
    assert ds.stratified_train_subset(30, seed=0).fingerprint() == sub.fingerprint()
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="limit: must be a positive integer"):
            ds.stratified_train_subset(bad, seed=0)
