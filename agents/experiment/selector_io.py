"""The saved-selector format of ``fer-select train``, read back by ``fer-select clean --selector``.

``selector.zip`` is SB3's ``model.save``; ``selector.json`` next to it describes the env the selector expects
(agent, algorithm, observation mode, env arguments, observation shape, classifier config); a selector
trained behind ``VecNormalize`` adds ``selector_vecnormalize.pkl`` (SB3's ``VecNormalize.save`` format).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents.common.inference import keep_probability_function
from agents.common.selection import Selection
from agents.experiment.checkpoint import load_vec_normalize, model_bytes, vec_normalize_bytes
from agents.experiment.registry import get_training
from agents.experiment.report import library_versions, write_json
from agents.experiment.rl_selection import make_selection_env, selection_pass
from agents.experiment.settings import RLSettings
from fer_select_env.core.cache import atomic_write_bytes
from fer_select_env.data.dataset import FERDataset
from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.models import ClassifierConfig

SELECTOR_FORMAT = 1


class SelectorError(ValueError):
    """A saved selector that is incomplete, damaged, or does not fit the dataset (a one-line CLI error)."""


def selector_meta(
    agent: str,
    env: FERSelectEnv,
    config: ClassifierConfig,
    dataset: FERDataset,
    dataset_name: str,
    *,
    seed: int,
    episodes: int,
    pretrain_episodes: int,
) -> dict[str, Any]:
    """The ``selector.json`` of ``agent`` trained on ``env`` (``dataset``, known as ``dataset_name``)."""
    training = get_training(agent)
    return {
        "format": SELECTOR_FORMAT,
        "agent": agent,
        "algorithm": training.algorithm.__name__,
        "observation": training.observation,
        "env_kwargs": dict(training.env_kwargs),
        "observation_shape": list(env.observation_space.shape),
        "feature_dim": int(config.feature_dim),
        "num_classes": int(dataset.num_classes),
        "classifier_config": config.to_dict(),
        "seed": int(seed),
        "episodes": int(episodes),
        "pretrain_episodes": int(pretrain_episodes),
        "trained_on": {
            "dataset": dataset_name,
            "dataset_fingerprint": dataset.fingerprint(),
            "n_train": len(dataset.y_train),
        },
        "versions": library_versions(),
    }


def write_selector(model: Any, meta: dict[str, Any], path: Path, vec_normalize: Any = None) -> None:
    """The SB3 zip, ``<stem>.json`` describing the env it expects and, for PPO, ``<stem>_vecnormalize.pkl``
    (SB3's ``VecNormalize.save`` format) next to it; every file written atomically."""
    meta = dict(meta, vec_normalize=None)
    if vec_normalize is not None:
        stats = path.with_name(f"{path.stem}_vecnormalize.pkl")
        atomic_write_bytes(stats, vec_normalize_bytes(vec_normalize))
        meta["vec_normalize"] = stats.name
    atomic_write_bytes(path, model_bytes(model))
    write_json(path.with_suffix(".json"), meta)


def selector_paths(text: str) -> tuple[Path, Path]:
    """``(selector.zip, selector.json)`` of ``--selector`` (the zip, or the ``--out`` directory of ``train``)."""
    path = Path(text)
    if path.is_dir():
        path = path / "selector.zip"
    if not path.is_file():
        raise FileNotFoundError(f"--selector: no such file: {path}")
    meta = path.with_suffix(".json")
    if not meta.is_file():
        raise SelectorError(f"--selector: {meta} is missing; is {path} a selector saved by `fer-select train`?")
    return path, meta


def read_selector_meta(meta_path: Path) -> dict[str, Any]:
    """``selector.json``, checked: its format, and an agent of the registry with that algorithm and observation."""
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as exc:
        raise SelectorError(f"--selector: {meta_path} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != SELECTOR_FORMAT:
        raise SelectorError(f"--selector: {meta_path} is not a selector description of format {SELECTOR_FORMAT}")
    agent = meta.get("agent")
    try:
        training = get_training(str(agent))
    except ValueError:
        training = None
    if (
        training is None
        or meta.get("observation") != training.observation
        or meta.get("algorithm") != training.algorithm.__name__
    ):
        raise SelectorError(
            f"--selector: {meta_path} describes an unknown combination (agent {agent!r}, algorithm "
            f"{meta.get('algorithm')!r}, observation {meta.get('observation')!r})"
        )
    return meta


def selector_selection(
    selector: str,
    dataset: FERDataset,
    seed: int | None,
    *,
    classifier_fields: dict[str, Any] | None = None,
    device: str = "cpu",
) -> tuple[Selection, dict[str, Any]]:
    """Score ``dataset`` with a selector saved by ``train``: one deterministic pass on a fresh env, no training.

    :param classifier_fields: ``ClassifierConfig`` fields that override the selector's saved ones
    :param seed: of the env and its classifier (``None``: the selector's training seed)
    """
    path, meta_path = selector_paths(selector)
    meta = read_selector_meta(meta_path)
    spec = get_training(meta["agent"])
    config = ClassifierConfig.from_dict({**(meta.get("classifier_config") or {}), **(classifier_fields or {})})
    seed = int(meta.get("seed", 0)) if seed is None else seed
    settings = RLSettings(classifier_config=config, device=device)
    env = make_selection_env(dataset, spec.observation, seed, settings, **spec.env_kwargs)
    expected = tuple(meta.get("observation_shape", ()))
    if env.observation_space.shape != expected:
        raise SelectorError(
            f"incompatible selector {path}: it takes {expected[0] if expected else '?'}-d {spec.observation} "
            f"observations (feature_dim {meta.get('feature_dim')}, {meta.get('num_classes')} classes), this "
            f"dataset gives {env.observation_space.shape[0]}-d ones (feature_dim {config.feature_dim}, "
            f"{dataset.num_classes} classes)"
        )
    try:
        model = spec.algorithm.load(path, device=device)
    except Exception as exc:  # a damaged or foreign zip: SB3 raises anything from KeyError to BadZipFile
        raise SelectorError(f"cannot load selector {path}: {type(exc).__name__}: {exc}") from None
    if tuple(model.observation_space.shape) != env.observation_space.shape:
        raise SelectorError(
            f"incompatible selector {path}: the model takes {model.observation_space.shape} observations but "
            f"{meta_path.name} and this dataset give {env.observation_space.shape}"
        )
    normalizer = None
    if spec.vec_normalize:
        from stable_baselines3.common.vec_env import DummyVecEnv

        stats = path.with_name(str(meta.get("vec_normalize") or f"{path.stem}_vecnormalize.pkl"))
        if not stats.is_file():
            raise SelectorError(f"--selector: {stats} (the observation statistics of this PPO selector) is missing")
        try:
            normalizer = load_vec_normalize(stats, DummyVecEnv([lambda: env]))
        except Exception as exc:  # a damaged pickle or other spaces
            raise SelectorError(f"cannot load {stats}: {type(exc).__name__}: {exc}") from None
        normalizer.training = False
    selection = selection_pass(env, keep_probability_function(model, normalizer), seed)
    selection.info.update(selector=str(path), observation=spec.observation)
    return selection, meta
