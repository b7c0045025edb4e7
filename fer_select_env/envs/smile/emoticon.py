"""The seed's 8-parameter emoticon (DeepLaetitia's SmileyChanger): its parameter table and its OpenCV drawing.

Coordinates are in face units: the face is the unit disc, x to the right and y up. The mouth is the cubic
y = −0.35 + a·x + b·x² + c·x³ on x ∈ [−0.4, 0.4], so b > 0 lifts the corners (a smile). The eyes sit at
(±r·cos t, r·sin t), mirrored about the vertical axis; the seed gives the eye "radius" s ∈ [0, 0.5] with a
start of 0.5, which on a unit face would make the eyes touch, so we draw an eye of radius 0.4·s. Each brow
is a bar ``ey`` above its eye's top edge whose inner end drops by 0.15·er (er > 0 knits the brows, er < 0
lifts their inner ends).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class EmoticonParameter:
    """One parameter of the emoticon: its name, what it moves, its range and the seed's starting value."""

    name: str
    meaning: str
    low: float
    high: float
    start: float


EMOTICON_PARAMETERS: tuple[EmoticonParameter, ...] = (
    EmoticonParameter("r", "eye distance from the centre", 0.0, 1.1, 0.5),
    EmoticonParameter("t", "eye angle (radians)", 0.0, math.pi, 0.8),
    EmoticonParameter("s", "eye radius (0.4·s face units)", 0.0, 0.5, 0.5),
    EmoticonParameter("a", "mouth cubic, linear term", -1.0, 1.0, 0.0),
    EmoticonParameter("b", "mouth cubic, quadratic term (> 0 smiles)", -1.2, 1.2, 0.6),
    EmoticonParameter("c", "mouth cubic, cubic term", -2.0, 2.0, 0.0),
    EmoticonParameter("ey", "eyebrow height above the eye", 0.05, 0.3, 0.16),
    EmoticonParameter("er", "eyebrow tilt, mirrored per eye", -1.0, 1.0, 0.0),
)
"""The seed's parameters, in the order of every parameter vector of the env."""

PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in EMOTICON_PARAMETERS)
LOW = np.array([p.low for p in EMOTICON_PARAMETERS])
HIGH = np.array([p.high for p in EMOTICON_PARAMETERS])
START = np.array([p.start for p in EMOTICON_PARAMETERS])
SPAN = HIGH - LOW

_MOUTH_X = np.linspace(-0.4, 0.4, 33)
_FACE_COLOUR = (255, 214, 40)  # RGB
_INK = (40, 30, 20)


def to_unit(theta: np.ndarray) -> np.ndarray:
    """Parameters → the normalised [−1, 1] coordinates the env observes and acts in."""
    return 2.0 * (np.asarray(theta, dtype=np.float64) - LOW) / SPAN - 1.0


def from_unit(z: np.ndarray) -> np.ndarray:
    """Normalised [−1, 1] coordinates → parameters (clipped to their ranges)."""
    return LOW + (np.clip(np.asarray(z, dtype=np.float64), -1.0, 1.0) + 1.0) * SPAN / 2.0


def check_parameters(theta: object, name: str = "parameters") -> np.ndarray:
    """``theta`` as float64 (8,) when it is finite and within the ranges of :data:`EMOTICON_PARAMETERS`."""
    arr = np.asarray(theta, dtype=np.float64)
    if arr.shape != (len(EMOTICON_PARAMETERS),) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be {len(EMOTICON_PARAMETERS)} finite numbers, got shape {arr.shape}")
    bad = np.flatnonzero((arr < LOW - 1e-9) | (arr > HIGH + 1e-9))
    if bad.size:
        p = EMOTICON_PARAMETERS[int(bad[0])]
        raise ValueError(f"{name}: {p.name}={arr[bad[0]]:.4g} is outside [{p.low:.4g}, {p.high:.4g}]")
    return np.clip(arr, LOW, HIGH)


def _pixels(x: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    """Face units → integer pixel coordinates (×16 for OpenCV's sub-pixel ``shift=4``)."""
    half, radius = size / 2.0, 0.42 * size
    return np.rint(np.stack([half + x * radius, half - y * radius], axis=-1) * 16).astype(np.int32)


def draw_emoticon(theta: np.ndarray, size: int = 128) -> np.ndarray:
    """The emoticon of parameters ``theta`` as an RGB uint8 ``size×size×3`` picture (`render()`'s frame)."""
    r, t, s, a, b, c, ey, er = check_parameters(theta, "theta")
    img = np.full((size, size, 3), 255, np.uint8)
    centre = tuple(int(v) for v in _pixels(np.array(0.0), np.array(0.0), size))
    line = max(1, size // 48)
    cv2.circle(img, centre, int(0.42 * size * 16), _FACE_COLOUR, -1, cv2.LINE_AA, shift=4)
    cv2.circle(img, centre, int(0.42 * size * 16), _INK, line, cv2.LINE_AA, shift=4)
    eye_r = 0.4 * s
    for side in (-1.0, 1.0):
        ex, ey0 = side * r * math.cos(t), r * math.sin(t)
        if eye_r > 0:
            eye_centre = tuple(int(v) for v in _pixels(np.array(ex), np.array(ey0), size))
            cv2.circle(img, eye_centre, int(eye_r * 0.42 * size * 16), _INK, -1, cv2.LINE_AA, shift=4)
        half_len = max(eye_r, 0.06) * 1.2
        brow_y = ey0 + eye_r + ey
        # The inner end is the one towards the vertical midline: it drops by 0.15·er.
        xs = np.array([ex - side * half_len, ex + side * half_len])
        ys = np.array([brow_y - 0.15 * er, brow_y + 0.15 * er])
        cv2.polylines(img, [_pixels(xs, ys, size)], False, _INK, line + 1, cv2.LINE_AA, shift=4)
    mouth_y = -0.35 + a * _MOUTH_X + b * _MOUTH_X**2 + c * _MOUTH_X**3
    cv2.polylines(img, [_pixels(_MOUTH_X, mouth_y, size)], False, _INK, line + 1, cv2.LINE_AA, shift=4)
    return img


def emoticon_camera_frames(theta: np.ndarray, n: int, rng: np.random.Generator, image_size: int = 48) -> np.ndarray:
    """``n`` grayscale camera shots (uint8, n×S×S) of the emoticon itself: the ``viewer="mirror"`` diagnostic.

    Each shot varies gain, offset and sensor noise as the face renderer's camera does.
    """
    gray = cv2.cvtColor(draw_emoticon(theta, 2 * image_size), cv2.COLOR_RGB2GRAY)
    base = cv2.resize(gray, (image_size, image_size), interpolation=cv2.INTER_AREA).astype(np.float32)
    gain = rng.uniform(0.85, 1.15, (n, 1, 1)).astype(np.float32)
    offset = rng.uniform(-15, 15, (n, 1, 1)).astype(np.float32)
    noise = rng.standard_normal((n, image_size, image_size), dtype=np.float32) * 3.0
    return np.clip(np.rint(base[None] * gain + offset + noise), 0, 255).astype(np.uint8)


__all__ = [
    "EMOTICON_PARAMETERS",
    "HIGH",
    "LOW",
    "PARAMETER_NAMES",
    "SPAN",
    "START",
    "EmoticonParameter",
    "check_parameters",
    "draw_emoticon",
    "emoticon_camera_frames",
    "from_unit",
    "to_unit",
]
