"""Speed of the agents' own overhead: REINFORCE's learn() against SB3's PPO on the same env, same timesteps.

    python benchmarks/bench_agents.py [--episodes 3] [--repeats 2]

Both learn on FERSelectLabelAware-v0 (the synthetic default, per-step reward so that PPO has something to
learn; REINFORCE reads ``sample_rewards`` either way) for the same number of timesteps, in the same process,
alternating, and the best time of each is kept. The end-of-pass retraining is the same work for both, so the
ratio is mostly the agents' own per-step and update cost. Prints seconds and the ratio PPO / REINFORCE.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import torch as th
from stable_baselines3 import PPO

import fer_select_env  # noqa: F401
from agents import REINFORCE
from agents.experiment.rl_selection import PPO_KWARGS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    env = gym.make("FERSelectLabelAware-v0", reward="per_step", persistent_classifier=False)
    env.reset(seed=0)  # pre-train (or load) the classifier outside the timed region
    n = env.unwrapped.episode_size
    steps = args.episodes * n
    best = {"REINFORCE": float("inf"), "PPO": float("inf")}
    for _ in range(args.repeats):
        for name in best:
            if name == "REINFORCE":
                model = REINFORCE("MlpPolicy", env, seed=0)
            else:
                model = PPO("MlpPolicy", env, seed=0, n_steps=2048, **PPO_KWARGS)
            started = time.perf_counter()
            model.learn(steps)
            best[name] = min(best[name], time.perf_counter() - started)
    print(f"timesteps per learn(): {steps} ({args.episodes} passes of {n} images)")
    print(f"torch threads: {th.get_num_threads()}")
    for name, seconds in best.items():
        print(f"{name:<10} {seconds:7.1f} s  ({steps / seconds:,.0f} steps/s)")
    print(f"ratio PPO / REINFORCE: {best['PPO'] / best['REINFORCE']:.2f}x")


if __name__ == "__main__":
    main()
