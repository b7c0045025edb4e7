"""`FERReasonDataset`: faces with their emotion labels and, where known, their ground-truth action units,
split by identity; the synthetic AU faces that carry them, and FER2013 as emotion-only data.

The AU truth of a face is the set of units whose rendered intensity is at least
:data:`AU_PRESENCE_THRESHOLD`. The renderer's background activations never reach it (they stay below
:data:`~fer_select_env.faces.action_units.BACKGROUND_MAX`), so a unit is "present" only where the face
visibly shows it. *Distractor* units (:func:`add_distractor_units`) are drawn independently of the label, so
that the AU set is not a function of the emotion: a policy must look at the face to name them.

Rows whose AUs are unknown (every FER2013 row, or synthetic rows hidden by :meth:`FERReasonDataset.with_au_budget`)
have ``au_known`` False; R_AU is 0 on them, as Facial-R1 scores its emotion-only data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from fer_select_env.core.checks import check_int_at_least, check_positive_int
from fer_select_env.core.emotions import FER2013_CLASS_NAMES
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.loaders._common import seeded_split
from fer_select_env.faces.action_units import ACTION_UNITS, BACKGROUND_MAX, EMOTION_AU_PROTOTYPES, sample_action_units
from fer_select_env.faces.sequences import render_face_sequences

SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.6, 0.2, 0.2)
"""Identity shares of train, val and test."""

AU_PRESENCE_THRESHOLD = 0.35
"""An AU is in a face's truth set when its intensity is at least this: above every background activation
(at most 0.30). A prototype unit of a weak expression can stay below it; it is then not in the truth, as a
FACS coder would not code a trace."""

DISTRACTOR_RATE = 0.5
"""The probability that a face gets one distractor unit on top of its emotion's prototype."""

DISTRACTOR_INTENSITY: tuple[float, float] = (0.5, 0.9)
"""The intensity range of a distractor unit: clearly visible, as strong as a prototype unit."""

assert BACKGROUND_MAX < AU_PRESENCE_THRESHOLD  # the truth must not contain background activations


def _prototype_units(emotion: int) -> np.ndarray:
    names = EMOTION_AU_PROTOTYPES[FER2013_CLASS_NAMES[emotion]]
    return np.array([name in names for name in ACTION_UNITS])


def add_distractor_units(
    action_units: np.ndarray, emotions: np.ndarray, rng: np.random.Generator, rate: float = DISTRACTOR_RATE
) -> np.ndarray:
    """With probability ``rate`` per face, switch on one unit outside its emotion's prototype, at an
    intensity drawn from :data:`DISTRACTOR_INTENSITY` (a copy; float32)."""
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"distractor_rate: must lie in [0, 1], got {rate}")
    au = np.array(action_units, dtype=np.float32, copy=True)
    for i in np.flatnonzero(rng.random(len(au)) < rate):
        candidates = np.flatnonzero(~_prototype_units(int(emotions[i])))
        j = rng.choice(candidates)
        au[i, j] = max(au[i, j], rng.uniform(*DISTRACTOR_INTENSITY))
    return au


def au_truth(action_units: np.ndarray, threshold: float = AU_PRESENCE_THRESHOLD) -> np.ndarray:
    """The truth sets as an N×len(ACTION_UNITS) bool array: intensity ≥ ``threshold``."""
    return np.asarray(action_units) >= threshold


def au_names(row: np.ndarray) -> tuple[str, ...]:
    """The AU names of one bool row of an :func:`au_truth` array, in :data:`ACTION_UNITS` order."""
    return tuple(name for name, on in zip(ACTION_UNITS, np.asarray(row, bool), strict=True) if on)


@dataclass(eq=False)
class FERReasonDataset:
    """Train/val/test faces with emotion labels, AU truth sets and identities that never cross splits.

    Build one with :func:`make_reasoning_dataset` or :meth:`from_fer_dataset`; the constructor checks every
    array and raises ``ValueError`` naming it.

    :param x_train: uint8 images ``N×H×W``
    :param y_train: emotion labels in ``[0, K)``
    :param au_train: bool ``N×A``: the AU truth set of each face (columns :attr:`action_units`)
    :param known_train: bool ``N``: whether the row's AU truth is known (False: emotion-only, R_AU = 0)
    :param s_train: identity ids
    :param class_names: the K emotion names (the answer tokens)
    :param action_units: the A unit names (the AU tokens)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    au_train: np.ndarray
    known_train: np.ndarray
    s_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    au_val: np.ndarray
    known_val: np.ndarray
    s_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    au_test: np.ndarray
    known_test: np.ndarray
    s_test: np.ndarray
    class_names: tuple[str, ...] = FER2013_CLASS_NAMES
    action_units: tuple[str, ...] = ACTION_UNITS

    def __post_init__(self) -> None:
        self.class_names = tuple(str(c) for c in self.class_names)
        self.action_units = tuple(str(a) for a in self.action_units)
        if len(self.class_names) < 2 or len(set(self.class_names)) != len(self.class_names):
            raise ValueError(f"class_names: need at least 2 distinct names, got {self.class_names}")
        shape = None
        for split in SPLITS:
            x = np.asarray(getattr(self, f"x_{split}"))
            if x.dtype != np.uint8 or x.ndim != 3 or len(x) == 0:
                raise ValueError(f"x_{split}: must be a non-empty uint8 N×H×W array, got {x.dtype} {x.shape}")
            if shape is not None and x.shape[1:] != shape:
                raise ValueError(f"x_{split}: images of shape {x.shape[1:]}, x_train has {shape}")
            shape = x.shape[1:]
            n = len(x)
            y = np.asarray(getattr(self, f"y_{split}"))
            if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"y_{split}: must be {n} integer labels, got {y.dtype} {y.shape}")
            if y.min() < 0 or y.max() >= len(self.class_names):
                raise ValueError(
                    f"y_{split}: labels must lie in [0, {len(self.class_names)}), got [{y.min()}, {y.max()}]"
                )
            au = np.asarray(getattr(self, f"au_{split}"))
            if au.shape != (n, len(self.action_units)) or au.dtype != np.bool_:
                raise ValueError(
                    f"au_{split}: must be a bool {n}×{len(self.action_units)} array, got {au.dtype} {au.shape}"
                )
            known = np.asarray(getattr(self, f"known_{split}"))
            if known.shape != (n,) or known.dtype != np.bool_:
                raise ValueError(f"known_{split}: must be {n} booleans, got {known.dtype} {known.shape}")
            if np.any(au[~known]):
                raise ValueError(f"au_{split}: rows whose AUs are unknown (known_{split} False) must have no AU")
            s = np.asarray(getattr(self, f"s_{split}"))
            if s.shape != (n,) or not np.issubdtype(s.dtype, np.integer):
                raise ValueError(f"s_{split}: must be {n} integer identity ids, got {s.dtype} {s.shape}")
            for key, value in (
                ("x", x),
                ("y", y.astype(np.int64)),
                ("au", au),
                ("known", known),
                ("s", s.astype(np.int64)),
            ):
                setattr(self, f"{key}_{split}", value)
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = np.intersect1d(getattr(self, f"s_{a}"), getattr(self, f"s_{b}"))
            if shared.size:
                raise ValueError(f"s_{a}, s_{b}: identity {int(shared[0])} appears in both splits")

    # ------------------------------------------------------------------------------------------ build
    @classmethod
    def from_fer_dataset(cls, dataset: FERDataset) -> FERReasonDataset:
        """Emotion-only data (FER2013 and any :class:`FERDataset`): no AU is known, R_AU is 0 on every row.

        FER2013 records no identities; each row is its own (its Usage split keeps the three apart)."""
        arrays: dict[str, np.ndarray] = {}
        offset = 0
        for split in SPLITS:
            x = np.asarray(getattr(dataset, f"x_{split}"))
            if x.ndim != 3:
                raise ValueError(f"x_{split}: reasoning data is grayscale N×H×W, got shape {x.shape}")
            n = len(x)
            arrays.update(
                {
                    f"x_{split}": x,
                    f"y_{split}": np.asarray(getattr(dataset, f"y_{split}")),
                    f"au_{split}": np.zeros((n, len(ACTION_UNITS)), bool),
                    f"known_{split}": np.zeros(n, bool),
                    f"s_{split}": np.arange(offset, offset + n),
                }
            )
            offset += n
        names = dataset.class_names or tuple(f"class_{k}" for k in range(dataset.num_classes))
        return cls(**arrays, class_names=tuple(names))

    def with_au_budget(self, n: int, seed: int = 0) -> FERReasonDataset:
        """A copy in which only ``n`` training faces (drawn with ``seed``) keep their AU truth; the others are
        emotion-only. Val and test keep theirs (they score AU-F1)."""
        n = check_int_at_least("au_budget", n, 0)
        known = np.flatnonzero(self.known_train)
        if n > len(known):
            raise ValueError(f"au_budget: {n} exceeds the {len(known)} training faces whose AUs are known")
        keep = np.random.default_rng(seed).choice(known, size=n, replace=False)
        mask = np.zeros(len(self.y_train), bool)
        mask[keep] = True
        return replace(self, au_train=self.au_train & mask[:, None], known_train=mask)

    # ---------------------------------------------------------------------------------------- queries
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int]:
        return (int(self.x_train.shape[1]), int(self.x_train.shape[2]))

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(images, labels, au_truth, au_known)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if name not in SPLITS:
            raise ValueError(f"split: must be one of {SPLITS}, got {name!r}")
        return tuple(getattr(self, f"{k}_{name}") for k in ("x", "y", "au", "known"))  # type: ignore[return-value]

    def to_fer_dataset(self) -> FERDataset:
        """The images and emotion labels as a :class:`FERDataset` (what the frozen encoder is trained on)."""
        return FERDataset(
            x_train=self.x_train,
            y_train=self.y_train,
            x_val=self.x_val,
            y_val=self.y_val,
            x_test=self.x_test,
            y_test=self.y_test,
            class_names=self.class_names,
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(getattr(self, f'y_{s}'))}" for s in SPLITS)
        known = int(self.known_train.sum())
        return f"FERReasonDataset({sizes}, images={self.image_shape}, K={self.num_classes}, au_known_train={known})"


def make_reasoning_dataset(
    n_subjects: int = 200,
    faces_per_subject: int = 14,
    image_size: int = 48,
    distractor_rate: float = DISTRACTOR_RATE,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> FERReasonDataset:
    """Render synthetic AU faces with their truth sets: every identity shows each of the seven emotions
    ``faces_per_subject / 7`` times (rounded up, then cut), each with its own pose and lighting.

    :param n_subjects: identities (at least 3); the default 200 gives 1,680 training faces
    :param faces_per_subject: faces per identity
    :param distractor_rate: :func:`add_distractor_units`' rate
    :param fractions: identity shares of train, val and test
    """
    n_subjects = check_int_at_least("n_subjects", n_subjects, 3)
    per = check_positive_int("faces_per_subject", faces_per_subject)
    rng = np.random.default_rng(seed)
    k = len(FER2013_CLASS_NAMES)
    labels = np.concatenate([rng.permutation(np.resize(np.arange(k), per)) for _ in range(n_subjects)])
    subjects = np.repeat(np.arange(n_subjects), per)
    au = add_distractor_units(sample_action_units(labels, rng), labels, rng, distractor_rate)
    images = render_face_sequences(au[:, None], subjects, rng, image_size)[:, 0]
    truth = au_truth(au)
    parts = seeded_split(np.arange(n_subjects), fractions, seed=seed, stratify=False)
    arrays: dict[str, np.ndarray] = {}
    for split, ids in zip(SPLITS, parts, strict=True):
        rows = np.flatnonzero(np.isin(subjects, ids))
        arrays.update(
            {
                f"x_{split}": images[rows],
                f"y_{split}": labels[rows],
                f"au_{split}": truth[rows],
                f"known_{split}": np.ones(len(rows), bool),
                f"s_{split}": subjects[rows],
            }
        )
    return FERReasonDataset(**arrays)


__all__ = [
    "AU_PRESENCE_THRESHOLD",
    "DEFAULT_FRACTIONS",
    "DISTRACTOR_INTENSITY",
    "DISTRACTOR_RATE",
    "FERReasonDataset",
    "add_distractor_units",
    "au_names",
    "au_truth",
    "make_reasoning_dataset",
]
