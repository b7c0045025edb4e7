"""The five-emotion data of DeepLaetitia's camera classifier (FERSmile-v0): {happy, neutral, sad, angry, surprise}.

:func:`make_five_class_faces` renders them from the AU prototypes; :func:`five_class_subset` takes the five
classes out of any 7-class FERDataset in FER2013's order (FER2013 itself, as the seed trained on).
"""

from __future__ import annotations

import numpy as np

from fer_select_env.core.checks import check_positive_int
from fer_select_env.core.emotions import FER2013_CLASS_NAMES
from fer_select_env.core.seeding import check_seed
from fer_select_env.data.dataset import FERDataset
from fer_select_env.faces.action_units import sample_action_units
from fer_select_env.faces.renderer import check_image_size, render_faces

FIVE_CLASS_NAMES: tuple[str, ...] = ("happy", "neutral", "sad", "angry", "surprise")
"""The seed's five classes, in this order (label 0 is happy: the env reads P(happy) as column 0)."""

FIVE_FROM_FER2013: tuple[int, ...] = tuple(FER2013_CLASS_NAMES.index(name) for name in FIVE_CLASS_NAMES)
"""FER2013 label of each of the five classes."""


def make_five_class_faces(
    n_train: int = 4000, n_val: int = 1000, n_test: int = 1000, seed: int = 0, image_size: int = 48
) -> FERDataset:
    """Rendered faces of the five classes, balanced, every split drawn from its own stream of ``seed``.

    Each split's faces are fresh identities; ``n_*`` are totals per split (rounded down to a multiple of 5).
    """
    seed = check_seed(seed)
    size = check_image_size(image_size)
    arrays = []
    for stream, n in enumerate((n_train, n_val, n_test)):
        per_class = check_positive_int(("n_train", "n_val", "n_test")[stream], n) // len(FIVE_CLASS_NAMES)
        if per_class == 0:
            raise ValueError(f"{('n_train', 'n_val', 'n_test')[stream]}: needs at least 5 faces, got {n}")
        rng = np.random.default_rng([seed, 5, stream])
        y = rng.permutation(np.repeat(np.arange(len(FIVE_CLASS_NAMES)), per_class))
        au = sample_action_units(np.asarray(FIVE_FROM_FER2013)[y], rng)
        arrays += [render_faces(au, rng, size), y.astype(np.int64)]
    return FERDataset.from_arrays(*arrays, class_names=FIVE_CLASS_NAMES)


def five_class_subset(dataset: FERDataset) -> FERDataset:
    """The rows of a 7-class dataset in FER2013's label order whose class is one of the five, relabelled to
    :data:`FIVE_CLASS_NAMES` (disgust and fear are dropped, as the seed did)."""
    if not isinstance(dataset, FERDataset):
        raise ValueError(f"dataset: must be a FERDataset, got {type(dataset).__name__}")
    if dataset.num_classes != len(FER2013_CLASS_NAMES):
        raise ValueError(
            f"dataset: needs FER2013's 7 classes {FER2013_CLASS_NAMES} to pick the five from, "
            f"got {dataset.num_classes} classes"
        )
    lookup = np.full(len(FER2013_CLASS_NAMES), -1, np.int64)
    lookup[list(FIVE_FROM_FER2013)] = np.arange(len(FIVE_CLASS_NAMES))
    arrays = []
    for split in ("train", "val", "test"):
        x, y = dataset.split(split)
        new = lookup[y]
        arrays += [x[new >= 0], new[new >= 0]]
    return FERDataset.from_arrays(*arrays, class_names=FIVE_CLASS_NAMES)


__all__ = ["FIVE_CLASS_NAMES", "FIVE_FROM_FER2013", "five_class_subset", "make_five_class_faces"]
