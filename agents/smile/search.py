"""The search baselines of FERSmile-v0, each an episode on the env in ``action="absolute"`` mode, so that every
agent spends the same camera frames (reset's measurement plus one per step).

- :class:`MonteCarloSearch` is the seed's search done faithfully: pick a parameter at random, draw it anew over
  its whole range, measure, and keep the change if the measurement beats the best so far. The best is never
  measured again, so one lucky noisy reading is kept for good (the winner's curse). The seed's other quirk,
  a rejected eyebrow-tilt change that is never undone, is not copied: every rejected change is undone.
- ``MonteCarloSearch(remeasure=True)`` spends every other step re-measuring the incumbent and compares a
  candidate with the mean of the incumbent's measurements.
- :class:`RandomSearch` shows uniform random emoticons and keeps the best measured.
- :class:`OracleSearch` reads the hidden viewer and walks to its ideal emoticon: the noise-free optimum the
  regret is measured against. It needs ``action="delta"`` (it respects the step size) and is no baseline.

Each search's answer (:attr:`answer`) is its incumbent, the emoticon it would keep; the oracle's, like a
policy's, is the emoticon it shows.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from fer_select_env.envs.smile.emoticon import START, to_unit


class _Search:
    """A search is driven like a policy: :meth:`start` after reset, then :meth:`act` / :meth:`observe` per step."""

    action_mode = "absolute"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.answer = to_unit(START)

    def start(self, env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> None:
        """A new episode: the start emoticon and its measurement are the incumbent."""
        self.answer = np.asarray(obs[:8], dtype=np.float64).copy()
        self.best = float(info["happiness"])

    def act(self) -> np.ndarray:
        raise NotImplementedError

    def observe(self, shown: np.ndarray, happiness: float) -> None:
        raise NotImplementedError


class MonteCarloSearch(_Search):
    """The seed's coordinate Monte Carlo search (see the module docstring)."""

    def __init__(self, seed: int = 0, remeasure: bool = False) -> None:
        super().__init__(seed)
        self.remeasure = bool(remeasure)

    def start(self, env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> None:
        super().start(env, obs, info)
        self._measurements = [self.best]
        self._turn = 0

    def act(self) -> np.ndarray:
        self._turn += 1
        if self.remeasure and self._turn % 2 == 0:
            return self.answer.copy()  # re-measure the incumbent
        candidate = self.answer.copy()
        i = int(self.rng.integers(len(candidate)))
        candidate[i] = self.rng.uniform(-1.0, 1.0)  # a step of the whole range
        return candidate

    def observe(self, shown: np.ndarray, happiness: float) -> None:
        if self.remeasure and self._turn % 2 == 0:
            self._measurements.append(happiness)
            self.best = float(np.mean(self._measurements))
        elif happiness > self.best:
            self.answer, self.best, self._measurements = shown.copy(), happiness, [happiness]


class RandomSearch(_Search):
    """Uniform random emoticons; the best measured one is kept."""

    def act(self) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, len(self.answer))

    def observe(self, shown: np.ndarray, happiness: float) -> None:
        if happiness > self.best:
            self.answer, self.best = shown.copy(), happiness


class OracleSearch(_Search):
    """Walks straight to the hidden viewer's ideal at the env's step size, then keeps it from habituating by
    stepping back and forth along the coordinate the viewer is least sensitive to (needs ``action="delta"``)."""

    action_mode = "delta"

    def start(self, env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> None:
        super().start(env, obs, info)
        base = env.unwrapped
        self._viewer, self._step = base.viewer, 2.0 * base.step_size
        self._threshold = base.population.novelty_threshold
        self._z = self.answer.copy()
        self._side = 1.0

    def act(self) -> np.ndarray:
        gap = self._viewer.ideal - self._z
        if np.max(np.abs(gap)) > 1e-9:
            return np.clip(gap / self._step, -1.0, 1.0)
        i = int(np.argmax(self._viewer.tolerance))
        move = np.zeros_like(gap)
        move[i] = self._side * min(1.0, 1.01 * self._threshold / self._step)
        if not -1.0 <= self._z[i] + move[i] * self._step <= 1.0:
            move[i] = -move[i]
        self._side = -self._side
        return move

    def observe(self, shown: np.ndarray, happiness: float) -> None:
        self._z, self.answer = shown.copy(), shown.copy()  # like a policy, it answers with what it shows
        self.best = max(self.best, happiness)


SEARCHES: dict[str, str] = {
    "monte_carlo": "the seed's Monte Carlo search, faithful (whole-range coordinate steps, greedy, no re-measuring)",
    "monte_carlo_remeasure": "Monte Carlo search that re-measures the incumbent every other step",
    "random_search": "uniform random emoticons, the best measured one kept",
    "oracle": "walks to the hidden viewer's ideal emoticon (reads the viewer: the regret's reference)",
}


def make_search(name: str, seed: int = 0) -> _Search:
    """The search ``name`` of :data:`SEARCHES`, its own draws seeded by ``seed``."""
    if name == "monte_carlo":
        return MonteCarloSearch(seed)
    if name == "monte_carlo_remeasure":
        return MonteCarloSearch(seed, remeasure=True)
    if name == "random_search":
        return RandomSearch(seed)
    if name == "oracle":
        return OracleSearch(seed)
    raise ValueError(f"search: must be one of {sorted(SEARCHES)}, got {name!r}")


__all__ = ["SEARCHES", "MonteCarloSearch", "OracleSearch", "RandomSearch", "make_search"]
