"""Argument checks shared across the package; each raises ``ValueError`` naming the argument."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import fields

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


def check_positive_number(name: str, value: object) -> float:
    """``value`` as a float when it is a finite real number > 0 (booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < np.inf:
        raise ValueError(f"{name}: must be a positive number, got {value!r}")
    return float(value)


def check_int_at_least(name: str, value: object, minimum: int) -> int:
    """``value`` as an int when it is an integer >= ``minimum`` (booleans, floats and strings refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ValueError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_bool(name: str, value: object) -> bool:
    """``value`` when it is ``True`` or ``False`` (a Python or numpy bool; ``0``, ``1`` and ``"no"`` refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_reset_options(options: object, supported: tuple[str, ...]) -> Mapping:
    """``reset``'s ``options`` (``{}`` for None) when it is a mapping of ``supported`` keys only."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"options: must be a dict or None, got {type(options).__name__}")
    unknown = set(options) - set(supported)
    if unknown:
        raise ValueError(f"unknown reset option(s) {sorted(map(str, unknown))}; supported: {list(supported)}")
    return options


def check_known_fields(cls: type, data: Mapping) -> None:
    """``ValueError`` naming the keys of ``data`` that are not fields of the dataclass ``cls`` (its
    ``from_dict``'s check)."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {sorted(unknown)}")


def check_device(name: str, value: object) -> str:
    """``value`` when torch can run on it here: ``"auto"``, ``"cpu"``, ``"cuda"``/``"cuda:<i>"`` with that GPU
    present, or ``"mps"`` where available."""
    import torch  # imported only when a device is checked: the rest of core needs only numpy

    from fer_select_env.core.seeding import resolve_device

    if not isinstance(value, str):
        raise ValueError(f"{name}: must be a device name such as 'cpu', 'cuda' or 'auto', got {value!r}")
    try:
        dev = resolve_device(value)
    except (RuntimeError, ValueError) as exc:  # torch.device("tpu") is a RuntimeError
        raise ValueError(f"{name}: {value!r} is not a usable device ({' '.join(str(exc).split())})") from None
    usable = {
        "cpu": True,
        "cuda": torch.cuda.is_available() and (dev.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
    }
    if not usable.get(dev.type, False):
        raise ValueError(f"{name}: {value!r} is not a usable device here (use 'cpu', 'cuda' or 'auto')")
    return value


_EXACT_FLOAT_INT = 2**53  # floats above this no longer hold every integer exactly


def check_integer_array(name: str, value: object, what: str = "values", allow_float: bool = True) -> np.ndarray:
    """``value`` as an int64 array when every entry is an integer, else a ``ValueError`` naming the first bad one.

    Integer dtypes pass (a uint64 entry above the int64 range is refused with its true value, not wrapped);
    with ``allow_float`` a float array passes when every entry is finite and integral (``3.0``, never ``3.7``,
    which is an error rather than a silent 3). Bools, strings, complex and object arrays are refused.
    """
    arr = np.asarray(value)
    prefix = f"{name}: {what} must be integers" if what else f"{name}: must be integers"
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        i = int(np.argmax(arr))
        raise ValueError(f"{prefix} in the int64 range, got {int(arr.flat[i])} at index {_index(arr, i)}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind != "f" or not allow_float:
        raise ValueError(f"{prefix}, got dtype {arr.dtype}")
    flat = arr.reshape(-1).astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(flat) | (np.abs(flat) > _EXACT_FLOAT_INT) | (flat != np.round(flat))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        integral = bool(np.isfinite(flat[i]) and flat[i] == np.round(flat[i]))
        why = "too large to be an exact integer" if integral else "not an integer"
        raise ValueError(
            f"{prefix}, got {float(flat[i])!r} at index {_index(arr, i)} ({why}; "
            f"{int(bad.sum())} such value(s) in a {arr.dtype} array)"
        )
    return arr.astype(np.int64)


def _index(arr: np.ndarray, flat_index: int) -> int | tuple[int, ...]:
    if arr.ndim == 1:
        return flat_index
    return tuple(int(i) for i in np.unravel_index(flat_index, arr.shape))


__all__ = [
    "check_bool",
    "check_choice",
    "check_device",
    "check_int_at_least",
    "check_integer_array",
    "check_positive_int",
    "check_rate",
    "check_rng",
]
