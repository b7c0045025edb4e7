"""FERSelect-v0's native vector env: N independent passes over the same cached features in one process.

Gymnasium's CartPole ships ``CartPoleVectorEnv`` next to ``CartPoleEnv`` and registers it as the id's
``vector_entry_point``; this is FERSelect-v0's (and FERSelectLabelAware-v0's) counterpart, made by
``gym.make_vec("FERSelect-v0", num_envs=N, vectorization_mode="vector_entry_point")``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import logger
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from fer_select_env.core.checks import check_choice, check_positive_int
from fer_select_env.envs.select.env import FERSelectEnv

AUTORESET_MODES: tuple[str, ...] = (AutoresetMode.NEXT_STEP.value, AutoresetMode.SAME_STEP.value)
"""The autoreset modes the vector env offers; Gymnasium's ``DISABLED`` needs partial resets, which lockstep
passes never need."""


def _autoreset_mode(value: object) -> AutoresetMode:
    if isinstance(value, AutoresetMode):
        value = value.value
    return AutoresetMode(check_choice("autoreset_mode", value, AUTORESET_MODES))


def _check_actions(actions: object, num_envs: int) -> np.ndarray:
    """The batch of actions as a bool keep mask; exactly what each sub-env's ``Discrete(2)`` would accept
    (integers or bools, 0 or 1), never rounded: ``ValueError`` naming ``actions`` otherwise."""
    a = np.asarray(actions)
    if a.shape != (num_envs,) or not (np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_):
        raise ValueError(
            f"actions must be an integer array of shape ({num_envs},) with values 0 (remove) or 1 (keep), got "
            f"{a.dtype} array of shape {a.shape}"
        )
    if a.dtype == np.bool_:
        return a
    if a.min() < 0 or a.max() > 1:  # (np.isin would cost as much as the rest of the step)
        raise ValueError(f"actions must be 0 (remove) or 1 (keep), got {np.unique(a).tolist()}")
    return a.astype(bool)


def _seeds(seed: int | list[int | None] | None, num_envs: int) -> list[int | None]:
    """Gymnasium's vector seeding: ``None`` for all, ``s`` → ``[s, s+1, …]``, or one seed (or None) per env."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [int(seed) + i for i in range(num_envs)]
    if isinstance(seed, (list, tuple)) and len(seed) == num_envs:
        return list(seed)
    raise ValueError(f"seed must be None, an int or a list of {num_envs} ints or Nones, got {seed!r}")


class FERSelectVectorEnv(VectorEnv):
    """N independent FERSelect-v0 passes stepped together, as one ``gymnasium.vector.VectorEnv``.

    Each sub-env is a :class:`~fer_select_env.envs.select.env.FERSelectEnv` built with the same arguments
    (``self.envs``): its own classifier (which persists or not, as ``persistent_classifier`` says), its own
    ``np_random``, order and kept set. What they share is read once: the dataset, the pre-training (or the
    cache read) and the cached convolutional features. The per-step work is batched: one gather of the
    N current features, one update of the N running kept sums, the N observations and per-step rewards as
    arrays. All sub-envs have passes of the same length, so they end together; each then runs its own
    end-of-pass retraining and scoring (the sub-env's own code), and the N terminal infos are batched.

    Sub-env ``i`` reset with seed ``s + i`` and given the actions ``actions[:, i]`` returns exactly what a
    ``FERSelectEnv`` does under the same seed and actions (observations, rewards, infos; tested against
    Gymnasium's ``SyncVectorEnv`` over single envs), so ``num_envs=1`` is the single env's trajectory.

    :param num_envs: the number of passes stepped together
    :param autoreset_mode: ``"NextStep"`` (Gymnasium's default: the step after a terminal one resets and
        ignores its actions) or ``"SameStep"`` (the terminal step returns the first observation of the next
        pass, and its terminal observation and info under ``info["final_obs"]`` and ``info["final_info"]``;
        what SB3's vector envs do, and what :class:`agents.common.vec_env.GymnasiumVecEnv` needs)
    :param render_mode: ``None`` or ``"ansi"``: ``render()`` returns one text per sub-env
    :param env_kwargs: FERSelectEnv's arguments (``dataset``, ``observation``, ``reward``, …), checked by it
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **env_kwargs: Any,
    ) -> None:
        self.num_envs = check_positive_int("num_envs", num_envs)
        mode = _autoreset_mode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        first = FERSelectEnv(render_mode=render_mode, **env_kwargs)  # checks every argument
        # The others take the dataset as it was resolved (an npz or a rendered benchmark is read once).
        rest = {k: v for k, v in env_kwargs.items() if k not in ("dataset", "synthetic_kwargs")}
        self.envs: list[FERSelectEnv] = [first] + [
            FERSelectEnv(first.dataset, render_mode=render_mode, **rest) for _ in range(self.num_envs - 1)
        ]
        self.render_mode = first.render_mode
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.episode_size = first.episode_size
        self.feature_dim = first.feature_dim
        self._label_aware = first.observation_mode == "label_aware"
        self._per_step = first.reward_mode == "per_step"
        self._t: int | None = None  # the step index of the current passes; None before the first reset
        self._autoreset = False

    # ------------------------------------------------------------------ shared set-up
    def _ensure_classifiers(self) -> None:
        """One pre-training (or cache read) and one set of cached features for every sub-env."""
        first = self.envs[0]
        if first.classifier is not None:
            return
        first._ensure_classifier()
        for env in self.envs[1:]:
            env._adopt_pretrained(first)

    def _load_passes(self) -> dict[str, Any]:
        """Batch the passes the sub-envs' resets drew; returns the batched reset info."""
        envs = self.envs
        self._orders = np.stack([env._order for env in envs])
        self._features = np.stack([env._episode_features for env in envs])  # N×T×F
        self._step_rewards = np.stack([env._step_rewards for env in envs])
        if self._label_aware:
            self._label_blocks = np.stack([env._episode_label_block for env in envs])
        self._kept = np.zeros(self._orders.shape, dtype=bool)
        self._kept_sum = np.zeros((self.num_envs, self.feature_dim), dtype=np.float64)
        self._n_kept = np.zeros(self.num_envs, dtype=np.int64)
        self._t = 0
        self._autoreset = False
        return self._step_info(0)

    def _step_info(self, t: int) -> dict[str, Any]:
        """A non-terminal step's info, batched: the dataset index of the image each pass now shows."""
        return {"sample_index": self._orders[:, t].copy(), "_sample_index": np.ones(self.num_envs, dtype=bool)}

    def _observe(self, t: int) -> np.ndarray:
        """FERSelectEnv._observe for every pass at once (same float64 sums, same float32 casts)."""
        # Before the first keep the sum is all zeros, and zeros / 1 is the single env's zero mean.
        mean = self._kept_sum / np.maximum(self._n_kept, 1)[:, None]
        f = self.feature_dim
        out = np.empty((self.num_envs, self.single_observation_space.shape[0]), dtype=np.float32)
        out[:, :f] = self._features[:, t]
        out[:, f : 2 * f] = mean  # the float32 cast of the single env's mean.astype(np.float32)
        if self._label_aware:
            out[:, 2 * f :] = self._label_blocks[:, t]
        return out

    def _sync(self, i: int) -> FERSelectEnv:
        """Hand pass ``i``'s decisions to its sub-env, whose end-of-pass code and rendering read them."""
        env = self.envs[i]
        env._kept = self._kept[i].copy()
        env._kept_sum = self._kept_sum[i].copy()
        env._n_kept = int(self._n_kept[i])
        env._t = int(self._t) if self._t is not None else 0
        env._done = self._autoreset
        return env

    # ------------------------------------------------------------------ gym vector API
    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every pass; ``seed`` as Gymnasium's vector envs take it, ``options`` (FERSelectEnv's
        ``reset_classifier`` / ``freeze_classifier``) for every sub-env."""
        seeds = _seeds(seed, self.num_envs)
        if isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
        self._ensure_classifiers()
        for env, s in zip(self.envs, seeds, strict=True):
            env.reset(seed=s, options=options)
        info = self._load_passes()
        return self._observe(0), info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._t is None:
            raise ResetNeeded("Cannot call FERSelectVectorEnv.step before reset: call env.reset() first.")
        n = self.num_envs
        if self._autoreset:  # NEXT_STEP: the passes ended on the previous step; this one only resets
            for env in self.envs:
                env.reset()
            info = self._load_passes()
            zeros = np.zeros(n, dtype=bool)
            return self._observe(0), np.zeros(n), zeros, zeros.copy(), info
        keep = _check_actions(actions, n)
        t = self._t
        self._kept[:, t] = keep
        self._kept_sum[keep] += self._features[keep, t]
        self._n_kept += keep
        rewards = np.where(keep, self._step_rewards[:, t], 0).astype(np.float64) if self._per_step else np.zeros(n)
        self._t = t + 1
        if self._t == self._orders.shape[1]:
            return self._end_passes(rewards, t)
        flags = np.zeros(n, dtype=bool)
        return self._observe(self._t), rewards, flags, flags.copy(), self._step_info(self._t)

    def _end_passes(self, rewards: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """The terminal step of every pass: each sub-env retrains and scores (its own end-of-pass code)."""
        n = self.num_envs
        final_obs = self._observe(t)
        self._autoreset = True
        infos: dict[str, Any] = {}
        for i in range(n):
            rewards[i], info = self._sync(i)._end_pass(float(rewards[i]))
            if self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP:
                infos = self._add_info(infos, {"final_obs": final_obs[i], "final_info": info}, i)
            else:
                infos = self._add_info(infos, info, i)
        obs = final_obs
        if self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP:
            for env in self.envs:
                env.reset()
            reset_info = self._load_passes()
            infos.update(reset_info)
            obs = self._observe(0)
        return obs, rewards, np.ones(n, dtype=bool), np.zeros(n, dtype=bool), infos

    def render(self) -> tuple[str | None, ...] | None:
        if self.render_mode is None:
            logger.warn("render() called on a FERSelectVectorEnv built without render_mode")
            return None
        if self._t is None:  # before the first reset: nothing of the vector env's to hand over
            return tuple(env.render() for env in self.envs)
        return tuple(self._sync(i).render() for i in range(self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()

    # ------------------------------------------------------------------ sub-env attributes (as SyncVectorEnv)
    def get_attr(self, name: str) -> tuple[Any, ...]:
        """``name`` of every sub-env (dataset, classifier, ``retrain_seconds``, ``episode_count``, …). The
        per-step state of a pass lives in the vector env, not in its sub-env, between resets and ends."""
        return tuple(getattr(env, name) for env in self.envs)

    def set_attr(self, name: str, values: list[Any] | tuple[Any, ...] | Any) -> None:
        """Set ``name`` on every sub-env: one value for all, or a list or tuple of one per sub-env."""
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"values: one per sub-env ({self.num_envs}) expected, got {len(values)}")
        for env, value in zip(self.envs, values, strict=True):
            setattr(env, name, value)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call method ``name`` (or read attribute ``name``) of every sub-env."""
        results = []
        for env in self.envs:
            attr = getattr(env, name)
            results.append(attr(*args, **kwargs) if callable(attr) else attr)
        return tuple(results)


__all__ = ["AUTORESET_MODES", "FERSelectVectorEnv"]
