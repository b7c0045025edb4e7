"""The FACS action-unit face model (:mod:`.action_units`), its seeded renderer (:mod:`.renderer`), and face
detection and cropping for real photographs (:mod:`.detect`). Nothing here knows about datasets or noise."""

from fer_select_env.faces.action_units import (
    ACTION_UNITS,
    AU_DESCRIPTIONS,
    AU_INDEX,
    EMOTION_AU_PROTOTYPES,
    sample_action_units,
)
from fer_select_env.faces.detect import FaceDetector, crop_face, haar_cascade_path, haar_face_detector
from fer_select_env.faces.renderer import render_faces

__all__ = [
    "ACTION_UNITS",
    "AU_DESCRIPTIONS",
    "AU_INDEX",
    "EMOTION_AU_PROTOTYPES",
    "FaceDetector",
    "crop_face",
    "haar_cascade_path",
    "haar_face_detector",
    "render_faces",
    "sample_action_units",
]
