"""ExpW (§4.1): one face per ``label.lst`` line, cropped by its box, with a seeded stratified split."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.loaders._common import (
    POOL_ALL,
    Color,
    Issues,
    Item,
    PathLike,
    check_options,
    find_file,
    label_file_entries,
    load_and_assemble,
    require,
    split_sizes,
)


def _pixel_coordinate(text: str) -> int:
    """An integer box coordinate (``"12"`` or ``"12.0"``); ``"12.5"``, ``"inf"`` and ``"nan"`` are errors, not 12."""
    value = float(text)
    if not math.isfinite(value) or value != round(value):
        raise ValueError(text)
    return int(value)


def _parse_expw_line(line: str) -> tuple[str, tuple[int, int, int, int], float, int]:
    parts = line.split()
    if len(parts) != 8:
        raise ValueError(f"expected 8 fields (image face_id top left right bottom confidence label), got {len(parts)}")
    name = parts[0]
    try:
        top, left, right, bottom = (_pixel_coordinate(v) for v in parts[2:6])
        conf = float(parts[6])
    except ValueError:
        raise ValueError(f"face box (integers) or confidence is not numeric: {parts[2:7]}") from None
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
    check_options(size, color, seed)
    if len(fractions) != 3:
        raise ValueError(f"fractions: need (train, val, test), got {tuple(fractions)}")
    split_sizes(0, fractions)  # validates the values before any file is read
    p = require(path)
    label_file = find_file(p, ("label.lst",), (".", "label"))
    if label_file is None:
        raise ValueError(f"{p}: no ExpW label.lst found in it or in its label/ folder")
    root = label_file.parent.parent if label_file.parent.name.lower() == "label" else label_file.parent
    if image_dir is not None:
        img_dir = require(image_dir)
    else:
        cands = [root / "image" / "origin", root / "origin", root / "image"]
        img_dir = next((c for c in cands if c.is_dir()), label_file.parent)
    issues = Issues(f"ExpW {label_file}", strict)
    items: list[Item] = []
    entries = label_file_entries(label_file)
    for where, line in entries:
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
        items.append(Item(img_dir / name, label, POOL_ALL, f"{where} ({img_dir / name})", name, box, c))
    total = len(entries)
    if total == 0:
        raise ValueError(f"{label_file}: the label file lists no faces")
    return load_and_assemble(
        items, issues, total, f"ExpW {root}", size=size, color=color, seed=seed, fractions=fractions, workers=workers
    )


__all__ = ["load_expw"]
