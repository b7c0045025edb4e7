"""Speed of FERSelect-v0, as ratios against references measured in the same run.

Prints:

1. the time of a non-terminal ``env.step`` on the default env and on a small injected dataset, against
   ``CartPole-v1``'s step (both built with ``gym.make``, so both carry the same wrappers);
2. the end-of-episode retraining and scoring in ``head`` mode on the default 5,000-image env (the last step);
3. the first ``reset()`` of the default env with an empty cache (render + pre-train) and with a warm cache.

Usage::

    python benchmarks/bench_env.py            # everything (the cold reset renders and pre-trains: ~1-2 min)
    python benchmarks/bench_env.py --skip-cold
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import gymnasium as gym
import numpy as np

import fer_select_env


def time_steps(env: gym.Env, n_steps: int, repeats: int = 5) -> float:
    """Best-of-``repeats`` mean seconds per non-terminal step (resets are not timed)."""
    best = float("inf")
    actions = np.random.default_rng(0).integers(0, 2, size=n_steps)
    for _ in range(repeats):
        env.reset(seed=0)
        elapsed = 0.0
        done = 0
        while done < n_steps:
            t0 = time.perf_counter()
            chunk = 0
            while done < n_steps:
                _, _, terminated, truncated, _ = env.step(int(actions[done]))
                done += 1
                chunk += 1
                if terminated or truncated:
                    break
            elapsed += time.perf_counter() - t0
            if done < n_steps:
                env.reset()
        best = min(best, elapsed / n_steps)
    return best


def small_dataset(n_train: int = 300) -> fer_select_env.FERDataset:
    rng = np.random.default_rng(0)

    def split(n: int):
        return rng.integers(0, 255, (n, 48, 48), dtype=np.uint8), rng.integers(0, 7, n)

    return fer_select_env.FERDataset.from_arrays(*split(n_train), *split(60), *split(60))


def bench_steps(n_steps: int) -> None:
    cartpole = gym.make("CartPole-v1")
    # CartPole terminates every ~20 random steps; the timer excludes its resets.
    ref = time_steps(cartpole, n_steps)
    default = gym.make("FERSelect-v0")
    small = gym.make("FERSelect-v0", dataset=small_dataset())
    t_default = time_steps(default, min(n_steps, 4000))
    t_small = time_steps(small, min(n_steps, 250))
    print(f"CartPole-v1 step:                  {ref * 1e6:8.2f} µs")
    print(f"FERSelect-v0 step (default data):  {t_default * 1e6:8.2f} µs   ratio {t_default / ref:5.2f}x (budget 3x)")
    print(f"FERSelect-v0 step (300 injected):  {t_small * 1e6:8.2f} µs   ratio {t_small / ref:5.2f}x (budget 3x)")
    la = gym.make("FERSelectLabelAware-v0")
    t_la = time_steps(la, min(n_steps, 4000))
    print(f"FERSelectLabelAware-v0 step:       {t_la * 1e6:8.2f} µs   ratio {t_la / ref:5.2f}x")


def bench_episode_end(repeats: int) -> None:
    for scoring in ("cross_fit", "in_sample"):
        env = gym.make("FERSelect-v0", scoring=scoring)
        times = []
        rng = np.random.default_rng(0)
        for _ in range(repeats):
            env.reset(seed=int(rng.integers(1000)))
            n = env.unwrapped.episode_size
            actions = (rng.random(n) < 0.7).astype(int)
            for t in range(n - 1):
                env.step(int(actions[t]))
            t0 = time.perf_counter()
            env.step(int(actions[-1]))
            times.append(time.perf_counter() - t0)
        print(
            f"end of episode, head mode, {scoring:9s}, {n} train images: "
            f"median {np.median(times):.2f} s, max {np.max(times):.2f} s over {repeats} (budget 2 s)"
        )


def bench_first_reset(skip_cold: bool) -> None:
    with tempfile.TemporaryDirectory() as cache:
        if skip_cold:
            cache = None  # the user's cache: warm if the benchmark ran before
        else:
            env = gym.make("FERSelect-v0", cache_dir=cache)
            t0 = time.perf_counter()
            env.reset(seed=0)
            cold = time.perf_counter() - t0
            built = env.unwrapped
            print(f"first reset, empty cache (construct+render+pre-train): {cold:.1f} s (budget 90 s)")
            print(f"  pre-trained classifier val accuracy {built._val_metrics['val_accuracy']:.3f}")
        t0 = time.perf_counter()
        env = gym.make("FERSelect-v0", cache_dir=cache)
        env.reset(seed=0)
        warm = time.perf_counter() - t0
        print(f"construct + first reset, warm cache: {warm:.2f} s (budget 3 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20000, help="steps timed per env (default 20000)")
    parser.add_argument("--episode-repeats", type=int, default=3, help="episode ends timed (default 3)")
    parser.add_argument("--skip-cold", action="store_true", help="skip the empty-cache first reset")
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    bench_first_reset(args.skip_cold)
    bench_steps(args.steps)
    bench_episode_end(args.episode_repeats)


if __name__ == "__main__":
    main()
