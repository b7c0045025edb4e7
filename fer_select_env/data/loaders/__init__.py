"""Loaders for the real datasets of the paper's §4.1 (FER2013, RAF-DB, ExpW) and for any class-per-folder
image tree: one module per format around the shared helpers of :mod:`._common`. Nothing is downloaded:
every loader reads files the user already has.

Every loader returns a :class:`FERDataset` whose labels follow FER2013's class order (0 angry, 1 disgust,
2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral), except :func:`load_image_folder` on folders that are not
all emotion names. Images are decoded, converted and resized with OpenCV. A bad entry (unreadable image,
malformed line, unknown label) is skipped and all skips are reported in one :class:`LoaderWarning`; with
``strict=True`` the first one raises an error naming the file and line. A label is never guessed.
"""

from fer_select_env.data.loaders._common import (
    EMOTION_ALIASES,
    IMAGE_EXTENSIONS,
    LoaderWarning,
    seeded_split,
    split_sizes,
)
from fer_select_env.data.loaders.expw import load_expw
from fer_select_env.data.loaders.fer2013 import FER2013_LAYOUTS, FER2013_USAGE, load_fer2013
from fer_select_env.data.loaders.folder import load_image_folder
from fer_select_env.data.loaders.rafdb import RAFDB_TO_FER2013, load_rafdb

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
