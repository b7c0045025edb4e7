"""Kept alias: ``fer_select_env.data.faces`` moved to :mod:`fer_select_env.faces.detect`,
:mod:`fer_select_env.data.face_noise`.

Its public names stay importable here, so existing imports keep working.
"""

from fer_select_env.data.face_noise import (
    NOISE_CLEAN,
    NOISE_HALF_FACE,
    NOISE_NO_FACE,
    make_face_noise_dataset,
)
from fer_select_env.faces.detect import (
    HAAR_FRONTAL_FACE,
    FaceDetector,
    crop_face,
    haar_cascade_path,
    haar_face_detector,
)

# Read by the import-layer test, which exempts kept aliases from the one-way rule.
__alias_of__ = ("fer_select_env.faces.detect", "fer_select_env.data.face_noise")
__all__ = [
    "HAAR_FRONTAL_FACE",
    "NOISE_CLEAN",
    "NOISE_HALF_FACE",
    "NOISE_NO_FACE",
    "FaceDetector",
    "crop_face",
    "haar_cascade_path",
    "haar_face_detector",
    "make_face_noise_dataset",
]
