"""Where expensive results (rendered datasets, pre-trained classifiers) are cached on disk.

The directory is, in order of precedence: the ``cache_dir`` argument, the ``FER_SELECT_CACHE_DIR``
environment variable, ``$XDG_CACHE_HOME/fer-select``, and ``~/.cache/fer-select``.
Writes are atomic (temporary file, then rename), so an interrupted run never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CACHE_ENV_VAR = "FER_SELECT_CACHE_DIR"


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory to use (created if missing)."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV_VAR)
    if cache_dir is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        cache_dir = os.path.join(base, "fer-select")
    path = Path(cache_dir).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (configs, fingerprints, versions)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
