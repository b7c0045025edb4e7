"""The simulated viewer of FERSmile-v0: a hidden taste, an expressiveness, a resting face and habituation.

Nobody sits in front of a camera here. Each episode's viewer is drawn from :class:`ViewerPopulation`, whose
choices follow what Jaques et al. (2018) report from 76 real viewers of generated sketches: viewers differ a
lot (a taste per viewer around a shared liking for friendly smileys), some people barely emote (a fifth are
"non-emoters"), many rest with a concentration face (a knitted brow, a squint), the signal is very noisy (the
smile fluctuates frame to frame, on top of pose, lighting and sensor noise), and a reward must be normalised
per viewer (the env's ``normalise="baseline"``).

The viewer's true smile, in [0, 1], for an emoticon at normalised parameters z (:func:`~.emoticon.to_unit`):

    appeal(z) = exp(−½ Σ_i ((z_i − z*_i) / w_i)²)            (z* the viewer's ideal, w_i their tolerance)
    u(z)      = clip(rest + expressiveness · appeal(z) · (1 − H), 0, 1)

with H ∈ [0, ``habituation_max``] the habituation: it grows by ``habituation_rate`` of the way to its maximum
after every showing whose largest coordinate change is below ``novelty_threshold``, and falls by
``recovery`` of its value after a larger change. The smile drives AU6 (cheek raiser) and AU12 (lip corner
puller), opens the lips (AU25) when broad, and relaxes the resting units, on the viewer's own rendered face.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from fer_select_env.core.checks import check_known_fields, check_rng
from fer_select_env.faces.action_units import ACTION_UNITS, AU_INDEX
from fer_select_env.faces.renderer import (
    check_image_size,
    draw_face_parameters,
    render_with_parameters,
    take_face_parameters,
)

NUM_PARAMETERS = 8

# Normalised coordinates (to_unit) of the shared taste: eyes a little closer and smaller than the start,
# a broad smile (b ≈ 1.0), raised brows whose inner ends lift slightly (a friendly face).
_TASTE_MEAN = (0.0, -0.52, 0.2, 0.0, 0.83, 0.0, 0.36, -0.3)
# The mouth's curvature matters most (the narrowest tolerance), the eye angle and the cubic term least.
_TOLERANCE = (0.8, 0.9, 0.7, 0.7, 0.45, 0.9, 0.7, 0.6)


@dataclass(frozen=True)
class ViewerPopulation:
    """Where viewers come from (defaults documented in the module docstring and ``docs/smile.md``).

    :param taste_mean: the population's mean ideal emoticon, in normalised coordinates
    :param taste_sd: the spread of a viewer's ideal around it, per coordinate (the ideal is clipped to [−1, 1])
    :param tolerance: how far (normalised units) a coordinate may stray before the appeal falls to e^−½
    :param pickiness_sd: the log-normal spread of a viewer's tolerances (one factor per viewer)
    :param non_emoter_rate: the share of viewers who barely emote
    :param non_emoter_expressiveness: their expressiveness range
    :param expressiveness: the others' expressiveness range
    :param rest_smile: the range of the resting smile (some people rest smiling)
    :param concentration_rate: the share of viewers who rest with a knitted brow (AU4) and a squint (AU7)
    :param smile_noise: the frame-to-frame standard deviation of the smile
    :param novelty_threshold: a showing that moves no coordinate by more than this counts as unchanged
    :param habituation_rate: the share of the way to ``habituation_max`` an unchanged showing adds
    :param habituation_max: the most of the response habituation can take away
    :param recovery: the share of the habituation a changed showing removes
    """

    taste_mean: tuple[float, ...] = _TASTE_MEAN
    taste_sd: float = 0.35
    tolerance: tuple[float, ...] = _TOLERANCE
    pickiness_sd: float = 0.2
    non_emoter_rate: float = 0.2
    non_emoter_expressiveness: tuple[float, float] = (0.05, 0.2)
    expressiveness: tuple[float, float] = (0.5, 1.0)
    rest_smile: tuple[float, float] = (0.0, 0.15)
    concentration_rate: float = 0.5
    smile_noise: float = 0.06
    novelty_threshold: float = 0.05
    habituation_rate: float = 0.3
    habituation_max: float = 0.5
    recovery: float = 0.5

    def __post_init__(self) -> None:
        for name in ("taste_mean", "tolerance"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.shape != (NUM_PARAMETERS,) or not np.all(np.isfinite(values)):
                raise ValueError(f"ViewerPopulation.{name}: must be {NUM_PARAMETERS} finite numbers")
            object.__setattr__(self, name, tuple(float(v) for v in values))
        if min(self.tolerance) <= 0:
            raise ValueError("ViewerPopulation.tolerance: every entry must be > 0")
        for name in ("taste_sd", "pickiness_sd", "smile_noise", "novelty_threshold"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"ViewerPopulation.{name}: must be finite and >= 0, got {getattr(self, name)!r}")
        for name in ("non_emoter_rate", "concentration_rate", "habituation_rate", "habituation_max", "recovery"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"ViewerPopulation.{name}: must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("non_emoter_expressiveness", "expressiveness", "rest_smile"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"ViewerPopulation.{name}: must be a range (low, high) within [0, 1], got {(lo, hi)}")

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ViewerPopulation:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        check_known_fields(cls, data)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass(frozen=True)
class Viewer:
    """One simulated viewer (hidden from the agent; the oracle and the metrics read it)."""

    ideal: np.ndarray
    tolerance: np.ndarray
    expressiveness: float
    rest_smile: float
    rest_action_units: np.ndarray
    face: tuple[dict, dict, dict] = field(repr=False)
    population: ViewerPopulation = field(repr=False)

    @property
    def non_emoter(self) -> bool:
        """Whether this viewer is drawn from the population's barely-emoting share."""
        return self.expressiveness <= self.population.non_emoter_expressiveness[1]

    def appeal(self, z: np.ndarray) -> float:
        """How much this viewer likes the emoticon at normalised parameters ``z``, in (0, 1]."""
        d = (np.asarray(z, dtype=np.float64) - self.ideal) / self.tolerance
        return float(np.exp(-0.5 * float(d @ d)))

    def smile(self, z: np.ndarray, habituation: float = 0.0) -> float:
        """The true smile u(z) at habituation ``habituation`` (the module docstring's formula)."""
        u = self.rest_smile + self.expressiveness * self.appeal(z) * (1.0 - habituation)
        return float(np.clip(u, 0.0, 1.0))

    @property
    def best_smile(self) -> float:
        """The smile of the viewer's ideal emoticon, fresh (no habituation): what an oracle reaches."""
        return self.smile(self.ideal)

    def next_habituation(self, habituation: float, change: float) -> float:
        """The habituation after a showing whose largest normalised coordinate change is ``change``."""
        pop = self.population
        if change < pop.novelty_threshold:
            return habituation + pop.habituation_rate * (pop.habituation_max - habituation)
        return habituation * (1.0 - pop.recovery)

    def frames(self, smile: float, n: int, rng: np.random.Generator, image_size: int = 48) -> np.ndarray:
        """``n`` camera frames (uint8, n×S×S) of this viewer smiling ``smile``: the face's identity is the
        viewer's, the smile fluctuates per frame, and pose, lighting and sensor noise change every frame."""
        rng = check_rng(rng)
        size = check_image_size(image_size)
        u = np.clip(smile + rng.normal(0.0, self.population.smile_noise, n), 0.0, 1.0)
        au = np.repeat(self.rest_action_units[None], n, axis=0) * (1.0 - u[:, None])
        # A full smile (u = 1) is a strong but not extreme happy prototype, so that P(happy) keeps rising
        # with u instead of saturating at moderate smiles.
        au[:, AU_INDEX["AU12"]] = 0.7 * u
        au[:, AU_INDEX["AU6"]] = 0.6 * u
        au[:, AU_INDEX["AU25"]] = np.maximum(au[:, AU_INDEX["AU25"]], 0.8 * np.maximum(u - 0.6, 0.0))
        return render_with_parameters(np.clip(au, 0.0, 1.0), _frame_parameters(self.face, n, rng, size), rng, size)


def _frame_parameters(face: tuple[dict, dict, dict], n: int, rng: np.random.Generator, size: int) -> tuple:
    """The viewer's face parameters for ``n`` frames: the identity fixed, the head moving a little around the
    viewer's pose, and the lighting drifting around the viewer's room (a quarter of the renderer's spread)."""
    identity, pose, photo = face
    rows = np.zeros(n, dtype=np.int64)
    _, fresh_pose, fresh_photo = draw_face_parameters(n, rng, size)
    pose_n = take_face_parameters(pose, rows)
    for key in ("angle", "yaw", "scale", "dx", "dy", "gaze"):
        pose_n[key] = pose_n[key] + 0.25 * (fresh_pose[key] - pose_n[key])
    photo_n = take_face_parameters(photo, rows)
    for key in ("gain", "offset", "grad", "grad_dir", "noise"):
        photo_n[key] = photo_n[key] + 0.25 * (fresh_photo[key] - photo_n[key])
    return take_face_parameters(identity, rows), pose_n, photo_n


def sample_viewer(population: ViewerPopulation, rng: np.random.Generator, image_size: int = 48) -> Viewer:
    """Draw one viewer (taste, expressiveness, resting face and rendered identity) from ``population``."""
    rng = check_rng(rng)
    pop = population
    ideal = np.clip(np.asarray(pop.taste_mean) + rng.normal(0.0, pop.taste_sd, NUM_PARAMETERS), -1.0, 1.0)
    tolerance = np.asarray(pop.tolerance) * float(np.exp(rng.normal(0.0, pop.pickiness_sd)))
    if rng.random() < pop.non_emoter_rate:
        expressiveness = float(rng.uniform(*pop.non_emoter_expressiveness))
    else:
        expressiveness = float(rng.uniform(*pop.expressiveness))
    rest_smile = float(rng.uniform(*pop.rest_smile))
    rest = np.zeros(len(ACTION_UNITS))
    if rng.random() < pop.concentration_rate:
        rest[AU_INDEX["AU4"]] = rng.uniform(0.1, 0.4)
        rest[AU_INDEX["AU7"]] = rng.uniform(0.0, 0.3)
    face = draw_face_parameters(1, rng, check_image_size(image_size))
    face[1]["occ_kind"] = np.zeros(1, dtype=face[1]["occ_kind"].dtype)  # the webcam sees the whole face
    return Viewer(ideal, tolerance, expressiveness, rest_smile, rest, face, pop)


__all__ = ["NUM_PARAMETERS", "Viewer", "ViewerPopulation", "sample_viewer"]
