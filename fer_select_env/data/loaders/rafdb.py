"""RAF-DB basic (§4.1): the official partition file, aligned or original images, labels remapped to FER2013 order."""

from __future__ import annotations

import os
from typing import Literal

from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.loaders._common import (
    POOL_TRAIN_VAL,
    SPLIT_CODES,
    Color,
    Issues,
    Item,
    PathLike,
    check_options,
    find_file,
    label_file_entries,
    load_and_assemble,
    require,
)
from fer_select_env.faces.detect import FaceDetector

RAFDB_TO_FER2013: dict[int, int] = {1: 5, 2: 2, 3: 1, 4: 3, 5: 4, 6: 0, 7: 6}
"""RAF-DB basic labels (1 surprise, 2 fear, 3 disgust, 4 happiness, 5 sadness, 6 anger, 7 neutral) → FER2013."""

_RAF_LABEL_FILES = ("list_patition_label.txt", "list_partition_label.txt")  # the official name is misspelt


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
    check_options(size, color, seed)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: must be in (0, 1), got {val_fraction!r}")
    if images not in ("auto", "aligned", "original"):
        raise ValueError(f"images: must be 'auto', 'aligned' or 'original', got {images!r}")
    p = require(path)
    label_file = find_file(p, _RAF_LABEL_FILES, (".", "EmoLabel", "basic/EmoLabel"))
    if label_file is None:
        raise ValueError(f"{p}: no RAF-DB {_RAF_LABEL_FILES[0]} found in it, its EmoLabel/ or basic/EmoLabel/")
    base = label_file.parent.parent if label_file.parent.name.lower() == "emolabel" else label_file.parent
    aligned, original = base / "Image" / "aligned", base / "Image" / "original"
    use_aligned = images == "aligned" or (images == "auto" and aligned.is_dir())
    img_dir = aligned if use_aligned else original
    if not img_dir.is_dir():
        raise FileNotFoundError(f"RAF-DB image folder not found: {img_dir} (expected Image/aligned or Image/original)")
    issues = Issues(f"RAF-DB {label_file}", strict)
    items: list[Item] = []
    entries = label_file_entries(label_file)
    for where, line in entries:
        parts = line.split()
        if len(parts) != 2:
            issues.add(where, f"expected '<image> <label>', got {line.strip()!r}")
            continue
        name, raw = parts
        # isascii: "²".isdigit() is True but int("²") fails
        label = RAFDB_TO_FER2013.get(int(raw)) if raw.isascii() and raw.isdigit() else None
        if label is None:
            issues.add(where, f"unknown RAF-DB label {raw!r} (expected 1-7)")
            continue
        if name.startswith("train_"):
            split = POOL_TRAIN_VAL
        elif name.startswith("test_"):
            split = SPLIT_CODES["test"]
        else:
            issues.add(where, f"image name {name!r} starts with neither train_ nor test_")
            continue
        stem, ext = os.path.splitext(name)
        file = img_dir / (f"{stem}_aligned{ext}" if use_aligned else name)
        items.append(Item(file, label, split, f"{where} ({file})", file.name))
    if not items and not issues.items:
        raise ValueError(f"{label_file}: the label file lists no images")
    return load_and_assemble(
        items,
        issues,
        len(entries),
        f"RAF-DB {base}",
        size=size,
        color=color,
        seed=seed,
        fractions=(1.0 - val_fraction, val_fraction, 0.0),
        face_detector=face_detector,
        workers=workers,
    )


__all__ = ["RAFDB_TO_FER2013", "load_rafdb"]
