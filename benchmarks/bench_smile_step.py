"""Speed of a FERSmile-v0 step (10 renders of the viewer's face, 10 passes of the reward classifier and 10
of the referee), measured on one core in one run (the issue's bar: at most 10 ms a step).

    python benchmarks/bench_smile_step.py [--steps 500] [--repeats 3]

The env is made with ``gym.make`` (with Gymnasium's default wrappers) and stepped with random delta actions,
resetting when an episode ends; the best of ``repeats`` timings is kept. The classifiers are the defaults,
trained once and cached (the first run trains them: about a minute and a half each on one core). Prints
milliseconds per step with and without the referee, and the ratio to the 10 ms bar.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import torch
from bench_sequence_step import seconds_per_step  # the same random-action loop (this folder is on sys.path)

import fer_select_env  # noqa: F401  (registers FERSmile-v0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for referee in (True, False):
        env = gym.make("FERSmile-v0", referee=referee)
        best = min(seconds_per_step(env, args.steps) for _ in range(args.repeats))
        print(f"referee={referee!s:<6} {1e3 * best:6.2f} ms/step  ({best / 0.010:.2f} of the 10 ms bar)")


if __name__ == "__main__":
    main()
