"""Train the recommended REINFORCE selector on FERSelect-v0 and compare its selection with keeping everything.

    python examples/train_reinforce.py                    # the synthetic default, ~5 minutes on 2 CPU cores
    python examples/train_reinforce.py --data FILE.npz --episodes 30 --tensorboard-log runs/
    python examples/train_reinforce.py --num-envs auto    # the selector's passes five at a time

Steps (Li & Xu 2020, Algorithm 1 and §3.3):
1. the env pre-trains the embedded classifier on the noisy training set (cached on disk);
2. the selector is pre-trained against that fixed classifier (``model.pretrain``);
3. REINFORCE learns from the per-image rewards R_i (Eq. 2) of every pass; the passes grow on small data so
   that the selector gets at least 400 gradient steps (``RLSettings.scaled_passes``). Steps 2 and 3 run on
   FERSelect-v0's native vector env, one pass at a time by default (exactly the single env's run);
   ``--num-envs auto`` (:func:`lockstep_passes`) or N steps N passes at once, N dividing both pass counts so
   that the numbers of passes and updates stay the same. Each finished pass still gives its own update, but
   the N passes of a round are all drawn with the policy as it was when the round began, which changes the
   run (docs/performance.md, "The main job");
4. one deterministic pass gives the keep probability of every image: the policy's own selection keeps it
   when above 1/2; the benchmark's ``reinforce`` row applies ``--rl-selection`` to it (by default
   ``policy_capped``: the same decision, with no class losing more than its estimated noise). If the final
   policy collapsed (it keeps under 5 % or over 99.5 %), the policy of the learning pass with the best
   validation macro-F1 makes the selection instead, as in the benchmark;
5. a fresh classifier is trained on all images and on both selections (same protocol, early stopping on
   val), each evaluated once on test.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from stable_baselines3.common.callbacks import CallbackList

import fer_select_env  # noqa: F401  (registers FERSelect-v0)
from agents import REINFORCE
from agents.common import EpisodeHistory, keep_probability_function
from agents.common.callbacks import BestPassPolicy
from agents.common.vec_env import make_native_vec_env
from agents.experiment.benchmark import BenchmarkSettings, final_training, write_run_plots
from agents.experiment.cli.args import UsageError, check_input_file, check_output_dir, check_output_file
from agents.experiment.rl_selection import (
    apply_selection_rule,
    fall_back_to_best_pass,
    reinforce_steps_per_pass,
    selection_pass,
)
from agents.experiment.settings import SELECTION_RULES, RLSettings
from fer_select_env.data.resolve import resolve_dataset
from fer_select_env.envs.select.metrics import removal_scores
from fer_select_env.envs.select.plots import plot_confusion_matrices


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="an .npz file in the FERDataset format (default: synthetic)")
    parser.add_argument("--observation", default="label_aware", choices=["label_aware", "paper"])
    parser.add_argument("--episodes", type=int, default=15, help="REINFORCE passes (default 15)")
    parser.add_argument("--pretrain-episodes", type=int, default=5, help="passes with the classifier frozen")
    parser.add_argument(
        "--min-gradient-steps",
        type=int,
        default=400,
        help="the passes grow (at most 5x) until the selector gets this many gradient steps; 0: as given",
    )
    parser.add_argument(
        "--final-min-steps",
        type=int,
        default=640,
        help="the final trainings take at least this many gradient steps (the benchmark's default); 0: off",
    )
    parser.add_argument(
        "--rl-selection",
        choices=SELECTION_RULES,
        default=RLSettings.selection_rule,
        help=f"the rule behind the reinforce row, as the benchmark's (default {RLSettings.selection_rule})",
    )
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tensorboard-log", default="runs", help="TensorBoard directory (default: runs)")
    parser.add_argument("--save", default="reinforce_selector.zip", help="where to save the trained selector")
    parser.add_argument("--plots", default="plots", help="directory for the PNG pictures (default: plots)")
    parser.add_argument(
        "--num-envs",
        default="1",
        help="passes stepped at once on the native vector env: a number that divides both pass counts, or "
        "'auto' (the most, up to 8, that does); default 1, one pass at a time (the README's figures)",
    )
    parser.add_argument("--progress", action="store_true", help="progress bars")
    args = parser.parse_args(argv)
    if args.num_envs != "auto" and not (args.num_envs.isdigit() and int(args.num_envs) >= 1):
        parser.error(f"--num-envs must be a positive integer or 'auto', got {args.num_envs!r}")
    try:  # every path before any work
        if args.data is not None:
            check_input_file("--data", args.data)
        check_output_file("--save", args.save)
        check_output_dir("--plots", args.plots)
        check_output_dir("--tensorboard-log", args.tensorboard_log)
    except (UsageError, OSError) as exc:
        parser.error(str(exc))
    return args


def lockstep_passes(pretrain: int, episodes: int, limit: int = 8) -> int:
    """The passes to step at once: the largest number up to ``limit`` that divides both the pre-training and
    the learning passes, so that rounds of that many passes run exactly ``pretrain`` and ``episodes`` passes
    (REINFORCE.pretrain and learn round up to whole rounds)."""
    common = math.gcd(pretrain, episodes) or max(pretrain, episodes, 1)
    return max(d for d in range(1, min(limit, common) + 1) if common % d == 0)


def describe_rule(info: dict) -> str:
    """One line on how the ``reinforce`` row's selection came from the keep probabilities."""
    rule = info.get("selection_rule", "policy")
    if rule == "class_budget":
        return f"class budget {info['budget_fraction']} of the estimated noise, chosen on validation"
    if rule == "policy_capped":
        return f"the policy's decision, no class losing more than its estimated noise ({info['cap_restored']} restored)"
    return "the policy's decision (selection_rule='policy')"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env_kwargs = {
        "observation": args.observation,
        "persistent_classifier": False,  # every pass starts from the pre-trained classifier: stationary states
        "classifier_seed": args.seed,
        "progress": args.progress,
    }
    budget = RLSettings(
        episodes=args.episodes,
        pretrain_episodes=args.pretrain_episodes,
        min_gradient_steps=args.min_gradient_steps or None,
        selection_rule=args.rl_selection,
    )
    # The passes (and so how many to step at once) follow from the data's size: read it once, then share it.
    dataset = resolve_dataset(args.data, None, None)
    n_images = len(dataset.y_train)
    pretrain, episodes = budget.scaled_passes(reinforce_steps_per_pass(n_images))  # at least 400 steps
    num_envs = lockstep_passes(pretrain, episodes) if args.num_envs == "auto" else int(args.num_envs)
    if pretrain % num_envs or episodes % num_envs:  # whole rounds would run more passes than asked
        print(
            f"--num-envs {num_envs} must divide both the {pretrain} pre-training and the {episodes} learning "
            f"passes; --num-envs auto picks {lockstep_passes(pretrain, episodes)}",
            file=sys.stderr,
        )
        return 2
    vec_env = make_native_vec_env("FERSelect-v0", num_envs, **{**env_kwargs, "dataset": dataset})
    env = vec_env.get_attr("unwrapped", indices=0)[0]  # sub-env 0: the selection pass and the rule use it
    model = REINFORCE(
        "MlpPolicy",
        vec_env,
        learning_rate=args.learning_rate,
        seed=args.seed,
        tensorboard_log=args.tensorboard_log,
    )
    print(f"pre-training the selector for {pretrain} passes against the fixed classifier ({num_envs} at once) ...")
    model.pretrain(pretrain, progress_bar=args.progress)
    print(f"training REINFORCE for {episodes} passes of {n_images} images ({num_envs} at once) ...")
    history, best = EpisodeHistory(), BestPassPolicy()  # best: the pass a collapsed policy falls back to
    model.learn(episodes * n_images, callback=CallbackList([history, best]), progress_bar=args.progress)
    model.save(args.save)

    selection = selection_pass(env, keep_probability_function(model), args.seed)
    policy_kept = selection.kept.copy()
    selection = fall_back_to_best_pass(env, model, best, selection, args.seed, "reinforce")
    selection = apply_selection_rule(env, selection, args.seed, budget, "reinforce")
    settings = BenchmarkSettings(final_min_steps=args.final_min_steps or None)
    print("training the final classifier on all images and on the kept images (early stopping on val) ...")
    rows, confusion = [], []
    candidates = (("keep_all", np.ones_like(policy_kept)), ("policy", policy_kept), ("reinforce", selection.kept))
    for name, kept in candidates:
        _, test = final_training(dataset, kept, args.seed, settings, progress=args.progress)
        removal = removal_scores(kept, dataset.noise_train != 0) if dataset.noise_train is not None else {}
        rows.append((name, test["macro_f1"], float(kept.mean()), removal.get("removal_f1")))
        confusion.append(test["confusion_matrix"])

    selection.history = history.history
    plots = Path(args.plots)
    write_run_plots(plots, "reinforce", dataset, selection)
    plot_confusion_matrices(
        confusion[0],
        confusion[2],
        dataset.class_labels,
        plots / "confusion_before_after.png",
        titles=("keep_all", "reinforce"),
    )

    print(f"\n{'selection':<10} {'test macro-F1':>13} {'kept':>6} {'removal F1':>10}")
    for name, f1, kept_fraction, rem_f1 in rows:
        rem = "n/a" if rem_f1 is None else f"{rem_f1:.3f}"
        print(f"{name:<10} {f1:>13.3f} {kept_fraction:>6.3f} {rem:>10}")
    print(f"(policy: keep iff p > 1/2; reinforce: {describe_rule(selection.info)})")
    print(f"\nselector saved to {args.save}; pictures in {args.plots}/")
    print(f"TensorBoard logs in {args.tensorboard_log}/ (tensorboard --logdir {args.tensorboard_log})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
