"""Stable-Baselines3's PPO on FERSequence-v0 (early expression recognition), compared with the threshold front.

    python examples/train_ppo_sequence.py
    python examples/train_ppo_sequence.py --wait-penalty 0.03 --timesteps 50000 --seed 1

Read top to bottom: render the synthetic sequences, let the env train (or load from the cache) its frozen
sequence classifier, train PPO on the *val* identities' episodes with the bundled settings
(``agents.sequence.settings``), then score PPO, ``last_frame`` and every ``threshold(τ)`` of ml_edm's grid on
the *test* identities. PPO lies on or above the front when no threshold policy that is as early or earlier
is more than a point more accurate.
"""

from __future__ import annotations

import argparse
import time

import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.baselines.early import last_frame, threshold_sweep
from agents.sequence import commit_times, train_sequence_agent
from agents.sequence.settings import DEFAULT_TIMESTEPS, N_ENVS, training_env
from fer_select_env.data.sequences import make_sequence_dataset
from fer_select_env.envs.sequence.env import FERSequenceEnv
from fer_select_env.envs.sequence.metrics import early_metrics, front_accuracy_at, on_or_above_front


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wait-penalty", type=float, default=0.01, help="λ, the reward of a wait is −λ (0.01)")
    parser.add_argument("--timesteps", type=int, default=DEFAULT_TIMESTEPS["ppo"], help="PPO's budget in steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-subjects", type=int, default=300, help="synthetic identities (default 300)")
    parser.add_argument("--classifier", default="cnn_lstm", help="convlstm, cnn_avg or cnn_lstm")
    parser.add_argument("--dataset-kwargs", default=None, help=argparse.SUPPRESS)  # tests: tiny sizes
    parser.add_argument("--classifier-kwargs", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the figures the docs quote are per core
    start = time.perf_counter()

    # 1. Data and the frozen classifier (trained on the train identities, stopped early on val, cached).
    dataset_kwargs = json_kwargs(args.dataset_kwargs) or {"n_subjects": args.n_subjects}
    dataset = make_sequence_dataset(seed=args.seed, **dataset_kwargs)
    classifier = {"kind": args.classifier, "seed": args.seed, **(json_kwargs(args.classifier_kwargs) or {})}

    def make_env(split: str) -> FERSequenceEnv:
        return FERSequenceEnv(dataset=dataset, split=split, classifier=classifier, wait_penalty=args.wait_penalty)

    # 2. PPO learns on the val identities' sequences, with noise on the posterior it is shown.
    # PPO starts with P(wait) = 0.9 and learns under a λ curriculum (0, then rising to λ); the docstrings of
    # agents.sequence.settings, agents.sequence.curriculum and agents.sequence.augment say why.
    train_env = DummyVecEnv([lambda: training_env("ppo", make_env("val"))] * N_ENVS["ppo"])
    model = train_sequence_agent("ppo", train_env, args.wait_penalty, args.timesteps, seed=args.seed)

    # 3. Everything is scored on the test identities.
    test = make_env("test")
    n_frames, k = test.num_frames, test.num_classes

    def score(t_commit, predictions) -> dict:
        return early_metrics(t_commit, predictions, test.labels, n_frames, k, wait_penalty=args.wait_penalty)

    ppo = score(*commit_times(model, test))
    last = score(*last_frame(test.posteriors))
    sweep = threshold_sweep(test.posteriors, test.labels, wait_penalty=args.wait_penalty)
    best = max(sweep.rows, key=lambda r: r["mean_return"])

    print(
        f"FERSequence-v0, λ = {args.wait_penalty}, seed {args.seed}, test identities ({test.num_sequences} sequences)"
    )
    print(f"{'policy':<26}{'accuracy':>9}{'earliness':>10}{'HM':>7}{'return':>8}")
    for name, m in (("ppo", ppo), ("last_frame", last), (f"best threshold τ={best['tau']:.3f}", best)):
        print(f"{name:<26}{m['accuracy']:>9.3f}{m['earliness']:>10.3f}{m['hm']:>7.3f}{m['mean_return']:>8.3f}")
    front_acc = front_accuracy_at(sweep.front, ppo["earliness"])
    verdict = on_or_above_front((ppo["earliness"], ppo["accuracy"]), sweep.front)
    print(
        f"threshold front at PPO's earliness: accuracy {front_acc:.3f}; PPO is "
        f"{'on or above' if verdict else 'below'} the front (tolerance 1 point); {time.perf_counter() - start:.0f} s"
    )
    return {"ppo": ppo, "last_frame": last, "best_threshold": best, "on_or_above_front": verdict}


def json_kwargs(text: str | None) -> dict | None:
    """A JSON object given on the command line (tests use it for tiny sizes)."""
    import json

    return None if text is None else json.loads(text)


if __name__ == "__main__":
    main()
