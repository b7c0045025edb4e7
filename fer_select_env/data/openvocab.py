"""`FEROpenVocabDataset`: faces whose ground truth is a *set* of emotions, for open-vocabulary answers
scored by emotion wheels (FEROpenVocab-v0).

Two sources:

* **FER2013 with its FER+ votes** (:meth:`FEROpenVocabDataset.from_fer_dataset`): an image's truth holds
  the FER+ emotions with at least :data:`MIN_VOTES` of its ten votes; ``unknown`` and ``NF`` (not a face)
  never count. Rows whose truth is empty are dropped (counted in ``dropped``).
* **Synthetic blends with known truth** (:func:`make_openvocab_dataset`): renderer faces whose AU vector
  mixes two EMFACS prototypes with known weights; the truth holds the emotions whose weight reaches
  :data:`BLEND_THRESHOLD`.

The truth is a bool N×8 array over :data:`BASES`, the FER+ emotions in FER+'s vote order. ``y_*`` is the
dominant emotion in FER2013's 7-class order, what the frozen encoder is trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fer_select_env.core.checks import check_int_at_least, check_positive_int
from fer_select_env.core.emotions import FER2013_CLASS_NAMES
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.ferplus import FERPLUS_COLUMNS
from fer_select_env.data.loaders._common import seeded_split
from fer_select_env.faces.action_units import ACTION_UNITS, sample_action_units
from fer_select_env.faces.sequences import render_face_sequences

SPLITS: tuple[str, ...] = ("train", "val", "test")
BASES: tuple[str, ...] = FERPLUS_COLUMNS[:8]
"""The eight FER+ emotions (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt)."""

MIN_VOTES = 2
"""A FER+ emotion is in an image's truth with at least this many of its ten votes."""

BLEND_THRESHOLD = 0.3
"""A synthetic face's second emotion is in its truth when its blend weight reaches this."""

BLEND_RATE = 0.5
"""The share of synthetic faces that blend a second emotion into their first."""

BLEND_WEIGHT: tuple[float, float] = (0.15, 0.5)
"""The range of the second emotion's weight: below :data:`BLEND_THRESHOLD` it is a trace, not in the truth."""

FER2013_TO_BASE: tuple[int, ...] = tuple(
    BASES.index(name)
    for name in ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")  # FER2013 order
)
"""FER2013 label k → its FER+ base index."""


@dataclass(eq=False)
class FEROpenVocabDataset:
    """Train/val/test faces with emotion-set truths (bool N×8 over :data:`BASES`) and a dominant label.

    :param x_train: uint8 images ``N×H×W``
    :param y_train: the dominant emotion in FER2013's order (the encoder's label)
    :param t_train: bool ``N×8``: the truth set over :data:`BASES`, never empty
    :param dropped: rows left out per split because their truth was empty
    :param majority: per split, the base index of each face's majority emotion (FER+: the most voted of the
        eight; synthetic: the first emotion); default: the dominant label's base
    :param action_units: per split, the faces' AU intensities (float ``N×A`` in [0, 1], the renderer's
        :data:`~fer_select_env.faces.action_units.ACTION_UNITS` order), where known (synthetic faces; FER2013
        has none). The AU-reasoning references of FEROpenVocab-v0's ``reasoning=True`` are written from them.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    t_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    t_test: np.ndarray
    dropped: dict[str, int] | None = None
    majority: dict[str, np.ndarray] | None = None
    action_units: dict[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        for split in SPLITS:
            x = np.asarray(getattr(self, f"x_{split}"))
            if x.dtype != np.uint8 or x.ndim != 3 or len(x) == 0:
                raise ValueError(f"x_{split}: must be a non-empty uint8 N×H×W array, got {x.dtype} {x.shape}")
            y = np.asarray(getattr(self, f"y_{split}"))
            if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= 7:
                raise ValueError(f"y_{split}: must be {len(x)} labels in [0, 7)")
            t = np.asarray(getattr(self, f"t_{split}"))
            if t.shape != (len(x), len(BASES)) or t.dtype != np.bool_:
                raise ValueError(f"t_{split}: must be a bool {len(x)}×{len(BASES)} array, got {t.dtype} {t.shape}")
            if not t.any(axis=1).all():
                raise ValueError(f"t_{split}: every row needs at least one emotion in its truth")
            setattr(self, f"y_{split}", y.astype(np.int64))
        self.dropped = dict(self.dropped or {s: 0 for s in SPLITS})
        given = dict(self.majority or {})
        self.majority = {
            s: np.asarray(given[s], np.int64) if s in given else np.asarray(FER2013_TO_BASE)[getattr(self, f"y_{s}")]
            for s in SPLITS
        }
        for s, m in self.majority.items():
            if m.shape != (len(getattr(self, f"y_{s}")),):
                raise ValueError(f"majority[{s!r}]: must hold one base index per face")
        if self.action_units is not None:
            units = {}
            for s in SPLITS:
                if s not in self.action_units:
                    raise ValueError(f"action_units: has no {s!r} split (it needs all of {SPLITS})")
                a = np.asarray(self.action_units[s], np.float64)
                if a.shape != (len(getattr(self, f"y_{s}")), len(ACTION_UNITS)) or not (
                    np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1
                ):
                    raise ValueError(
                        f"action_units[{s!r}]: must be {len(getattr(self, f'y_{s}'))}×{len(ACTION_UNITS)} "
                        "intensities in [0, 1]"
                    )
                units[s] = a
            self.action_units = units

    @classmethod
    def from_fer_dataset(cls, dataset: FERDataset, min_votes: int = MIN_VOTES) -> FEROpenVocabDataset:
        """FER2013 (the evaluation copy, with ``ferplus_votes`` for every split's rows): the truth of each image
        is the FER+ emotions with at least ``min_votes`` votes; rows with none are dropped."""
        min_votes = check_positive_int("min_votes", min_votes)
        arrays: dict[str, np.ndarray] = {}
        dropped: dict[str, int] = {}
        majority: dict[str, np.ndarray] = {}
        extras = {"train": dataset.extras, "val": dataset.extras_val, "test": dataset.extras_test}
        for split in SPLITS:
            votes = extras[split].get("ferplus_votes")
            if votes is None:
                raise ValueError(
                    f"dataset: the {split} split has no ferplus_votes (the FER2013 evaluation copy has them)"
                )
            truth = np.asarray(votes)[:, : len(BASES)] >= min_votes
            keep = truth.any(axis=1)
            dropped[split] = int((~keep).sum())
            majority[split] = np.asarray(votes)[keep, : len(BASES)].argmax(axis=1)
            arrays.update(
                {
                    f"x_{split}": np.asarray(getattr(dataset, f"x_{split}"))[keep],
                    f"y_{split}": np.asarray(getattr(dataset, f"y_{split}"))[keep],
                    f"t_{split}": truth[keep],
                }
            )
        return cls(**arrays, dropped=dropped, majority=majority)

    @property
    def image_shape(self) -> tuple[int, int]:
        return (int(self.x_train.shape[1]), int(self.x_train.shape[2]))

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(images, dominant labels, truth sets)`` of a split."""
        if name not in SPLITS:
            raise ValueError(f"split: must be one of {SPLITS}, got {name!r}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}"), getattr(self, f"t_{name}")

    def to_fer_dataset(self) -> FERDataset:
        """The images and dominant labels (what the frozen encoder is trained on)."""
        return FERDataset(
            x_train=self.x_train,
            y_train=self.y_train,
            x_val=self.x_val,
            y_val=self.y_val,
            x_test=self.x_test,
            y_test=self.y_test,
            class_names=FER2013_CLASS_NAMES,
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(getattr(self, f'y_{s}'))}" for s in SPLITS)
        multi = float(self.t_train.sum(axis=1).mean())
        return f"FEROpenVocabDataset({sizes}, images={self.image_shape}, mean truth size={multi:.2f})"


def make_openvocab_dataset(
    n_subjects: int = 200,
    faces_per_subject: int = 14,
    image_size: int = 48,
    blend_rate: float = BLEND_RATE,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> FEROpenVocabDataset:
    """Synthetic faces blending two emotions with known weights (identities split between train, val, test).

    Each face has a first emotion; with probability ``blend_rate`` a second, different one is blended in with a
    weight from :data:`BLEND_WEIGHT` (its AU vector is the weighted sum of two prototype draws; a neutral second
    emotion attenuates the first). The truth holds the first emotion, and the second when its weight reaches
    :data:`BLEND_THRESHOLD`.
    """
    n_subjects = check_int_at_least("n_subjects", n_subjects, 3)
    per = check_positive_int("faces_per_subject", faces_per_subject)
    if not 0.0 <= float(blend_rate) <= 1.0:
        raise ValueError(f"blend_rate: must lie in [0, 1], got {blend_rate}")
    rng = np.random.default_rng(seed)
    k = len(FER2013_CLASS_NAMES)
    first = np.concatenate([rng.permutation(np.resize(np.arange(k), per)) for _ in range(n_subjects)])
    n = len(first)
    second = (first + rng.integers(1, k, size=n)) % k
    blended = rng.random(n) < blend_rate
    weight = np.where(blended, rng.uniform(*BLEND_WEIGHT, size=n), 0.0)
    au = (1 - weight)[:, None] * sample_action_units(first, rng) + weight[:, None] * sample_action_units(second, rng)
    subjects = np.repeat(np.arange(n_subjects), per)
    images = render_face_sequences(np.clip(au, 0, 1)[:, None], subjects, rng, image_size)[:, 0]
    truth = np.zeros((n, len(BASES)), bool)
    base = np.asarray(FER2013_TO_BASE)
    truth[np.arange(n), base[first]] = True
    two = weight >= BLEND_THRESHOLD
    truth[np.flatnonzero(two), base[second[two]]] = True
    parts = seeded_split(np.arange(n_subjects), fractions, seed=seed, stratify=False)
    arrays: dict[str, np.ndarray] = {}
    units: dict[str, np.ndarray] = {}
    for split, ids in zip(SPLITS, parts, strict=True):
        rows = np.flatnonzero(np.isin(subjects, ids))
        arrays.update({f"x_{split}": images[rows], f"y_{split}": first[rows], f"t_{split}": truth[rows]})
        units[split] = np.clip(au[rows], 0, 1)
    return FEROpenVocabDataset(**arrays, action_units=units)


__all__ = [
    "BASES",
    "BLEND_RATE",
    "BLEND_THRESHOLD",
    "BLEND_WEIGHT",
    "FER2013_TO_BASE",
    "MIN_VOTES",
    "FEROpenVocabDataset",
    "make_openvocab_dataset",
]
