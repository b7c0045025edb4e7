"""SB3's ``VecEnv`` interface over a Gymnasium ``VectorEnv`` (FERSelect-v0's native vector env included).

SB3 takes only its own vector envs (its API is "close to Gym 0.21"), so a ``gymnasium.vector.VectorEnv``
such as :class:`fer_select_env.envs.select.vector_env.FERSelectVectorEnv` needs this adapter before SB3's
PPO or :class:`agents.REINFORCE` can learn on it. It mirrors what SB3's ``DummyVecEnv`` does with N single
envs, step for step:

* ``reset()`` returns the observations only; the reset infos go to ``reset_infos``; the seeds of
  ``seed()`` and the options of ``set_options()`` are used once, then forgotten;
* ``step_wait()`` returns ``(obs, rewards, dones, infos)`` with ``dones = terminated | truncated`` and
  ``infos`` a list of one dict per env, each with ``"TimeLimit.truncated" = truncated and not terminated``;
* where an env's episode ended, its ``infos[i]`` is the terminal step's info with ``"terminal_observation"``
  added, the returned observation is the first of the next episode (reset without seed or options), and
  ``reset_infos[i]`` is that reset's info.

That is Gymnasium's ``SAME_STEP`` autoreset, which the adapter therefore requires.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_util import is_wrapped
from stable_baselines3.common.vec_env import VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn


def unbatch_info(info: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium's vector info (a dict of arrays, each key ``k`` with its mask ``_k``, nested dicts alike)
    back to one dict per env, as the single envs returned them (numpy scalars as Python scalars)."""
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, value in info.items():
        if key.startswith("_") and key[1:] in info:
            continue  # a mask
        mask = info.get(f"_{key}", np.ones(num_envs, dtype=bool))
        per_env = unbatch_info(value, num_envs) if isinstance(value, dict) else value
        for i in np.flatnonzero(mask):
            item = per_env[i]
            # A scalar came in as a Python int, float or bool (Gymnasium batched it into an array of that type).
            out[i][key] = item.item() if isinstance(item, np.generic) else item
    return out


def _same_options(options: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The one options dict a Gymnasium vector reset takes, from SB3's one per env."""
    first = options[0]
    if any(o != first for o in options[1:]):
        raise ValueError(
            f"options: a Gymnasium vector env resets every sub-env with the same options, got different ones "
            f"per env ({list(options)}); call set_options with one dict"
        )
    return dict(first) or None


class GymnasiumVecEnv(VecEnv):
    """A Gymnasium ``VectorEnv`` with ``metadata["autoreset_mode"] == SAME_STEP`` as an SB3 ``VecEnv``.

    Semantics are ``DummyVecEnv``'s (module docstring). ``get_attr``, ``set_attr`` and ``env_method`` reach
    the sub-envs in ``venv.envs`` where the vector env has them (Gymnasium's ``SyncVectorEnv`` and
    FERSelectVectorEnv do), else the vector env's own ``get_attr`` / ``set_attr`` / ``call``.

    :param venv: the Gymnasium vector env (e.g. ``gym.make_vec("FERSelect-v0", num_envs=4,
        vectorization_mode="vector_entry_point", autoreset_mode="SameStep")``)
    """

    def __init__(self, venv: gym.vector.VectorEnv) -> None:
        if not isinstance(venv, gym.vector.VectorEnv):
            raise ValueError(f"venv: must be a gymnasium.vector.VectorEnv, got {type(venv).__name__}")
        mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if AutoresetMode(mode) != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"venv: its autoreset_mode is {AutoresetMode(mode).value!r}; SB3's vector envs reset in the step "
                "that ends an episode, so build it with autoreset_mode='SameStep'"
            )
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None

    # ------------------------------------------------------------------ reset and step
    def reset(self) -> VecEnvObs:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, info = self.venv.reset(seed=seeds, options=_same_options(self._options))
        self.reset_infos = unbatch_info(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return np.asarray(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        dones = terminated | truncated
        step_info = {k: v for k, v in info.items() if k not in ("final_obs", "_final_obs", "final_info", "_final_info")}
        infos = unbatch_info(step_info, self.num_envs)
        finals = unbatch_info(info.get("final_info", {}), self.num_envs)
        final_obs = info.get("final_obs")
        for i in np.flatnonzero(dones):
            # The top-level info of an env that ended is its reset's (Gymnasium's SAME_STEP).
            self.reset_infos[i] = infos[i]
            infos[i] = finals[i]
            infos[i]["terminal_observation"] = final_obs[i]
        for i in range(self.num_envs):
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return np.asarray(obs), np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.venv.render() if self.render_mode == "rgb_array" else None
        return list(frames) if frames is not None else [None] * self.num_envs

    # ------------------------------------------------------------------ sub-env attributes
    def _sub_envs(self, indices: VecEnvIndices) -> list[gym.Env] | None:
        envs = getattr(self.venv, "envs", None)
        return None if envs is None else [envs[i] for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        envs = self._sub_envs(indices)
        if envs is None:
            values = self.venv.get_attr(attr_name)
            return [values[i] for i in self._get_indices(indices)]
        return [env.get_wrapper_attr(attr_name) for env in envs]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        envs = self._sub_envs(indices)
        if envs is None:
            if indices is not None:
                raise ValueError("indices: this vector env sets attributes on every sub-env at once")
            self.venv.set_attr(attr_name, value)
            return
        for env in envs:
            setattr(env, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any) -> list:
        envs = self._sub_envs(indices)
        if envs is None:
            values = self.venv.call(method_name, *method_args, **kwargs)
            return [values[i] for i in self._get_indices(indices)]
        return [env.get_wrapper_attr(method_name)(*method_args, **kwargs) for env in envs]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        envs = self._sub_envs(indices)
        if envs is None:
            return [False] * len(list(self._get_indices(indices)))
        return [is_wrapped(env, wrapper_class) for env in envs]


def make_native_vec_env(env_id: str, num_envs: int, **env_kwargs: Any) -> VecMonitor:
    """``env_id``'s native vector env (``gym.make_vec(..., vectorization_mode="vector_entry_point")``, in
    ``SameStep`` autoreset) as an SB3 ``VecEnv``, behind a ``VecMonitor`` for the ``rollout/`` statistics:
    what ``Monitor`` inside ``DummyVecEnv`` gives an SB3 algorithm built on one env."""
    venv = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        autoreset_mode=AutoresetMode.SAME_STEP,
        **env_kwargs,
    )
    return VecMonitor(GymnasiumVecEnv(venv))


__all__ = ["GymnasiumVecEnv", "make_native_vec_env", "unbatch_info"]
