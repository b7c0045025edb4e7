"""The saved-selector format of ``fer-select train``, read back by ``fer-select clean --selector``.

``selector.zip`` is SB3's ``model.save`` (for ``REINFORCE.load`` / ``PPO.load`` of a file you trust: SB3
unpickles parts of it); ``selector.json`` next to it describes the env the selector expects (agent,
algorithm, observation mode, env arguments, observation shape, classifier config), the policy (class,
keyword arguments, spaces) and, for a selector trained behind ``VecNormalize``, the observation statistics
as numbers.

``clean --selector`` never unpickles: it rebuilds the policy from the registry's builder and
``selector.json``, and loads only the ``policy.pth`` member of the zip (its weights) with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain data.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from agents.common.selection import Selection
from agents.experiment.checkpoint import vec_normalize_from_stats, vec_normalize_stats
from agents.experiment.registry import RLTraining, get_training
from agents.experiment.report import library_versions, write_json
from agents.experiment.settings import RLSettings
from fer_select_env.core.cache import atomic_write_bytes
from fer_select_env.core.serialization import load_tensor_bytes
from fer_select_env.data.dataset import FERDataset
from fer_select_env.envs.select.env import FERSelectEnv
from fer_select_env.models import ClassifierConfig

SELECTOR_FORMAT = 2
"""2: ``policy`` and ``vec_normalize`` statistics in ``selector.json``; 1 (before) kept the statistics in a
pickle, ``selector_vecnormalize.pkl``, and is refused."""
POLICY_MEMBER = "policy.pth"
"""The member of SB3's zip holding ``policy.state_dict()``, the only part ``clean --selector`` reads."""


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


def model_bytes(model: BaseAlgorithm) -> bytes:
    """``model.save`` into memory, so that the caller can write it atomically."""
    buffer = io.BytesIO()
    model.save(buffer)
    return buffer.getvalue()


def _json_value(value: Any) -> Any:
    """``value`` if JSON can hold it, else its repr (a policy kwarg such as an activation class)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def policy_description(model: BaseAlgorithm) -> dict[str, Any]:
    """The ``policy`` entry of ``selector.json``: what rebuilding the policy must reproduce."""
    obs, act = model.observation_space, model.action_space
    return {
        "class": type(model.policy).__name__,
        "kwargs": {str(k): _json_value(v) for k, v in sorted(model.policy_kwargs.items())},
        "observation_space": {"type": type(obs).__name__, "shape": list(obs.shape or ()), "dtype": str(obs.dtype)},
        "action_space": {"type": type(act).__name__, "n": int(getattr(act, "n", 0))},
        "weights": POLICY_MEMBER,
    }


def write_selector(model: Any, meta: dict[str, Any], path: Path, vec_normalize: VecNormalize | None = None) -> None:
    """The SB3 zip and ``<stem>.json`` describing the env it expects, the policy and, for PPO, the
    ``VecNormalize`` statistics (as numbers, no pickle); both written atomically."""
    meta = dict(
        meta,
        policy=policy_description(model),
        vec_normalize=None if vec_normalize is None else vec_normalize_stats(vec_normalize),
    )
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
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt < SELECTOR_FORMAT:
        raise SelectorError(
            f"--selector: {meta_path} was written by an older version of fer-select (selector format {fmt}, "
            f"which kept a pickle); this version reads format {SELECTOR_FORMAT}: retrain with `fer-select train`"
        )
    if not isinstance(meta, dict) or fmt != SELECTOR_FORMAT:
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


def check_selector_fits(
    path: Path,
    meta: dict[str, Any],
    observation: str,
    shape: tuple[int, ...],
    config: ClassifierConfig,
    dataset: FERDataset,
) -> None:
    """A :class:`SelectorError` naming what differs (observation size, feature_dim, number of classes) when the
    selector of ``meta`` does not fit ``dataset`` under ``config``. Two different pairs can give the same
    observation size (2F + 2K + 1), so each is compared on its own."""
    saved = {
        "observation size": list(meta.get("observation_shape") or []) or None,
        "feature_dim": meta.get("feature_dim"),
        "number of classes": meta.get("num_classes"),
    }
    here = {
        "observation size": list(shape),
        "feature_dim": config.feature_dim,
        "number of classes": dataset.num_classes,
    }
    differ = [k for k in here if saved[k] is not None and saved[k] != here[k]]
    if differ:
        size = saved["observation size"][0] if saved["observation size"] else "?"
        raise SelectorError(
            f"incompatible selector {path}: it takes {observation} observations of {size} values (feature_dim "
            f"{saved['feature_dim']}, {saved['number of classes']} classes), this dataset and classifier config "
            f"give {shape[0]} values (feature_dim {config.feature_dim}, {dataset.num_classes} classes): the "
            f"{' and '.join(differ)} differ"
        )


def selector_selection(
    selector: str,
    dataset: FERDataset,
    seed: int | None,
    *,
    classifier_fields: dict[str, Any] | None = None,
    device: str = "cpu",
    selection_rule: str = RLSettings.selection_rule,
) -> tuple[Selection, dict[str, Any]]:
    """Score ``dataset`` with a selector saved by ``train``: one deterministic pass on a fresh env, no training;
    ``selection_rule`` turns its keep probabilities into the selection (:class:`RLSettings`).

    :param classifier_fields: ``ClassifierConfig`` fields that override the selector's saved ones
    :param seed: of the env and its classifier (``None``: the selector's training seed)
    """
    path, meta_path = selector_paths(selector)
    meta = read_selector_meta(meta_path)
    spec = get_training(meta["agent"])
    config = ClassifierConfig.from_dict({**(meta.get("classifier_config") or {}), **(classifier_fields or {})})
    seed = int(meta.get("seed", 0)) if seed is None else seed
    settings = RLSettings(classifier_config=config, device=device, selection_rule=selection_rule)
    env = spec.make_env(dataset, seed, settings)
    check_selector_fits(path, meta, spec.observation, env.observation_space.shape, config, dataset)
    model, normalizer = load_selector_model(path, meta_path, meta, spec, env, settings)
    selection = spec.select_pass(env, model, normalizer, seed, settings)
    selection.info.update(selector=str(path), observation=spec.observation)
    return selection, meta


def read_policy_weights(path: Path) -> dict[str, Any]:
    """The ``policy.pth`` member of the SB3 zip at ``path``, read with ``weights_only=True`` (no unpickling)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(POLICY_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:  # a damaged or foreign zip
        raise SelectorError(f"cannot load selector {path}: {type(exc).__name__}: {exc}") from None
    try:
        state = load_tensor_bytes(data, f"{path} (member {POLICY_MEMBER})")
    except ValueError as exc:
        raise SelectorError(f"cannot load selector {exc}") from None
    if not isinstance(state, dict):
        raise SelectorError(f"cannot load selector {path}: {POLICY_MEMBER} is not a state dict")
    return state


def load_selector_model(
    path: Path, meta_path: Path, meta: dict[str, Any], spec: RLTraining, env: FERSelectEnv, settings: RLSettings
) -> tuple[BaseAlgorithm, VecNormalize | None]:
    """The selector of ``path`` on ``env``, rebuilt without unpickling: the registry's builder (seeded with the
    training seed, as SB3's ``load`` seeds), ``selector.json``'s policy description and VecNormalize
    statistics, and the weights of :func:`read_policy_weights`. Returns ``(model, normalizer or None)``."""
    state = read_policy_weights(path)
    vec: VecEnv = DummyVecEnv([lambda: env])
    normalizer = None
    if spec.vec_normalize:
        if meta.get("vec_normalize") is None:
            raise SelectorError(f"--selector: {meta_path} lacks the observation statistics (vec_normalize) of PPO")
        try:
            normalizer = vec_normalize_from_stats(meta["vec_normalize"], vec, f"{meta_path}: vec_normalize")
        except ValueError as exc:
            raise SelectorError(f"--selector: {exc}") from None
        normalizer.training = False  # reading a selection must not move the statistics
        vec = normalizer
    model = spec.build(vec, int(meta.get("seed", 0)), settings, env.episode_size)
    described = meta.get("policy")
    rebuilt = policy_description(model)
    if not isinstance(described, dict) or any(described.get(k) != rebuilt[k] for k in rebuilt):
        raise SelectorError(
            f"incompatible selector {path}: {meta_path.name} describes the policy {described!r}, the registry's "
            f"{meta['agent']} builds {rebuilt['class']} with {rebuilt['kwargs']}"
        )
    try:
        model.policy.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SelectorError(
            f"incompatible selector {path}: its {POLICY_MEMBER} does not fit the policy ({first})"
        ) from None
    return model, normalizer
