"""FER+ crowd votes as a reference for FER2013 label noise (Barsoum et al., ICMI 2016).

FER+ re-labelled every FER2013 image by ten taggers. Comparing an image's FER2013 label with the FER+
majority gives a noisy-but-independent estimate of which training labels are wrong, so a selection of
FER2013 training images (the paper's §4.4 FER2013 experiment) can be checked against it with
:func:`reference_noise_report`.

Vote columns, in the order of ``fer2013new.csv`` and of the evaluation copy's ``ferplus_votes``:
neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF (not a face).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from fer_select_env.data.dataset import FER2013_CLASS_NAMES, FERDataset

FERPLUS_COLUMNS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
"""FER+ vote columns in file order."""

_FER = {name: i for i, name in enumerate(FER2013_CLASS_NAMES)}
FERPLUS_TO_FER2013: tuple[int, ...] = (
    _FER["neutral"],
    _FER["happy"],
    _FER["surprise"],
    _FER["sad"],
    _FER["angry"],
    _FER["disgust"],
    _FER["fear"],
    -1,  # contempt: not one of FER2013's seven classes
    -1,  # unknown
    -1,  # NF
)
"""FER2013 class of each FER+ column; ``-1`` where the column has no FER2013 class."""

NO_MAJORITY = -1
"""Label returned by :func:`ferplus_majority` when no FER2013 class wins."""

_N_EMOTION_COLUMNS = 8  # neutral..contempt; unknown and NF are not expressions


def _check_votes(votes: object) -> np.ndarray:
    v = np.asarray(votes)
    if v.ndim != 2 or v.shape[1] != len(FERPLUS_COLUMNS):
        raise ValueError(f"votes: must be N×{len(FERPLUS_COLUMNS)} (columns {FERPLUS_COLUMNS}), got shape {v.shape}")
    if not (np.issubdtype(v.dtype, np.integer) or np.issubdtype(v.dtype, np.floating)):
        raise ValueError(f"votes: must be numeric, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if (v < 0).any():
        raise ValueError("votes: vote counts must be >= 0")
    return v


def ferplus_majority(
    votes: np.ndarray,
    ties: Literal["first", "undefined"] = "first",
    include_non_emotion: bool = False,
) -> np.ndarray:
    """The FER+ majority of each row, as a FER2013 label (``-1`` = :data:`NO_MAJORITY`).

    The winner is the column with the most votes among the eight expression columns (neutral ...
    contempt); the ``unknown`` and ``NF`` votes are ignored. This is the convention under which the
    FER2013 evaluation copy's README reports 62.8% agreement with the FER2013 labels.

    * ``ties="first"`` (default, numpy ``argmax``): a tie goes to the earliest column in FER+ order
      (neutral, happiness, surprise, ...), as in the README's figure. ``"undefined"``: a tie gives ``-1``.
    * ``include_non_emotion=True`` lets ``unknown`` and ``NF`` compete too; if one of them wins, ``-1``.
    * A winning ``contempt`` (no FER2013 class), a row without any counted vote, or a row holding NaN
      (missing votes) gives ``-1``.

    :param votes: N×10 vote counts in :data:`FERPLUS_COLUMNS` order
    :returns: int64 labels in FER2013 order, or ``-1``
    """
    if ties not in ("first", "undefined"):
        raise ValueError(f"ties: must be 'first' or 'undefined', got {ties!r}")
    v = _check_votes(votes)
    missing = np.isnan(v).any(axis=1)
    counted = v if include_non_emotion else v[:, :_N_EMOTION_COLUMNS]
    counted = np.where(np.isnan(counted), 0.0, counted)
    win = counted.argmax(axis=1)
    top = counted.max(axis=1)
    labels = np.asarray(FERPLUS_TO_FER2013, np.int64)[win]
    undefined = missing | (top <= 0)
    if ties == "undefined":
        undefined |= (counted == top[:, None]).sum(axis=1) > 1
    labels[undefined] = NO_MAJORITY
    return labels


def ferplus_disagreement(
    labels: np.ndarray,
    votes: np.ndarray,
    undefined: Literal["disagree", "agree", "error"] = "disagree",
    ties: Literal["first", "undefined"] = "first",
    include_non_emotion: bool = False,
) -> np.ndarray:
    """Per image: does its FER2013 label differ from the FER+ majority (:func:`ferplus_majority`)?

    When the majority is undefined (``-1``: a contempt majority, a tie under ``ties="undefined"``, no
    votes, NaN votes), ``undefined`` decides: ``"disagree"`` (default; FER+ does not confirm the label, so
    it is counted as suspect, which is also how the README's 62.8% agreement counts it), ``"agree"``, or
    ``"error"`` (``ValueError`` naming the first such row).

    :returns: bool array, ``True`` where the label disagrees
    """
    if undefined not in ("disagree", "agree", "error"):
        raise ValueError(f"undefined: must be 'disagree', 'agree' or 'error', got {undefined!r}")
    y = np.asarray(labels)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels: must be a 1-D integer array, got dtype {y.dtype} shape {y.shape}")
    majority = ferplus_majority(votes, ties=ties, include_non_emotion=include_non_emotion)
    if len(majority) != len(y):
        raise ValueError(f"labels: {len(y)} labels but votes has {len(majority)} rows")
    none = majority == NO_MAJORITY
    if undefined == "error" and none.any():
        i = int(np.flatnonzero(none)[0])
        raise ValueError(f"votes: row {i} has no FER+ majority ({int(none.sum())} such rows)")
    disagrees = majority != y
    disagrees[none] = undefined == "disagree"
    return disagrees


def reference_noise_report(kept: np.ndarray, disagrees: np.ndarray) -> dict[str, float | int]:
    """How well a selection separates FER+-disputed labels (a reference, not ground truth).

    :param kept: bool per training image, ``True`` if the selection keeps it
    :param disagrees: bool per training image, from :func:`ferplus_disagreement`
    :returns: ``n_total``, ``n_kept``, ``n_removed``; ``removed_disagree_rate`` (fraction of removed images
        whose label disagrees with FER+), ``kept_disagree_rate``, ``base_disagree_rate`` (over all images)
        and ``removed_enrichment`` (removed rate / base rate). A rate over an empty set is ``nan``.
    """
    k, d = np.asarray(kept), np.asarray(disagrees)
    for name, arr in (("kept", k), ("disagrees", d)):
        if arr.ndim != 1 or arr.dtype != np.bool_:
            raise ValueError(f"{name}: must be a 1-D bool array, got dtype {arr.dtype} shape {arr.shape}")
    if len(k) != len(d):
        raise ValueError(f"kept has {len(k)} entries but disagrees has {len(d)}")

    def rate(mask: np.ndarray) -> float:
        return float(d[mask].mean()) if mask.any() else float("nan")

    removed_rate, base = rate(~k), rate(np.ones(len(k), bool))
    return {
        "n_total": len(k),
        "n_kept": int(k.sum()),
        "n_removed": int((~k).sum()),
        "removed_disagree_rate": removed_rate,
        "kept_disagree_rate": rate(k),
        "base_disagree_rate": base,
        "removed_enrichment": removed_rate / base if base > 0 else float("nan"),
    }


def dataset_reference_report(dataset: FERDataset, kept: np.ndarray) -> dict[str, float | int] | None:
    """:func:`reference_noise_report` of a selection on a dataset whose ``extras["ferplus_votes"]`` exist
    (the FER2013 evaluation copy); ``None`` when the dataset has no FER+ votes."""
    votes = dataset.extras.get("ferplus_votes")
    if votes is None:
        return None
    return reference_noise_report(kept, ferplus_disagreement(dataset.y_train, votes))


def ferplus_split_labels(dataset: FERDataset, split: str) -> np.ndarray | None:
    """The FER+ majority label (:func:`ferplus_majority`, ``-1`` where there is none) of every row of a split
    whose FER+ votes the dataset carries (``extras``, ``extras_val`` or ``extras_test`` of the FER2013
    evaluation copy); ``None`` when that split has no votes."""
    extras = {"train": dataset.extras, "val": dataset.extras_val, "test": dataset.extras_test}
    if split not in extras:
        raise ValueError(f"split: must be one of {sorted(extras)}, got {split!r}")
    votes = extras[split].get("ferplus_votes")
    return None if votes is None else ferplus_majority(votes)
