"""Where expensive results (rendered datasets, pre-trained classifiers) are cached on disk.

The directory is, in order of precedence: the ``cache_dir`` argument, the ``FER_SELECT_CACHE_DIR``
environment variable, ``$XDG_CACHE_HOME/fer-select``, and ``~/.cache/fer-select``.
Writes are atomic (temporary file, then rename), so an interrupted run never leaves a half-written entry.

An entry is trusted only as far as its directory is: :func:`check_cache_dir` refuses a directory that every
user may write to (world-writable without the sticky bit) and warns, once per directory, about one that
its group or others may write to, or that another user owns. Each entry also stores the inputs it was made
from, and its reader ignores (with a warning) and rebuilds an entry whose inputs differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fer_select_env.core.serialization import load_tensor_file, tensor_file_bytes

T = TypeVar("T")

CACHE_ENV_VAR = "FER_SELECT_CACHE_DIR"
_WARNED: set[tuple[str, str]] = set()
_NEW_DIR_MODE = 0o775  # less the umask: group-shared caches stay possible, world-writable ones are not made


class CacheWarning(UserWarning):
    """A cache directory others may write to, or a cache entry ignored because it does not match its inputs."""


def _warn_once(path: Path, kind: str, message: str) -> None:
    if (str(path), kind) not in _WARNED:
        _WARNED.add((str(path), kind))
        warnings.warn(message, CacheWarning, stacklevel=3)


def check_cache_dir(path: str | os.PathLike) -> Path:
    """``path`` if it is safe to read cache entries from; see the module docstring for what is refused.

    A ValueError for a directory that every user may write to without the sticky bit (anyone could replace
    an entry); a :class:`CacheWarning` (once per directory) when its group or others may write to it (with the
    sticky bit, others cannot replace our entries but can plant new ones) or when another user owns it.
    Mode bits mean nothing on Windows, where nothing is checked.
    """
    path = Path(path)
    if os.name == "nt":
        return path
    info = path.stat()
    mode = info.st_mode
    where = f"cache directory {path} (mode {stat.filemode(mode)})"
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise ValueError(
            f"{where} is writable by every user, so anyone could replace what it caches: "
            f"run `chmod o-w {path}` or choose another directory with {CACHE_ENV_VAR}"
        )
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "others" if mode & stat.S_IWOTH else "its group"
        _warn_once(path, "mode", f"{where} is writable by {who}, who could plant entries in it; `chmod go-w {path}`")
    if hasattr(os, "geteuid") and info.st_uid not in (os.geteuid(), 0):
        _warn_once(path, "owner", f"{where} belongs to another user (uid {info.st_uid}), who could plant entries in it")
    return path


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory to use (created if missing, checked by :func:`check_cache_dir`)."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV_VAR)
    if cache_dir is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        cache_dir = os.path.join(base, "fer-select")
    path = Path(cache_dir).expanduser()
    # Never world-writable when we create it (a umask of 0 would make it so, and then refused).
    path.mkdir(mode=_NEW_DIR_MODE, parents=True, exist_ok=True)
    return check_cache_dir(path)


def cache_subdir(cache_dir: str | os.PathLike | None, name: str) -> Path:
    """``<cache>/<name>`` (created if missing), both directories checked by :func:`check_cache_dir`."""
    path = resolve_cache_dir(cache_dir) / name
    path.mkdir(mode=_NEW_DIR_MODE, exist_ok=True)
    return check_cache_dir(path)


def cache_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (configs, fingerprints, versions)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed write (path is a directory, disk full, Ctrl-C) leaves no temp file
        raise


def write_cache_entry(path: Path, inputs: dict[str, Any], cache_format: int, **payload: Any) -> None:
    """Store ``payload`` (tensors and plain values) at ``path`` with the ``inputs`` it was made from, atomically,
    in the tensor format :func:`read_cache_entry` reads."""
    entry = {"cache_format": cache_format, "inputs": inputs, **payload}
    atomic_write_bytes(path, tensor_file_bytes(entry))


def read_cache_entry(
    path: Path,
    inputs: dict[str, Any],
    cache_format: int,
    apply: Callable[[dict[str, Any]], T],
    *,
    what: str,
    category: type[Warning] = CacheWarning,
    map_location: Any = "cpu",
) -> T | None:
    """``apply(entry)`` for the entry at ``path`` when it is readable, of ``cache_format`` and was made from
    ``inputs``; otherwise a ``category`` warning naming ``what`` and None (the caller rebuilds and rewrites it).

    The file is read with ``torch.load(weights_only=True)``: one naming Python objects is refused, never run.
    An ``apply`` that raises ValueError, KeyError, TypeError or RuntimeError (a state that does not fit) counts
    as unreadable too.
    """
    try:
        entry = load_tensor_file(path, map_location=map_location)
    except ValueError as exc:  # damaged, foreign, or naming Python objects (refused, never run)
        warnings.warn(f"ignoring unreadable {what} {exc}; retraining", category, stacklevel=3)
        return None
    stored = entry.get("inputs") if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or entry.get("cache_format") != cache_format or stored != inputs:
        differ = sorted(k for k in inputs if not isinstance(stored, dict) or stored.get(k) != inputs[k])
        why = f"its {', '.join(differ)} differ" if isinstance(stored, dict) else "it does not record its inputs"
        warnings.warn(
            f"ignoring {what} {path}: {why} (another version's entry, or one copied or planted there); retraining",
            category,
            stacklevel=3,
        )
        return None
    try:
        return apply(entry)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        warnings.warn(
            f"ignoring unreadable {what} {path} ({type(exc).__name__}: {exc}); retraining", category, stacklevel=3
        )
        return None
