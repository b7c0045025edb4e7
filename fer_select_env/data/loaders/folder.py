"""Any class-per-folder image tree, split by fractions or by train/val/test folders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from fer_select_env.data.dataset import FER2013_CLASS_NAMES, FERDataset
from fer_select_env.data.loaders._common import (
    EMOTION_ALIASES,
    IMAGE_EXTENSIONS,
    POOL_ALL,
    POOL_TRAIN_VAL,
    SPLIT_CODES,
    Color,
    Issues,
    Item,
    PathLike,
    check_options,
    class_dirs,
    image_files,
    load_and_assemble,
    require,
    split_dirs,
)
from fer_select_env.faces.detect import FaceDetector


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
    check_options(size, color, seed)
    root = require(path)
    if not root.is_dir():
        raise ValueError(f"{root}: expected a folder of class folders (root/<class>/*.png|jpg)")
    dirs = split_dirs(root)
    presplit = "train" in dirs and "test" in dirs
    split_roots = dirs if presplit else {"all": root}
    class_folders = {s: class_dirs(d) for s, d in split_roots.items()}
    names = sorted({c.name for ds in class_folders.values() for c in ds}, key=str.lower)
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
    items: list[Item] = []
    for split, cdirs in class_folders.items():
        if split == "all":
            code = POOL_ALL
        elif split == "train" and "val" not in dirs:
            code = POOL_TRAIN_VAL
        else:
            code = SPLIT_CODES[split]
        for cdir in cdirs:
            for f in image_files(cdir):
                rel = f.relative_to(root).as_posix()
                items.append(Item(f, mapping[cdir.name], code, str(f), rel))
    if not items:
        raise ValueError(f"{root}: the class folders {names} hold no image files ({', '.join(IMAGE_EXTENSIONS)})")
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3:
        raise ValueError(f"fractions: need (train, val, test), got {tuple(fractions)}")
    if presplit:
        fr = (fr[0], fr[1], 0.0)  # only val is split off train; test is given
    return load_and_assemble(
        items,
        Issues(f"image folder {root}", strict),
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


__all__ = ["load_image_folder"]
