"""Loaders for the real datasets of the paper's §4.1 (FER2013, RAF-DB, ExpW) and for any class-per-folder
image tree. Nothing is downloaded: every loader reads files the user already has.

Every loader returns a :class:`FERDataset` whose labels follow FER2013's class order (0 angry, 1 disgust,
2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral), except :func:`load_image_folder` on folders that are not
all emotion names. Images are decoded, converted and resized with OpenCV. A bad entry (unreadable image,
malformed line, unknown label) is skipped and all skips are reported in one :class:`LoaderWarning`; with
``strict=True`` the first one raises an error naming the file and line. A label is never guessed.
"""

from __future__ import annotations

import csv
import math
import numbers
import os
import re
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from fer_select_env.data.dataset import FER2013_CLASS_NAMES, FERDataset
from fer_select_env.data.faces import FaceDetector, crop_face, haar_face_detector

Color = Literal["gray", "rgb"]
PathLike = str | os.PathLike

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm")

EMOTION_ALIASES: dict[str, int] = {
    **{name: i for i, name in enumerate(FER2013_CLASS_NAMES)},
    "anger": 0,
    "disgusted": 1,
    "fearful": 2,
    "happiness": 3,
    "sadness": 4,
    "surprised": 5,
}
"""Folder names (lower-cased) recognised as FER2013 emotions, mapped to FER2013 labels."""

RAFDB_TO_FER2013: dict[int, int] = {1: 5, 2: 2, 3: 1, 4: 3, 5: 4, 6: 0, 7: 6}
"""RAF-DB basic labels (1 surprise, 2 fear, 3 disgust, 4 happiness, 5 sadness, 6 anger, 7 neutral) → FER2013."""

FER2013_USAGE: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
"""FER2013 ``Usage`` → split (§4.1: PublicTest validates, PrivateTest is the reported test set)."""

FER2013_LAYOUTS = (
    "the Kaggle fer2013.csv (columns emotion, pixels, Usage), as the file or a folder holding it",
    "the evaluation copy fer2013.npz (keys images, labels, usage, row, ferplus_votes), as the file or a folder "
    "holding it",
    "the image-folder release: a folder with train/<class>/ and test/<class>/ (optionally val/ or validation/)",
)

_SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
_TRAINVAL, _ALL = 3, 4  # pools still to be split: train+val, or train+val+test


class LoaderWarning(UserWarning):
    """Skipped entries, or a split the loader had to make up (e.g. a seeded val split)."""


# ------------------------------------------------------------------------------------------ splits
def split_sizes(n: int, fractions: Sequence[float]) -> tuple[int, ...]:
    """Sizes of a split of ``n`` items by ``fractions`` (train first, then the held-out parts).

    Each held-out part gets ``ceil(fraction · n)`` and train keeps the rest. This reproduces the paper's
    §4.1 figures: RAF-DB's official 12,271 training images → 9,816 train + 2,455 val (0.8/0.2), and
    ExpW's 91,793 faces → 73,433 / 9,180 / 9,180 (0.8/0.1/0.1).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n: must be a non-negative integer, got {n!r}")
    fr = [float(f) for f in fractions]
    if len(fr) < 2 or any(not 0.0 <= f <= 1.0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError(f"fractions: need >= 2 values in [0, 1] summing to 1, got {tuple(fractions)}")
    # round() first: 0.1 * 91790 is 9179.000000000002 in floating point and must not become 9180
    held = [math.ceil(round(f * n, 6)) for f in fr[1:]]
    if sum(held) > n:
        raise ValueError(f"fractions {tuple(fractions)} leave no training items out of {n}")
    return (n - sum(held), *held)


def seeded_split(
    labels: np.ndarray, fractions: Sequence[float], seed: int = 0, stratify: bool = True
) -> tuple[np.ndarray, ...]:
    """Split indices ``0..N-1`` into parts of :func:`split_sizes` sizes, reproducibly from ``seed``.

    With ``stratify`` each held-out part draws from every class in proportion (largest-remainder
    rounding, so the part sizes stay exact). Each part's indices are sorted, keeping file order.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels: must be 1-D, got shape {y.shape}")
    sizes = split_sizes(len(y), fractions)
    rng = np.random.default_rng(seed)
    remaining = np.arange(len(y))
    held: list[np.ndarray] = []
    for m in sizes[1:]:
        if not stratify:
            pick = rng.choice(remaining, size=m, replace=False)
        else:
            pick = _stratified_pick(y[remaining], m, rng)
            pick = remaining[pick]
        held.append(np.sort(pick))
        remaining = np.setdiff1d(remaining, pick, assume_unique=True)
    return (remaining, *held)


def _stratified_pick(y: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    exact = np.round(m * counts / max(len(y), 1), 9)
    quota = np.minimum(np.floor(exact).astype(np.int64), counts)
    short = m - int(quota.sum())
    # largest remainder first; a random key breaks ties so no class is always favoured
    order = np.lexsort((rng.random(len(classes)), -(exact - quota)))
    for c in order:
        if short == 0:
            break
        if quota[c] < counts[c]:
            quota[c] += 1
            short -= 1
    picks = [rng.choice(np.flatnonzero(inverse == c), size=int(quota[c]), replace=False) for c in range(len(classes))]
    return np.concatenate(picks) if picks else np.empty(0, np.int64)


# ------------------------------------------------------------------------------------------ problems
class _Issues:
    """Collects skipped entries for one warning, or raises at the first one in strict mode."""

    def __init__(self, source: str, strict: bool):
        self.source, self.strict, self.items = source, strict, []

    def add(self, where: str, why: str, missing: bool = False) -> None:
        if self.strict:
            raise (FileNotFoundError if missing else ValueError)(f"{where}: {why}")
        self.items.append(f"{where}: {why}")

    def report(self, total: int) -> None:
        if not self.items:
            return
        shown = "; ".join(self.items[:5]) + ("; ..." if len(self.items) > 5 else "")
        warnings.warn(
            f"{self.source}: skipped {len(self.items)} of {total} entries (strict=True raises instead): {shown}",
            LoaderWarning,
            stacklevel=3,
        )


# ------------------------------------------------------------------------------------------ images
@dataclass
class _Item:
    path: Path
    label: int
    split: int  # a _SPLIT_CODES value, _TRAINVAL or _ALL
    where: str  # file (and line) named in skip messages
    name: str  # recorded in extras["file"]
    box: tuple[int, int, int, int] | None = None  # top, left, right, bottom (ExpW)
    confidence: float = float("nan")  # ExpW's face-detector confidence


def _check_options(size: int | None, color: str, seed: object) -> None:
    if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 8 <= size <= 1024):
        raise ValueError(f"size: must be an integer in [8, 1024] or None (keep native size), got {size!r}")
    if color not in ("gray", "rgb"):
        raise ValueError(f"color: must be 'gray' or 'rgb', got {color!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")


def _decode(path: Path, color: str) -> np.ndarray | None:
    try:
        # fromfile + imdecode rather than imread: imread cannot open non-ASCII paths on every platform
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if buf.size == 0:
        return None
    img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if color == "gray" else cv2.IMREAD_COLOR)
    if img is None:
        return None
    return img if color == "gray" else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _resize(img: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or img.shape[:2] == (size, size):
        return img
    shrink = img.shape[0] > size or img.shape[1] > size
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _resolve_detector(face_detector: FaceDetector | str | None) -> FaceDetector | None:
    if face_detector is None or callable(face_detector):
        return face_detector
    if face_detector == "haar":
        return haar_face_detector()
    raise ValueError(f"face_detector: must be None, 'haar' or a callable, got {face_detector!r}")


def _load_one(
    item: _Item, size: int | None, color: str, detector: FaceDetector | None
) -> tuple[np.ndarray | None, bool, str]:
    """``(image, face_found, problem)``; image is None when the item must be skipped."""
    if not item.path.is_file():
        return None, False, "missing"
    img = _decode(item.path, color)
    if img is None:
        return None, False, "unreadable image (not a decodable image file)"
    if item.box is not None:
        top, left, right, bottom = item.box
        h, w = img.shape[:2]
        top, left, right, bottom = max(0, top), max(0, left), min(w, right), min(h, bottom)
        if right - left < 2 or bottom - top < 2:
            return None, False, f"face box {item.box} lies outside the {w}×{h} image"
        img = img[top:bottom, left:right]
    found = False
    if detector is not None:
        img, found = crop_face(img, detector)
    return _resize(img, size), found, ""


def _default_workers(workers: int | None) -> int:
    if workers is None:
        return max(1, min(8, os.cpu_count() or 1))
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers: must be a positive integer or None, got {workers!r}")
    return int(workers)


def _load_items(
    items: list[_Item],
    issues: _Issues,
    size: int | None,
    color: str,
    detector: FaceDetector | None,
    workers: int | None,
) -> tuple[list[np.ndarray], list[_Item], list[bool]]:
    def work(item: _Item) -> tuple[np.ndarray | None, bool, str]:
        return _load_one(item, size, color, detector)

    n_workers = _default_workers(workers)
    images, kept, found = [], [], []
    # OpenCV releases the GIL while decoding, so threads scale; map() keeps the file order, so the result
    # and the first error raised in strict mode do not depend on the number of workers
    # a detector callable need not be thread-safe (nor is one cv2.CascadeClassifier shared by threads)
    single = len(items) < 64 or detector is not None
    pool = ThreadPoolExecutor(max_workers=1 if single else n_workers)
    try:
        for item, (img, ok, problem) in zip(items, pool.map(work, items), strict=True):
            if img is None:
                missing = problem == "missing"
                issues.add(item.where, "image file not found" if missing else problem, missing)
                continue
            images.append(img)
            kept.append(item)
            found.append(ok)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # a strict-mode error must not wait for the rest
    return images, kept, found


def _stack(images: list[np.ndarray], source: str) -> np.ndarray:
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"{source}: images have different shapes {sorted(shapes)[:4]}; pass size= to resize them")
    return np.stack(images).astype(np.uint8, copy=False)


def _assemble(
    x: np.ndarray,
    y: np.ndarray,
    split: np.ndarray,
    extras: dict[str, np.ndarray],
    source: str,
    fractions: Sequence[float],
    seed: int,
    stratify: bool = True,
    class_names: Sequence[str] = FER2013_CLASS_NAMES,
) -> FERDataset:
    """Split the pools left to split (seeded), check no split is empty, build the dataset."""
    split = split.copy()
    f_train, f_val = fractions[0], fractions[1]
    # a train+val pool (test given) splits by val's share of train+val, e.g. RAF-DB's 0.2 of its official train
    pools = ((_TRAINVAL, (f_train / (f_train + f_val), f_val / (f_train + f_val))), (_ALL, tuple(fractions)))
    for pool, parts in pools:
        idx = np.flatnonzero(split == pool)
        if len(idx) == 0:
            continue
        for code, sub in enumerate(seeded_split(y[idx], parts, seed, stratify)):
            split[idx[sub]] = code
    arrays: dict[str, np.ndarray] = {}
    per_split_extras: dict[str, dict[str, np.ndarray]] = {}
    for name, code in _SPLIT_CODES.items():
        sel = np.flatnonzero(split == code)
        if len(sel) == 0:
            raise ValueError(f"{source}: no usable images for the {name} split")
        arrays[f"x_{name}"], arrays[f"y_{name}"] = x[sel], y[sel]
        per_split_extras[name] = {k: v[sel] for k, v in extras.items()}
    return FERDataset.from_arrays(
        **arrays,
        class_names=class_names,
        extras=per_split_extras["train"],
        extras_val=per_split_extras["val"],
        extras_test=per_split_extras["test"],
    )


def _load_and_assemble(
    items: list[_Item],
    issues: _Issues,
    total: int,
    source: str,
    *,
    size: int | None,
    color: str,
    seed: int,
    fractions: Sequence[float],
    face_detector: FaceDetector | str | None = None,
    workers: int | None = None,
    stratify: bool = True,
    class_names: Sequence[str] = FER2013_CLASS_NAMES,
) -> FERDataset:
    detector = _resolve_detector(face_detector)
    images, kept, found = _load_items(items, issues, size, color, detector, workers)
    issues.report(total)
    if not images:
        raise ValueError(f"{source}: none of the {total} listed images could be loaded")
    x = _stack(images, source)
    y = np.array([it.label for it in kept], np.int64)
    extras: dict[str, np.ndarray] = {"file": np.array([it.name for it in kept], dtype=str)}
    if any(it.box is not None for it in kept):
        extras["face_box"] = np.array([it.box for it in kept], np.int32)
        extras["face_confidence"] = np.array([it.confidence for it in kept], np.float32)
    if detector is not None:
        extras["face_found"] = np.array(found, bool)
    split = np.array([it.split for it in kept], np.int64)
    return _assemble(x, y, split, extras, source, fractions, seed, stratify, class_names)


def _natural_key(text: str) -> list:
    """``Training_2`` before ``Training_10``: digit runs compare as numbers."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda p: _natural_key(p.name),
    )


def _require(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"dataset path not found: {p}")
    return p


# ------------------------------------------------------------------------------------------ FER2013
def _fer2013_arrays(images: np.ndarray, size: int | None, color: str) -> np.ndarray:
    if size is not None and size != images.shape[1]:
        images = np.stack([_resize(im, size) for im in images]) if len(images) else images
    if color == "rgb":
        images = np.repeat(images[..., None], 3, axis=3)
    return images


def _fer2013_from_npz(path: Path, issues: _Issues, size: int | None, color: str) -> FERDataset:
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile errors: name the file
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from exc
    with archive as z:
        keys = set(z.files)
        if {"x_train", "y_train"} <= keys:
            raise ValueError(f"{path}: this is a FERDataset npz; read it with FERDataset.from_npz")
        need = {"images", "labels", "usage"}
        if not need <= keys:
            raise ValueError(
                f"{path}: not the FER2013 evaluation copy (needs keys {sorted(need)}, found {sorted(keys)}); "
                f"accepted FER2013 layouts: {'; '.join(FER2013_LAYOUTS)}"
            )
        images, labels, usage = z["images"], z["labels"].astype(np.int64), z["usage"].astype(np.int64)
        row = z["row"].astype(np.int64) if "row" in keys else np.arange(len(labels))
        votes = z["ferplus_votes"] if "ferplus_votes" in keys else None
    if images.dtype != np.uint8 or images.ndim != 3 or not (len(images) == len(labels) == len(usage) == len(row)):
        raise ValueError(
            f"{path}: images must be uint8 N×H×W with one label, usage and row each; got images {images.shape} "
            f"{images.dtype}, labels {labels.shape}, usage {usage.shape}, row {row.shape}"
        )
    if votes is not None and votes.shape != (len(labels), 10):
        raise ValueError(f"{path}: ferplus_votes must be N×10, got {votes.shape}")
    bad = (labels < 0) | (labels >= len(FER2013_CLASS_NAMES)) | (usage < 0) | (usage > 2)
    for i in np.flatnonzero(bad):
        what = f"unknown label {labels[i]}" if not 0 <= labels[i] < 7 else f"unknown usage code {usage[i]}"
        issues.add(f"{path} entry {i} (csv row {row[i]})", what)
    issues.report(len(labels))
    ok = ~bad
    extras = {"fer2013_row": row[ok]}
    if votes is not None:
        extras["ferplus_votes"] = votes[ok]
    return _assemble(
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


def _fer2013_from_csv(path: Path, issues: _Issues, size: int | None, color: str) -> FERDataset:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path}: the csv file is empty") from None
        cols = {name: header.index(name) for name in ("emotion", "pixels", "usage") if name in header}
        if len(cols) != 3:
            raise ValueError(f"{path}: a FER2013 csv needs the columns emotion, pixels, Usage; found {header}")
        images, labels, splits, rows = [], [], [], []
        n_rows = 0
        for n_rows, rec in enumerate(reader, start=1):
            where = f"{path} line {n_rows + 1}"
            if len(rec) <= max(cols.values()):
                issues.add(where, f"expected {len(header)} columns, got {len(rec)}")
                continue
            emotion, usage = rec[cols["emotion"]].strip(), rec[cols["usage"]].strip()
            if usage not in FER2013_USAGE:
                issues.add(where, f"unknown Usage {usage!r} (expected one of {sorted(FER2013_USAGE)})")
                continue
            if emotion not in {str(i) for i in range(7)}:
                issues.add(where, f"unknown emotion label {emotion!r} (expected 0-6)")
                continue
            pix = _parse_pixels(rec[cols["pixels"]])
            if pix is None:
                issues.add(where, "pixels are not all integers")
                continue
            if len(pix) != 48 * 48 or pix.min() < 0 or pix.max() > 255:
                issues.add(where, f"expected 2304 pixel values in 0-255, got {len(pix)} values")
                continue
            images.append(pix.astype(np.uint8).reshape(48, 48))
            labels.append(int(emotion))
            splits.append(_SPLIT_CODES[FER2013_USAGE[usage]])
            rows.append(n_rows - 1)
    issues.report(n_rows)
    if not images:
        raise ValueError(f"{path}: no usable rows")
    x = _fer2013_arrays(np.stack(images), size, color)
    extras = {"fer2013_row": np.array(rows, np.int64)}
    return _assemble(x, np.array(labels, np.int64), np.array(splits), extras, str(path), (0.8, 0.1, 0.1), 0)


_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_\d+$")
_FOLDER_SPLITS = {"train": "train", "training": "train", "val": "val", "validation": "val", "valid": "val"}
_FOLDER_SPLITS.update({"test": "test", "testing": "test"})


def _split_dirs(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        split = _FOLDER_SPLITS.get(d.name.lower())
        if split is not None:
            if split in found:
                raise ValueError(f"{root}: two folders for the {split} split: {found[split].name} and {d.name}")
            found[split] = d
    return found


def _class_dirs(split_dir: Path) -> list[Path]:
    return sorted((p for p in split_dir.iterdir() if p.is_dir()), key=lambda p: p.name.lower())


def _emotion_of_folder(folder: Path) -> int:
    label = EMOTION_ALIASES.get(folder.name.lower())
    if label is None:
        raise ValueError(
            f"{folder}: folder name {folder.name!r} is not a FER2013 emotion "
            f"(accepted: {sorted(EMOTION_ALIASES)}); refusing to guess its label"
        )
    return label


def _fer2013_from_folders(
    root: Path, dirs: dict[str, Path], issues: _Issues, size: int | None, color: str, seed: int, val_fraction: float
) -> FERDataset:
    files: list[tuple[str, Path, int]] = []  # (split folder, file, label)
    for split, d in dirs.items():
        for cdir in _class_dirs(d):
            label = _emotion_of_folder(cdir)
            files += [(split, f, label) for f in _image_files(cdir)]
    total = len(files)
    if total == 0:
        raise ValueError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)}) under {sorted(dirs)}/<class>/")
    prefixed = any(f.stem.startswith(("PublicTest_", "PrivateTest_")) for _, f, _ in files)
    items: list[_Item] = []
    for split, f, label in files:
        rel = f.relative_to(root).as_posix()
        if prefixed:
            m = _PREFIX.match(f.stem)
            if m is None:
                issues.add(str(f), "file name lacks a Training_/PublicTest_/PrivateTest_ <id> prefix")
                continue
            code = _SPLIT_CODES[FER2013_USAGE[m.group(1)]]
        elif split == "train" and "val" not in dirs:
            code = _TRAINVAL
        else:
            code = _SPLIT_CODES[split]
        items.append(_Item(f, label, code, str(f), rel))
    if not prefixed and "val" not in dirs:
        warnings.warn(
            f"{root}: no PublicTest_/PrivateTest_ file names and no val folder, so PublicTest/PrivateTest cannot "
            f"be recovered: val is a seeded (seed={seed}) stratified {val_fraction:.0%} split of train/, and "
            "test/ is the test split as given (in the Kaggle release it holds PublicTest and PrivateTest)",
            LoaderWarning,
            stacklevel=3,
        )
    # within each split, order by file name (the Kaggle ids), not by class folder
    items.sort(key=lambda it: _natural_key(Path(it.name).name))
    return _load_and_assemble(
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
    _check_options(size, color, seed)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: must be in (0, 1), got {val_fraction!r}")
    p = _require(path)
    if p.is_dir():
        for name in ("fer2013.csv", "icml_face_data.csv", "fer2013.npz"):
            if (p / name).is_file():
                p = p / name
                break
    issues = _Issues(f"FER2013 {p}", strict)
    if p.is_file() and p.suffix.lower() == ".csv":
        return _fer2013_from_csv(p, issues, size, color)
    if p.is_file() and p.suffix.lower() == ".npz":
        return _fer2013_from_npz(p, issues, size, color)
    if p.is_dir():
        dirs = _split_dirs(p)
        if "train" in dirs and "test" in dirs:
            return _fer2013_from_folders(p, dirs, issues, size, color, seed, val_fraction)
    raise ValueError(f"{p}: not a recognised FER2013 layout; accepted: {'; '.join(FER2013_LAYOUTS)}")


# ------------------------------------------------------------------------------------------ RAF-DB
_RAF_LABEL_FILES = ("list_patition_label.txt", "list_partition_label.txt")  # the official name is misspelt


def _find_file(p: Path, names: Sequence[str], subdirs: Sequence[str]) -> Path | None:
    if p.is_file():
        return p
    for sub in subdirs:
        for name in names:
            cand = p / sub / name
            if cand.is_file():
                return cand
    return None


def load_rafdb(
    path: PathLike,
    size: int | None = 48,
    color: Color = "gray",
    seed: int = 0,
    strict: bool = False,
    images: Literal["auto", "aligned", "original"] = "auto",
    val_fraction: float = 0.2,
    face_detector: FaceDetector | Literal["haar"] | None = None,
    workers: int | None = None,
) -> FERDataset:
    """RAF-DB basic (§4.1): official train (12,271) → seeded 9,816 train + 2,455 val; official test stays test.

    ``path`` is the ``basic`` folder, its ``EmoLabel`` folder, or ``list_patition_label.txt`` itself.
    Images come from ``Image/aligned`` (``*_aligned.jpg``, 100×100 RGB) when present, else from
    ``Image/original`` (``images=`` forces one). Labels 1-7 (surprise, fear, disgust, happiness, sadness,
    anger, neutral) are remapped to FER2013 order by :data:`RAFDB_TO_FER2013`; any other label is a
    skipped entry. ``face_detector`` (``"haar"`` or a callable) crops the largest face, useful for the
    original images; ``extras["face_found"]`` then records where one was found.

    :param size: output side, default 48 (as FER2013 and the synthetic benchmark; the aligned images are 100)
    :param workers: decoding threads (default: CPU count, at most 8; one thread when a face detector is used)
    """
    _check_options(size, color, seed)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: must be in (0, 1), got {val_fraction!r}")
    if images not in ("auto", "aligned", "original"):
        raise ValueError(f"images: must be 'auto', 'aligned' or 'original', got {images!r}")
    p = _require(path)
    label_file = _find_file(p, _RAF_LABEL_FILES, (".", "EmoLabel", "basic/EmoLabel"))
    if label_file is None:
        raise ValueError(f"{p}: no RAF-DB {_RAF_LABEL_FILES[0]} found in it, its EmoLabel/ or basic/EmoLabel/")
    base = label_file.parent.parent if label_file.parent.name.lower() == "emolabel" else label_file.parent
    aligned, original = base / "Image" / "aligned", base / "Image" / "original"
    use_aligned = images == "aligned" or (images == "auto" and aligned.is_dir())
    img_dir = aligned if use_aligned else original
    if not img_dir.is_dir():
        raise FileNotFoundError(f"RAF-DB image folder not found: {img_dir} (expected Image/aligned or Image/original)")
    issues = _Issues(f"RAF-DB {label_file}", strict)
    items: list[_Item] = []
    lines = label_file.read_text(encoding="utf-8", errors="replace").splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{label_file} line {lineno}"
        parts = line.split()
        if len(parts) != 2:
            issues.add(where, f"expected '<image> <label>', got {line.strip()!r}")
            continue
        name, raw = parts
        label = RAFDB_TO_FER2013.get(int(raw)) if raw.isdigit() else None
        if label is None:
            issues.add(where, f"unknown RAF-DB label {raw!r} (expected 1-7)")
            continue
        if name.startswith("train_"):
            split = _TRAINVAL
        elif name.startswith("test_"):
            split = _SPLIT_CODES["test"]
        else:
            issues.add(where, f"image name {name!r} starts with neither train_ nor test_")
            continue
        stem, ext = os.path.splitext(name)
        file = img_dir / (f"{stem}_aligned{ext}" if use_aligned else name)
        items.append(_Item(file, label, split, f"{where} ({file})", file.name))
    if not items and not issues.items:
        raise ValueError(f"{label_file}: the label file lists no images")
    return _load_and_assemble(
        items,
        issues,
        sum(1 for ln in lines if ln.strip()),
        f"RAF-DB {base}",
        size=size,
        color=color,
        seed=seed,
        fractions=(1.0 - val_fraction, val_fraction, 0.0),
        face_detector=face_detector,
        workers=workers,
    )


# ------------------------------------------------------------------------------------------ ExpW
def _parse_expw_line(line: str) -> tuple[str, tuple[int, int, int, int], float, int]:
    parts = line.split()
    if len(parts) != 8:
        raise ValueError(f"expected 8 fields (image face_id top left right bottom confidence label), got {len(parts)}")
    name = parts[0]
    try:
        top, left, right, bottom = (int(float(v)) for v in parts[2:6])
        conf = float(parts[6])
    except ValueError:
        raise ValueError(f"face box or confidence is not numeric: {parts[2:7]}") from None
    if not (right > left and bottom > top):
        raise ValueError(f"empty face box top={top} left={left} right={right} bottom={bottom}")
    raw = parts[7]
    if raw not in {str(i) for i in range(7)}:
        raise KeyError(raw)
    return name, (top, left, right, bottom), conf, int(raw)


def load_expw(
    path: PathLike,
    size: int | None = 48,
    color: Color = "gray",
    seed: int = 0,
    strict: bool = False,
    image_dir: PathLike | None = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    min_confidence: float | None = None,
    workers: int | None = None,
) -> FERDataset:
    """ExpW (§4.1): one face per ``label.lst`` line, cropped by its box; seeded stratified 8:1:1 split.

    ``path`` is ``label.lst``, or a folder holding it or ``label/label.lst``. Images are read from
    ``image_dir``, else the first existing of ``image/origin``, ``origin``, ``image`` beside the ``label``
    folder, else the label file's folder. Lines read ``image face_id top left right bottom confidence
    label``; labels 0-6 are already FER2013 order, any other is a skipped entry. ``min_confidence`` drops
    faces whose detector confidence is lower (not counted as problems). ``extras["face_box"]`` holds
    (top, left, right, bottom) and ``extras["face_confidence"]`` the confidence.

    :param size: output side, default 48 (as FER2013; ExpW boxes vary in size)
    :param workers: decoding threads (default: CPU count, at most 8; one thread when a face detector is used)
    """
    _check_options(size, color, seed)
    if len(fractions) != 3:
        raise ValueError(f"fractions: need (train, val, test), got {tuple(fractions)}")
    split_sizes(0, fractions)  # validates the values before any file is read
    p = _require(path)
    label_file = _find_file(p, ("label.lst",), (".", "label"))
    if label_file is None:
        raise ValueError(f"{p}: no ExpW label.lst found in it or in its label/ folder")
    root = label_file.parent.parent if label_file.parent.name.lower() == "label" else label_file.parent
    if image_dir is not None:
        img_dir = _require(image_dir)
    else:
        cands = [root / "image" / "origin", root / "origin", root / "image"]
        img_dir = next((c for c in cands if c.is_dir()), label_file.parent)
    issues = _Issues(f"ExpW {label_file}", strict)
    items: list[_Item] = []
    lines = label_file.read_text(encoding="utf-8", errors="replace").splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{label_file} line {lineno}"
        try:
            name, box, c, label = _parse_expw_line(line)
        except KeyError as exc:
            issues.add(where, f"unknown ExpW label {exc.args[0]!r} (expected 0-6)")
            continue
        except ValueError as exc:
            issues.add(where, str(exc))
            continue
        if min_confidence is not None and c < min_confidence:
            continue
        items.append(_Item(img_dir / name, label, _ALL, f"{where} ({img_dir / name})", name, box, c))
    total = sum(1 for ln in lines if ln.strip())
    if total == 0:
        raise ValueError(f"{label_file}: the label file lists no faces")
    return _load_and_assemble(
        items, issues, total, f"ExpW {root}", size=size, color=color, seed=seed, fractions=fractions, workers=workers
    )


# ------------------------------------------------------------------------------------------ folders
def load_image_folder(
    path: PathLike,
    size: int | None = 48,
    color: Color = "gray",
    seed: int = 0,
    strict: bool = False,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    stratify: bool = True,
    face_detector: FaceDetector | Literal["haar"] | None = None,
    workers: int | None = None,
) -> FERDataset:
    """Any class-per-folder tree: ``root/<class>/*.png|jpg`` (split by ``fractions``, seeded), or
    ``root/{train,val,test}/<class>/`` (splits as given; without a val folder, val is split from train).

    When every class folder is a FER2013 emotion name (:data:`EMOTION_ALIASES`, e.g. ``angry``,
    ``happiness``) the labels follow FER2013 order and ``class_names`` are FER2013's; otherwise labels
    follow the sorted folder names, which become ``class_names``. ``extras["file"]`` holds each image's
    path relative to ``root``.

    :param size: output side, default 48 (as FER2013); ``None`` keeps the native size (all must match)
    :param workers: decoding threads (default: CPU count, at most 8; one thread when a face detector is used)
    """
    _check_options(size, color, seed)
    root = _require(path)
    if not root.is_dir():
        raise ValueError(f"{root}: expected a folder of class folders (root/<class>/*.png|jpg)")
    dirs = _split_dirs(root)
    presplit = "train" in dirs and "test" in dirs
    split_roots = dirs if presplit else {"all": root}
    class_dirs = {s: _class_dirs(d) for s, d in split_roots.items()}
    names = sorted({c.name for ds in class_dirs.values() for c in ds}, key=str.lower)
    if not names:
        raise ValueError(f"{root}: no class folders found (expected root/<class>/*.png|jpg)")
    if all(n.lower() in EMOTION_ALIASES for n in names):
        mapping = {n: EMOTION_ALIASES[n.lower()] for n in names}
        class_names: tuple[str, ...] = FER2013_CLASS_NAMES
    else:
        mapping = {n: i for i, n in enumerate(names)}
        class_names = tuple(names)
    if len(set(mapping.values())) != len(mapping):
        raise ValueError(f"{root}: class folders {names} name the same emotion twice")
    items: list[_Item] = []
    for split, cdirs in class_dirs.items():
        if split == "all":
            code = _ALL
        elif split == "train" and "val" not in dirs:
            code = _TRAINVAL
        else:
            code = _SPLIT_CODES[split]
        for cdir in cdirs:
            for f in _image_files(cdir):
                rel = f.relative_to(root).as_posix()
                items.append(_Item(f, mapping[cdir.name], code, str(f), rel))
    if not items:
        raise ValueError(f"{root}: the class folders {names} hold no image files ({', '.join(IMAGE_EXTENSIONS)})")
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3:
        raise ValueError(f"fractions: need (train, val, test), got {tuple(fractions)}")
    if presplit:
        fr = (fr[0], fr[1], 0.0)  # only val is split off train; test is given
    return _load_and_assemble(
        items,
        _Issues(f"image folder {root}", strict),
        len(items),
        f"image folder {root}",
        size=size,
        color=color,
        seed=seed,
        fractions=fr,
        face_detector=face_detector,
        workers=workers,
        stratify=stratify,
        class_names=class_names,
    )


__all__ = [
    "EMOTION_ALIASES",
    "FER2013_LAYOUTS",
    "FER2013_USAGE",
    "IMAGE_EXTENSIONS",
    "RAFDB_TO_FER2013",
    "LoaderWarning",
    "load_expw",
    "load_fer2013",
    "load_image_folder",
    "load_rafdb",
    "seeded_split",
    "split_sizes",
]
