"""The emotion vocabulary every dataset, renderer and env of the suite shares."""

FER2013_CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The 7 basic emotions in FER2013's label order."""

__all__ = ["FER2013_CLASS_NAMES"]
