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
from fer_select_env.data.noise import (
    FER_CONFUSION_MATRIX,
    HALF_FACE_MODES,
    HALF_FACE_SIDES,
    HalfFaces,
    flip_labels_confusion,
    flip_labels_symmetric,
    make_half_faces,
    make_no_face_images,
)
from fer_select_env.data.synthetic import (
    ACTION_UNITS,
    EMOTION_AU_PROTOTYPES,
    SCENARIOS,
    make_synthetic_dataset,
    render_faces,
    sample_action_units,
)

__all__ = [
    "ACTION_UNITS",
    "EMOTION_AU_PROTOTYPES",
    "FER2013_CLASS_NAMES",
    "FER_CONFUSION_MATRIX",
    "HALF_FACE_MODES",
    "HALF_FACE_SIDES",
    "NOISE_CLEAN",
    "NOISE_HALF_FACE",
    "NOISE_KIND_NAMES",
    "NOISE_LABEL_FLIPPED",
    "NOISE_NO_FACE",
    "SCENARIOS",
    "FERDataset",
    "HalfFaces",
    "flip_labels_confusion",
    "flip_labels_symmetric",
    "make_half_faces",
    "make_no_face_images",
    "make_synthetic_dataset",
    "noise_kind_name",
    "render_faces",
    "sample_action_units",
]
