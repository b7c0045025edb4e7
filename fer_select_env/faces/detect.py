"""Face detection and cropping: an OpenCV Haar cascade or any detector callable.

OpenCV 4.x ships ``cv2.CascadeClassifier`` and the cascade files under ``cv2.data.haarcascades``. OpenCV 5
wheels have neither (the cascades moved out of the main package), so :func:`haar_face_detector` raises a
clear ``RuntimeError`` there; pass ``cascade_path=`` to a cascade file, or any callable with the
:data:`FaceDetector` signature instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

FaceDetector = Callable[[np.ndarray], Sequence[Sequence[int]]]
"""A face detector: takes a uint8 grayscale image (H×W) and returns boxes ``(x, y, w, h)`` in pixels."""

HAAR_FRONTAL_FACE = "haarcascade_frontalface_default.xml"


def haar_cascade_path(name: str = HAAR_FRONTAL_FACE) -> Path | None:
    """The bundled cascade file ``name`` under ``cv2.data.haarcascades``, or ``None`` if this OpenCV has none."""
    root = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not root:
        return None
    path = Path(root) / name
    return path if path.is_file() else None


def haar_face_detector(
    cascade_path: str | Path | None = None,
    scale_factor: float = 1.1,
    min_neighbors: int = 4,
    min_size: int = 20,
) -> FaceDetector:
    """A :data:`FaceDetector` from OpenCV's Haar cascade (default: the bundled frontal-face cascade).

    :raises RuntimeError: this OpenCV build has no ``CascadeClassifier`` (OpenCV 5), or no bundled cascade
        and no ``cascade_path`` was given
    :raises FileNotFoundError: ``cascade_path`` does not exist
    """
    if not hasattr(cv2, "CascadeClassifier"):
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no cv2.CascadeClassifier (removed from the main package in OpenCV 5); "
            "install opencv-python-headless<5 for Haar face detection, or pass your own face_detector callable"
        )
    if cascade_path is None:
        cascade_path = haar_cascade_path()
        if cascade_path is None:
            raise RuntimeError(
                f"OpenCV {cv2.__version__} bundles no {HAAR_FRONTAL_FACE} under cv2.data.haarcascades; "
                "pass cascade_path= to a cascade file"
            )
    cascade_path = Path(cascade_path)
    if not cascade_path.is_file():
        raise FileNotFoundError(f"Haar cascade file not found: {cascade_path}")
    cascade = cv2.CascadeClassifier(str(cascade_path))
    if cascade.empty():
        raise ValueError(f"{cascade_path}: not a readable Haar cascade file")

    def detect(gray: np.ndarray) -> Sequence[Sequence[int]]:
        found = cascade.detectMultiScale(
            gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size)
        )
        return [tuple(int(v) for v in box) for box in found]

    return detect


def _to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY if image.shape[2] == 3 else cv2.COLOR_RGBA2GRAY)


def crop_face(
    image: np.ndarray, detector: FaceDetector, margin: float = 0.15, pad: float = 0.25
) -> tuple[np.ndarray, bool]:
    """Crop the largest detected face, widened by ``margin`` (fraction of the box side) and made square.

    The detector runs on the image with a replicated border of ``pad`` × its size, because Haar cascades
    miss faces that fill the frame (tightly cropped datasets such as FER2013); the crop may reach into
    that border. When no face is found the image comes back unchanged with ``False``.

    :returns: ``(crop, found)``
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"image: must be a uint8 H×W or H×W×C array, got dtype {img.dtype} shape {img.shape}")
    h, w = img.shape[:2]
    p = round(pad * max(h, w))
    padded = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_REPLICATE) if p else img
    boxes = [tuple(int(v) for v in b) for b in detector(_to_gray(padded))]
    boxes = [b for b in boxes if len(b) == 4 and b[2] > 0 and b[3] > 0]
    if not boxes:
        return img, False
    x, y, bw, bh = max(boxes, key=lambda b: b[2] * b[3])
    side = round(max(bw, bh) * (1.0 + 2.0 * margin))
    cx, cy = x + bw / 2.0, y + bh / 2.0
    ph, pw = padded.shape[:2]
    x0 = int(np.clip(round(cx - side / 2.0), 0, max(0, pw - side)))
    y0 = int(np.clip(round(cy - side / 2.0), 0, max(0, ph - side)))
    crop = padded[y0 : y0 + side, x0 : x0 + side]
    return np.ascontiguousarray(crop), True
