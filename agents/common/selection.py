"""What every selector, RL or not, hands to the benchmark: a keep probability per training image.

Because every selector ends in the same :class:`Selection`, the final-training protocol (train a fresh
classifier on the kept images, early stopping on val, evaluate on test) is identical for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Selection:
    """The outcome of a selector on one dataset.

    :param keep_probability: float in [0, 1] per training image, in the dataset's order. For a
        deterministic filter it is 1.0 for kept and 0.0 for removed images.
    :param kept: bool per training image, the selection: the subset the final classifier is trained on (with
        the benchmark's ``final_sample_weights="keep_probability"`` it trains on every image of positive keep
        probability, weighted by it, and ``kept`` still defines the kept fraction and the removal scores).
    :param sample_rewards: the last per-image rewards ``R_i`` (Eq. 2) in dataset order, when the selector
        has them (RL agents on FERSelect-v0); ``None`` otherwise.
    :param history: one dict of scalars per episode (``episode_reward``, ``kept_fraction``,
        ``val_accuracy``, ``val_macro_f1``, ...); empty for one-shot filters.
    :param info: anything else worth recording (thresholds, timings), JSON-serialisable scalars or lists.
    :param train_labels: labels the final classifier trains on instead of the given ones, one per training
        image (a reference that relabels, like ``ferplus_relabel``); ``None`` for every selector that only
        keeps or removes. Selectors never change a label silently: a relabelling is this explicit field.
    """

    keep_probability: np.ndarray
    kept: np.ndarray
    sample_rewards: np.ndarray | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    train_labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.keep_probability = np.asarray(self.keep_probability, dtype=np.float64)
        self.kept = np.asarray(self.kept, dtype=bool)
        if self.keep_probability.ndim != 1 or self.kept.shape != self.keep_probability.shape:
            raise ValueError(
                "Selection: keep_probability and kept must be 1-D arrays of the same length, got shapes "
                f"{self.keep_probability.shape} and {self.kept.shape}"
            )
        if self.keep_probability.size and (
            not np.isfinite(self.keep_probability).all()
            or self.keep_probability.min() < 0
            or self.keep_probability.max() > 1
        ):
            raise ValueError("Selection: keep_probability must be finite and within [0, 1]")
        if self.sample_rewards is not None:
            self.sample_rewards = np.asarray(self.sample_rewards, dtype=np.float64)
            if self.sample_rewards.shape != self.kept.shape:
                raise ValueError(
                    f"Selection: sample_rewards has shape {self.sample_rewards.shape}, expected {self.kept.shape}"
                )
        if self.train_labels is not None:
            labels = np.asarray(self.train_labels)
            if labels.shape != self.kept.shape or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
                raise ValueError(
                    f"Selection: train_labels must be non-negative integers of shape {self.kept.shape}, "
                    f"got dtype {labels.dtype} and shape {labels.shape}"
                )
            self.train_labels = labels.astype(np.int64)

    @classmethod
    def from_mask(cls, kept: np.ndarray, **kwargs: Any) -> Selection:
        """A deterministic filter's selection: keep probability 1 for kept, 0 for removed images."""
        kept = np.asarray(kept, dtype=bool)
        return cls(keep_probability=kept.astype(np.float64), kept=kept, **kwargs)

    @property
    def kept_fraction(self) -> float:
        return float(self.kept.mean()) if self.kept.size else 0.0
