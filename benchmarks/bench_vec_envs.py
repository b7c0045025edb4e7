"""Steps per second of FERSelect-v0 in vector envs: one process against worker processes, and the worker
thread rule of the env (``num_threads``) against PyTorch's default thread count.

Prints one line per setting, every one on the same tiny dataset and the same cached pre-trained classifier
(the main process fills the cache first, as the docs' recipe does):

1. ``DummyVecEnv``: every env in this process;
2. ``SubprocVecEnv`` (spawn) with ``num_threads`` = PyTorch's default: each worker keeps PyTorch's thread
   count, what every worker did before the env's thread rule ("before");
3. ``SubprocVecEnv`` (spawn) with ``num_threads=None``: each worker drops to one thread ("after");
4. ``SubprocVecEnv`` (fork) with ``num_threads=None``: the start method that hung before the rule.

Each line gives the first reset (every worker loads the cached classifier and computes the conv features of
every image: the heavy torch work of ``retrain="head"``) and the steps per second after it and one untimed
episode; the episodes are short (``--episode-size``), so the end-of-episode retraining weighs as it does in
training.

Usage::

    python benchmarks/bench_vec_envs.py                      # about a minute
    python benchmarks/bench_vec_envs.py --retrain finetune   # the whole CNN retrains: threads matter more
    python benchmarks/bench_vec_envs.py --steps 2000 --n-envs 4
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

import fer_select_env  # noqa: F401  (registers the ids)
from fer_select_env.testing import make_blob_dataset

CLASSIFIER = {"width": 8, "feature_dim": 32, "max_epochs": 4, "min_epochs": 2}


def env_factory(kwargs: dict) -> object:
    """A picklable env constructor (spawned workers unpickle it)."""

    def make() -> gym.Env:
        return gym.make("fer_select_env:FERSelect-v0", **kwargs)

    return make


def time_vec_env(vec: VecEnv, steps: int, warmup: int) -> tuple[float, float]:
    """``(seconds of the first reset, steps per second)``: the reset loads the cached classifier and computes
    every image's conv features in each worker; the rate counts the steps of all envs together over ``steps``
    vector steps after ``warmup`` untimed ones (one episode: a process's first retraining costs about a
    second of one-off set-up, which a forked worker inherits from its parent and a spawned one pays itself)."""
    vec.seed(0)
    started = time.perf_counter()
    vec.reset()
    reset_seconds = time.perf_counter() - started
    actions = np.random.default_rng(0).integers(0, 2, size=(warmup + steps, vec.num_envs))
    for a in actions[:warmup]:
        vec.step(a)
    started = time.perf_counter()
    for a in actions[warmup:]:
        vec.step(a)
    return reset_seconds, steps * vec.num_envs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--episode-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1280, help="vector steps timed per setting")
    parser.add_argument("--retrain", default="head", help="the env's retrain strategy (head, finetune, scratch)")
    parser.add_argument("--n-envs", type=int, default=2)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench_vec_envs_"))
    os.environ["FER_SELECT_CACHE_DIR"] = str(workdir / "cache")  # the workers inherit it
    data = workdir / "data.npz"
    make_blob_dataset(n_train=args.n_train, n_val=100, n_test=20, num_classes=7, size=48, noise_rate=0.2).to_npz(data)
    kwargs = {
        "dataset": str(data),
        "classifier_config": CLASSIFIER,
        "episode_size": args.episode_size,
        "retrain": args.retrain,
    }
    gym.make("FERSelect-v0", **kwargs).reset(seed=0)  # pre-train once, into the cache
    default_threads = torch.get_num_threads()
    print(
        f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPUs, PyTorch's default "
        f"threads {default_threads}; {args.n_envs} envs, {args.n_train} train images, episodes of "
        f"{args.episode_size}, retrain={args.retrain}, {args.steps} vector steps per setting"
    )
    settings = [
        ("DummyVecEnv, one process", DummyVecEnv, {}, {}),
        (
            "SubprocVecEnv spawn, num_threads=default",
            SubprocVecEnv,
            {"start_method": "spawn"},
            {"num_threads": default_threads},
        ),
        ("SubprocVecEnv spawn, num_threads=None", SubprocVecEnv, {"start_method": "spawn"}, {}),
        ("SubprocVecEnv fork, num_threads=None", SubprocVecEnv, {"start_method": "fork"}, {}),
    ]
    for label, cls, vec_kwargs, extra in settings:
        vec = cls([env_factory({**kwargs, **extra}) for _ in range(args.n_envs)], **vec_kwargs)
        try:
            reset_seconds, rate = time_vec_env(vec, args.steps, warmup=args.episode_size)
        finally:
            vec.close()
        print(f"{label:44s} first reset {reset_seconds:6.1f} s   {rate:8.0f} steps/s")


if __name__ == "__main__":
    main()
