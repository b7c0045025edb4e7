"""Datasets: the `FERDataset` container, the synthetic renderer and the noise injectors."""

from fer_select_env.data.dataset import (
    FER2013_CLASS_NAMES,
    NOISE_CLEAN,
    NOISE_HALF_FACE,
    NOISE_KIND_NAMES,
    NOISE_LABEL_FLIPPED,
    NOISE_NO_FACE,
    FERDataset,
    noise_kind_name,
)

__all__ = [
    "FER2013_CLASS_NAMES",
    "NOISE_CLEAN",
    "NOISE_HALF_FACE",
    "NOISE_KIND_NAMES",
    "NOISE_LABEL_FLIPPED",
    "NOISE_NO_FACE",
    "FERDataset",
    "noise_kind_name",
]
