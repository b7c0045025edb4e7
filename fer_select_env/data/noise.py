"""Noise injectors with ground truth: label flips (symmetric or along FER confusions) and the paper's
§4.5 image noise (half-face crops, images without a face).

Every function is pure: it takes a ``numpy.random.Generator`` for all its random draws, never modifies
its inputs, and returns the new arrays together with what changed, so the caller can record the
ground truth (``FERDataset.noise_train``). Arguments are validated with ``ValueError`` naming them.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import cv2
import numpy as np

from fer_select_env.core.checks import check_rate, check_rng
from fer_select_env.data.dataset import FER2013_CLASS_NAMES

_C = {name: i for i, name in enumerate(FER2013_CLASS_NAMES)}


def _confusion_matrix() -> np.ndarray:
    # Row = true class, columns = the class a flipped label goes to; zero diagonal, rows sum to 1.
    # Partners follow the usual FER confusions (FER2013 / RAF-DB confusion matrices): fear↔surprise,
    # disgust↔angry, sad↔neutral, angry↔sad, fear↔sad, happy↔neutral, happy↔surprise (open mouth).
    partners = {
        "angry": {"disgust": 0.40, "sad": 0.35, "neutral": 0.25},
        "disgust": {"angry": 0.60, "sad": 0.25, "neutral": 0.15},
        "fear": {"surprise": 0.50, "sad": 0.35, "angry": 0.15},
        "happy": {"neutral": 0.70, "surprise": 0.30},
        "sad": {"neutral": 0.50, "angry": 0.30, "fear": 0.20},
        "surprise": {"fear": 0.65, "happy": 0.20, "neutral": 0.15},
        "neutral": {"sad": 0.60, "happy": 0.25, "angry": 0.15},
    }
    m = np.zeros((len(_C), len(_C)))
    for src, row in partners.items():
        for dst, p in row.items():
            m[_C[src], _C[dst]] = p
    m.setflags(write=False)
    return m


FER_CONFUSION_MATRIX: np.ndarray = _confusion_matrix()
"""7×7 row-stochastic flip matrix over the *other* classes (FER2013 order, zero diagonal, read-only).

=========  ==============================================
true       flipped to (probability)
=========  ==============================================
angry      disgust .40, sad .35, neutral .25
disgust    angry .60, sad .25, neutral .15
fear       surprise .50, sad .35, angry .15
happy      neutral .70, surprise .30
sad        neutral .50, angry .30, fear .20
surprise   fear .65, happy .20, neutral .15
neutral    sad .60, happy .25, angry .15
=========  ==============================================
"""

HALF_FACE_SIDES: tuple[str, ...] = ("left", "right", "top", "bottom")
"""Codes of the half kept by :func:`make_half_faces` (0 left, 1 right, 2 top, 3 bottom)."""

HALF_FACE_MODES: tuple[str, ...] = ("crop", "fill")
"""0 ``crop``: the half is cropped and stretched back to full size; 1 ``fill``: it stays in place and
the other half is replaced by background."""


class HalfFaces(NamedTuple):
    """Result of :func:`make_half_faces`: the new images, which half was kept, and how."""

    images: np.ndarray
    side: np.ndarray  # int8 index into HALF_FACE_SIDES
    mode: np.ndarray  # int8 index into HALF_FACE_MODES


# ------------------------------------------------------------------------------------------ validation
def _check_labels(y: object, num_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y: must be a 1-D integer array, got dtype {y.dtype} shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"y: labels must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def _check_images(images: object) -> np.ndarray:
    x = np.asarray(images)
    if x.dtype != np.uint8 or x.ndim not in (3, 4):
        raise ValueError(f"images: must be uint8 N×H×W or N×H×W×C, got dtype {x.dtype} shape {x.shape}")
    if x.shape[1] < 4 or x.shape[2] < 4:
        raise ValueError(f"images: need at least 4×4 pixels to halve, got shape {x.shape}")
    return x


def _pick(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``round(rate * n)`` distinct indices, sorted, chosen uniformly."""
    return np.sort(rng.choice(n, size=round(rate * n), replace=False))


# ------------------------------------------------------------------------------------------ label noise
def flip_labels_symmetric(
    y: np.ndarray, rate: float, num_classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``round(rate * len(y))`` labels, each to a uniformly chosen *different* class.

    :returns: ``(new_labels, flipped)``: int64 labels and a bool mask of the flipped positions
    """
    rng = check_rng(rng)
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise ValueError(f"num_classes: must be an integer >= 2, got {num_classes!r}")
    rate = check_rate(rate)
    y = _check_labels(y, int(num_classes))
    idx = _pick(len(y), rate, rng)
    out = y.copy()
    # Adding 1..K-1 modulo K is uniform over the other K-1 classes and never returns the original.
    out[idx] = (y[idx] + rng.integers(1, num_classes, size=len(idx))) % num_classes
    flipped = np.zeros(len(y), bool)
    flipped[idx] = True
    return out, flipped


def _check_confusion(confusion: object) -> np.ndarray:
    m = np.asarray(confusion, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"confusion: must be a K×K matrix with K >= 2, got shape {m.shape}")
    if not np.all(np.isfinite(m)) or (m < 0).any():
        raise ValueError("confusion: entries must be finite and non-negative")
    if np.any(np.diag(m) != 0):
        raise ValueError("confusion: the diagonal must be zero (a flip always changes the label)")
    if not np.allclose(m.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(f"confusion: rows must sum to 1, got sums {np.round(m.sum(axis=1), 4).tolist()}")
    return m


def flip_labels_confusion(
    y: np.ndarray,
    rate: float,
    rng: np.random.Generator,
    confusion: np.ndarray = FER_CONFUSION_MATRIX,
) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``round(rate * len(y))`` labels along a class-conditional confusion matrix.

    A flipped label of class ``k`` becomes ``j`` with probability ``confusion[k, j]``; entries that are
    zero are never reached. The default follows FER's typical confusions (:data:`FER_CONFUSION_MATRIX`).

    :returns: ``(new_labels, flipped)``: int64 labels and a bool mask of the flipped positions
    """
    rng = check_rng(rng)
    m = _check_confusion(confusion)
    rate = check_rate(rate)
    y = _check_labels(y, len(m))
    idx = _pick(len(y), rate, rng)
    cdf = np.cumsum(m[y[idx]], axis=1)
    u = rng.random(len(idx))[:, None] * cdf[:, -1:]
    # First column whose cdf exceeds u; a zero-probability column repeats its left neighbour's cdf,
    # so it can never be the first to exceed u.
    new = np.minimum((cdf <= u).sum(axis=1), len(m) - 1)
    out = y.copy()
    out[idx] = new
    flipped = np.zeros(len(y), bool)
    flipped[idx] = True
    return out, flipped


# ------------------------------------------------------------------------------------------ image noise
def _smooth_field(h: int, w: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """Zero-mean, unit-ish low-frequency noise: a coarse random grid upsampled bicubically."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _border_level(img: np.ndarray) -> float:
    """Background estimate: the median of the outermost 2-pixel frame (faces do not reach corners)."""
    frame = np.concatenate([img[:2].ravel(), img[-2:].ravel(), img[:, :2].ravel(), img[:, -2:].ravel()])
    return float(np.median(frame))


def _half_bounds(side: int, h: int, w: int, frac: float) -> tuple[slice, slice]:
    """Rows/cols of the kept half; ``frac`` (~0.5) is the kept fraction of the width or height."""
    kw, kh = max(2, round(w * frac)), max(2, round(h * frac))
    return (
        (slice(None), slice(0, kw)),
        (slice(None), slice(w - kw, w)),
        (slice(0, kh), slice(None)),
        (slice(h - kh, h), slice(None)),
    )[side]


def _fill_background(img: np.ndarray, keep: tuple[slice, slice], rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    level = _border_level(img)
    bg = level + 10.0 * _smooth_field(h, w, rng, int(rng.integers(2, 6))) + rng.normal(0, 3.0, (h, w))
    if img.ndim == 3:
        bg = np.repeat(bg[..., None], img.shape[2], axis=2)
    out = np.clip(np.rint(bg), 0, 255).astype(np.uint8)
    out[keep] = img[keep]
    return out


def make_half_faces(images: np.ndarray, rng: np.random.Generator, mode: str = "mixed") -> HalfFaces:
    """Keep only one half (left, right, top or bottom) of each face, as in the paper's §4.5 / Fig. 7b.

    ``mode="crop"`` crops the half (45-55% of the side) and stretches it back to the full image size,
    like an off-centre face crop; ``"fill"`` keeps the half in place and replaces the rest with a smooth
    background at the image's border level; ``"mixed"`` (default) picks one of the two per image.

    :returns: :class:`HalfFaces` ``(images, side, mode)`` with ``side`` indexing :data:`HALF_FACE_SIDES`
        and ``mode`` indexing :data:`HALF_FACE_MODES`
    """
    rng = check_rng(rng)
    x = _check_images(images)
    if mode not in ("mixed", *HALF_FACE_MODES):
        raise ValueError(f"mode: must be one of {('mixed', *HALF_FACE_MODES)}, got {mode!r}")
    n, h, w = x.shape[:3]
    side = rng.integers(0, 4, size=n).astype(np.int8)
    how = rng.integers(0, 2, size=n) if mode == "mixed" else np.full(n, HALF_FACE_MODES.index(mode))
    frac = rng.uniform(0.45, 0.55, size=n)
    out = np.empty_like(x)
    for i in range(n):
        keep = _half_bounds(int(side[i]), h, w, float(frac[i]))
        if how[i] == 0:
            out[i] = cv2.resize(np.ascontiguousarray(x[i][keep]), (w, h), interpolation=cv2.INTER_LINEAR).reshape(
                x.shape[1:]
            )
        else:
            out[i] = _fill_background(x[i], keep, rng)
    return HalfFaces(out, side, how.astype(np.int8))


def _check_shape(image_shape: object) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in image_shape)  # type: ignore[union-attr]
    except TypeError as exc:
        raise ValueError(f"image_shape: must be (H, W) or (H, W, C), got {image_shape!r}") from exc
    if len(shape) not in (2, 3) or min(shape) < 1 or shape[0] < 4 or shape[1] < 4:
        raise ValueError(f"image_shape: must be (H, W) or (H, W, C) with H, W >= 4, got {image_shape!r}")
    return shape


def _clutter(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """One face-free scene: smooth texture plus random ellipses, bars and strokes (float32, H×W)."""
    img = 128.0 + 40.0 * _smooth_field(h, w, rng, int(rng.integers(2, 9)))
    img += 12.0 * _smooth_field(h, w, rng, int(rng.integers(8, 17)))  # finer texture
    canvas = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(2, 7))):
        tone = float(rng.uniform(-90, 90))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        kind = rng.integers(0, 3)
        if kind == 0:
            axes = (max(1, int(rng.uniform(0.05, 0.4) * w)), max(1, int(rng.uniform(0.05, 0.4) * h)))
            cv2.ellipse(canvas, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, tone, -1)
        elif kind == 1:
            x1, y1 = rng.uniform(0, w), rng.uniform(0, h)
            cv2.rectangle(canvas, (int(cx), int(cy)), (int(x1), int(y1)), tone, -1)
        else:
            pts = rng.uniform(0, 1, (int(rng.integers(2, 5)), 2)) * (w, h)
            thick = max(1, int(rng.uniform(0.02, 0.08) * w))
            cv2.polylines(canvas, [pts.astype(np.int32)], False, tone, thick, cv2.LINE_AA)
    img += canvas
    sigma = rng.uniform(0.0, 1.2) * w / 48.0
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    return img


def make_no_face_images(
    n: int,
    image_shape: tuple[int, ...],
    rng: np.random.Generator,
    reference: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` images that contain no face (the paper's §4.5 "none face"): background clutter and texture.

    Each image is standardised to a target brightness and contrast so that it is not trivially blank:
    the mean and standard deviation of a randomly chosen ``reference`` image when given (pass the faces
    being replaced), otherwise a face-like range (mean 60-180, std 25-60). Sensor noise is added last.

    :returns: uint8 array of shape ``(n, *image_shape)``
    """
    rng = check_rng(rng)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n: must be a non-negative integer, got {n!r}")
    shape = _check_shape(image_shape)
    h, w = shape[:2]
    if reference is not None:
        ref = np.asarray(reference)
        if ref.ndim < 3 or len(ref) == 0:
            raise ValueError(f"reference: must be a non-empty stack of images, got shape {ref.shape}")
        flat = ref.reshape(len(ref), -1).astype(np.float64)
        pick = rng.integers(0, len(ref), size=n)
        means, stds = flat.mean(1)[pick], np.maximum(flat.std(1)[pick], 5.0)
    else:
        means, stds = rng.uniform(60, 180, n), rng.uniform(25, 60, n)
    out = np.empty((n, h, w), np.float32)
    for i in range(n):
        img = _clutter(h, w, rng)
        out[i] = (img - img.mean()) / max(float(img.std()), 1e-3)
    out = out * stds[:, None, None] + means[:, None, None]
    out += rng.standard_normal(out.shape, dtype=np.float32) * rng.uniform(0, 9, (n, 1, 1)).astype(np.float32)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if len(shape) == 3:
        out = np.repeat(out[..., None], shape[2], axis=3)
    return out
