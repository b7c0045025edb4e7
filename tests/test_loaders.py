"""Real-dataset loaders on tiny fixtures written in each exact on-disk format (never /work/shared data,
except one slow test on the FER2013 evaluation copy when it is present)."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_select_env.data import (
    FER2013_CLASS_NAMES,
    FERPLUS_COLUMNS,
    RAFDB_TO_FER2013,
    FERDataset,
    LoaderWarning,
    ferplus_disagreement,
    ferplus_majority,
    load_expw,
    load_fer2013,
    load_image_folder,
    load_rafdb,
    reference_noise_report,
    seeded_split,
    split_sizes,
)

FER = {name: i for i, name in enumerate(FER2013_CLASS_NAMES)}
USAGES = ("Training", "PublicTest", "PrivateTest")


def _tone(label: int) -> int:
    """A flat grey level that survives JPEG, so a loaded image tells which label was written with it."""
    return 20 + 30 * label


def _label_of(img: np.ndarray) -> int:
    return round((float(img.mean()) - 20) / 30)


def _write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


# ------------------------------------------------------------------------------------------ split arithmetic
def test_split_sizes_reproduce_the_papers_figures():
    assert split_sizes(12271, (0.8, 0.2)) == (9816, 2455)  # RAF-DB, §4.1
    assert split_sizes(91793, (0.8, 0.1, 0.1)) == (73433, 9180, 9180)  # ExpW, §4.1
    assert split_sizes(91790, (0.8, 0.1, 0.1)) == (73432, 9179, 9179)  # no float drift up to 9180
    assert split_sizes(10, (0.8, 0.1, 0.1)) == (8, 1, 1)
    assert split_sizes(0, (0.5, 0.5)) == (0, 0)
    for bad in [(0.5, 0.4), (1.0,), (1.2, -0.2)]:
        with pytest.raises(ValueError, match="fractions"):
            split_sizes(10, bad)
    with pytest.raises(ValueError, match="n:"):
        split_sizes(-1, (0.5, 0.5))


def test_seeded_split_is_exact_disjoint_reproducible_and_stratified():
    y = np.repeat(np.arange(7), [400, 40, 300, 700, 500, 300, 400])
    parts = seeded_split(y, (0.8, 0.1, 0.1), seed=3)
    assert tuple(len(p) for p in parts) == split_sizes(len(y), (0.8, 0.1, 0.1))
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(y)))
    assert all(np.all(np.diff(p) > 0) for p in parts)  # sorted: file order kept
    again = seeded_split(y, (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    other = seeded_split(y, (0.8, 0.1, 0.1), seed=4)
    assert not np.array_equal(parts[1], other[1])
    counts = np.bincount(y[parts[1]], minlength=7)
    assert np.all(np.abs(counts - np.bincount(y) * 0.1) <= 1)
    plain = seeded_split(y, (0.8, 0.2), seed=0, stratify=False)
    assert tuple(len(p) for p in plain) == split_sizes(len(y), (0.8, 0.2))


# ------------------------------------------------------------------------------------------ FER2013
def _fer_rows(n_per_usage: int = 8, seed: int = 0) -> list[tuple[int, np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for usage in USAGES:
        for i in range(n_per_usage):
            rows.append((i % 7, rng.integers(0, 256, (48, 48), dtype=np.uint8), usage))
    return rows


def _write_csv(path: Path, rows, extra_lines: tuple[str, ...] = ()) -> None:
    lines = ["emotion,pixels,Usage"]
    lines += [f"{y},{' '.join(map(str, img.ravel()))},{u}" for y, img, u in rows]
    lines += list(extra_lines)
    path.write_text("\n".join(lines) + "\n")


def test_fer2013_csv_splits_order_and_row_index(tmp_path):
    rows = _fer_rows()
    _write_csv(tmp_path / "fer2013.csv", rows)
    for target in (tmp_path / "fer2013.csv", tmp_path):  # the file or the folder holding it
        ds = load_fer2013(target)
        assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (8, 8, 8)
        assert ds.image_shape == (48, 48) and ds.x_train.dtype == np.uint8
        assert ds.class_names == FER2013_CLASS_NAMES
        assert np.array_equal(ds.x_train[3], rows[3][1])
        assert np.array_equal(ds.x_test[-1], rows[-1][1])  # PrivateTest → test, file order kept
        assert np.array_equal(ds.y_val, [r[0] for r in rows[8:16]])
        assert np.array_equal(ds.extras_val["fer2013_row"], np.arange(8, 16))


def test_fer2013_csv_bad_rows_are_counted_in_one_warning_or_raise_in_strict(tmp_path):
    rows = _fer_rows()
    good = " ".join(["7"] * 2304)
    bad = (
        f"9,{good},Training",  # unknown label
        f"3,{good},Holdout",  # unknown usage
        "2,1 2 3,Training",  # wrong pixel count
        f"2,{good.replace('7', 'x', 1)},Training",  # non-numeric pixel
        "4",  # missing columns
    )
    _write_csv(tmp_path / "fer2013.csv", rows, bad)
    with pytest.warns(LoaderWarning, match=r"skipped 5 of 29 entries") as rec:
        ds = load_fer2013(tmp_path / "fer2013.csv")
    assert len([w for w in rec if issubclass(w.category, LoaderWarning)]) == 1
    assert "unknown emotion label '9'" in str(rec[0].message)
    assert len(ds.y_train) == 8
    with pytest.raises(ValueError, match=r"fer2013.csv line 26: unknown emotion label '9'"):
        load_fer2013(tmp_path / "fer2013.csv", strict=True)


def test_fer2013_csv_options_size_and_color(tmp_path):
    _write_csv(tmp_path / "fer2013.csv", _fer_rows(n_per_usage=3))
    ds = load_fer2013(tmp_path / "fer2013.csv", size=32, color="rgb")
    assert ds.image_shape == (32, 32, 3)
    assert np.array_equal(ds.x_train[..., 0], ds.x_train[..., 2])
    with pytest.raises(ValueError, match="color"):
        load_fer2013(tmp_path / "fer2013.csv", color="bgr")
    with pytest.raises(ValueError, match="size"):
        load_fer2013(tmp_path / "fer2013.csv", size=3)


def _eval_copy(path: Path, n: int = 21, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "images": rng.integers(0, 256, (n, 48, 48), dtype=np.uint8),
        "labels": (np.arange(n) % 7).astype(np.uint8),
        "usage": np.repeat([0, 1, 2], n // 3).astype(np.uint8),
        "row": (np.arange(n) * 2).astype(np.int32),
        "ferplus_votes": rng.integers(0, 4, (n, 10)).astype(np.uint8),
    }
    np.savez_compressed(path, **arrays)
    return arrays


def test_fer2013_evaluation_copy_npz_keeps_votes_in_every_split(tmp_path):
    arrays = _eval_copy(tmp_path / "fer2013.npz")
    ds = load_fer2013(tmp_path)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (7, 7, 7)
    assert np.array_equal(ds.x_val, arrays["images"][7:14])
    assert np.array_equal(ds.extras["ferplus_votes"], arrays["ferplus_votes"][:7])
    assert np.array_equal(ds.extras_test["ferplus_votes"], arrays["ferplus_votes"][14:])
    assert np.array_equal(ds.extras_val["fer2013_row"], arrays["row"][7:14])
    ds.to_npz(tmp_path / "round.npz")  # extras survive the public format
    back = FERDataset.from_npz(tmp_path / "round.npz")
    assert np.array_equal(back.extras_test["ferplus_votes"], ds.extras_test["ferplus_votes"])


def test_fer2013_evaluation_copy_with_an_unknown_label(tmp_path):
    arrays = _eval_copy(tmp_path / "x.npz")
    arrays["labels"][2] = 9
    np.savez(tmp_path / "x.npz", **arrays)
    with pytest.warns(LoaderWarning, match="skipped 1 of 21.*unknown label 9"):
        ds = load_fer2013(tmp_path / "x.npz")
    assert len(ds.y_train) == 6 and 4 not in ds.extras["fer2013_row"]
    with pytest.raises(ValueError, match="entry 2"):
        load_fer2013(tmp_path / "x.npz", strict=True)


def test_fer2013_rejects_other_npz_layouts(tmp_path):
    np.savez(tmp_path / "other.npz", something=np.zeros(3))
    with pytest.raises(ValueError, match="not the FER2013 evaluation copy"):
        load_fer2013(tmp_path / "other.npz")
    ds = FERDataset.from_arrays(*(np.zeros((2, 8, 8), np.uint8), np.zeros(2, int)) * 3)
    ds.to_npz(tmp_path / "ferdataset.npz")
    with pytest.raises(ValueError, match=r"FERDataset.from_npz"):
        load_fer2013(tmp_path / "ferdataset.npz")


def _fer_folder(root: Path, prefixed: bool, n: int = 3) -> None:
    folders = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
    for usage, top in folders.items():
        for name in ("angry", "happy", "neutral"):
            label = FER[name]
            for i in range(n):
                stem = f"{usage}_{100 * i + label}" if prefixed else f"{usage.lower()}{i}"
                _write(root / top / name / f"{stem}.png", np.full((48, 48), _tone(label), np.uint8))


def test_fer2013_image_folders_recover_public_and_private_test_from_prefixes(tmp_path):
    _fer_folder(tmp_path, prefixed=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoaderWarning)  # nothing made up: no warning
        ds = load_fer2013(tmp_path)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (9, 9, 9)
    for x, y in (ds.split("train"), ds.split("val"), ds.split("test")):
        assert [_label_of(im) for im in x] == list(y)
    assert all(f.split("/")[-1].startswith("PublicTest_") for f in ds.extras_val["file"])
    names = [f.split("/")[-1] for f in ds.extras_test["file"]]
    assert names[:2] == ["PrivateTest_0.png", "PrivateTest_3.png"]  # numeric file order across classes


def test_fer2013_image_folders_without_prefixes_warn_about_the_seeded_val_split(tmp_path):
    _fer_folder(tmp_path, prefixed=False, n=10)
    with pytest.warns(LoaderWarning, match="seeded"):
        ds = load_fer2013(tmp_path, seed=1)
    assert len(ds.y_test) == 60  # test/ as given (public + private)
    assert (len(ds.y_train), len(ds.y_val)) == split_sizes(30, (0.9, 0.1))
    with pytest.warns(LoaderWarning):
        assert load_fer2013(tmp_path, seed=1).fingerprint() == ds.fingerprint()


def test_fer2013_folder_with_unreadable_image_and_unknown_class(tmp_path):
    _fer_folder(tmp_path, prefixed=True)
    (tmp_path / "train" / "happy" / "Training_999.png").write_bytes(b"not a png")
    with pytest.warns(LoaderWarning, match=r"skipped 1 of 28 .*Training_999.png: unreadable"):
        ds = load_fer2013(tmp_path)
    assert len(ds.y_train) == 9
    with pytest.raises(ValueError, match=r"Training_999.png: unreadable"):
        load_fer2013(tmp_path, strict=True)
    _write(tmp_path / "train" / "contempt" / "Training_5.png", np.zeros((48, 48), np.uint8))
    with pytest.raises(ValueError, match="'contempt' is not a FER2013 emotion"):
        load_fer2013(tmp_path)


def test_fer2013_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_fer2013(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"accepted: the Kaggle fer2013.csv"):
        load_fer2013(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="not a recognised FER2013 layout"):
        load_fer2013(tmp_path)
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "test").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        load_fer2013(tmp_path / "empty")
    (tmp_path / "fer2013.csv").write_text("emotion,pixels\n")
    with pytest.raises(ValueError, match="Usage"):
        load_fer2013(tmp_path / "fer2013.csv")


# ------------------------------------------------------------------------------------------ RAF-DB
RAF_NAMES = {1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "angry", 7: "neutral"}


def test_rafdb_label_table_matches_the_rafdb_class_names():
    assert {raf: FER2013_CLASS_NAMES[fer] for raf, fer in RAFDB_TO_FER2013.items()} == RAF_NAMES


def _rafdb(root: Path, n_train: int = 20, n_test: int = 7, aligned: bool = True) -> list[str]:
    lines = []
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(1, n + 1):
            raf = (i % 7) + 1
            name = f"{split}_{i:05d}.jpg"
            lines.append(f"{name} {raf}")
            sub, file = ("aligned", f"{split}_{i:05d}_aligned.jpg") if aligned else ("original", name)
            # the RAF label is painted into the image, so the test can check the remap image by image
            _write(root / "basic" / "Image" / sub / file, np.full((100, 100, 3), _tone(raf - 1), np.uint8))
    (root / "basic" / "EmoLabel").mkdir(parents=True, exist_ok=True)
    (root / "basic" / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return lines


def test_rafdb_remaps_labels_and_splits_official_train_into_train_and_val(tmp_path):
    _rafdb(tmp_path)
    for target in (tmp_path, tmp_path / "basic", tmp_path / "basic" / "EmoLabel" / "list_patition_label.txt"):
        ds = load_rafdb(target, seed=0)
        assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (16, 4, 7)  # split_sizes(20, (0.8, 0.2))
        for x, y in (ds.split("train"), ds.split("val"), ds.split("test")):
            assert [RAFDB_TO_FER2013[_label_of(im) + 1] for im in x] == list(y)
    assert ds.image_shape == (48, 48)
    assert all(f.startswith("test_") and f.endswith("_aligned.jpg") for f in ds.extras_test["file"])
    rgb = load_rafdb(tmp_path, size=100, color="rgb")
    assert rgb.image_shape == (100, 100, 3)


def test_rafdb_original_images_and_missing_image_folder(tmp_path):
    _rafdb(tmp_path, aligned=False)
    ds = load_rafdb(tmp_path)
    assert ds.extras["file"][0].startswith("train_") and not ds.extras["file"][0].endswith("_aligned.jpg")
    with pytest.raises(FileNotFoundError, match="aligned"):
        load_rafdb(tmp_path, images="aligned")


def test_rafdb_bad_lines_unknown_labels_and_missing_images(tmp_path):
    lines = _rafdb(tmp_path)
    lines += ["train_09999.jpg 8", "train_00001.jpg", "val_00001.jpg 3", "train_00042.jpg 2", "train_00002.jpg x"]
    label_file = tmp_path / "basic" / "EmoLabel" / "list_patition_label.txt"
    label_file.write_text("\n".join(lines) + "\n")
    with pytest.warns(LoaderWarning, match=r"skipped 5 of 32 entries.*unknown RAF-DB label '8'") as rec:
        ds = load_rafdb(tmp_path)
    assert "image file not found" in str(rec[0].message)
    assert len(ds.y_train) + len(ds.y_val) == 20
    with pytest.raises(ValueError, match=r"list_patition_label.txt line 28: unknown RAF-DB label '8'"):
        load_rafdb(tmp_path, strict=True)
    label_file.write_text("\n".join([*lines[:27], lines[30]]) + "\n")  # only the missing image is left
    with pytest.raises(FileNotFoundError, match=r"line 28.*train_00042_aligned.jpg"):
        load_rafdb(tmp_path, strict=True)


def test_rafdb_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_rafdb(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"list_patition_label.txt"):
        load_rafdb(tmp_path)


# ------------------------------------------------------------------------------------------ ExpW
def _expw(root: Path, n: int = 30) -> list[str]:
    lines = []
    for i in range(n):
        label = i % 7
        img = np.full((60, 80, 3), 250, np.uint8)
        top, left = 5 + i % 10, 10 + i % 20
        img[top : top + 30, left : left + 30] = _tone(label)  # the face box holds the label's tone
        _write(root / "image" / "origin" / f"img_{i}.jpg", img)
        lines.append(f"img_{i}.jpg 0 {top} {left} {left + 30} {top + 30} {50 + i / 10:.2f} {label}")
    (root / "label").mkdir(parents=True, exist_ok=True)
    (root / "label" / "label.lst").write_text("\n".join(lines) + "\n")
    return lines


def test_expw_crops_each_face_box_and_splits_8_1_1(tmp_path):
    _expw(tmp_path)
    ds = load_expw(tmp_path, size=16, seed=2)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == split_sizes(30, (0.8, 0.1, 0.1))
    for x, y in (ds.split("train"), ds.split("val"), ds.split("test")):
        assert [_label_of(im) for im in x] == list(y)  # only the box's tone: the crop is right
    assert ds.extras["face_box"].shape == (len(ds.y_train), 4)
    assert ds.extras["face_confidence"].dtype == np.float32
    assert load_expw(tmp_path / "label" / "label.lst", size=16, seed=2).fingerprint() == ds.fingerprint()
    strong = load_expw(tmp_path, size=16, min_confidence=52.0)
    assert len(strong.y_train) + len(strong.y_val) + len(strong.y_test) == 10


def test_expw_malformed_lines(tmp_path):
    lines = _expw(tmp_path)
    lines += [
        "img_0.jpg 1 5 10 40 35 50.0 7",  # unknown label
        "img_0.jpg 1 5 10 40",  # too few fields
        "img_0.jpg 1 5 40 10 35 50.0 3",  # right < left
        "img_0.jpg 1 500 500 600 600 50.0 3",  # box outside the image
        "gone.jpg 0 5 10 40 35 50.0 3",  # missing image
    ]
    (tmp_path / "label" / "label.lst").write_text("\n".join(lines) + "\n")
    with pytest.warns(LoaderWarning, match=r"skipped 5 of 35 entries.*unknown ExpW label '7'") as rec:
        ds = load_expw(tmp_path, size=16)
    assert "outside the 80×60 image" in str(rec[0].message)
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 30
    with pytest.raises(ValueError, match=r"label.lst line 31: unknown ExpW label"):
        load_expw(tmp_path, strict=True)
    with pytest.raises(ValueError, match=r"no ExpW label.lst"):
        load_expw(tmp_path / "image")


# ------------------------------------------------------------------------------------------ image folders
def _folder(root: Path, names: tuple[str, ...], n: int = 10, size: int = 20) -> None:
    for k, name in enumerate(names):
        for i in range(n):
            _write(root / name / f"{i}.png", np.full((size, size), _tone(k), np.uint8))


def test_image_folder_maps_emotion_folders_to_fer2013_order(tmp_path):
    names = ("Sadness", "happy", "angry")
    _folder(tmp_path, names)
    ds = load_image_folder(tmp_path, seed=0)
    assert ds.class_names == FER2013_CLASS_NAMES
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (24, 3, 3)
    written = {k: FER[{"Sadness": "sad"}.get(n, n)] for k, n in enumerate(names)}
    for x, y in (ds.split("train"), ds.split("val"), ds.split("test")):
        assert [written[_label_of(im)] for im in x] == list(y)
    assert ds.image_shape == (48, 48)
    native = load_image_folder(tmp_path, size=None)
    assert native.image_shape == (20, 20)


def test_image_folder_with_other_class_names_uses_sorted_folder_order(tmp_path):
    _folder(tmp_path, ("dog", "cat", "bird"))
    ds = load_image_folder(tmp_path, fractions=(0.6, 0.2, 0.2))
    assert ds.class_names == ("bird", "cat", "dog")
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (18, 6, 6)
    order = {0: 2, 1: 1, 2: 0}  # tone index (write order) → sorted class index
    assert [order[_label_of(im)] for im in ds.x_test] == list(ds.y_test)


def test_image_folder_presplit_layout(tmp_path):
    for split in ("train", "val", "test"):
        _folder(tmp_path / split, ("happy", "sad"), n=4)
    ds = load_image_folder(tmp_path)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (8, 8, 8)
    assert ds.extras_val["file"][0] == "val/happy/0.png"


def test_image_folder_errors_and_strict_mode(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        load_image_folder(tmp_path / "nothing_here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class folders"):
        load_image_folder(tmp_path / "empty")
    (tmp_path / "empty" / "happy").mkdir()
    with pytest.raises(ValueError, match="hold no image files"):
        load_image_folder(tmp_path / "empty")
    _folder(tmp_path / "data", ("happy", "sad"))
    (tmp_path / "data" / "sad" / "broken.jpg").write_bytes(b"\x00\x01")
    with pytest.warns(LoaderWarning, match="skipped 1 of 21 .*broken.jpg"):
        load_image_folder(tmp_path / "data")
    with pytest.raises(ValueError, match=r"broken.jpg: unreadable"):
        load_image_folder(tmp_path / "data", strict=True)
    _folder(tmp_path / "twice", ("happy", "happiness"))
    with pytest.raises(ValueError, match="same emotion twice"):
        load_image_folder(tmp_path / "twice")
    _folder(tmp_path / "mixed", ("happy", "sad"), size=20)
    _write(tmp_path / "mixed" / "sad" / "big.png", np.zeros((30, 20), np.uint8))
    with pytest.raises(ValueError, match="different shapes"):
        load_image_folder(tmp_path / "mixed", size=None)


def test_workers_do_not_change_the_result(tmp_path):
    _folder(tmp_path, ("happy", "sad", "fear"), n=30)
    one = load_image_folder(tmp_path, workers=1)
    two = load_image_folder(tmp_path, workers=2)
    assert one.fingerprint() == two.fingerprint()


# ------------------------------------------------------------------------------------------ FER+ helpers
def _votes(**cols: int) -> list[int]:
    return [cols.get(c, 0) for c in FERPLUS_COLUMNS]


def test_ferplus_majority_columns_ties_and_undefined_rows():
    votes = np.array(
        [
            _votes(happiness=7, neutral=3),  # happy
            _votes(anger=4, sadness=4, neutral=2),  # tie: first column in FER+ order (sadness)
            _votes(contempt=6, neutral=4),  # contempt has no FER2013 class
            _votes(NF=9, fear=1),  # unknown/NF ignored by default
            _votes(),  # no votes
            _votes(surprise=5, fear=5),  # tie surprise/fear
        ]
    )
    assert list(ferplus_majority(votes)) == [FER["happy"], FER["sad"], -1, FER["fear"], -1, FER["surprise"]]
    undefined_ties = ferplus_majority(votes, ties="undefined")
    assert list(undefined_ties) == [FER["happy"], -1, -1, FER["fear"], -1, -1]
    assert ferplus_majority(votes, include_non_emotion=True)[3] == -1
    nan_votes = votes.astype(float)
    nan_votes[0, 0] = np.nan
    assert ferplus_majority(nan_votes)[0] == -1
    with pytest.raises(ValueError, match="N×10"):
        ferplus_majority(np.zeros((2, 8)))


def test_ferplus_disagreement_handles_undefined_majorities_explicitly():
    votes = np.array([_votes(happiness=8), _votes(happiness=8), _votes(contempt=9)])
    labels = np.array([FER["happy"], FER["sad"], FER["angry"]])
    assert list(ferplus_disagreement(labels, votes)) == [False, True, True]
    assert list(ferplus_disagreement(labels, votes, undefined="agree")) == [False, True, False]
    with pytest.raises(ValueError, match="row 2 has no FER\\+ majority"):
        ferplus_disagreement(labels, votes, undefined="error")
    with pytest.raises(ValueError, match="3 labels but votes has 2"):
        ferplus_disagreement(labels, votes[:2])


def test_reference_noise_report():
    kept = np.array([True, True, True, False, False, True, True, True])
    disagrees = np.array([False, False, True, True, True, False, False, False])
    r = reference_noise_report(kept, disagrees)
    assert (r["n_total"], r["n_kept"], r["n_removed"]) == (8, 6, 2)
    assert r["removed_disagree_rate"] == 1.0
    assert r["kept_disagree_rate"] == pytest.approx(1 / 6)
    assert r["base_disagree_rate"] == pytest.approx(3 / 8)
    assert r["removed_enrichment"] == pytest.approx(8 / 3)
    assert np.isnan(reference_noise_report(np.ones(3, bool), np.zeros(3, bool))["removed_disagree_rate"])
    with pytest.raises(ValueError, match="bool"):
        reference_noise_report(np.ones(3), np.zeros(3, bool))


# ------------------------------------------------------------------------------------------ real data
REAL_FER2013 = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013" / "fer2013.npz"


@pytest.mark.slow
@pytest.mark.skipif(not REAL_FER2013.is_file(), reason="FER2013 evaluation copy not present")
def test_real_fer2013_evaluation_copy():
    ds = load_fer2013(REAL_FER2013)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (28558, 3579, 3573)
    assert ds.image_shape == (48, 48)
    assert list(np.bincount(ds.y_test)) == [489, 55, 527, 876, 588, 414, 624]
    # the README's figure: 62.8% / 62.5% / 62.7% of labels equal the FER+ majority
    for y, extras, rate in ((ds.y_train, ds.extras, 0.628), (ds.y_val, ds.extras_val, 0.625)):
        agree = 1.0 - ferplus_disagreement(y, extras["ferplus_votes"]).mean()
        assert agree == pytest.approx(rate, abs=5e-4)
    agree = 1.0 - ferplus_disagreement(ds.y_test, ds.extras_test["ferplus_votes"]).mean()
    assert agree == pytest.approx(0.627, abs=5e-4)
