"""rl-baselines3-zoo (``rl_zoo3``) hyperparameter files for the package's envs, and where to find them.

``ppo.yml`` and ``a2c.yml`` in this folder are rl-zoo3 hyperparameter files keyed by ``FERSelect-v0`` and
``FERSelectLabelAware-v0``, with the settings of the package's own PPO (gamma 0, ``reward="per_step"``,
``baseline="mean"``; see their comments). Pass one to the zoo with ``-conf``::

    python -m rl_zoo3.train --algo ppo --env FERSelectLabelAware-v0 --gym-packages fer_select_env \\
        -conf "$(python -m agents.zoo ppo)" --eval-freq -1

:mod:`agents.zoo.train` runs the zoo with the search space of :mod:`agents.zoo.samplers` for ``-optimize``
(docs/rl_zoo3.md). This module reads and writes YAML only; it does not import rl_zoo3.
"""

from __future__ import annotations

import copy
import os
from importlib.resources import files
from pathlib import Path
from typing import Any

ZOO_ALGOS: tuple[str, ...] = ("ppo", "a2c")
"""The algorithms with a shipped hyperparameter file (``<algo>.yml``). DQN has none: see docs/rl_zoo3.md."""

ZOO_ENV_IDS: tuple[str, ...] = ("FERSelectLabelAware-v0", "FERSelect-v0")
"""The env ids every shipped file holds."""

PASS_LENGTH = 2048
"""Images a pass (``env_kwargs.episode_size``) in the shipped files; PPO's ``n_steps`` is one pass."""


def zoo_hyperparams_path(algo: str) -> Path:
    """The shipped rl-zoo3 hyperparameter file of ``algo`` (one of :data:`ZOO_ALGOS`), for ``-conf``."""
    if algo not in ZOO_ALGOS:
        raise ValueError(f"algo: no rl-zoo3 hyperparameter file for {algo!r}; shipped: {list(ZOO_ALGOS)}")
    return Path(str(files(__name__).joinpath(f"{algo}.yml")))


def load_zoo_hyperparams(algo: str) -> dict[str, dict[str, Any]]:
    """The shipped file of ``algo``, parsed: env id → hyperparameters (each id its own copy)."""
    import yaml  # rl_zoo3 depends on PyYAML

    path = zoo_hyperparams_path(algo)
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    # The files share one block between the ids through a YAML alias; copy so that editing one id edits one id.
    return {env_id: copy.deepcopy(block) for env_id, block in data.items()}


def write_zoo_config(
    algo: str,
    out: str | os.PathLike,
    env_kwargs: dict[str, Any] | None = None,
    hyperparams: dict[str, Any] | None = None,
) -> Path:
    """Write the shipped file of ``algo`` with ``env_kwargs`` merged into every id's ``env_kwargs`` and
    ``hyperparams`` over its hyperparameters; returns ``out``.

    rl-zoo3 2.9.2's ``--env-kwargs`` replaces the file's ``env_kwargs`` as a whole (and ``-params env_kwargs:``
    too), so a dataset or a classifier of one's own is added here instead. Keep PPO's ``n_steps`` equal to the
    pass: ``hyperparams={"n_steps": N}`` with ``env_kwargs={"episode_size": N}``.
    """
    import yaml

    config = load_zoo_hyperparams(algo)
    for name, value in (("env_kwargs", env_kwargs), ("hyperparams", hyperparams)):
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{name}: must be a dict or None, got {type(value).__name__}")
    if hyperparams and "env_kwargs" in hyperparams:
        raise ValueError("hyperparams: give the env's arguments as env_kwargs=, not as hyperparams['env_kwargs']")
    # a path is written as its string: the env takes either
    extra = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in (env_kwargs or {}).items()}
    for block in config.values():
        block.update(hyperparams or {})
        block["env_kwargs"] = {**block.get("env_kwargs", {}), **extra}
    try:
        text = yaml.safe_dump(config, sort_keys=False)
    except yaml.representer.RepresenterError as e:
        raise ValueError(
            f"env_kwargs/hyperparams: every value must be plain YAML (numbers, strings, lists, dicts): {e}"
        ) from e
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


__all__ = [
    "PASS_LENGTH",
    "ZOO_ALGOS",
    "ZOO_ENV_IDS",
    "load_zoo_hyperparams",
    "write_zoo_config",
    "zoo_hyperparams_path",
]
