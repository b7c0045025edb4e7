"""Speed of a FERSequence-v0 step against a CartPole-v1 step, measured in one run (the issue's bar: ≤ 2×).

    python benchmarks/bench_sequence_step.py [--steps 20000] [--repeats 3]

Both envs are made with ``gym.make`` (so both carry Gymnasium's default wrappers: the order enforcer, the
passive env checker, ``TimeLimit`` for CartPole) and stepped with random actions, resetting when an episode
ends; the best of ``repeats`` timings of each is kept. FERSequence-v0 is built on a small synthetic set with
the tiny classifier: a step is a look-up in the cached posterior table, so its cost does not depend on the
classifier (training it is timed separately, in the classifier report the benchmark writes). Prints
microseconds per step and the ratio FERSequence / CartPole.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import gymnasium as gym

import fer_select_env  # noqa: F401  (registers FERSequence-v0)
from fer_select_env.data.sequences import make_sequence_dataset
from fer_select_env.testing import TINY_SEQUENCE_CLASSIFIER


def seconds_per_step(env: gym.Env, steps: int) -> float:
    env.reset(seed=0)
    env.action_space.seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        data = make_sequence_dataset(n_subjects=6, image_size=48, seed=0)
        envs = {
            "FERSequence-v0": gym.make(
                "FERSequence-v0", dataset=data, classifier=dict(TINY_SEQUENCE_CLASSIFIER), cache_dir=cache
            ),
            "CartPole-v1": gym.make("CartPole-v1"),
        }
        best = {name: min(seconds_per_step(env, args.steps) for _ in range(args.repeats)) for name, env in envs.items()}
    for name, s in best.items():
        print(f"{name:<16}{1e6 * s:8.1f} µs/step")
    print(f"ratio FERSequence-v0 / CartPole-v1: {best['FERSequence-v0'] / best['CartPole-v1']:.2f}")


if __name__ == "__main__":
    main()
