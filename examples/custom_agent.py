"""A user-written agent in a few lines around ``gym.make``: a logistic selector on the label-aware state,
trained with the per-image rewards from the terminal ``info`` (no Stable-Baselines3 involved).

    python examples/custom_agent.py --episodes 5
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import fer_select_env  # noqa: F401  (registers the env ids)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)

    env = gym.make("FERSelectLabelAware-v0", dataset=args.data, persistent_classifier=False)
    rng = np.random.default_rng(args.seed)
    # Only the last entry of the label-aware state, P(given label | image), and a bias: a 2-weight policy.
    w = np.zeros(2)
    summary: dict[str, float] = {}
    for episode in range(args.episodes):
        obs, info = env.reset(seed=args.seed + episode)
        xs, actions, done = [], [], False
        while not done:
            x = np.array([obs[-1], 1.0])
            p_keep = 1.0 / (1.0 + np.exp(-x @ w))
            action = int(rng.random() < p_keep)
            xs.append(x)
            actions.append(action)
            obs, _reward, done, _truncated, info = env.step(action)
        # REINFORCE with per-image credit: grad log pi(a|x) = (a - p) x, weighted by R_i (Eq. 2).
        x_arr, a_arr = np.array(xs), np.array(actions)
        p = 1.0 / (1.0 + np.exp(-x_arr @ w))
        r = info["sample_rewards"]
        w += 5.0 * ((a_arr - p) * r) @ x_arr / len(r)
        summary = {"episode": episode, "kept_fraction": info["kept_fraction"], "val_macro_f1": info["val_macro_f1"]}
        if "removal_f1" in info:
            summary["removal_f1"] = info["removal_f1"]
        print(", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()))
    return summary


if __name__ == "__main__":
    main()
