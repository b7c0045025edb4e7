"""Turn the env's ``dataset=`` argument into a `FERDataset` (a dataset, an npz path, or a scenario name)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fer_select_env.core.cache import CacheWarning, cache_key, cache_subdir
from fer_select_env.core.version import __version__
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.npz import read_npz

DEFAULT_SCENARIO = "label_symmetric"
CACHE_META = "__cache_meta__"
"""The member of a cached synthetic npz that records how it was made and what it holds (a JSON string);
``FERDataset.from_npz`` ignores it."""
SYNTHETIC_CACHE_FORMAT = 2


def _jsonable(value: Any) -> Any:
    """``value`` as JSON would hold it (what the cache key hashes: unknown types by ``str``)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def synthetic_inputs(scenario: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """How a synthetic dataset is made: the scenario, the renderer's arguments, the version and a hash of
    the renderer's source; stored in the cache entry and hashed into its file name."""
    from fer_select_env.data import noise, scenarios
    from fer_select_env.faces import action_units, renderer

    # The renderer's source is part of the key: editing it must not serve images from an older renderer.
    source = "".join(Path(m.__file__).read_text() for m in (action_units, renderer, scenarios, noise))
    key_kwargs = sorted(_key_kwargs(kwargs).items())
    return {
        "cache_format": SYNTHETIC_CACHE_FORMAT,
        "key": cache_key("synthetic", scenario, key_kwargs, __version__, source),
        "scenario": scenario,
        "kwargs": _jsonable(dict(key_kwargs)),
        "version": __version__,
        "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
    }


def _read_cache_meta(path: Path) -> dict[str, Any] | None:
    """The :data:`CACHE_META` record of a cached npz, or None if it has none or it is not a JSON object."""
    raw = read_npz(path, [CACHE_META]).get(CACHE_META)  # the package's one npz reader, with its checks
    if raw is None:
        return None
    if raw.dtype.kind != "U" or raw.shape != ():
        return None
    try:
        meta = json.loads(str(raw))
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


def read_synthetic_cache(path: Path, inputs: dict[str, Any]) -> FERDataset | None:
    """The dataset cached at ``path`` if it records ``inputs`` and its content matches the fingerprint it
    records; otherwise None, with a warning saying why (the caller renders it again and overwrites it)."""
    try:
        meta = _read_cache_meta(path)
        dataset = FERDataset.from_npz(path)
    except Exception as exc:  # any damage (zip, zlib, npy, missing keys): rebuilt, not fatal
        warnings.warn(f"ignoring unreadable cached dataset {path}: {exc}", CacheWarning, stacklevel=3)
        return None
    recorded = None if meta is None else {k: meta.get(k) for k in inputs}
    if recorded != inputs:
        why = "it does not record how it was made" if meta is None else "it records other inputs"
        warnings.warn(f"ignoring cached dataset {path}: {why}; rendering it again", CacheWarning, stacklevel=3)
        return None
    if meta.get("fingerprint") != dataset.fingerprint():
        warnings.warn(
            f"ignoring cached dataset {path}: its content does not match the fingerprint it records "
            "(modified after it was written); rendering it again",
            CacheWarning,
            stacklevel=3,
        )
        return None
    return dataset


def write_synthetic_cache(dataset: FERDataset, path: Path, inputs: dict[str, Any]) -> None:
    """``dataset.to_npz`` plus its :data:`CACHE_META` record (``inputs`` and the content fingerprint),
    written to a temporary file and renamed into place."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    dataset.to_npz(tmp)
    record = io.BytesIO()
    np.lib.format.write_array(record, np.array(json.dumps({**inputs, "fingerprint": dataset.fingerprint()})))
    with zipfile.ZipFile(tmp, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{CACHE_META}.npy", record.getvalue())
    os.replace(tmp, path)


def load_or_make_synthetic(
    scenario: str = DEFAULT_SCENARIO, cache_dir: str | os.PathLike | None = None, **kwargs: Any
) -> FERDataset:
    """The synthetic benchmark for ``scenario``, rendered once and then read from the disk cache.

    The cached npz records its generation inputs and a fingerprint of its content; an entry whose record is
    missing or differs, or whose content no longer matches its fingerprint, is ignored with a warning and
    rendered again.
    """
    from fer_select_env.data import scenarios

    if scenario not in scenarios.SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {sorted(scenarios.SCENARIOS)}")
    inputs = synthetic_inputs(scenario, kwargs)
    path = cache_subdir(cache_dir, "datasets") / f"synthetic-{scenario}-{inputs['key']}.npz"
    if path.is_file():
        cached = read_synthetic_cache(path, inputs)
        if cached is not None:
            return cached
    dataset = scenarios.make_synthetic_dataset(scenario=scenario, **kwargs)
    write_synthetic_cache(dataset, path, inputs)
    return dataset


def _key_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The renderer's arguments as they enter the cache key: ``class_distribution`` as its list of weights.

    A name, a tuple, a list or an array of the same weights render the same images, so they share one entry
    (an array would otherwise enter the key through its lossy ``str``); the balanced default is left out, so
    the default key does not change when a caller spells it out.
    """
    from fer_select_env.data.scenarios import CLASS_DISTRIBUTIONS, class_distribution_weights

    if "class_distribution" not in kwargs:
        return kwargs
    weights = class_distribution_weights(kwargs["class_distribution"]).tolist()
    rest = {k: v for k, v in kwargs.items() if k != "class_distribution"}
    return rest if weights == list(CLASS_DISTRIBUTIONS["balanced"]) else {**rest, "class_distribution": weights}


def resolve_dataset(
    dataset: FERDataset | str | os.PathLike | None,
    synthetic_kwargs: dict[str, Any] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> FERDataset:
    """``None`` → the default synthetic benchmark; a scenario name → that scenario; a path → the npz file."""
    if isinstance(dataset, FERDataset):
        return dataset
    if dataset is None:
        return load_or_make_synthetic(DEFAULT_SCENARIO, cache_dir, **(synthetic_kwargs or {}))
    if isinstance(dataset, (str, os.PathLike)):
        from fer_select_env.data.scenarios import SCENARIOS

        if isinstance(dataset, str) and dataset in SCENARIOS:
            return load_or_make_synthetic(dataset, cache_dir, **(synthetic_kwargs or {}))
        path = Path(dataset)
        if path.suffix == ".npz" or path.exists():
            return FERDataset.from_npz(path)
        raise ValueError(
            f"dataset={dataset!r} is neither an existing .npz file nor a scenario name ({sorted(SCENARIOS)})"
        )
    raise TypeError(
        f"dataset must be a FERDataset, a path to an .npz file, a scenario name or None; got {type(dataset)}"
    )
