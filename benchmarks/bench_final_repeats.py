"""How many final-training repeats does the benchmark need? The protocol's noise floor, measured.

For one fixed selection (``keep_all``: every training image) on one dataset (default: the synthetic default
benchmark), the final classifier of the benchmark's protocol is trained ``--draws`` times with the seeds the
benchmark uses for its repeats (``final_seed(seed, r)``), and the script prints:

* the standard deviation of a single final training's test macro-F1 (the protocol's noise floor);
* for R = 1, 2, 3, ...: the standard deviation of an R-repeat mean, ``s / sqrt(R)``, and, where the draws
  allow at least three disjoint groups, the same measured on those groups;
* the smallest R whose mean has a standard deviation of at most ``--target`` macro-F1 points;
* with ``--paired-with-oracle``, the same for the oracle's selection (the clean images) trained with the same
  seeds, and the spread of the paired difference oracle - keep_all: what the benchmark's comparisons see.

    python benchmarks/bench_final_repeats.py --draws 8                  # the synthetic default, 5,000 images
    python benchmarks/bench_final_repeats.py --draws 6 --train-limit 800 --paired-with-oracle
    python benchmarks/bench_final_repeats.py --draws 8 --ema-epochs 0   # without weight averaging

Every training runs at the benchmark's default thread count (``--threads``, 1), so the figures are the ones a
benchmark run sees. The test split is used here only to measure the spread of the reported test figure.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from agents.common.selection import Selection
from agents.experiment.benchmark import final_seed, final_training
from agents.experiment.settings import BenchmarkSettings
from fer_select_env.core.seeding import thread_limit
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.resolve import load_or_make_synthetic
from fer_select_env.models.classifier import LR_SCHEDULES, MONITORS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="an npz in the FERDataset format (default: the synthetic default)")
    parser.add_argument("--draws", type=int, default=12, help="independent final trainings (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="the run seed the repeats derive from (default 0)")
    parser.add_argument("--threads", type=int, default=BenchmarkSettings().threads)
    parser.add_argument("--target", type=float, default=0.5, help="target std of the mean, in points (default 0.5)")
    parser.add_argument("--schedule", default=BenchmarkSettings().final_lr_schedule, choices=LR_SCHEDULES)
    parser.add_argument("--epochs", type=int, default=None, help="the final training's epoch cap (default: 20)")
    parser.add_argument(
        "--ema-epochs",
        type=float,
        default=BenchmarkSettings().final_ema_epochs,
        help="weight averaging horizon in epochs, 0 for none (default: the protocol's)",
    )
    parser.add_argument(
        "--min-steps",
        type=int,
        default=BenchmarkSettings().final_min_steps,
        help="the final training's minimum gradient steps, 0 for none (default: the protocol's)",
    )
    parser.add_argument("--monitor", default=BenchmarkSettings().final_monitor, choices=MONITORS)
    parser.add_argument(
        "--paired-with-oracle",
        action="store_true",
        help="also train on the oracle's selection (the clean images) with the same seeds, and print the spread of "
        "the paired difference oracle - keep_all (what the benchmark's comparisons see)",
    )
    parser.add_argument("--train-limit", type=int, default=None, help="a stratified training subset of this size")
    args = parser.parse_args()
    dataset = FERDataset.from_npz(args.data) if args.data else load_or_make_synthetic()
    if args.train_limit is not None:
        dataset = dataset.stratified_train_subset(args.train_limit, seed=args.seed)
    settings = BenchmarkSettings(
        threads=args.threads,
        final_lr_schedule=args.schedule,
        final_max_epochs=args.epochs,
        final_ema_epochs=args.ema_epochs or None,  # 0: no weight averaging
        final_min_steps=args.min_steps or None,  # 0: the epoch-based minimum only
        final_monitor=args.monitor,
    )
    kept = Selection.from_mask(np.ones(len(dataset.y_train), dtype=bool)).kept
    print(
        f"{dataset}; keep_all; {args.draws} final trainings at {args.threads} thread(s), {args.schedule} lr, "
        f"ema_epochs {args.ema_epochs}, min_steps {args.min_steps}, monitor {args.monitor}"
    )
    oracle_kept = None
    if args.paired_with_oracle:
        if dataset.noise_train is None:
            raise SystemExit("--paired-with-oracle needs a dataset with noise ground truth (noise_train)")
        oracle_kept = np.asarray(dataset.noise_train) == 0
    scores, oracle_scores = [], []
    started = time.perf_counter()
    with thread_limit(args.threads):
        for r in range(args.draws):
            t0 = time.perf_counter()
            _, test = final_training(dataset, kept, final_seed(args.seed, r), settings)
            scores.append(test["macro_f1"])
            line = f"  repeat {r:2d}: macro-F1 {100 * scores[-1]:.2f} ({test['final_training']['epochs_run']} epochs"
            if oracle_kept is not None:
                _, test = final_training(dataset, oracle_kept, final_seed(args.seed, r), settings)
                oracle_scores.append(test["macro_f1"])
                line += f"; oracle {100 * oracle_scores[-1]:.2f}, {test['final_training']['epochs_run']} epochs"
            print(f"{line}; {time.perf_counter() - t0:.0f} s)", flush=True)
    x = 100 * np.asarray(scores)
    s = float(np.std(x, ddof=1))
    seconds = time.perf_counter() - started
    print(f"\nmean {x.mean():.2f}, single-training std (noise floor) {s:.2f} points; {seconds:.0f} s in all")
    chosen = None
    for repeats in range(1, args.draws + 1):
        line = f"  R={repeats:2d}: std of the mean {s / math.sqrt(repeats):.2f}"
        groups = args.draws // repeats
        if groups >= 3:
            means = x[: groups * repeats].reshape(groups, repeats).mean(axis=1)
            line += f" (measured on {groups} disjoint groups: {np.std(means, ddof=1):.2f})"
        print(line)
        if chosen is None and s / math.sqrt(repeats) <= args.target:
            chosen = repeats
    print(f"\nsmallest R with std of the mean <= {args.target} points: {chosen if chosen else f'> {args.draws}'}")
    if oracle_scores:
        o = 100 * np.asarray(oracle_scores)
        diff = o - x
        print(
            f"\noracle: mean {o.mean():.2f}, std {np.std(o, ddof=1):.2f}; paired difference oracle - keep_all: "
            f"mean {diff.mean():.2f}, std {np.std(diff, ddof=1):.2f} (unpaired, independent seeds would give "
            f"{math.sqrt(np.var(o, ddof=1) + np.var(x, ddof=1)):.2f})"
        )


if __name__ == "__main__":
    main()
