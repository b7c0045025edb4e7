"""Which scoring and baseline make Eq. 2 a useful signal? Measured on the synthetic benchmark.

For each ``scoring`` (cross_fit, in_sample) the env plays episodes with a fixed random keep mask (70%) and
reports, from the terminal ``info``:

* the ROC-AUC of ``-R_i`` as a detector of noisy samples (ground truth used only for this metric);
* the same AUC restricted to the kept images (where in-sample scoring has fitted the labels);
* the score inflation from training on an image: mean ``P(y|x)`` of kept minus removed images, separately
  for noisy and clean ones (a random mask makes kept and removed exchangeable, so unbiased scoring gives ~0);
* for each baseline, the removal F1 of the one-step Eq. 3 optimum "keep i iff R_i > 0".

Usage::

    python benchmarks/bench_scoring.py --scenario label_symmetric --episodes 3
    python benchmarks/bench_scoring.py --retrain finetune --episodes 1
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import fer_select_env  # noqa: F401
from fer_select_env.envs.select.metrics import detection_auc, removal_scores
from fer_select_env.envs.select.rewards import EQ2_BASELINES, eq2_sample_rewards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="label_symmetric")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--keep", type=float, default=0.7, help="fraction kept by the random mask")
    parser.add_argument("--retrain", default="head", help="head, finetune or scratch")
    args = parser.parse_args()
    for scoring in ("cross_fit", "in_sample"):
        env = gym.make("FERSelect-v0", dataset=args.scenario, scoring=scoring, retrain=args.retrain)
        noise = env.unwrapped.dataset.noise_train
        rng = np.random.default_rng(0)
        rows = []
        for episode in range(args.episodes):
            env.reset(seed=episode)
            n = env.unwrapped.episode_size
            mask = rng.random(n) < args.keep
            for t in range(n):
                _, _, _terminated, _, info = env.step(int(mask[t]))
            noisy = noise[info["sample_indices"]] != 0
            p = info["sample_label_probs"]
            kept = info["kept"]
            row = {
                "auc_all": detection_auc(-p, noisy),
                "auc_kept": detection_auc(-p[kept], noisy[kept]),
                "val_acc": info["val_accuracy"],
                # Under a random mask kept and removed noisy images are exchangeable, so any gap is the
                # score inflation that comes from having trained on the image.
                "gap_noisy": float(p[kept & noisy].mean() - p[~kept & noisy].mean()),
                "gap_clean": float(p[kept & ~noisy].mean() - p[~kept & ~noisy].mean()),
            }
            labels = env.unwrapped.dataset.y_train[info["sample_indices"]]
            for b in EQ2_BASELINES:
                r = eq2_sample_rewards(info["sample_probs"], labels, b)
                row[f"f1_{b}"] = removal_scores(r > 0, noisy)["removal_f1"]
            rows.append(row)
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        print(
            f"{args.scenario} retrain={args.retrain} scoring={scoring:9s} "
            f"AUC(-R) all={mean['auc_all']:.3f} kept={mean['auc_kept']:.3f} | "
            + " ".join(f"removalF1[{b}]={mean['f1_' + b]:.3f}" for b in EQ2_BASELINES)
            + f" | P(label) kept-removed gap: noisy={mean['gap_noisy']:+.3f} clean={mean['gap_clean']:+.3f}"
            + f" | val_acc={mean['val_acc']:.3f} ({args.episodes} episodes)"
        )


if __name__ == "__main__":
    main()
