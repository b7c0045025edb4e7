"""Stable-Baselines3's PPO, unmodified, on FERSelect-v0: the settings that learn, and why.

    python examples/train_ppo.py
    python examples/train_ppo.py --data FILE.npz --episodes 20 --tensorboard-log runs/

Beware of SB3's defaults here. With the terminal Eq. 3 reward, ``gamma=0.99`` discounts the reward by
0.99^4999 ≈ 1e-22 at the first of 5,000 decisions, and ``n_steps=2048`` cuts a pass into pieces whose
value is bootstrapped. This example uses the dense ``reward="per_step"`` instead: decision i earns
``a_i·R_i`` with R_i (Eq. 2) from the classifier as it stood when the pass began, so each reward belongs
to one decision and the honest discount is ``gamma=0``. R_i uses the ``mean`` baseline, and SB3's
``VecNormalize`` standardises the observations. The settings are the benchmark's
(``agents.experiment.rl_selection.PPO_ENV_KWARGS`` and ``PPO_KWARGS``).
"""

from __future__ import annotations

import argparse
import sys

import gymnasium as gym
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import fer_select_env  # noqa: F401  (registers FERSelect-v0)
from agents.common import EpisodeHistory, keep_probability_function
from agents.experiment.benchmark import BenchmarkSettings, final_training
from agents.experiment.cli.args import UsageError, check_input_file, check_output_dir, check_output_file
from agents.experiment.rl_selection import PPO_ENV_KWARGS, PPO_KWARGS, selection_pass
from fer_select_env.envs.select.metrics import removal_scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="an .npz file in the FERDataset format (default: synthetic)")
    parser.add_argument("--episodes", type=int, default=20, help="passes over the training set (default 20)")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tensorboard-log", default="runs", help="TensorBoard directory (default: runs)")
    parser.add_argument("--save", default="ppo_selector.zip")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    try:  # every path before any work
        if args.data is not None:
            check_input_file("--data", args.data)
        check_output_file("--save", args.save)
        check_output_dir("--tensorboard-log", args.tensorboard_log)
    except (UsageError, OSError) as exc:
        parser.error(str(exc))

    env = gym.make(
        "FERSelectLabelAware-v0",
        dataset=args.data,
        persistent_classifier=False,
        **PPO_ENV_KWARGS,  # reward="per_step", baseline="mean"
        classifier_seed=args.seed,
        progress=args.progress,
    )
    n_images = env.unwrapped.episode_size
    venv = VecNormalize(DummyVecEnv([lambda: Monitor(env)]), norm_obs=True, norm_reward=False)
    model = PPO(
        "MlpPolicy",
        venv,
        learning_rate=args.learning_rate,
        n_steps=min(2048, n_images),
        batch_size=min(PPO_KWARGS["batch_size"], n_images),
        seed=args.seed,
        tensorboard_log=args.tensorboard_log,
        **{k: v for k, v in PPO_KWARGS.items() if k != "batch_size"},
    )
    history = EpisodeHistory()
    model.learn(args.episodes * n_images, callback=history, progress_bar=args.progress)
    model.save(args.save)

    venv.training = False  # read the observation statistics as training left them
    selection = selection_pass(env.unwrapped, keep_probability_function(model, venv), args.seed)
    dataset = env.unwrapped.dataset
    _, test = final_training(dataset, selection.kept, args.seed, BenchmarkSettings(), progress=args.progress)
    print(f"kept {selection.kept_fraction:.3f} of the training images; test macro-F1 {test['macro_f1']:.3f}")
    if dataset.noise_train is not None:
        print(f"removal F1 {removal_scores(selection.kept, dataset.noise_train != 0)['removal_f1']:.3f}")
    print(f"PPO saved to {args.save}; TensorBoard logs in {args.tensorboard_log}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
