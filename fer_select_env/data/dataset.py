"""`FERDataset`: validated train/val/test arrays, per-sample noise kinds, class names, npz in/out.

The npz layout read by :meth:`FERDataset.from_npz` and written by :meth:`FERDataset.to_npz` is a
public interface (see ``docs/data.md``):

* required: ``x_train``, ``y_train``, ``x_val``, ``y_val``, ``x_test``, ``y_test``. Images are uint8,
  ``N×H×W`` or ``N×H×W×C``; labels are integers in ``[0, K)``.
* optional: ``noise_train`` (int per train image, see :data:`NOISE_KIND_NAMES`), ``class_names``
  (a string array of length K), and extra per-sample arrays stored as ``extra__<name>`` (train),
  ``extra_val__<name>`` and ``extra_test__<name>``.

Labels are never changed on the way in: a float label must be integral (``3.0``; ``3.7`` is an error, not
3), and without ``class_names`` the number of classes K = largest label + 1 may be at most
:func:`max_inferred_classes` of the number of distinct labels, so that one stray label (999999 in a
3-class set) is an error naming it rather than a million classes. The file is read by
:func:`fer_select_env.data.npz.read_npz`, which checks every header and bounds the size.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_select_env.core.checks import check_integer_array

# Re-exported: the data layer names the classes of every dataset it builds.
from fer_select_env.core.emotions import FER2013_CLASS_NAMES as FER2013_CLASS_NAMES
from fer_select_env.data.npz import npz_members, read_npz

NOISE_CLEAN = 0
NOISE_LABEL_FLIPPED = 1
NOISE_HALF_FACE = 2
NOISE_NO_FACE = 3
NOISE_KIND_NAMES: dict[int, str] = {
    NOISE_CLEAN: "clean",
    NOISE_LABEL_FLIPPED: "label_flipped",
    NOISE_HALF_FACE: "half_face",
    NOISE_NO_FACE: "no_face",
}
"""Per-sample noise kinds. Codes above 3 are allowed and reported as ``kind_<code>``."""

SPLITS: tuple[str, ...] = ("train", "val", "test")
REQUIRED_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
_EXTRA_PREFIX = {"train": "extra__", "val": "extra_val__", "test": "extra_test__"}


def noise_kind_name(code: int) -> str:
    """Human-readable name of a noise-kind code (``clean``, ``label_flipped``, ...)."""
    return NOISE_KIND_NAMES.get(int(code), f"kind_{int(code)}")


def _check_images(key: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"{key}: images must have dtype uint8, got {x.dtype}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{key}: images must be N×H×W or N×H×W×C, got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{key}: the split is empty (0 images)")
    if x.shape[1] == 0 or x.shape[2] == 0 or (x.ndim == 4 and x.shape[3] == 0):
        raise ValueError(f"{key}: images have a zero-sized dimension, shape {x.shape}")
    return x


def _check_labels(key: str, y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{key}: labels must be a 1-D array, got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"{key}: has {len(y)} labels but the matching images have {n} rows")
    return check_integer_array(key, y, what="labels")


def max_inferred_classes(n_distinct: int) -> int:
    """The largest K that labels without ``class_names`` may imply: ``max(2 × n_distinct, n_distinct + 8)``.

    Gaps are allowed (labels 0, 1, 2, 4 give K = 5), but K far above the number of labels present means a stray
    label, and K sizes every per-class array of the env (a million classes ask for terabytes).
    """
    return max(2 * n_distinct, n_distinct + 8)


def _class_name(key: str, value: object) -> str:
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{key}: class name {bytes(value)!r} is not valid UTF-8") from None
    return str(value)


def check_npz_keys(path: Path, required: Sequence[str], what: str = "dataset file") -> set[str]:
    """The member names of the npz at ``path``: ``FileNotFoundError`` when there is no such file, a
    ``ValueError`` naming the file and the missing keys when one of ``required`` is absent."""
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    keys = set(npz_members(path))
    missing = [k for k in required if k not in keys]
    if missing:
        raise ValueError(f"{path}: missing required key(s) {missing}; found {sorted(keys)}")
    return keys


def npz_class_names(path: Path, raw: np.ndarray) -> tuple[str, ...]:
    """An npz's ``class_names`` member as strings (bytes decoded as UTF-8), or a ``ValueError`` naming it."""
    if raw.dtype.kind not in "US" or raw.ndim != 1:
        raise ValueError(
            f"{path}: class_names: must be a string array of one dimension, got dtype {raw.dtype} and shape {raw.shape}"
        )
    return tuple(_class_name(f"{path}: class_names", s) for s in raw)


@dataclass(eq=False)
class FERDataset:
    """Train/val/test images and labels for facial expression recognition, with optional noise ground truth.

    Build one with :meth:`from_arrays` or :meth:`from_npz`; the constructor validates everything and
    raises ``ValueError`` naming the offending key.

    :param x_train: uint8 images, ``N×H×W`` or ``N×H×W×C``
    :param y_train: integer labels in ``[0, K)``
    :param noise_train: optional int per train image, ``0`` clean, ``1`` label flipped, ``2`` half face,
        ``3`` no face (other codes allowed). Used only for detection metrics, never for selection.
    :param class_names: optional names of the K classes; when given, ``K = len(class_names)`` and every
        label must be below it; otherwise K is the largest label in any split plus one, which may be at most
        :func:`max_inferred_classes` of the number of distinct labels.
    :param extras: optional per-train-sample arrays (e.g. FER+ votes, true action units)
    :param extras_val: optional per-val-sample arrays
    :param extras_test: optional per-test-sample arrays
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    noise_train: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    extras_val: dict[str, np.ndarray] = field(default_factory=dict)
    extras_test: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._validate_splits()
        self._validate_class_names()
        self._validate_label_range()
        self._validate_noise()
        self._validate_extras()

    def _validate_splits(self) -> None:
        for split in SPLITS:
            x = _check_images(f"x_{split}", getattr(self, f"x_{split}"))
            setattr(self, f"x_{split}", x)
            setattr(self, f"y_{split}", _check_labels(f"y_{split}", getattr(self, f"y_{split}"), len(x)))
        shape = self.x_train.shape[1:]
        for split in ("val", "test"):
            other = getattr(self, f"x_{split}").shape[1:]
            if other != shape:
                raise ValueError(f"x_{split}: image shape {other} differs from x_train's {shape}")

    def _validate_class_names(self) -> None:
        if self.class_names is None:
            return
        names = tuple(_class_name("class_names", c) for c in np.asarray(self.class_names).reshape(-1))
        if len(names) == 0:
            raise ValueError("class_names: must name at least one class")
        if any(not name.strip() for name in names):
            raise ValueError(f"class_names: names must not be empty, got {names}")
        if len(set(names)) != len(names):
            raise ValueError(f"class_names: names must be unique, got {names}")
        self.class_names = names

    def _validate_label_range(self) -> None:
        k = self.num_classes
        for split in SPLITS:
            y = getattr(self, f"y_{split}")
            bad = (y < 0) | (y >= k)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"y_{split}: label {int(y[i])} at index {i} is outside [0, {k}) "
                    f"({int(bad.sum())} labels out of range)"
                )
        if self.class_names is None:
            self._validate_inferred_k()

    def _validate_inferred_k(self) -> None:
        distinct = np.unique(np.concatenate([getattr(self, f"y_{split}") for split in SPLITS]))
        k, bound = int(distinct[-1]) + 1, max_inferred_classes(len(distinct))
        if k <= bound:
            return
        split = next(s for s in SPLITS if (getattr(self, f"y_{s}") == distinct[-1]).any())
        i = int(np.flatnonzero(getattr(self, f"y_{split}") == distinct[-1])[0])
        shown = ", ".join(str(int(v)) for v in distinct[:8]) + (", ..." if len(distinct) > 8 else "")
        raise ValueError(
            f"y_{split}: label {k - 1} at index {i} would make K = {k} classes, but only {len(distinct)} distinct "
            f"labels occur ({shown}); without class_names K = largest label + 1 may be at most "
            f"max(2 × distinct, distinct + 8) = {bound}. Fix the stray label, or pass class_names (K = "
            "len(class_names)) to declare that many classes"
        )

    def _validate_noise(self) -> None:
        if self.noise_train is None:
            return
        noise = np.asarray(self.noise_train)
        if noise.ndim != 1 or len(noise) != len(self.y_train):
            raise ValueError(
                f"noise_train: must be a 1-D array with one entry per train image "
                f"({len(self.y_train)}), got shape {noise.shape}"
            )
        noise = check_integer_array("noise_train", noise, what="", allow_float=False)
        if (noise < 0).any():
            raise ValueError("noise_train: noise-kind codes must be >= 0")
        self.noise_train = noise

    def _validate_extras(self) -> None:
        for split, attr in (("train", "extras"), ("val", "extras_val"), ("test", "extras_test")):
            checked = {}
            n = len(getattr(self, f"y_{split}"))
            for name, arr in dict(getattr(self, attr)).items():
                arr = np.asarray(arr)
                if not name or not str(name).isidentifier():
                    raise ValueError(f"{attr}: key {name!r} must be a non-empty identifier")
                if arr.ndim == 0 or len(arr) != n:
                    raise ValueError(
                        f"{attr}[{name!r}]: must have one row per {split} image ({n}), got shape {arr.shape}"
                    )
                checked[str(name)] = arr
            setattr(self, attr, checked)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        x_test: np.ndarray,
        y_test: np.ndarray,
        noise_train: np.ndarray | None = None,
        class_names: Sequence[str] | None = None,
        extras: Mapping[str, np.ndarray] | None = None,
        extras_val: Mapping[str, np.ndarray] | None = None,
        extras_test: Mapping[str, np.ndarray] | None = None,
    ) -> FERDataset:
        """Build a dataset from in-memory arrays (validated; raises ``ValueError`` on bad input)."""
        return cls(
            x_train=x_train,
            y_train=y_train,
            x_val=x_val,
            y_val=y_val,
            x_test=x_test,
            y_test=y_test,
            noise_train=noise_train,
            class_names=None if class_names is None else tuple(class_names),
            extras=dict(extras or {}),
            extras_val=dict(extras_val or {}),
            extras_test=dict(extras_test or {}),
        )

    @classmethod
    def from_npz(cls, path: str | os.PathLike, *, max_bytes: int | None = None) -> FERDataset:
        """Read a dataset from an ``.npz`` file in the public format (see the module docstring).

        Every problem with the file is a ``ValueError`` naming the file (and the key); a missing file is a
        ``FileNotFoundError``.

        :param max_bytes: bound on the decoded size of the arrays (default ``$FER_SELECT_MAX_NPZ_BYTES``, else
            :data:`fer_select_env.data.npz.MAX_NPZ_BYTES`, 2 GiB)
        """
        path = Path(path)
        keys = check_npz_keys(path, REQUIRED_KEYS)
        extra_keys: dict[str, dict[str, str]] = {s: {} for s in SPLITS}  # split -> name -> key
        for key in sorted(keys):
            for split in ("val", "test", "train"):  # longest prefixes first
                prefix = _EXTRA_PREFIX[split]
                if key.startswith(prefix):
                    extra_keys[split][key[len(prefix) :]] = key
                    break
        wanted = [*REQUIRED_KEYS, "noise_train", "class_names", *(k for e in extra_keys.values() for k in e.values())]
        z = read_npz(path, wanted, max_bytes=max_bytes)
        names = npz_class_names(path, z["class_names"]) if "class_names" in z else None
        try:
            return cls.from_arrays(
                **{k: z[k] for k in REQUIRED_KEYS},
                noise_train=z.get("noise_train"),
                class_names=names,
                extras={name: z[key] for name, key in extra_keys["train"].items()},
                extras_val={name: z[key] for name, key in extra_keys["val"].items()},
                extras_test={name: z[key] for name, key in extra_keys["test"].items()},
            )
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def to_npz(self, path: str | os.PathLike, compressed: bool = True) -> None:
        """Write the dataset in the public npz format. The write is atomic (temp file + rename)."""
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            f"{kind}_{split}": getattr(self, f"{kind}_{split}") for split in SPLITS for kind in ("x", "y")
        }
        if self.noise_train is not None:
            arrays["noise_train"] = self.noise_train
        if self.class_names is not None:
            arrays["class_names"] = np.asarray(self.class_names, dtype=str)
        for split, attr in (("train", "extras"), ("val", "extras_val"), ("test", "extras_test")):
            for name, arr in getattr(self, attr).items():
                arrays[_EXTRA_PREFIX[split] + name] = arr
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        try:
            (np.savez_compressed if compressed else np.savez)(tmp, **arrays)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a failed write (disk full, path is a directory) leaves nothing behind
            raise

    # ------------------------------------------------------------------ properties
    @property
    def num_classes(self) -> int:
        """K: ``len(class_names)`` if names are given, else the largest label in any split plus one."""
        if self.class_names is not None:
            return len(self.class_names)
        return int(max(self.y_train.max(), self.y_val.max(), self.y_test.max())) + 1

    @property
    def class_labels(self) -> tuple[str, ...]:
        """Class names, or ``class_0 ... class_{K-1}`` when none were given."""
        if self.class_names is not None:
            return self.class_names
        return tuple(f"class_{k}" for k in range(self.num_classes))

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image, ``(H, W)`` or ``(H, W, C)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_channels(self) -> int:
        """1 for ``N×H×W`` images, C for ``N×H×W×C``."""
        return 1 if self.x_train.ndim == 3 else int(self.x_train.shape[3])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the split ``"train"``, ``"val"`` or ``"test"``."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def train_subset(self, kept: np.ndarray) -> FERDataset:
        """This dataset with its train split (images, labels, ``noise_train``, extras) restricted to the
        boolean mask ``kept``; val, test and the class names unchanged."""
        kept = np.asarray(kept)
        if kept.dtype != bool or kept.shape != self.y_train.shape:
            raise ValueError(
                f"kept: must be a boolean mask with one entry per train image ({len(self.y_train)}), "
                f"got dtype {kept.dtype} and shape {kept.shape}"
            )
        return FERDataset.from_arrays(
            self.x_train[kept],
            self.y_train[kept],
            self.x_val,
            self.y_val,
            self.x_test,
            self.y_test,
            noise_train=None if self.noise_train is None else self.noise_train[kept],
            class_names=self.class_names,
            extras={k: v[kept] for k, v in self.extras.items()},
            extras_val=self.extras_val,
            extras_test=self.extras_test,
        )

    def stratified_train_subset(self, limit: int, seed: int) -> FERDataset:
        """``limit`` training rows, the same fraction of every class (at least one each), kept in file
        order; val and test unchanged. The dataset itself when ``limit`` covers the whole train split."""
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
            raise ValueError(f"limit: must be a positive integer, got {limit!r}")
        n = len(self.y_train)
        if limit >= n:
            return self
        rng = np.random.default_rng(seed)
        keep = np.zeros(n, dtype=bool)
        for k in np.unique(self.y_train):
            idx = np.flatnonzero(self.y_train == k)
            take = max(1, round(limit * len(idx) / n))
            keep[rng.choice(idx, size=min(take, len(idx)), replace=False)] = True
        return self.train_subset(keep)

    def fingerprint(self) -> str:
        """A sha256 over every array and the class names; identical data gives an identical string."""
        h = hashlib.sha256()
        for split in SPLITS:
            for kind in ("x", "y"):
                arr = np.ascontiguousarray(getattr(self, f"{kind}_{split}"))
                h.update(f"{kind}_{split}{arr.dtype.str}{arr.shape}".encode())
                h.update(arr.tobytes())
        if self.noise_train is not None:
            h.update(b"noise" + np.ascontiguousarray(self.noise_train).tobytes())
        h.update(repr(self.class_names).encode())
        return h.hexdigest()

    def __repr__(self) -> str:
        noise = "none" if self.noise_train is None else f"{float((self.noise_train != 0).mean()):.0%} noisy"
        return (
            f"FERDataset(train={len(self.y_train)}, val={len(self.y_val)}, test={len(self.y_test)}, "
            f"image_shape={self.image_shape}, num_classes={self.num_classes}, noise_train={noise})"
        )
