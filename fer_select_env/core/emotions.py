"""The emotion vocabulary every dataset, renderer and env of the suite shares."""

FER2013_CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The 7 basic emotions in FER2013's label order."""

FER2013_TRAIN_CLASS_COUNTS: tuple[int, ...] = (3995, 436, 4097, 7215, 4830, 3171, 4965)
"""Rows per class of FER2013's ``Training`` usage (28,709 rows), in :data:`FER2013_CLASS_NAMES` order.

Counted from the ``emotion`` column of the Kaggle ``fer2013.csv`` (Goodfellow et al. 2013); the
``PublicTest`` and ``PrivateTest`` rows follow about the same shares. The synthetic renderer's
``class_distribution="fer2013"`` uses these as weights.
"""

__all__ = ["FER2013_CLASS_NAMES", "FER2013_TRAIN_CLASS_COUNTS"]
