"""Face detection and cropping (OpenCV Haar cascade or any detector callable), and the paper's §4.5
face-noise training set built on any `FERDataset`.

OpenCV 4.x ships ``cv2.CascadeClassifier`` and the cascade files under ``cv2.data.haarcascades``. OpenCV 5
wheels have neither (the cascades moved out of the main package), so :func:`haar_face_detector` raises a
clear ``RuntimeError`` there; pass ``cascade_path=`` to a cascade file, or any callable with the
:data:`FaceDetector` signature instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from fer_select_env.data.dataset import NOISE_CLEAN, NOISE_HALF_FACE, NOISE_NO_FACE, FERDataset
from fer_select_env.data.noise import make_half_faces, make_no_face_images

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


def _check_rate(name: str, rate: object) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"{name}: must be a number in [0, 1], got {rate!r}")
    return float(rate)


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
    half, none = _check_rate("half_face_rate", half_face_rate), _check_rate("no_face_rate", no_face_rate)
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
