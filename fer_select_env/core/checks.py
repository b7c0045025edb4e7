"""Argument checks shared across the package; each raises ``ValueError`` naming the argument."""

from __future__ import annotations

import numbers

import numpy as np


def check_rng(rng: object, name: str = "rng") -> np.random.Generator:
    """``rng`` itself when it is a ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name}: must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def check_rate(rate: object, name: str = "rate") -> float:
    """``rate`` as a float when it is a real number in ``[0, 1]`` (booleans refused)."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"{name}: must be a number in [0, 1], got {rate!r}")
    return float(rate)


def check_positive_int(name: str, value: object) -> int:
    """``value`` as an int when it is an integer >= 1 (booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    return int(value)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


__all__ = ["check_choice", "check_positive_int", "check_rate", "check_rng"]
