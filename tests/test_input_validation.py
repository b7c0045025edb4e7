"""Issue 14, items 2-7 and 10: no label is silently changed, every bad input is a ValueError (or a one-line CLI
error) naming the file, key, line or argument, input sizes are bounded, and outputs are checked before work."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from agents.experiment.cli import main
from agents.experiment.cli.train import check_resumable
from agents.experiment.selector_io import SelectorError, check_selector_fits
from fer_select_env import FERDataset
from fer_select_env.core.cache import atomic_write_bytes
from fer_select_env.data import LoaderWarning, load_fer2013, load_image_folder
from fer_select_env.data.dataset import max_inferred_classes
from fer_select_env.data.loaders import fer2013 as fer2013_module
from fer_select_env.data.npz import MAX_NPZ_BYTES_ENV, MAX_NPZ_EXPANSION_ENV, read_npz
from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.models import ClassifierConfig
from fer_select_env.testing import TINY_CLASSIFIER, make_blob_dataset, write_fer2013_copy


def _arrays(labels=(0, 1, 2), n=6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.resize(np.array(labels), n)
    return {
        **{f"x_{s}": rng.integers(0, 255, (n, 8, 8), dtype=np.uint8) for s in ("train", "val", "test")},
        **{f"y_{s}": y.copy() for s in ("train", "val", "test")},
    }


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------- 2. labels
def test_fer2013_evaluation_copy_refuses_float_labels_instead_of_truncating(tmp_path):
    path = tmp_path / "fer2013.npz"
    write_fer2013_copy(path, n=21)
    with np.load(path) as z:
        arrays = dict(z)
    arrays["labels"] = arrays["labels"].astype(np.float64)
    np.savez(path, **arrays)
    assert np.array_equal(load_fer2013(path).y_train, arrays["labels"][:7])  # integral floats are fine
    arrays["labels"][3] = 3.7
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"fer2013.npz: key 'labels': values must be integers, got 3.7 at index 3"):
        load_fer2013(path)
    assert main(["clean", "--data", str(path), "--agent", "keep_all", "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out" / "kept.npz").exists()


def test_a_stray_label_is_an_error_that_names_it_and_suggests_class_names(tmp_path, capsys):
    a = _arrays()
    a["y_val"] = a["y_val"].copy()
    a["y_val"][4] = 999999
    with pytest.raises(ValueError, match=r"y_val: label 999999 at index 4 would make K = 1000000 classes.*class_names"):
        FERDataset.from_arrays(**a)
    with pytest.raises(ValueError, match=r"y_val: label 999999 at index 4 is outside \[0, 3\)"):
        FERDataset.from_arrays(**a, class_names=["a", "b", "c"])
    np.savez(tmp_path / "stray.npz", **a)
    out = tmp_path / "out"
    assert (
        main(["clean", "--data", str(tmp_path / "stray.npz"), "--agent", "predicted_neq_given", "--out", str(out)]) == 2
    )
    line = _one_error_line(capsys.readouterr().err)
    assert "stray.npz" in line and "999999" in line and "class_names" in line
    assert not (out / "kept.npz").exists()


def test_the_inferred_class_count_rule_at_its_boundary():
    assert max_inferred_classes(3) == 11 and max_inferred_classes(10) == 20
    a = _arrays(labels=(0, 1, 2, 11))  # 4 distinct labels: K may be up to max(8, 12) = 12
    assert FERDataset.from_arrays(**a).num_classes == 12
    with pytest.raises(ValueError, match=r"label 12 at index 3 would make K = 13 classes, but only 4 distinct"):
        FERDataset.from_arrays(**_arrays(labels=(0, 1, 2, 12)))
    # with class_names any K is declared, and every label must be below it
    assert FERDataset.from_arrays(**_arrays(labels=(0, 1, 2, 12)), class_names=[str(i) for i in range(20)])


def test_labels_are_never_wrapped_or_truncated():
    a = _arrays()
    a["y_train"] = np.array([0, 1, 2, 0, 1, 2**64 - 1], np.uint64)
    with pytest.raises(
        ValueError, match=r"y_train: labels must be integers in the int64 range, got 18446744073709551615"
    ):
        FERDataset.from_arrays(**a)
    a["y_train"] = np.array([0, 1, 2, 0, 1, 1e30])
    with pytest.raises(ValueError, match=r"y_train: labels must be integers.*too large"):
        FERDataset.from_arrays(**a)
    a["y_train"] = np.array([0, 1, 2, 0, 1, np.nan])
    with pytest.raises(ValueError, match=r"y_train: labels must be integers, got nan at index 5"):
        FERDataset.from_arrays(**a)
    with pytest.raises(ValueError, match=r"noise_train: must be integers in the int64 range"):
        FERDataset.from_arrays(**_arrays(), noise_train=np.array([0, 0, 0, 0, 0, 2**64 - 1], np.uint64))


def test_rafdb_and_expw_odd_label_lines_are_skipped_not_crashing(tmp_path):
    from fer_select_env.data import load_expw, load_rafdb

    base = tmp_path / "raf" / "basic"
    (base / "Image" / "aligned").mkdir(parents=True)
    lines = []
    for i in range(1, 21):
        name = f"{'train' if i <= 14 else 'test'}_{i:05d}.jpg"
        lines.append(f"{name} {i % 7 + 1}")
        cv2.imwrite(str(base / "Image" / "aligned" / name.replace(".jpg", "_aligned.jpg")), np.zeros((8, 8), np.uint8))
    (base / "EmoLabel").mkdir(parents=True)
    (base / "EmoLabel" / "list_patition_label.txt").write_text("\n".join([*lines, "train_00001.jpg ²"]) + "\n")
    with pytest.warns(LoaderWarning, match=r"line 21: unknown RAF-DB label '²'"):
        load_rafdb(tmp_path / "raf", size=8)

    root = tmp_path / "expw"
    (root / "image" / "origin").mkdir(parents=True)
    (root / "label").mkdir()
    rows = []
    for i in range(20):
        cv2.imwrite(str(root / "image" / "origin" / f"{i}.jpg"), np.full((40, 40), 100, np.uint8))
        rows.append(f"{i}.jpg 0 1 1 30 30 50.0 {i % 7}")
    rows += ["0.jpg 0 1 1 inf 30 50.0 3", "0.jpg 0 1.5 1 30 30 50.0 3"]
    (root / "label" / "label.lst").write_text("\n".join(rows) + "\n")
    with pytest.warns(LoaderWarning, match=r"skipped 2 of 22 entries.*line 21: face box"):
        load_expw(root, size=8)


# ---------------------------------------------------------------------------------------------- 3. the csv reader
def _pixels(value: int = 7) -> str:
    return " ".join([str(value)] * 2304)


def _good_csv_lines() -> list[str]:
    return [f"{k % 7},{_pixels(k)},{u}" for k, u in enumerate(["Training"] * 4 + ["PublicTest", "PrivateTest"])]


def test_an_unterminated_quote_costs_one_line_and_keeps_the_line_numbers(tmp_path):
    good = _good_csv_lines()
    lines = ["emotion,pixels,Usage", f'3,"{_pixels()},Training', *good, "9,1 2,Training"]
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(LoaderWarning, match=r"skipped 2 of 8 entries") as rec:
        ds = load_fer2013(path)
    message = str(rec[0].message)
    assert "fer2013.csv line 2: malformed csv" in message and "line 9: unknown emotion label '9'" in message
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 6  # every good line kept
    assert ds.extras["fer2013_row"].tolist() == [1, 2, 3, 4]  # data-row index = line number - 2
    with pytest.raises(ValueError, match=r"fer2013.csv line 2: malformed csv"):
        load_fer2013(path, strict=True)


def test_a_huge_field_a_non_utf8_byte_and_an_overlong_line_are_skipped_lines(tmp_path, monkeypatch):
    good = [line.encode() for line in _good_csv_lines()]
    huge = b"3," + b"1 " * 70000 + b",Training"  # a 140,000-character field
    data = b"\n".join([b"emotion,pixels,Usage", good[0], huge, good[1], b"3,\xff\xfe," + b"x", *good[2:]]) + b"\r\n"
    path = tmp_path / "fer2013.csv"
    path.write_bytes(data)
    with pytest.warns(LoaderWarning, match=r"skipped 2 of 8 entries") as rec:
        ds = load_fer2013(path)
    message = str(rec[0].message)
    assert "line 3: malformed csv (field larger than field limit" in message
    assert "line 5: not valid UTF-8 (byte 0xff at column 3)" in message
    assert ds.extras["fer2013_row"].tolist() == [0, 2, 4, 5]
    with pytest.raises(ValueError, match=r"fer2013.csv line 3: malformed csv"):
        load_fer2013(path, strict=True)
    monkeypatch.setattr(fer2013_module, "MAX_CSV_LINE_BYTES", 100_000)
    with pytest.warns(LoaderWarning, match=r"line 3: line longer than 100000 bytes"):
        again = load_fer2013(path)
    assert again.fingerprint() == ds.fingerprint()


def test_csv_blank_lines_crlf_and_a_bom_are_fine(tmp_path):
    body = "\r\n".join(["\ufeffemotion,pixels,Usage", *_good_csv_lines()[:3], "", "   ", *_good_csv_lines()[3:]])
    path = tmp_path / "fer2013.csv"
    path.write_bytes(body.encode() + b"\r\n")
    ds = load_fer2013(path)  # no warning: blank lines hold no record
    assert len(ds.y_train) == 4 and ds.extras_test["fer2013_row"].tolist() == [7]  # line 9


def test_the_pixel_message_says_what_is_wrong(tmp_path):
    lines = ["emotion,pixels,Usage", *_good_csv_lines(), f"3,{_pixels(7)[:-1]}300,Training", "3,1 2 3,Training"]
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    with pytest.warns(LoaderWarning) as rec:
        load_fer2013(tmp_path / "fer2013.csv")
    message = str(rec[0].message)
    assert "line 8: pixel value 300 at position 2304 is outside 0-255" in message
    assert "line 9: expected 2304 pixel values (48×48), got 3" in message


# ---------------------------------------------------------------------------------------------- 4. damaged npz
def _central(raw: bytes, offset: int, fmt: str, value: int) -> bytes:
    """``raw`` with one field of the first central-directory entry replaced."""
    out = bytearray(raw)
    struct.pack_into(fmt, out, raw.find(b"PK\x01\x02") + offset, value)
    return bytes(out)


def _npy(shape: tuple[int, ...], data: bytes, descr: str = "|u1") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _damaged_files(tmp_path: Path) -> dict[str, bytes]:
    good = tmp_path / "good.npz"
    FERDataset.from_arrays(**_arrays()).to_npz(good)
    raw = good.read_bytes()
    stored = tmp_path / "stored.npz"
    FERDataset.from_arrays(**_arrays()).to_npz(stored, compressed=False)
    plain = bytearray(stored.read_bytes())
    plain[200] ^= 0xFF  # inside x_train's data: the CRC no longer matches
    lying = tmp_path / "lying.npz"
    with zipfile.ZipFile(lying, "w") as zf:  # a consistent zip whose header claims 559 GiB
        for key, arr in _arrays().items():
            zf.writestr(f"{key}.npy", _npy((10**6, 600, 1000), b"\0" * 100) if key == "x_train" else _npy_bytes(arr))
    npy = tmp_path / "array.npy"
    np.save(npy, np.arange(3))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **_arrays(), class_names=np.array(["a", {"b": 1}, "c"], dtype=object))
    compressed_at = raw.find(b"x_train.npy") + 200  # inside the deflate stream of x_train
    return {
        "bad CRC": bytes(plain),
        "zlib": raw[:compressed_at]
        + bytes(b ^ 0x55 for b in raw[compressed_at : compressed_at + 8])
        + raw[compressed_at + 8 :],
        "method": _central(raw, 10, "<H", 99),
        "encrypted": _central(raw, 8, "<H", 1),
        "lying header": lying.read_bytes(),
        "npy": npy.read_bytes(),
        "pickled": pickled.read_bytes(),
        "truncated": raw[: len(raw) // 2],
        "not a zip": b"hello",
    }


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


EXPECTED = {
    "bad CRC": r"key 'x_train' is damaged \(BadZipFile: Bad CRC-32",
    "zlib": r"key 'x_train' is damaged \(zlib.error: Error -3 while decompressing",
    "method": r"key 'x_train' is damaged \(NotImplementedError: That compression method is not supported",
    "encrypted": r"key 'x_train' is encrypted \(a password-protected zip member\)",
    "lying header": r"key 'x_train' declares shape \(1000000, 600, 1000\) of uint8 \(558.79 GiB\) in its header but",
    "npy": r"is a single .npy array, not an .npz archive",
    "pickled": r"key 'class_names' holds pickled Python objects",
    "truncated": r"not a readable .npz file",
    "not a zip": r"not a readable .npz file",
}


def test_every_damaged_npz_is_a_value_error_naming_the_file_and_key(tmp_path, capsys):
    for name, data in _damaged_files(tmp_path).items():
        path = tmp_path / f"{name.replace(' ', '_')}.npz"
        path.write_bytes(data)
        for read in (FERDataset.from_npz, load_fer2013, read_npz):
            with pytest.raises(ValueError, match=EXPECTED[name]) as info:
                read(path)
            assert str(path) in str(info.value), (name, read)
        assert main(["clean", "--data", str(path), "--agent", "keep_all", "--out", str(tmp_path / "o")]) == 2, name
        line = _one_error_line(capsys.readouterr().err)
        assert path.name in line and "unexpected" not in line, line


def _zeros_npz(path: Path, n: int) -> None:
    a = _arrays()
    a["x_train"] = np.zeros((n, 8, 8), np.uint8)
    a["y_train"] = np.arange(n) % 3
    np.savez_compressed(path, **a)


def test_the_npz_size_limit_is_checked_before_decoding_and_can_be_raised(tmp_path, monkeypatch, capsys):
    path = tmp_path / "zeros.npz"
    _zeros_npz(path, 40_000)  # 2.5 MB of images in a 10 kB file
    assert path.stat().st_size < 50_000
    with pytest.raises(ValueError, match=rf"over the limit of 1.00 MiB; .*max_bytes= or the {MAX_NPZ_BYTES_ENV}"):
        FERDataset.from_npz(path, max_bytes=2**20)
    monkeypatch.setenv(MAX_NPZ_BYTES_ENV, str(2**20))
    with pytest.raises(ValueError, match=r"key 'x_train' alone 2.44 MiB, shape \(40000, 8, 8\)"):
        FERDataset.from_npz(path)
    assert main(["clean", "--data", str(path), "--agent", "keep_all", "--out", str(tmp_path / "o")]) == 2
    assert "over the limit" in _one_error_line(capsys.readouterr().err)
    monkeypatch.setenv(MAX_NPZ_BYTES_ENV, str(2**23))
    assert len(FERDataset.from_npz(path).y_train) == 40_000
    monkeypatch.setenv(MAX_NPZ_BYTES_ENV, "lots")
    with pytest.raises(ValueError, match=rf"{MAX_NPZ_BYTES_ENV}: must be a positive integer, got 'lots'"):
        FERDataset.from_npz(path)


def test_a_decompression_bomb_is_refused_before_decoding_within_the_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    _zeros_npz(path, 1_100_000)  # 67 MiB of zero images in well under 1 MB: over a thousand times
    assert path.stat().st_size < 2**20
    with pytest.raises(ValueError, match=rf"key 'x_train' would expand .* times; .*{MAX_NPZ_EXPANSION_ENV}"):
        FERDataset.from_npz(path)
    assert read_npz(path, ["y_train"])["y_train"].shape == (1_100_000,)  # small members are never refused
    monkeypatch.setenv(MAX_NPZ_EXPANSION_ENV, str(10**6))
    assert read_npz(path, ["x_train"])["x_train"].shape == (1_100_000, 8, 8)


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width``×``height`` gray pixels (the pixel data is not there)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_huge_images_are_refused_on_their_header(tmp_path, monkeypatch):
    for name in ("happy", "sad"):
        for i in range(10):
            (tmp_path / name).mkdir(exist_ok=True)
            cv2.imwrite(str(tmp_path / name / f"{i}.png"), np.full((20, 20), 20 * i, np.uint8))
    (tmp_path / "sad" / "big.png").write_bytes(_png_header(7000, 7000))
    (tmp_path / "sad" / "bigger.png").write_bytes(_png_header(30000, 30000))  # the 0.9 MB → 1.8 GB file
    with pytest.warns(LoaderWarning, match=r"skipped 2 of 22 entries") as rec:
        ds = load_image_folder(tmp_path)
    message = str(rec[0].message)
    assert "big.png: image of 7000×7000 pixels is over the limit of 33554432 pixels" in message
    assert "bigger.png: image of more than" in message
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 20
    with pytest.raises(ValueError, match=r"big.png: image of 7000×7000 pixels"):
        load_image_folder(tmp_path, strict=True)
    (tmp_path / "sad" / "big.png").unlink()
    (tmp_path / "sad" / "bigger.png").unlink()
    monkeypatch.setenv("FER_SELECT_MAX_IMAGE_PIXELS", "399")  # every 20×20 image is now too large
    with pytest.raises(ValueError, match=r"image of 20×20 pixels is over the limit of 399 pixels; raise"):
        load_image_folder(tmp_path, strict=True)
    monkeypatch.setenv("FER_SELECT_MAX_IMAGE_PIXELS", "400")
    assert load_image_folder(tmp_path).fingerprint() == ds.fingerprint()


# ---------------------------------------------------------------------------------------------- 5. env.step
@pytest.fixture(scope="module")
def env() -> FERSelectEnv:
    return FERSelectEnv(
        make_blob_dataset(n_train=12, n_val=9, n_test=9, noise_rate=0.25), classifier_config=dict(TINY_CLASSIFIER)
    )


@pytest.mark.parametrize("action", [0.9, 1.7, 1.0, 0.0, "1", np.float64(1.0), np.array([1]), 2, -1, None, np.uint64(1)])
def test_step_refuses_what_discrete_refuses_and_changes_nothing(env, action):
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be 0 \(remove\) or 1 \(keep\), got"):
        env.step(action)
    assert env._t == 0 and env._n_kept == 0


@pytest.mark.parametrize(
    ("action", "kept"), [(1, 1), (0, 0), (True, 1), (np.int64(1), 1), (np.array(1), 1), (np.uint8(0), 0)]
)
def test_step_takes_what_discrete_contains(env, action, kept):
    env.reset(seed=0)
    env.step(action)
    assert env._t == 1 and env._n_kept == kept


# ---------------------------------------------------------------------------------------------- 6. settings
@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"device": "tpu"}, r"device: 'tpu' is not a usable device"),
        ({"device": 0}, r"device: must be a device name"),
        ({"episode_size": 2.5}, r"episode_size: must be a positive integer, got 2.5"),
        ({"episode_size": "10"}, r"episode_size: must be a positive integer, got '10'"),
        ({"episode_size": True}, r"episode_size: must be a positive integer"),
        ({"n_folds": 2.9}, r"n_folds: must be an integer >= 2, got 2.9"),
        ({"classifier_config": [1, 2]}, r"classifier_config: must be a ClassifierConfig, a dict of its fields or None"),
        ({"classifier_config": "small"}, r"classifier_config: must be a ClassifierConfig"),
        ({"classifier_config": {"lr": None}}, r"classifier_config: "),
        ({"classifier_seed": 1.5}, r"classifier_seed: must be an integer >= 0"),
        ({"progress": "no"}, r"progress: must be True or False"),
        ({"persistent_classifier": 1}, r"persistent_classifier: must be True or False"),
        ({"synthetic_kwargs": [1]}, r"synthetic_kwargs: must be a dict or None"),
        ({"cache_dir": 5}, r"cache_dir: must be a path or None"),
        ({"dataset": 5}, r"dataset: must be a FERDataset"),
        ({"observation": ["paper"]}, r"observation must be one of"),
    ],
)
def test_bad_settings_are_value_errors_in_the_constructor(kwargs, pattern):
    dataset = kwargs.pop("dataset", make_blob_dataset(n_train=12, n_val=9, n_test=9))
    with pytest.raises(ValueError, match=pattern):
        FERSelectEnv(dataset, **{"classifier_config": dict(TINY_CLASSIFIER), **kwargs})


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ([("reset_classifier", True)], r"options: must be a dict or None, got list"),
        ("reset_classifier", r"options: must be a dict or None, got str"),
        ({"reset_classifier": "no"}, r"reset option 'reset_classifier': must be True or False, got 'no'"),
        ({"shuffle": True}, r"unknown reset option"),
    ],
)
def test_bad_reset_options_are_value_errors(env, options, pattern):
    with pytest.raises(ValueError, match=pattern):
        env.reset(options=options)


def test_a_state_saved_under_another_observation_mode_is_refused(env):
    other = FERSelectEnv(env.dataset, observation="label_aware", classifier_config=dict(TINY_CLASSIFIER))
    env.reset(seed=0)
    other.reset(seed=0)
    state, label_aware_state = env.get_state(), other.get_state()
    env._check_state_matches(state)  # its own state fits
    with pytest.raises(
        ValueError, match=r"saved under observation='paper', but this env has observation='label_aware'"
    ):
        other._check_state_matches(state)
    with pytest.raises(ValueError, match=r"saved under observation='label_aware'"):
        env._check_state_matches(label_aware_state)
    wider = FERSelectEnv(env.dataset, classifier_config={**TINY_CLASSIFIER, "feature_dim": 8})
    with pytest.raises(ValueError, match=r"episode_features has shape \(12, 16\), this env expects \(12, 8\)"):
        wider._check_state_matches(state)


# ---------------------------------------------------------------------------------------------- 7. output paths
@pytest.fixture
def tiny_npz(tmp_path) -> Path:
    path = tmp_path / "tiny.npz"
    make_blob_dataset(n_train=12, n_val=9, n_test=9).to_npz(path)
    return path


def test_output_paths_are_checked_before_any_work(tmp_path, tiny_npz, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a_dir, a_file = tmp_path / "results", tmp_path / "file.txt"
    a_dir.mkdir()
    a_file.write_text("x")
    data = ["--data", str(tiny_npz)]
    cases = [
        (["benchmark", *data, "--agents", "keep_all", "--out", str(a_dir)], "--out: ", "is a directory"),
        (["benchmark", *data, "--agents", "keep_all", "--out", str(a_file / "r.json")], "--out: ", "is a file"),
        (["benchmark", *data, "--agents", "keep_all", "--plots", str(a_file)], "--plots: ", "not a directory"),
        (["clean", *data, "--agent", "keep_all", "--out", str(a_file)], "--out: ", "not a directory"),
        (["train", *data, "--out", str(a_file / "run")], "--out: ", "is a file"),
        (["train", *data, "--out", str(tmp_path / "run"), "--tensorboard-log", str(a_file)], "--tensorboard-log", ""),
    ]
    for argv, flag, why in cases:
        assert main(argv) == 2, argv
        line = _one_error_line(capsys.readouterr().err)
        assert flag in line and why in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "results", "tiny.npz"]  # no stray temp file
    assert list(a_dir.iterdir()) == []


def test_the_atomic_writers_leave_no_temp_file_when_they_fail(tmp_path):
    (tmp_path / "target").mkdir()
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / "target", b"data")
    ds = make_blob_dataset(n_train=12, n_val=9, n_test=9)
    with pytest.raises(OSError):
        ds.to_npz(tmp_path / "target")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_input_paths_say_directory_not_missing(tmp_path, capsys):
    assert main(["clean", "--data", str(tmp_path), "--agent", "keep_all", "--out", str(tmp_path / "o")]) == 2
    assert f"--data: {tmp_path} is a directory, not a file" in _one_error_line(capsys.readouterr().err)
    assert main(["report", str(tmp_path)]) == 2
    assert "is a directory, not a results.json file" in _one_error_line(capsys.readouterr().err)
    with pytest.raises(ValueError, match=r"is a directory, not an \.npz file"):
        FERDataset.from_npz(tmp_path)


# ---------------------------------------------------------------------------------------------- 10. messages
def test_resume_message_names_the_dataset_in_plain_words(tmp_path):
    from agents.experiment.cli.args import UsageError

    with pytest.raises(UsageError, match=r"made with a different dataset \(the fingerprints differ\)") as info:
        check_resumable(
            {"identity": {"dataset_fingerprint": "a", "seed": 0}}, {"dataset_fingerprint": "b", "seed": 0}, tmp_path
        )
    assert "different the dataset" not in str(info.value)


def test_selector_mismatch_names_what_differs_even_when_the_sizes_agree(tmp_path):
    seven = make_blob_dataset(n_train=14, n_val=14, n_test=14, num_classes=7)
    meta = {"observation_shape": [39], "feature_dim": 16, "num_classes": 3}  # 2·16 + 2·3 + 1 = 39
    config = ClassifierConfig(feature_dim=12)  # 2·12 + 2·7 + 1 = 39 as well
    with pytest.raises(SelectorError, match=r"16, 3 classes.*feature_dim 12, 7 classes\): the feature_dim and number"):
        check_selector_fits(tmp_path / "s.zip", meta, "label_aware", (39,), config, seven)
    check_selector_fits(
        tmp_path / "s.zip", {**meta, "feature_dim": 12, "num_classes": 7}, "label_aware", (39,), config, seven
    )


def test_class_names_stored_as_bytes_are_decoded(tmp_path):
    np.savez(tmp_path / "b.npz", **_arrays(), class_names=np.array([b"a", b"b", b"c"]))
    assert FERDataset.from_npz(tmp_path / "b.npz").class_names == ("a", "b", "c")
    assert FERDataset.from_arrays(**_arrays(), class_names=[b"x", "y", b"z"]).class_names == ("x", "y", "z")
    np.savez(tmp_path / "bad.npz", **_arrays(), class_names=np.array([b"a", b"\xff", b"c"]))
    with pytest.raises(ValueError, match=r"bad\.npz: class_names: class name b'\\xff' is not valid UTF-8"):
        FERDataset.from_npz(tmp_path / "bad.npz")


def test_pickled_data_names_the_key_and_the_file(tmp_path):
    np.savez(tmp_path / "p.npz", **_arrays(), extra__votes=np.array([None] * 6, dtype=object))
    with pytest.raises(ValueError, match=r"p.npz: key 'extra__votes' holds pickled Python objects"):
        FERDataset.from_npz(tmp_path / "p.npz")


def test_the_safe_reader_reads_what_numpy_wrote(tiny_npz):
    """The safe reader reads what numpy wrote, byte for byte."""
    ds = FERDataset.from_npz(tiny_npz)
    with np.load(tiny_npz) as z:
        for key in ("x_train", "y_val", "noise_train"):
            np.testing.assert_array_equal(getattr(ds, key), z[key])
    assert list(read_npz(tiny_npz, ["y_test", "no_such_key"])) == ["y_test"]


def test_foreign_and_duplicate_members_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "foreign.npz", "w") as zf:
        zf.writestr("x_train.npy", _npy_bytes(np.zeros((2, 4, 4), np.uint8)))
        zf.writestr("README.txt", "hello")
    with pytest.raises(ValueError, match=r"foreign\.npz: member 'README.txt' is not an \.npy array"):
        read_npz(tmp_path / "foreign.npz")
    with zipfile.ZipFile(tmp_path / "twice.npz", "w") as zf:
        zf.writestr("y_train.npy", _npy_bytes(np.zeros(2, np.int64)))
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("y_train.npy", _npy_bytes(np.ones(2, np.int64)))
    with pytest.raises(ValueError, match=r"twice\.npz: key 'y_train' appears twice"):
        FERDataset.from_npz(tmp_path / "twice.npz")
