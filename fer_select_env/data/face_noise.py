"""The paper's §4.5 face-noise training set (half faces and images without a face), built on any `FERDataset`."""

from __future__ import annotations

import numpy as np

from fer_select_env.core.checks import check_rate
from fer_select_env.data.dataset import NOISE_CLEAN, NOISE_HALF_FACE, NOISE_NO_FACE, FERDataset
from fer_select_env.data.noise import make_half_faces, make_no_face_images


def make_face_noise_dataset(
    dataset: FERDataset,
    seed: int | np.random.Generator = 0,
    half_face_rate: float = 0.25,
    no_face_rate: float = 0.25,
    half_face_mode: str = "mixed",
) -> FERDataset:
    """The paper's §4.5 noise training set: 50% full faces, 25% half faces, 25% images without a face.

    Exactly ``round(half_face_rate · N)`` training images become half faces (:func:`make_half_faces`) and
    ``round(no_face_rate · N)`` others are replaced by face-free images (:func:`make_no_face_images`,
    matched to the replaced images' brightness and contrast); the two sets are disjoint and drawn at
    random from ``seed``. Labels are kept; val and test are untouched (they stay clean, as in §4.5).
    ``noise_train`` records the kind (2 half face, 3 no face) of each replaced image and keeps any earlier
    code of the others; ``extras["half_face_side"]`` holds the kept half (-1 for the rest).
    """
    if not isinstance(dataset, FERDataset):
        raise ValueError(f"dataset: must be a FERDataset, got {type(dataset).__name__}")
    half, none = check_rate(half_face_rate, "half_face_rate"), check_rate(no_face_rate, "no_face_rate")
    if half + none > 1.0:
        raise ValueError(f"half_face_rate + no_face_rate must be <= 1, got {half + none}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = len(dataset.y_train)
    n_half, n_none = round(half * n), round(none * n)
    if n_half + n_none > n:  # both rounded up on a tiny set
        n_none = n - n_half
    order = rng.permutation(n)
    idx_half, idx_none = np.sort(order[:n_half]), np.sort(order[n_half : n_half + n_none])
    x = dataset.x_train.copy()
    kinds = np.full(n, NOISE_CLEAN, np.int64) if dataset.noise_train is None else dataset.noise_train.astype(np.int64)
    sides = np.full(n, -1, np.int8)
    if n_half:
        x[idx_half], sides[idx_half] = make_half_faces(x[idx_half], rng, mode=half_face_mode)[:2]
        kinds[idx_half] = NOISE_HALF_FACE
    if n_none:
        x[idx_none] = make_no_face_images(n_none, x.shape[1:], rng, reference=x[idx_none])
        kinds[idx_none] = NOISE_NO_FACE
    return FERDataset.from_arrays(
        x_train=x,
        y_train=dataset.y_train,
        x_val=dataset.x_val,
        y_val=dataset.y_val,
        x_test=dataset.x_test,
        y_test=dataset.y_test,
        noise_train=kinds,
        class_names=dataset.class_names,
        extras={**dataset.extras, "half_face_side": sides},
        extras_val=dataset.extras_val,
        extras_test=dataset.extras_test,
    )
