"""Turn the env's ``dataset=`` argument into a `FERDataset` (a dataset, an npz path, or a scenario name)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from fer_select_env.core.cache import cache_key, resolve_cache_dir
from fer_select_env.core.version import __version__
from fer_select_env.data.dataset import FERDataset

DEFAULT_SCENARIO = "label_symmetric"


def load_or_make_synthetic(
    scenario: str = DEFAULT_SCENARIO, cache_dir: str | os.PathLike | None = None, **kwargs: Any
) -> FERDataset:
    """The synthetic benchmark for ``scenario``, rendered once and then read from the disk cache."""
    from fer_select_env.data import noise, scenarios
    from fer_select_env.faces import action_units, renderer

    if scenario not in scenarios.SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {sorted(scenarios.SCENARIOS)}")
    # The renderer's source is part of the key: editing it must not serve images from an older renderer.
    source = "".join(Path(m.__file__).read_text() for m in (action_units, renderer, scenarios, noise))
    key = cache_key("synthetic", scenario, sorted(_key_kwargs(kwargs).items()), __version__, source)
    path = resolve_cache_dir(cache_dir) / "datasets" / f"synthetic-{scenario}-{key}.npz"
    if path.is_file():
        try:
            return FERDataset.from_npz(path)
        except (ValueError, OSError) as exc:  # a damaged cache entry is rebuilt, not fatal
            warnings.warn(f"ignoring unreadable cached dataset {path}: {exc}", stacklevel=2)
    dataset = scenarios.make_synthetic_dataset(scenario=scenario, **kwargs)
    dataset.to_npz(path)
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
