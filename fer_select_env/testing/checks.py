"""Conformance checks every registered env id must pass (as Gymnasium and Minigrid test their registries).

The ids come from :data:`fer_select_env.envs.ENV_SPECS`; each family supplies, in :data:`SMOKE_KWARGS`, the
constructor arguments of a tiny instance that builds in a second. A new family adds one entry there, and
``tests/envs/test_registry.py`` then runs every check on its ids.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.utils.env_match import check_environments_match

from fer_select_env.envs import ENV_SPECS, EnvSpecRow
from fer_select_env.models.chance import ClassifierNearChanceWarning
from fer_select_env.testing.toy import TINY_CLASSIFIER, TINY_SEQUENCE_CLASSIFIER, make_blob_dataset


def _select_smoke_kwargs(workdir: Path) -> dict[str, Any]:
    path = workdir / "select_smoke.npz"
    if not path.is_file():
        make_blob_dataset(n_train=12, n_val=9, n_test=9, noise_rate=0.25).to_npz(path)
    return {"dataset": str(path), "classifier_config": dict(TINY_CLASSIFIER)}


def _sequence_smoke_kwargs(workdir: Path) -> dict[str, Any]:
    from fer_select_env.data.sequences import make_sequence_dataset

    path = workdir / "sequence_smoke.npz"
    if not path.is_file():
        make_sequence_dataset(n_subjects=3, repeats=1, num_frames=3, image_size=16, seed=0).to_npz(path)
    return {"dataset": str(path), "classifier": dict(TINY_SEQUENCE_CLASSIFIER)}


def _text_smoke_kwargs(workdir: Path) -> dict[str, Any]:
    dataset = {"n_subjects": 3, "faces_per_subject": 7, "image_size": 24, "seed": 0}
    return {"dataset_kwargs": dataset, "encoder": dict(TINY_CLASSIFIER), "cache_dir": str(workdir / "cache")}


def _smile_smoke_kwargs(workdir: Path) -> dict[str, Any]:
    faces = {"n_train": 60, "n_val": 20, "n_test": 10}
    classifier = {"width": 2, "hidden": 8, "epochs": 1}
    return {
        "faces": faces,
        "classifier": classifier,
        "max_steps": 4,
        "n_frames": 2,
        "cache_dir": str(workdir / "cache"),
    }


SMOKE_KWARGS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "select": _select_smoke_kwargs,
    "sequence": _sequence_smoke_kwargs,
    "smile": _smile_smoke_kwargs,
    "text": _text_smoke_kwargs,
}
"""Family → ``factory(workdir) -> kwargs`` of a tiny env. The kwargs must be JSON values (files are written
under ``workdir``), so that a fresh interpreter can rebuild the same env."""


def _row(env_id: str) -> EnvSpecRow:
    for row in ENV_SPECS:
        if row.id == env_id:
            return row
    raise ValueError(f"{env_id!r} is not in fer_select_env.envs.ENV_SPECS; known ids: {[r.id for r in ENV_SPECS]}")


def smoke_kwargs(env_id: str, workdir: str | os.PathLike) -> dict[str, Any]:
    """The constructor arguments of a tiny instance of ``env_id``; ``ValueError`` if its family has none."""
    family = _row(env_id).family
    if family not in SMOKE_KWARGS:
        raise ValueError(f"env family {family!r} ({env_id}) has no entry in fer_select_env.testing.SMOKE_KWARGS")
    return SMOKE_KWARGS[family](Path(workdir))


def registered_env_ids() -> list[str]:
    """Every id in Gymnasium's registry whose entry point lies in this package's ``envs`` folder."""
    import fer_select_env  # noqa: F401  (registers the ids)

    return sorted(
        env_id
        for env_id, spec in gym.registry.items()
        if isinstance(spec.entry_point, str) and spec.entry_point.startswith("fer_select_env.envs.")
    )


def make_smoke_env(env_id: str, workdir: str | os.PathLike, **overrides: Any) -> gym.Env:
    """``gym.make(env_id)`` on the tiny instance of :func:`smoke_kwargs`, with ``overrides`` applied."""
    import fer_select_env  # noqa: F401  (registers the ids)

    return gym.make(env_id, **{**smoke_kwargs(env_id, workdir), **overrides})


def _own_warnings(caught: list[warnings.WarningMessage], packages: tuple[str, ...]) -> list[str]:
    # The near-chance warning judges the smoke env's tiny classifier (the data), not the API under check.
    return [
        str(w.message)
        for w in caught
        if any(p in str(w.filename) for p in packages) and not issubclass(w.category, ClassifierNearChanceWarning)
    ]


def check_env_conformance(env_id: str, workdir: str | os.PathLike) -> None:
    """Gymnasium's and Stable-Baselines3's env checkers pass on ``env_id`` without a warning.

    Raises ``AssertionError`` naming the warnings, or whatever error a checker raises.
    """
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = make_smoke_env(env_id, workdir)
    try:
        modes = env.unwrapped.metadata.get("render_modes", [])
        if modes:
            env.close()
            env = make_smoke_env(env_id, workdir, render_mode=modes[0])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gym_check_env(env.unwrapped)
        found = _own_warnings(caught, ("gymnasium", "fer_select_env"))
        assert not found, f"{env_id}: gymnasium's check_env warned: {found}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sb3_check_env(env.unwrapped, warn=True)
        found = _own_warnings(caught, ("stable_baselines3", "fer_select_env"))
        assert not found, f"{env_id}: SB3's check_env warned: {found}"
    finally:
        env.close()


def check_determinism(env_id: str, workdir: str | os.PathLike, episodes: int = 2, seed: int = 0) -> None:
    """Two instances with the same seed and actions give identical observations, rewards, flags and infos
    over ``episodes`` episodes (Gymnasium's ``check_environments_match``); ``AssertionError`` otherwise."""
    env_a, env_b = make_smoke_env(env_id, workdir), make_smoke_env(env_id, workdir)
    try:
        env_a.reset(seed=seed)
        steps, done = 0, False
        while not done:  # one episode's length, so that the check crosses episode boundaries
            *_, terminated, truncated, _ = env_a.step(env_a.action_space.sample())
            steps, done = steps + 1, terminated or truncated
        env_a.close()
        env_a = make_smoke_env(env_id, workdir)
        check_environments_match(env_a, env_b, num_steps=episodes * steps, seed=seed)
    finally:
        env_a.close()
        env_b.close()


_CHILD = textwrap.dedent(
    """
    import json, sys
    import gymnasium as gym
    import numpy as np
    env_id, kwargs = sys.argv[1], json.loads(sys.argv[2])
    imported_before = "fer_select_env" in sys.modules
    env = gym.make("fer_select_env:" + env_id, **kwargs)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    env.close()
    space = env.observation_space
    print(json.dumps({"imported_before": imported_before, "registered": env_id in gym.registry,
                      "contains": bool(space.contains(obs)), "space": str(space)}))
    """
)


def check_registration_in_spawned_process(env_id: str, workdir: str | os.PathLike, timeout: float = 180) -> dict:
    """A fresh interpreter that has not imported the package builds ``env_id`` through the ``module:`` prefix
    (how SubprocVecEnv's spawned workers do) and steps it once; returns what the child reported."""
    kwargs = smoke_kwargs(env_id, workdir)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, env_id, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{env_id}: the spawned interpreter failed:\n{proc.stderr[-2000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not report["imported_before"], "the child imported fer_select_env before gym.make"
    assert report["registered"], f"{env_id} was not registered by the 'fer_select_env:' prefix"
    assert report["contains"], f"{env_id}: the observation is not in its space {report['space']}"
    return report


def vector_env_ids() -> list[str]:
    """The registered ids of :func:`registered_env_ids` that have a ``vector_entry_point``."""
    return [env_id for env_id in registered_env_ids() if gym.spec(env_id).vector_entry_point is not None]


def check_vector_entry_point(env_id: str, workdir: str | os.PathLike, num_envs: int = 3, seed: int = 0) -> None:
    """``env_id``'s native vector env against Gymnasium's ``SyncVectorEnv`` over ``num_envs`` single envs.

    ``gym.make_vec`` builds it by default (and with ``vectorization_mode="vector_entry_point"``); it is a
    ``VectorEnv`` whose spaces are the single env's, batched, and which declares its autoreset mode; and under
    each autoreset mode it offers, with the same seed and actions, it returns exactly what the
    ``SyncVectorEnv`` returns (observations, rewards, flags and the batched infos) for two episodes, across the
    autoreset. ``AssertionError`` otherwise.
    """
    from gymnasium.utils.env_checker import data_equivalence
    from gymnasium.vector import AutoresetMode, SyncVectorEnv
    from gymnasium.vector.utils import batch_space

    kwargs = smoke_kwargs(env_id, workdir)
    default = gym.make_vec(env_id, num_envs=num_envs, **kwargs)
    single = gym.make(env_id, **kwargs)
    try:
        assert isinstance(default, gym.vector.VectorEnv), f"{env_id}: make_vec gave {type(default).__name__}"
        assert gym.spec(env_id).vector_entry_point.endswith(type(default).__name__)
        assert default.single_observation_space == single.observation_space
        assert default.single_action_space == single.action_space
        assert default.observation_space == batch_space(single.observation_space, num_envs)
        assert default.action_space == batch_space(single.action_space, num_envs)
        assert "autoreset_mode" in default.metadata, f"{env_id}: metadata declares no autoreset_mode"
    finally:
        default.close()
        single.close()
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        native = gym.make_vec(
            env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs
        )
        sync = SyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(num_envs)], autoreset_mode=mode)
        try:
            assert native.metadata["autoreset_mode"] == mode
            got, want = native.reset(seed=seed), sync.reset(seed=seed)
            assert data_equivalence(got, want, exact=True), f"{env_id} ({mode.value}): reset differs"
            native.action_space.seed(seed)
            ends = 0
            for step in range(10_000):
                actions = native.action_space.sample()
                got, want = native.step(actions), sync.step(actions)
                assert data_equivalence(got, want, exact=True), f"{env_id} ({mode.value}): step {step} differs"
                ends += bool(np.any(got[2] | got[3]))
                if ends == 2:
                    break
            assert ends == 2, f"{env_id} ({mode.value}): fewer than two episode ends in 10,000 steps"
        finally:
            native.close()
            sync.close()


__all__ = [
    "SMOKE_KWARGS",
    "check_determinism",
    "check_env_conformance",
    "check_registration_in_spawned_process",
    "check_vector_entry_point",
    "make_smoke_env",
    "registered_env_ids",
    "smoke_kwargs",
    "vector_env_ids",
]
