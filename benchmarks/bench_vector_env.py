"""Speed of FERSelect's native vector env, and of REINFORCE's and PPO's learn() on it, in one run.

    OMP_NUM_THREADS=1 python benchmarks/bench_vector_env.py [--num-envs 8] [--episodes 8] [--repeats 2]

Every figure comes from the same process, alternating, best of ``--repeats``:

* the env alone: random actions through ``gym.make("FERSelectLabelAware-v0")`` (one pass at a time) and
  through ``gym.make_vec(..., vectorization_mode="vector_entry_point")`` (``--num-envs`` passes at once),
  timesteps per second, once over steps that end no pass (the per-step work the vector env batches) and
  once including each pass's end-of-pass retraining (which it does not);
* ``learn()`` of the same number of timesteps (``--episodes`` passes of the synthetic default's 5,000
  images, per-step reward, ``persistent_classifier=False``, as ``benchmarks/bench_agents.py``) by REINFORCE
  and SB3's PPO (the benchmark's settings, a rollout of 2,048 timesteps in all) on the single env and on
  the vector env behind :class:`agents.common.vec_env.GymnasiumVecEnv`.

Prints steps/s and the ratios REINFORCE / PPO on the same vector env and against PPO on the single env.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor

import fer_select_env  # noqa: F401
from agents import REINFORCE
from agents.common.vec_env import GymnasiumVecEnv
from agents.experiment.rl_selection import PPO_KWARGS

ENV_ID = "FERSelectLabelAware-v0"
ENV_KWARGS = {"reward": "per_step", "persistent_classifier": False}


def random_steps_single(env: gym.Env, steps: int) -> None:
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(steps):
        _, _, terminated, _, _ = env.step(int(rng.integers(2)))
        if terminated:
            env.reset()


def random_steps_vector(venv: gym.vector.VectorEnv, steps: int) -> None:
    rng = np.random.default_rng(0)
    venv.reset(seed=0)
    for _ in range(steps // venv.num_envs):
        venv.step(rng.integers(0, 2, venv.num_envs))


def within_passes_single(env: gym.Env, steps: int) -> None:
    """Steps that end no pass (each pass stops one step short of its end): the per-step work alone."""
    rng = np.random.default_rng(0)
    n = env.unwrapped.episode_size
    for done in range(0, steps, n - 1):
        env.reset(seed=done)
        for _ in range(min(n - 1, steps - done)):
            env.step(int(rng.integers(2)))


def within_passes_vector(venv: gym.vector.VectorEnv, steps: int) -> None:
    rng = np.random.default_rng(0)
    n = venv.unwrapped.episode_size
    per_round = venv.num_envs * (n - 1)
    for done in range(0, steps, per_round):
        venv.reset(seed=done)
        for _ in range(min(n - 1, (steps - done) // venv.num_envs)):
            venv.step(rng.integers(0, 2, venv.num_envs))


def best_seconds(run: Callable[[], None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=8, help="passes per learn() (a multiple of --num-envs)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    n_envs = args.num_envs
    single = gym.make(ENV_ID, **ENV_KWARGS)
    single.reset(seed=0)  # pre-train (or load) the classifier outside the timed regions
    vector = gym.make_vec(
        ENV_ID, num_envs=n_envs, vectorization_mode="vector_entry_point", autoreset_mode="SameStep", **ENV_KWARGS
    )
    vector.reset(seed=0)
    n = single.unwrapped.episode_size
    steps = args.episodes * n
    sb3_vector = VecMonitor(GymnasiumVecEnv(vector))

    def reinforce(env: object) -> Callable[[], None]:
        return lambda: REINFORCE("MlpPolicy", env, seed=0).learn(steps)

    def ppo(env: object, num_envs: int) -> Callable[[], None]:
        return lambda: PPO("MlpPolicy", env, seed=0, n_steps=2048 // num_envs, **PPO_KWARGS).learn(steps)

    runs = {
        "env, single, no pass end": lambda: within_passes_single(single, steps),
        f"env, vector x{n_envs}, no pass end": lambda: within_passes_vector(vector, steps),
        "env, single (random actions)": lambda: random_steps_single(single, steps),
        f"env, vector x{n_envs} (random actions)": lambda: random_steps_vector(vector, steps),
        "REINFORCE, single env": reinforce(single),
        f"REINFORCE, vector env x{n_envs}": reinforce(sb3_vector),
        "PPO, single env": ppo(single, 1),
        f"PPO, vector env x{n_envs}": ppo(sb3_vector, n_envs),
    }
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeats):  # alternate, so that a busy spell of the machine hits every run alike
        for name, run in runs.items():
            best[name] = min(best[name], best_seconds(run, 1))
    print(f"timesteps per run: {steps} ({args.episodes} passes of {n} images); torch threads {th.get_num_threads()}")
    rate = {name: steps / seconds for name, seconds in best.items()}
    for name, seconds in best.items():
        print(f"{name:<36} {seconds:7.1f} s  {rate[name]:>9,.0f} steps/s")
    names = list(runs)
    print(f"vector env / single env, per-step work:     {rate[names[1]] / rate[names[0]]:.2f}x")
    print(f"vector env / single env, with pass ends:    {rate[names[3]] / rate[names[2]]:.2f}x")
    print(f"REINFORCE / PPO, both on the single env:    {rate[names[4]] / rate[names[6]]:.2f}x")
    print(f"REINFORCE / PPO, both on the vector env:    {rate[names[5]] / rate[names[7]]:.2f}x")
    print(f"REINFORCE on the vector env / PPO single:   {rate[names[5]] / rate[names[6]]:.2f}x")
    print(f"REINFORCE vector / REINFORCE single:        {rate[names[5]] / rate[names[4]]:.2f}x")


if __name__ == "__main__":
    main()
