"""The FACS action units the face model animates, the EMFACS prototypes of the seven basic emotions, and
sampling AU intensities for a label (see ``docs/synthetic.md``).

The emotions are in FER2013's label order (:data:`~fer_select_env.core.emotions.FER2013_CLASS_NAMES`). Each
is a distribution over AU intensities in ``[0, 1]``: a prototype unit is active with its probability and
scaled by the sample's expression strength; sparse background activations blur the class boundaries.
"""

from __future__ import annotations

import numpy as np

from fer_select_env.core.checks import check_rng
from fer_select_env.core.emotions import FER2013_CLASS_NAMES

# ---------------------------------------------------------------------------------------------- AU tables
ACTION_UNITS: tuple[str, ...] = (
    "AU1",
    "AU2",
    "AU4",
    "AU5",
    "AU6",
    "AU7",
    "AU9",
    "AU12",
    "AU15",
    "AU20",
    "AU23",
    "AU25",
    "AU26",
)
"""The FACS action units the renderer animates; columns of every ``action_units`` array, in this order."""

AU_DESCRIPTIONS: dict[str, str] = {
    "AU1": "inner brow raiser",
    "AU2": "outer brow raiser",
    "AU4": "brow lowerer (knit)",
    "AU5": "upper lid raiser (eyes widen)",
    "AU6": "cheek raiser (lower lid pushed up, crow's feet)",
    "AU7": "lid tightener (squint)",
    "AU9": "nose wrinkler (also raises the upper lip, lowers the inner brows)",
    "AU12": "lip corner puller (smile)",
    "AU15": "lip corner depressor",
    "AU20": "lip stretcher",
    "AU23": "lip tightener (thin, narrow lips)",
    "AU25": "lips part",
    "AU26": "jaw drop",
}

EMOTION_AU_PROTOTYPES: dict[str, dict[str, tuple[float, float]]] = {
    # emotion: {AU: (probability the AU is active, its mean intensity at full expression)}.
    # Core EMFACS units have probabilities near 1; optional ones ("(+25)") are lower.
    "angry": {"AU4": (0.95, 0.80), "AU5": (0.55, 0.50), "AU7": (0.90, 0.70), "AU23": (0.85, 0.70)},
    "disgust": {"AU9": (0.90, 0.80), "AU15": (0.70, 0.60), "AU4": (0.60, 0.50), "AU25": (0.35, 0.45)},
    "fear": {
        "AU1": (0.95, 0.75),
        "AU2": (0.80, 0.60),
        "AU4": (0.85, 0.60),
        "AU5": (0.90, 0.70),
        "AU20": (0.85, 0.75),
        "AU25": (0.70, 0.50),
        "AU26": (0.55, 0.50),
    },
    "happy": {"AU6": (0.85, 0.70), "AU12": (1.00, 0.85), "AU25": (0.50, 0.50)},
    "sad": {"AU1": (0.90, 0.70), "AU4": (0.80, 0.55), "AU15": (0.90, 0.65)},
    "surprise": {
        "AU1": (1.00, 0.80),
        "AU2": (0.95, 0.75),
        "AU5": (0.85, 0.70),
        "AU26": (0.90, 0.75),
        "AU25": (0.80, 0.60),
    },
    "neutral": {},
}
"""EMFACS prototypes: ``{emotion: {AU: (p_active, mean_intensity)}}`` (see ``docs/synthetic.md``).

happy 6+12(+25); sad 1+4+15; surprise 1+2+5+26(+25); fear 1+2+4+5+20+26(+25); angry 4+5+7+23;
disgust 9+15(+4, +25); neutral has no prototype units, only the background activations every face gets.
"""

# Within-class spread. A sample's expression strength scales all its prototype units, so weak
# expressions drift towards neutral (the realistic sad↔neutral, happy↔neutral confusions); per-AU
# jitter and sparse background activations blur the class boundaries further.
INTENSITY_RANGE: tuple[float, float] = (0.45, 1.0)
AU_JITTER_SD = 0.10
BACKGROUND_RATE = 0.12
BACKGROUND_MAX = 0.30

AU_INDEX: dict[str, int] = {name: i for i, name in enumerate(ACTION_UNITS)}
"""AU name → column in every ``action_units`` array."""


def _prototype_arrays() -> tuple[np.ndarray, np.ndarray]:
    """``(p_active, mean)`` as K×n_AU arrays in FER2013 label order."""
    p = np.zeros((len(FER2013_CLASS_NAMES), len(ACTION_UNITS)))
    mean = np.zeros_like(p)
    for k, emotion in enumerate(FER2013_CLASS_NAMES):
        for au, (prob, mu) in EMOTION_AU_PROTOTYPES[emotion].items():
            p[k, AU_INDEX[au]], mean[k, AU_INDEX[au]] = prob, mu
    return p, mean


def sample_action_units(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one AU-intensity vector per label from its emotion's prototype (float32, N×len(ACTION_UNITS)).

    :param labels: integer emotion labels in ``[0, 7)`` (FER2013 order)
    :param rng: the generator every random draw comes from
    """
    rng = check_rng(rng)
    y = np.asarray(labels)
    k = len(FER2013_CLASS_NAMES)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels: must be a 1-D integer array, got dtype {y.dtype} shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels: must lie in [0, {k}), got range [{y.min()}, {y.max()}]")
    p, mean = _prototype_arrays()
    n, m = len(y), len(ACTION_UNITS)
    strength = rng.uniform(*INTENSITY_RANGE, size=(n, 1))
    active = rng.random((n, m)) < p[y]
    core = mean[y] * strength + rng.normal(0.0, AU_JITTER_SD, size=(n, m))
    background = np.where(rng.random((n, m)) < BACKGROUND_RATE, rng.uniform(0.0, BACKGROUND_MAX, (n, m)), 0.0)
    au = np.maximum(np.where(active, core, 0.0), background)
    return np.clip(au, 0.0, 1.0).astype(np.float32)
