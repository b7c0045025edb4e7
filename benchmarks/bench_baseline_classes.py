"""Which images does each reading of Eq. 2's baseline mark as noise, class by class, on real FER2013?

The one-step optimum of Eq. 3 is "keep image i iff R_i > 0". This script scores every training image with
the pre-trained embedded classifier (one frozen pass of the benchmark's ``reinforce`` env, so the same
cached classifier as ``examples/paper_fer2013.py``), applies that rule under every Eq. 2 baseline of
``fer_select_env.envs.select.rewards.EQ2_BASELINES`` and prints, per class, the class's share of the training
set and the fraction of it the rule keeps; with FER+ votes, also the share of FER+-disputed labels among the removed.

    python benchmarks/bench_baseline_classes.py --data ../shared/data/fer2013/fer2013.npz --train-limit 8000

``--data`` takes FER2013 in any layout :func:`fer_select_env.data.load_fer2013` reads, or ``--npz`` any npz in
the public format. FER2013 is imbalanced (disgust is 1.5 % of the training rows): a fixed 1/K threshold
marks most images of a rare class as noise because the classifier rarely gives a rare class more than
chance, whatever their labels' quality.
"""

from __future__ import annotations

import argparse

import numpy as np

from agents.experiment.benchmark import kept_fraction_by_class
from agents.experiment.rl_selection import make_selection_env
from agents.experiment.settings import RLSettings
from fer_select_env.data import FERDataset, load_fer2013
from fer_select_env.data.ferplus import dataset_reference_report
from fer_select_env.envs.select.rewards import EQ2_BASELINES, eq2_sample_rewards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="FER2013: the evaluation copy, fer2013.csv or the image folders")
    source.add_argument("--npz", help="any npz in the FERDataset format")
    parser.add_argument("--train-limit", type=int, default=8000, help="stratified training subset (default 8000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dataset = load_fer2013(args.data) if args.data else FERDataset.from_npz(args.npz)
    dataset = dataset.stratified_train_subset(args.train_limit, args.seed)
    env = make_selection_env(dataset, "label_aware", args.seed, RLSettings())
    _, info = env.reset(seed=args.seed, options={"freeze_classifier": True})
    done = False
    while not done:
        _, _, done, _, info = env.step(1)
    order = info["sample_indices"]
    probs = np.empty_like(info["sample_probs"])
    probs[order] = info["sample_probs"]
    y = dataset.y_train
    names = dataset.class_labels
    share = np.bincount(y, minlength=dataset.num_classes) / len(y)

    print(f"{len(y)} training images, seed {args.seed}; pre-trained classifier val accuracy {info['val_accuracy']:.3f}")
    print("classifier's mean predicted probability per class (the class_prior baseline):")
    print("  " + "  ".join(f"{n} {p:.3f}" for n, p in zip(names, probs.mean(axis=0), strict=True)))
    header = " ".join(f"{n[:8]:>8}" for n in names)
    print(f"{'baseline':<12} {'kept':>6}  {header}  FER+ disputed: removed / base")
    print(f"{'(share)':<12} {'':>6}  " + " ".join(f"{s:8.3f}" for s in share))
    for baseline in EQ2_BASELINES:
        kept = eq2_sample_rewards(probs, y, baseline) > 0
        per_class = [float("nan") if v is None else v for v in kept_fraction_by_class(kept, dataset).values()]
        ref = dataset_reference_report(dataset, kept)
        ferplus = "" if ref is None else f"  {ref['removed_disagree_rate']:.3f} / {ref['base_disagree_rate']:.3f}"
        print(f"{baseline:<12} {kept.mean():6.3f}  " + " ".join(f"{p:8.3f}" for p in per_class) + ferplus)


if __name__ == "__main__":
    main()
