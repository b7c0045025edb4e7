"""FER2013 (§4.1) in its three layouts: the Kaggle csv, the FER+ evaluation copy (npz), and the image-folder release."""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fer_select_env.core.checks import check_integer_array
from fer_select_env.data.dataset import FER2013_CLASS_NAMES, FERDataset
from fer_select_env.data.loaders._common import (
    EMOTION_ALIASES,
    IMAGE_EXTENSIONS,
    POOL_TRAIN_VAL,
    SPLIT_CODES,
    Color,
    Issues,
    Item,
    LoaderWarning,
    PathLike,
    assemble,
    check_options,
    class_dirs,
    image_files,
    load_and_assemble,
    natural_key,
    require,
    resize,
    split_dirs,
)
from fer_select_env.data.npz import npz_members, read_npz

FER2013_USAGE: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
"""FER2013 ``Usage`` → split (§4.1: PublicTest validates, PrivateTest is the reported test set)."""

FER2013_LAYOUTS = (
    "the Kaggle fer2013.csv (columns emotion, pixels, Usage), as the file or a folder holding it",
    "the evaluation copy fer2013.npz (keys images, labels, usage, row, ferplus_votes), as the file or a folder "
    "holding it",
    "the image-folder release: a folder with train/<class>/ and test/<class>/ (optionally val/ or validation/)",
)


def _fer2013_arrays(images: np.ndarray, size: int | None, color: str) -> np.ndarray:
    if size is not None and size != images.shape[1]:
        images = np.stack([resize(im, size) for im in images]) if len(images) else images
    if color == "rgb":
        images = np.repeat(images[..., None], 3, axis=3)
    return images


def _fer2013_from_npz(path: Path, issues: Issues, size: int | None, color: str) -> FERDataset:
    keys = set(npz_members(path))
    if {"x_train", "y_train"} <= keys:
        raise ValueError(f"{path}: this is a FERDataset npz; read it with FERDataset.from_npz")
    need = {"images", "labels", "usage"}
    if not need <= keys:
        raise ValueError(
            f"{path}: not the FER2013 evaluation copy (needs keys {sorted(need)}, found {sorted(keys)}); "
            f"accepted FER2013 layouts: {'; '.join(FER2013_LAYOUTS)}"
        )
    z = read_npz(path, ["images", "labels", "usage", "row", "ferplus_votes"])
    images = z["images"]
    # integral values only: a float label 3.7 is an error, never a silent 3
    labels, usage = (check_integer_array(f"{path}: key {k!r}", z[k]) for k in ("labels", "usage"))
    row = check_integer_array(f"{path}: key 'row'", z["row"]) if "row" in z else np.arange(len(labels))
    votes = z.get("ferplus_votes")
    one_d = labels.ndim == usage.ndim == row.ndim == 1
    if (
        images.dtype != np.uint8
        or images.ndim != 3
        or not one_d
        or not len(images) == len(labels) == len(usage) == len(row)
    ):
        raise ValueError(
            f"{path}: images must be uint8 N×H×W with one label, usage and row each (1-D); got images "
            f"{images.shape} {images.dtype}, labels {labels.shape}, usage {usage.shape}, row {row.shape}"
        )
    if votes is not None and (votes.shape != (len(labels), 10) or votes.dtype.kind not in "iuf"):
        raise ValueError(f"{path}: ferplus_votes must be N×10 vote counts, got {votes.shape} {votes.dtype}")
    bad = (labels < 0) | (labels >= len(FER2013_CLASS_NAMES)) | (usage < 0) | (usage > 2)
    for i in np.flatnonzero(bad):
        what = f"unknown label {labels[i]}" if not 0 <= labels[i] < 7 else f"unknown usage code {usage[i]}"
        issues.add(f"{path} entry {i} (csv row {row[i]})", what)
    issues.report(len(labels))
    ok = ~bad
    extras = {"fer2013_row": row[ok]}
    if votes is not None:
        extras["ferplus_votes"] = votes[ok]
    return assemble(
        _fer2013_arrays(images[ok], size, color), labels[ok], usage[ok], extras, str(path), (0.8, 0.1, 0.1), 0
    )


def _parse_pixels(text: str) -> np.ndarray | None:
    # fromstring is 5× faster than str.split for 2,304 values; on bad text it warns (older numpy) or raises
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=np.int64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None


MAX_CSV_LINE_BYTES = 1 << 20
"""Longest csv line read (1 MiB; a FER2013 line is about 9 KB): a longer one is a skipped bad line."""

_EMOTIONS = frozenset(str(i) for i in range(7))


class _BadLine(Exception):
    """Why one csv line is skipped."""


def _csv_lines(fh: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """``(physical line number, line without its end)``; ``None`` for a line over :data:`MAX_CSV_LINE_BYTES`,
    which is read to its end so that the next line keeps its number."""
    number = 0
    while raw := fh.readline(MAX_CSV_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_CSV_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = fh.readline(MAX_CSV_LINE_BYTES)
            yield number, None
            continue
        yield number, raw.rstrip(b"\r\n")


def _csv_fields(line: bytes | None, encoding: str = "utf-8") -> list[str]:
    """The fields of one line (quotes as the csv module reads them), or :class:`_BadLine`."""
    if line is None:
        raise _BadLine(f"line longer than {MAX_CSV_LINE_BYTES} bytes")
    try:
        text = line.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _BadLine(f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})") from None
    try:
        # one record per line: a quote left open ends with the line instead of swallowing the next ones
        return next(csv.reader([text], strict=True), [])
    except csv.Error as exc:
        raise _BadLine(f"malformed csv ({exc})") from None


def _csv_header(path: Path, lines: Iterator[tuple[int, bytes | None]]) -> dict[str, int]:
    first = next(lines, None)
    if first is None:
        raise ValueError(f"{path}: the csv file is empty")
    try:
        header = [h.strip().lower() for h in _csv_fields(first[1], "utf-8-sig")]
    except _BadLine as exc:
        raise ValueError(f"{path} line 1 (the header): {exc}") from None
    cols = {name: header.index(name) for name in ("emotion", "pixels", "usage") if name in header}
    if len(cols) != 3:
        raise ValueError(f"{path}: a FER2013 csv needs the columns emotion, pixels, Usage; found {header}")
    return cols


def _csv_record(line: bytes | None, cols: dict[str, int]) -> tuple[np.ndarray, int, str]:
    """``(48×48 image, label, usage)`` of one data line, or :class:`_BadLine` saying what is wrong."""
    rec = _csv_fields(line)
    if len(rec) <= max(cols.values()):
        raise _BadLine(f"expected {max(cols.values()) + 1} columns, got {len(rec)}")
    emotion, usage = rec[cols["emotion"]].strip(), rec[cols["usage"]].strip()
    if usage not in FER2013_USAGE:
        raise _BadLine(f"unknown Usage {usage!r} (expected one of {sorted(FER2013_USAGE)})")
    if emotion not in _EMOTIONS:
        raise _BadLine(f"unknown emotion label {emotion!r} (expected 0-6)")
    pix = _parse_pixels(rec[cols["pixels"]])
    if pix is None:
        raise _BadLine("pixels are not all integers")
    if len(pix) != 48 * 48:
        raise _BadLine(f"expected 2304 pixel values (48×48), got {len(pix)}")
    bad = np.flatnonzero((pix < 0) | (pix > 255))
    if len(bad):
        raise _BadLine(f"pixel value {pix[bad[0]]} at position {bad[0] + 1} is outside 0-255")
    return pix.astype(np.uint8).reshape(48, 48), int(emotion), usage


def _fer2013_from_csv(path: Path, issues: Issues, size: int | None, color: str) -> FERDataset:
    """One record per physical line, read in binary and decoded line by line: a bad line (bad UTF-8, an open
    quote, a huge field) is skipped and counted under its own line number, and never costs a good line."""
    images, labels, splits, rows = [], [], [], []
    n_rows = 0
    with open(path, "rb") as fh:
        lines = _csv_lines(fh)
        cols = _csv_header(path, lines)
        for number, line in lines:
            if line is not None and not line.strip():
                continue  # a blank line holds no record
            n_rows += 1
            try:
                image, label, usage = _csv_record(line, cols)
            except _BadLine as exc:
                issues.add(f"{path} line {number}", str(exc))
                continue
            images.append(image)
            labels.append(label)
            splits.append(SPLIT_CODES[FER2013_USAGE[usage]])
            rows.append(number - 2)  # the data-row index: line 2 holds row 0
    issues.report(n_rows)
    if not images:
        raise ValueError(f"{path}: no usable rows")
    x = _fer2013_arrays(np.stack(images), size, color)
    extras = {"fer2013_row": np.array(rows, np.int64)}
    return assemble(x, np.array(labels, np.int64), np.array(splits), extras, str(path), (0.8, 0.1, 0.1), 0)


_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_\d+$")


def _emotion_of_folder(folder: Path) -> int:
    label = EMOTION_ALIASES.get(folder.name.lower())
    if label is None:
        raise ValueError(
            f"{folder}: folder name {folder.name!r} is not a FER2013 emotion "
            f"(accepted: {sorted(EMOTION_ALIASES)}); refusing to guess its label"
        )
    return label


def _fer2013_from_folders(
    root: Path, dirs: dict[str, Path], issues: Issues, size: int | None, color: str, seed: int, val_fraction: float
) -> FERDataset:
    files: list[tuple[str, Path, int]] = []  # (split folder, file, label)
    for split, d in dirs.items():
        for cdir in class_dirs(d):
            label = _emotion_of_folder(cdir)
            files += [(split, f, label) for f in image_files(cdir)]
    total = len(files)
    if total == 0:
        raise ValueError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)}) under {sorted(dirs)}/<class>/")
    prefixed = any(f.stem.startswith(("PublicTest_", "PrivateTest_")) for _, f, _ in files)
    items: list[Item] = []
    for split, f, label in files:
        rel = f.relative_to(root).as_posix()
        if prefixed:
            m = _PREFIX.match(f.stem)
            if m is None:
                issues.add(str(f), "file name lacks a Training_/PublicTest_/PrivateTest_ <id> prefix")
                continue
            code = SPLIT_CODES[FER2013_USAGE[m.group(1)]]
        elif split == "train" and "val" not in dirs:
            code = POOL_TRAIN_VAL
        else:
            code = SPLIT_CODES[split]
        items.append(Item(f, label, code, str(f), rel))
    if not prefixed and "val" not in dirs:
        warnings.warn(
            f"{root}: no PublicTest_/PrivateTest_ file names and no val folder, so PublicTest/PrivateTest cannot "
            f"be recovered: val is a seeded (seed={seed}) stratified {val_fraction:.0%} split of train/, and "
            "test/ is the test split as given (in the Kaggle release it holds PublicTest and PrivateTest)",
            LoaderWarning,
            stacklevel=3,
        )
    # within each split, order by file name (the Kaggle ids), not by class folder
    items.sort(key=lambda it: natural_key(Path(it.name).name))
    return load_and_assemble(
        items,
        issues,
        total,
        str(root),
        size=size,
        color=color,
        seed=seed,
        fractions=(1.0 - val_fraction, val_fraction, 0.0),
        workers=None,
    )


def load_fer2013(
    path: PathLike,
    size: int | None = 48,
    color: Color = "gray",
    seed: int = 0,
    strict: bool = False,
    val_fraction: float = 0.1,
) -> FERDataset:
    """FER2013 (§4.1): Training → train, PublicTest → val, PrivateTest → test, in file order per split.

    ``path`` is ``fer2013.csv``, the evaluation copy ``fer2013.npz``, the image-folder release (a folder
    with ``train/<class>/`` and ``test/<class>/``), or a folder holding one of the first two; the layout
    is detected. The image-folder release recovers PublicTest/PrivateTest from ``PublicTest_``/
    ``PrivateTest_`` file names; without them val is a seeded stratified ``val_fraction`` split of train
    (a :class:`LoaderWarning` says so) and ``test/`` stays the test split. The evaluation copy puts FER+
    votes in ``extras["ferplus_votes"]`` (and ``extras_val``/``extras_test``), and every row-based layout
    records the csv data-row index in ``extras["fer2013_row"]``; folders record ``extras["file"]``.

    :param size: output side (default 48, FER2013's native size); ``None`` keeps the native size
    :param color: ``"gray"`` (native) or ``"rgb"`` (the gray channel repeated)
    """
    check_options(size, color, seed)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: must be in (0, 1), got {val_fraction!r}")
    p = require(path)
    if p.is_dir():
        for name in ("fer2013.csv", "icml_face_data.csv", "fer2013.npz"):
            if (p / name).is_file():
                p = p / name
                break
    issues = Issues(f"FER2013 {p}", strict)
    if p.is_file() and p.suffix.lower() == ".csv":
        return _fer2013_from_csv(p, issues, size, color)
    if p.is_file() and p.suffix.lower() == ".npz":
        return _fer2013_from_npz(p, issues, size, color)
    if p.is_dir():
        dirs = split_dirs(p)
        if "train" in dirs and "test" in dirs:
            return _fer2013_from_folders(p, dirs, issues, size, color, seed, val_fraction)
    raise ValueError(f"{p}: not a recognised FER2013 layout; accepted: {'; '.join(FER2013_LAYOUTS)}")


__all__ = ["FER2013_LAYOUTS", "FER2013_USAGE", "load_fer2013"]
