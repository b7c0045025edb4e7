"""One safe reader for ``.npz`` archives: every member's ``.npy`` header is checked before anything is decoded.

``numpy.load`` trusts the archive: a damaged member escapes as ``BadZipFile``, ``zlib.error``, ``EOFError`` or
``RuntimeError``, a header that lies about its shape asks for hundreds of GiB (``MemoryError``), a ``.npy``
file named ``.npz`` gives a ``TypeError``, and a small archive can expand to any size in memory. Here every
problem is a ``ValueError`` naming the file and the key, and the arrays to load must fit in a size limit:

* each member's header is read with ``numpy.lib.format`` (shape, dtype, order) before its data;
* object (pickled) dtypes and sub-array dtypes are refused, and so is a header whose shape and dtype do not
  account for exactly the bytes the zip entry holds;
* the declared sizes of the arrays to load must add up to at most :data:`MAX_NPZ_BYTES` (2 GiB), which the
  ``max_bytes=`` argument or the ``FER_SELECT_MAX_NPZ_BYTES`` environment variable raises;
* a member over :data:`EXPANSION_FLOOR_BYTES` (64 MiB) decoded may expand at most :data:`MAX_NPZ_EXPANSION`
  (200) times its compressed size, raised by ``FER_SELECT_MAX_NPZ_EXPANSION``: face images compress 1.5-5
  times, while a decompression bomb (0.6 MB of zeros declaring 0.9 GB) expands over a thousand times.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

MAX_NPZ_BYTES: int = 2 * 2**30
"""Default bound on the total size, once decoded, of the arrays read from one ``.npz`` file (2 GiB)."""

MAX_NPZ_BYTES_ENV = "FER_SELECT_MAX_NPZ_BYTES"
"""Environment variable that replaces :data:`MAX_NPZ_BYTES` (a number of bytes, e.g. ``8000000000``)."""

MAX_NPZ_EXPANSION: int = 200
"""Default bound on decoded / compressed size of one member larger than :data:`EXPANSION_FLOOR_BYTES`."""

MAX_NPZ_EXPANSION_ENV = "FER_SELECT_MAX_NPZ_EXPANSION"
"""Environment variable that replaces :data:`MAX_NPZ_EXPANSION` (a positive integer ratio)."""

EXPANSION_FLOOR_BYTES: int = 64 * 2**20
"""Members that decode to at most this many bytes are never refused for their compression ratio."""

_NPY_MAGIC = b"\x93NUMPY"
# What a damaged archive or member raises from zipfile, zlib and numpy's header parser.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    TypeError,
    OverflowError,
    NotImplementedError,  # an unsupported compression method
    RuntimeError,  # an encrypted member
    RecursionError,
    SyntaxError,
    struct.error,
)


class _Refused(ValueError):
    """A member this reader refuses for a reason it states itself (not a decoding error)."""


@dataclass(frozen=True)
class NpzMember:
    """What a member's ``.npy`` header declares: key (the name without ``.npy``), shape, dtype, data bytes."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    nbytes: int


def env_limit(name: str, default: int) -> int:
    """The positive integer in environment variable ``name``, else ``default``; ``ValueError`` if malformed."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        raise ValueError(f"{name}: must be a positive integer, got {text!r}") from None
    if value < 1:
        raise ValueError(f"{name}: must be a positive integer, got {text!r}")
    return value


def npz_byte_limit(max_bytes: int | None = None) -> int:
    """``max_bytes`` if given, else ``$FER_SELECT_MAX_NPZ_BYTES``, else :data:`MAX_NPZ_BYTES`."""
    if max_bytes is None:
        return env_limit(MAX_NPZ_BYTES_ENV, MAX_NPZ_BYTES)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes: must be a positive integer or None, got {max_bytes!r}")
    return max_bytes


def _open_archive(path: Path) -> zipfile.ZipFile:
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not an .npz file")
    if not path.is_file():
        raise FileNotFoundError(f"npz file not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(len(_NPY_MAGIC))
    if head == _NPY_MAGIC:
        raise ValueError(f"{path}: is a single .npy array, not an .npz archive of named arrays (numpy.savez)")
    try:
        return zipfile.ZipFile(path)
    except _READ_ERRORS as exc:
        raise ValueError(f"{path}: not a readable .npz file ({_kind(exc)}: {_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _kind(exc: BaseException) -> str:
    """``zlib.error``, ``BadZipFile``, ...: the exception's name as a user would look it up."""
    return "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} bytes"


def _read_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> NpzMember:
    """The member's header, checked against the bytes its zip entry holds (nothing of the data is read)."""
    with zf.open(info) as fh:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fh)
        else:
            raise _Refused(f".npy format version {version[0]}.{version[1]} is not supported (only 1.0 and 2.0)")
        header_bytes = fh.tell()
    if dtype.hasobject:
        raise _Refused("holds pickled Python objects (an object dtype), which this reader never unpickles")
    if dtype.subdtype is not None:
        raise _Refused(f"has a sub-array dtype {dtype}, which numpy.save never writes")
    if any(d < 0 for d in shape):
        raise _Refused(f"declares the negative shape {shape} in its header")
    nbytes = math.prod(shape) * dtype.itemsize
    if header_bytes + nbytes != info.file_size:
        raise _Refused(
            f"declares shape {shape} of {dtype} ({_size(nbytes)}) in its header but holds "
            f"{_size(max(0, info.file_size - header_bytes))} of data: the file is damaged"
        )
    return NpzMember(key, tuple(shape), dtype, bool(fortran), nbytes)


def _members(path: Path, zf: zipfile.ZipFile) -> dict[str, tuple[zipfile.ZipInfo, NpzMember]]:
    found: dict[str, tuple[zipfile.ZipInfo, NpzMember]] = {}
    for info in zf.infolist():
        name = info.filename
        if not name.endswith(".npy"):
            raise ValueError(f"{path}: member {name!r} is not an .npy array (an .npz holds only .npy members)")
        key = name[: -len(".npy")]
        if key in found:
            raise ValueError(f"{path}: key {key!r} appears twice in the archive")
        try:
            found[key] = (info, _read_header(zf, info, key))
        except _READ_ERRORS as exc:
            raise ValueError(f"{path}: key {key!r} {_reason(exc)}") from None
    return found


def _reason(exc: BaseException) -> str:
    if isinstance(exc, _Refused):
        return _one_line(exc)
    if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        return "is encrypted (a password-protected zip member), which numpy never writes"
    return f"is damaged ({_kind(exc)}: {_one_line(exc)})"


def _read_data(zf: zipfile.ZipFile, info: zipfile.ZipInfo, member: NpzMember) -> np.ndarray:
    count = math.prod(member.shape)
    # np.ndarray rather than np.empty: zero-width string dtypes (see numpy.lib.format.read_array)
    flat = np.ndarray(count, dtype=member.dtype)
    with zf.open(info) as fh:
        fh.read(info.file_size - member.nbytes)  # the header, already checked
        if member.nbytes:
            view = memoryview(flat.view(np.uint8))
            done = 0
            while done < member.nbytes:
                got = fh.readinto(view[done:])
                if not got:
                    raise EOFError(f"the data ends after {done} of {member.nbytes} bytes")
                done += got
        if fh.read(1):  # also makes zipfile check the CRC of the whole entry
            raise _Refused("holds more bytes than its header declares")
    if member.fortran_order:
        return flat.reshape(member.shape[::-1]).transpose()
    return flat.reshape(member.shape)


def _check_expansion(path: Path, members: list[tuple[zipfile.ZipInfo, NpzMember]]) -> None:
    """Refuse a large member that expands far more than images do: a decompression bomb, checked before decoding."""
    ratio = env_limit(MAX_NPZ_EXPANSION_ENV, MAX_NPZ_EXPANSION)
    for info, member in members:
        if member.nbytes > EXPANSION_FLOOR_BYTES and member.nbytes > ratio * max(1, info.compress_size):
            raise ValueError(
                f"{path}: key {member.key!r} would expand from {_size(info.compress_size)} to "
                f"{_size(member.nbytes)} ({member.nbytes / max(1, info.compress_size):.0f} times; the limit is "
                f"{ratio} for members over {_size(EXPANSION_FLOOR_BYTES)}); if the file is trusted, raise the "
                f"limit with the {MAX_NPZ_EXPANSION_ENV} environment variable"
            )


def npz_members(path: str | os.PathLike) -> dict[str, NpzMember]:
    """The members of an ``.npz`` file, by key, from their checked headers; no array data is decoded.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (naming the file and the key) for anything
    that is not a well-formed archive of ``.npy`` arrays.
    """
    path = Path(path)
    with _open_archive(path) as zf:
        return {key: member for key, (_, member) in _members(path, zf).items()}


def read_npz(
    path: str | os.PathLike, keys: Iterable[str] | None = None, *, max_bytes: int | None = None
) -> dict[str, np.ndarray]:
    """The arrays ``keys`` (default: every member) of an ``.npz`` file, each header checked before its data.

    Every member's header is checked, loaded or not. The arrays to load may declare at most ``max_bytes``
    (default :func:`npz_byte_limit`: ``$FER_SELECT_MAX_NPZ_BYTES``, else :data:`MAX_NPZ_BYTES`). A key that is
    not in the archive is left out of the result; the caller says which keys it requires.

    :raises FileNotFoundError: no such file
    :raises ValueError: naming the file and the key, for a damaged, lying, pickled or oversized member
    """
    path = Path(path)
    limit = npz_byte_limit(max_bytes)
    with _open_archive(path) as zf:
        members = _members(path, zf)
        wanted = list(members) if keys is None else [k for k in keys if k in members]
        total = sum(members[k][1].nbytes for k in wanted)
        if total > limit:
            biggest = max(wanted, key=lambda k: members[k][1].nbytes)
            raise ValueError(
                f"{path}: its arrays would take {_size(total)} in memory (key {biggest!r} alone "
                f"{_size(members[biggest][1].nbytes)}, shape {members[biggest][1].shape}), over the limit of "
                f"{_size(limit)}; if the file is trusted, raise the limit with max_bytes= or the "
                f"{MAX_NPZ_BYTES_ENV} environment variable (in bytes)"
            )
        _check_expansion(path, [members[k] for k in wanted])
        arrays: dict[str, np.ndarray] = {}
        for key in wanted:
            info, member = members[key]
            try:
                arrays[key] = _read_data(zf, info, member)
            except _READ_ERRORS as exc:
                raise ValueError(f"{path}: key {key!r} {_reason(exc)}") from None
    return arrays


__all__ = [
    "EXPANSION_FLOOR_BYTES",
    "MAX_NPZ_BYTES",
    "MAX_NPZ_BYTES_ENV",
    "MAX_NPZ_EXPANSION",
    "MAX_NPZ_EXPANSION_ENV",
    "NpzMember",
    "npz_byte_limit",
    "npz_members",
    "read_npz",
]
