"""What every dataset loader shares: seeded splits, decoding and resizing, face cropping, the collection of
skipped entries, and the assembly into a `FERDataset`. One module per dataset format builds on it.
"""

from __future__ import annotations

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
from fer_select_env.data.npz import env_limit
from fer_select_env.faces.detect import FaceDetector, crop_face, haar_face_detector

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

MAX_IMAGE_PIXELS: int = 2**25
"""Largest image a loader decodes, in pixels (33,554,432, e.g. 8192×4096); a larger one is a skipped entry.

Checked on the file's header before decoding, so a small file that claims 30000×30000 pixels costs nothing;
files over ``8 bytes × MAX_IMAGE_PIXELS`` are refused unread. Raise it with the ``FER_SELECT_MAX_IMAGE_PIXELS``
environment variable."""

MAX_IMAGE_PIXELS_ENV = "FER_SELECT_MAX_IMAGE_PIXELS"

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
POOL_TRAIN_VAL, POOL_ALL = 3, 4  # pools still to be split: train+val, or train+val+test


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
class Issues:
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
class Item:
    path: Path
    label: int
    split: int  # a SPLIT_CODES value, POOL_TRAIN_VAL or POOL_ALL
    where: str  # file (and line) named in skip messages
    name: str  # recorded in extras["file"]
    box: tuple[int, int, int, int] | None = None  # top, left, right, bottom (ExpW)
    confidence: float = float("nan")  # ExpW's face-detector confidence


def check_options(size: int | None, color: str, seed: object) -> None:
    if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 8 <= size <= 1024):
        raise ValueError(f"size: must be an integer in [8, 1024] or None (keep native size), got {size!r}")
    if color not in ("gray", "rgb"):
        raise ValueError(f"color: must be 'gray' or 'rgb', got {color!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")


def image_pixel_limit() -> int:
    """``$FER_SELECT_MAX_IMAGE_PIXELS`` if set, else :data:`MAX_IMAGE_PIXELS`."""
    return env_limit(MAX_IMAGE_PIXELS_ENV, MAX_IMAGE_PIXELS)


class _Unreadable(Exception):
    """Why an image file is skipped."""


_UNREADABLE = "unreadable image (not a decodable image file)"


def _check_image_size(path: Path, max_pixels: int) -> None:
    """:class:`_Unreadable` when the file, or the size its header declares, is over ``max_pixels``."""
    from PIL import Image, UnidentifiedImageError  # Pillow reads only the header here; OpenCV decodes

    how_to = f"raise the limit with the {MAX_IMAGE_PIXELS_ENV} environment variable"
    try:
        n_bytes = path.stat().st_size
    except OSError:
        raise _Unreadable(_UNREADABLE) from None
    if n_bytes > 8 * max_pixels:
        raise _Unreadable(f"file of {n_bytes} bytes is too large for the limit of {max_pixels} pixels; {how_to}")
    try:
        with Image.open(path) as im:
            width, height = im.size
    except Image.DecompressionBombError:  # over twice Pillow's MAX_IMAGE_PIXELS: it refuses even the header
        raise _Unreadable(
            f"image of more than {2 * Image.MAX_IMAGE_PIXELS} pixels (Pillow's own bound) is over the limit of "
            f"{max_pixels} pixels"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):  # SyntaxError: Pillow's "not a PNG"
        raise _Unreadable(_UNREADABLE) from None
    if width * height > max_pixels:
        raise _Unreadable(f"image of {width}×{height} pixels is over the limit of {max_pixels} pixels; {how_to}")


def _decode(path: Path, color: str, max_pixels: int | None = None) -> np.ndarray:
    """The decoded image (gray, or RGB), its size checked on the header first; :class:`_Unreadable` if not."""
    _check_image_size(path, image_pixel_limit() if max_pixels is None else max_pixels)
    try:
        # fromfile + imdecode rather than imread: imread cannot open non-ASCII paths on every platform
        buf = np.fromfile(path, dtype=np.uint8)
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if color == "gray" else cv2.IMREAD_COLOR) if buf.size else None
    except (OSError, cv2.error):
        img = None
    if img is None:
        raise _Unreadable(_UNREADABLE)
    return img if color == "gray" else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def resize(img: np.ndarray, size: int | None) -> np.ndarray:
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
    item: Item, size: int | None, color: str, detector: FaceDetector | None, max_pixels: int
) -> tuple[np.ndarray | None, bool, str]:
    """``(image, face_found, problem)``; image is None when the item must be skipped."""
    if not item.path.is_file():
        return None, False, "missing"
    try:
        img = _decode(item.path, color, max_pixels)
    except _Unreadable as exc:
        return None, False, str(exc)
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
    return resize(img, size), found, ""


def _default_workers(workers: int | None) -> int:
    if workers is None:
        return max(1, min(8, os.cpu_count() or 1))
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers: must be a positive integer or None, got {workers!r}")
    return int(workers)


def _load_items(
    items: list[Item],
    issues: Issues,
    size: int | None,
    color: str,
    detector: FaceDetector | None,
    workers: int | None,
) -> tuple[list[np.ndarray], list[Item], list[bool]]:
    max_pixels = image_pixel_limit()

    def work(item: Item) -> tuple[np.ndarray | None, bool, str]:
        return _load_one(item, size, color, detector, max_pixels)

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


def assemble(
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
    pools = ((POOL_TRAIN_VAL, (f_train / (f_train + f_val), f_val / (f_train + f_val))), (POOL_ALL, tuple(fractions)))
    for pool, parts in pools:
        idx = np.flatnonzero(split == pool)
        if len(idx) == 0:
            continue
        for code, sub in enumerate(seeded_split(y[idx], parts, seed, stratify)):
            split[idx[sub]] = code
    arrays: dict[str, np.ndarray] = {}
    per_split_extras: dict[str, dict[str, np.ndarray]] = {}
    for name, code in SPLIT_CODES.items():
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


def load_and_assemble(
    items: list[Item],
    issues: Issues,
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
    return assemble(x, y, split, extras, source, fractions, seed, stratify, class_names)


def natural_key(text: str) -> list:
    """``Training_2`` before ``Training_10``: digit runs compare as numbers."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def image_files(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda p: natural_key(p.name),
    )


def require(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"dataset path not found: {p}")
    return p


_FOLDER_SPLITS = {"train": "train", "training": "train", "val": "val", "validation": "val", "valid": "val"}
_FOLDER_SPLITS.update({"test": "test", "testing": "test"})


def split_dirs(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        split = _FOLDER_SPLITS.get(d.name.lower())
        if split is not None:
            if split in found:
                raise ValueError(f"{root}: two folders for the {split} split: {found[split].name} and {d.name}")
            found[split] = d
    return found


def class_dirs(split_dir: Path) -> list[Path]:
    return sorted((p for p in split_dir.iterdir() if p.is_dir()), key=lambda p: p.name.lower())


def find_file(p: Path, names: Sequence[str], subdirs: Sequence[str]) -> Path | None:
    if p.is_file():
        return p
    for sub in subdirs:
        for name in names:
            cand = p / sub / name
            if cand.is_file():
                return cand
    return None


def label_file_entries(label_file: Path) -> list[tuple[str, str]]:
    """``(where, line)`` for each non-blank line of a label file, ``where`` naming the file and line number."""
    lines = label_file.read_text(encoding="utf-8", errors="replace").splitlines()
    return [(f"{label_file} line {no}", line) for no, line in enumerate(lines, start=1) if line.strip()]
