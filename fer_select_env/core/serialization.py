"""Files of tensors and plain data that load without running code (``torch.load(weights_only=True)``).

Every ``.pt`` file the package writes and reads back (env states, checkpoints, cached classifiers) goes
through here. ``torch.load`` with ``weights_only=True`` rebuilds only tensors, numbers, strings, ``None``,
lists, tuples and dicts; a file naming any other Python object is refused before anything of it runs.
numpy arrays are stored as tensors, tagged so that they come back as arrays (:func:`to_tensor_tree`,
:func:`from_tensor_tree`): no numpy type needs to be allow-listed.
"""

from __future__ import annotations

import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

_ARRAY_TAG = "__ndarray__"
_ARRAY_KINDS = "biuf"  # bool, signed and unsigned integers, floats: what a tensor holds exactly


def to_tensor_tree(obj: Any, where: str = "value") -> Any:
    """``obj`` with every numpy array replaced by a tagged tensor and every numpy scalar by a Python scalar.

    Dicts, lists and tuples are walked; anything else is kept as it is (``torch.save`` then decides).
    A ValueError names the entry (``where``) of an array that no tensor can hold (strings, objects).
    """
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"{where}: cannot store a numpy array of dtype {obj.dtype} as a tensor")
        native = obj.astype(obj.dtype.newbyteorder("="), copy=False)
        return {_ARRAY_TAG: torch.from_numpy(np.array(native, copy=True, order="C"))}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return _mapping_type(obj)((k, to_tensor_tree(v, f"{where}[{k!r}]")) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return _sequence_type(obj)(to_tensor_tree(v, f"{where}[{i}]") for i, v in enumerate(obj))
    return obj


def from_tensor_tree(obj: Any) -> Any:
    """Undo :func:`to_tensor_tree`: tagged tensors become numpy arrays again; other tensors stay tensors."""
    if isinstance(obj, dict):
        if len(obj) == 1 and _ARRAY_TAG in obj and isinstance(obj[_ARRAY_TAG], torch.Tensor):
            return obj[_ARRAY_TAG].numpy()
        return _mapping_type(obj)((k, from_tensor_tree(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return _sequence_type(obj)(from_tensor_tree(v) for v in obj)
    return obj


def _mapping_type(obj: dict) -> type:
    # OrderedDict (state dicts) loads with weights_only; other dict subclasses are stored as plain dicts.
    return OrderedDict if isinstance(obj, OrderedDict) else dict


def _sequence_type(obj: list | tuple) -> type:
    return list if isinstance(obj, list) else tuple


def tensor_file_bytes(obj: Any) -> bytes:
    """``torch.save`` of :func:`to_tensor_tree` of ``obj``, in memory (for an atomic write)."""
    buffer = io.BytesIO()
    torch.save(to_tensor_tree(obj), buffer)
    return buffer.getvalue()


def _unsafe_globals(data: bytes) -> list[str]:
    """The Python objects a torch file names beyond tensors and plain data, read without unpickling."""
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)))
    except Exception:  # a damaged file, or a torch without the helper: the caller's message suffices
        return []


def load_tensor_bytes(data: bytes, name: str, *, map_location: str | torch.device = "cpu") -> Any:
    """Load the torch file ``data`` (called ``name`` in errors) with ``weights_only=True``, arrays restored.

    A file that names other Python objects is refused with a ValueError, and nothing of it runs; so is a
    damaged file. A file that stores numpy objects by pickle is most likely one written by an older version
    of fer-select: the message says so.
    """
    try:
        obj = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = _unsafe_globals(data)
        names = ", ".join(unsafe) or str(exc).splitlines()[0]
        hint = (
            " It looks like a file written by an older version of fer-select, which stored numpy objects by "
            "pickle; this version reads only tensors and plain data: recreate the file with this version."
            if any(u.startswith("numpy") for u in unsafe)
            else ""
        )
        raise ValueError(
            f"{name}: refused to load: it names Python objects other than tensors and plain data ({names}), "
            f"and unpickling them could run code.{hint}"
        ) from None
    except Exception as exc:  # truncated or foreign files raise RuntimeError, OSError, EOFError, ...
        raise ValueError(f"{name}: not a readable torch file ({type(exc).__name__}: {exc})") from None
    return from_tensor_tree(obj)


def load_tensor_file(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> Any:
    """:func:`load_tensor_bytes` of the file at ``path`` (a ValueError naming it if it cannot be read)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    return load_tensor_bytes(data, str(path), map_location=map_location)
