"""Speed of one GRPO update on FERReason-v0 against the issue's bar (B = 32 prompts × G = 8 rollouts × L = 12
tokens in at most 50 ms on 2 CPU cores), measured in one run.

    python benchmarks/bench_grpo_update.py [--updates 20] [--threads 2]

The env is a small synthetic FERReason-v0 with the tiny encoder (its feature is a table look-up, so the
encoder's size does not enter). The policy is the one the FERReason experiment uses (SB3's
MultiInputPolicy, 128×128). Three timings, each the median of ``updates`` repetitions:

* ``update``: :meth:`GRPO.train_on_batch` on one batch of rollouts (the advantage, the clipped loss, the
  backward pass and the Adam step) — what the bar measures;
* ``rollout``: sampling the batch's B×G completions (batched, one policy call per token position);
* ``env rollout``: the same batch by stepping the env through SB3's VecEnv (``rollout="env"``).

Prints milliseconds and the ratio update / 50 ms.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import gymnasium as gym
import numpy as np
import torch

import fer_select_env  # noqa: F401  (registers FERReason-v0)
from agents.grpo import GRPO
from fer_select_env.data.reasoning import make_reasoning_dataset
from fer_select_env.testing import TINY_CLASSIFIER

BAR_MS = 50.0


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20, help="repetitions of each timing (default 20)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2: the bar's cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ds = make_reasoning_dataset(n_subjects=20, image_size=24, seed=0)
    with tempfile.TemporaryDirectory() as cache:
        env = gym.make("FERReason-v0", dataset=ds, encoder=dict(TINY_CLASSIFIER), cache_dir=cache)
        model = GRPO(
            "MultiInputPolicy",
            env,
            prompts_per_update=32,
            group_size=8,
            seed=0,
            policy_kwargs={"net_arch": [128, 128]},
            device="cpu",
        )
        keys = np.arange(32) % env.unwrapped.num_prompts
        batch = model._rollouts_batched(keys)
        tokens = len(batch["actions"])
        update = median_ms(lambda: model.train_on_batch(batch), args.updates)
        rollout = median_ms(lambda: model._rollouts_batched(keys), args.updates)
        slow = GRPO(
            "MultiInputPolicy",
            env,
            prompts_per_update=32,
            group_size=8,
            seed=0,
            rollout="env",
            policy_kwargs={"net_arch": [128, 128]},
            device="cpu",
        )
        env_rollout = median_ms(lambda: slow._rollouts_env(keys), max(2, args.updates // 10))
    print(f"B=32 × G=8 rollouts, L={env.unwrapped.max_length}: {tokens} sampled tokens; torch threads {args.threads}")
    print(f"update (train_on_batch): {update:7.1f} ms   ratio to the {BAR_MS:.0f} ms bar: {update / BAR_MS:.2f}")
    print(f"batched rollout:         {rollout:7.1f} ms")
    print(f"env-stepping rollout:    {env_rollout:7.1f} ms   ({env_rollout / rollout:.0f}× the batched one)")


if __name__ == "__main__":
    main()
