"""Train SB3's SAC (or PPO, or DQN) on FERSmile-v0 and compare it with the seed's Monte Carlo search.

    python examples/train_sac_smile.py
    python examples/train_sac_smile.py --algo ppo --seeds 0 1 2 3 4 --out ppo.json
    python examples/train_sac_smile.py --baselines-only --seeds 0 1 2 3 4 --out baselines.json
    python examples/train_sac_smile.py --merge ppo.json baselines.json --pictures docs/img
    python examples/train_sac_smile.py --algo ppo_incumbent --split val --viewers 50 --timesteps 40000

Read top to bottom: the env trains (or loads from the cache) its camera classifier and referee; the agent
learns on fresh training viewers with the bundled settings (``agents.smile.settings``); then the agent and
the search baselines each meet the same held-out viewers (``viewers="test"``, ids 0 … N−1; ``--split val``:
the validation viewers, for choosing settings) with the same camera-frame budget, and are scored by the
viewers' final true smile (``agents.smile.evaluation``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np
import torch

import fer_select_env  # noqa: F401  (registers FERSmile-v0)
from agents.smile.evaluation import evaluate, play, summarise
from agents.smile.search import SEARCHES, make_search
from agents.smile.settings import (
    DEFAULT_TIMESTEPS,
    DETERMINISTIC,
    HISTORY,
    SMILE_ALGORITHMS,
    make_smile_env,
    train_smile_agent,
)
from fer_select_env.envs.smile.emoticon import draw_emoticon, from_unit
from fer_select_env.envs.smile.plots import episode_strip, plot_smile_curves

SHOWN = ("final_smile", "regret", "expected_happiness", "referee_happy", "referee_gap", "winners_curse")


def _row(name: str, summaries: list[dict]) -> str:
    cells = []
    for key in SHOWN:
        # The gap is linear, so a summary written before it was recorded still gives it exactly.
        values = [s.get(key, s["expected_happiness"] - s["referee_happy"]) for s in summaries]
        cells.append(f"{np.mean(values):6.3f} ± {np.std(values):.3f}")
    return f"{name:30s}{len(summaries):>5d}  " + "  ".join(cells)


def _print_table(results: dict[str, dict[str, dict]], algo: str | None) -> None:
    seeds = max(len(per_seed) for per_seed in results.values())
    viewers = max(s["episodes"] for per_seed in results.values() for s in per_seed.values())
    print(f"\n{viewers} held-out viewers per seed, mean ± std over seeds (at most {seeds}):")
    print(f"{'agent':30s}{'seeds':>5s}  " + "  ".join(f"{k:>14s}" for k in SHOWN))
    for name, per_seed in results.items():
        print(_row(name, list(per_seed.values())))
    for name in [algo] if algo else [n for n in results if n in SMILE_ALGORITHMS]:
        if name in results and "monte_carlo" in results:
            ours = np.mean([s["final_smile"] for s in results[name].values()])
            mc = np.mean([s["final_smile"] for s in results["monte_carlo"].values()])
            print(f"{name} − monte_carlo, final true smile: {ours - mc:+.3f}")


def _strip(env: gym.Env, agent, viewer: int, path: Path, every: int = 10, deterministic: bool = True) -> None:
    """The emoticon an agent shows, over the viewer's last camera frame, at reset and every ``every`` steps
    (sampled actions draw from torch's generator, seeded 0 here as :func:`evaluate` seeds it)."""
    base = env.unwrapped
    if not deterministic:
        torch.manual_seed(0)
    shown = [
        (draw_emoticon(from_unit(base.parameters), 96), base.last_frame)
        for step, _ in enumerate(play(env, agent, viewer, seed=0, deterministic=deterministic))
        if step % every == 0
    ]
    strip = episode_strip([emoticon for emoticon, _ in shown], [face for _, face in shown])
    cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    print(f"wrote {path}")


def _merge(files: list[str], pictures: str | None) -> dict:
    results: dict[str, dict[str, dict]] = {}
    for name in files:
        with open(name) as fh:
            for agent, per_seed in json.load(fh)["results"].items():
                results.setdefault(agent, {}).update(per_seed)
    _print_table(results, None)
    if pictures:
        curves = {}
        for agent, per_seed in results.items():
            frames = next(iter(per_seed.values()))["curve_frames"]
            curves[agent] = (frames, np.mean([s["curve_smile"] for s in per_seed.values()], axis=0))
        print(f"wrote {plot_smile_curves(curves, Path(pictures) / 'smile_curves.png')}")
    return {"results": results}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algo", default="sac", choices=sorted(SMILE_ALGORITHMS))
    parser.add_argument("--timesteps", type=int, default=None, help="training steps (default: the bundled budget)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--history", type=int, default=HISTORY, help=f"steps the policy sees (default {HISTORY})")
    parser.add_argument("--viewers", type=int, default=100, help="held-out viewers per seed (default 100)")
    parser.add_argument(
        "--split", default="test", choices=["test", "val"], help="score on the test (default) or validation viewers"
    )
    parser.add_argument(
        "--actions",
        nargs="+",
        default=["bundled"],
        choices=["bundled", "deterministic", "stochastic"],
        help="how the policy acts when scored (bundled: agents.smile.settings.DETERMINISTIC); several: one row each",
    )
    parser.add_argument("--baselines-only", action="store_true", help="evaluate the searches only")
    parser.add_argument("--no-baselines", action="store_true", help="evaluate the trained agent only")
    parser.add_argument("--viewer", default="simulated", choices=["simulated", "mirror"], help="mirror: diagnostic")
    parser.add_argument("--out", default=None, help="write the summaries here as JSON")
    parser.add_argument("--pictures", default=None, help="folder for the episode strips (and, with --merge, curves)")
    parser.add_argument("--merge", nargs="+", default=None, help="print the table of these JSON files and stop")
    parser.add_argument("--env-kwargs", default=None, help=argparse.SUPPRESS)  # tests: tiny classifiers
    args = parser.parse_args(argv)
    if args.merge:
        return _merge(args.merge, args.pictures)
    torch.set_num_threads(1)  # the figures the docs quote are per core
    env_kwargs = {**(json.loads(args.env_kwargs) if args.env_kwargs else {}), "viewer": args.viewer}
    viewers = range(args.viewers)
    results: dict[str, dict[str, dict]] = {}
    start = time.perf_counter()
    for seed in args.seeds:
        if not args.baselines_only:
            t0 = time.perf_counter()
            model = train_smile_agent(args.algo, args.timesteps, seed=seed, env_kwargs=env_kwargs, history=args.history)
            trained = time.perf_counter() - t0
            test_env = make_smile_env(args.algo, args.history, viewers=args.split, **env_kwargs)
            for actions in args.actions:
                deterministic = DETERMINISTIC[args.algo] if actions == "bundled" else actions == "deterministic"
                name = args.algo if actions == "bundled" else f"{args.algo} ({actions})"
                summary = summarise(evaluate(test_env, model, viewers, seed=seed, deterministic=deterministic))
                summary["train_seconds"] = trained
                results.setdefault(name, {})[str(seed)] = summary
                print(f"seed {seed}: {name} final true smile {summary['final_smile']:.3f} ({trained:.0f} s)")
            if args.pictures and seed == args.seeds[0]:
                Path(args.pictures).mkdir(parents=True, exist_ok=True)
                path = Path(args.pictures) / f"smile_strip_{args.algo}.png"
                _strip(test_env, model, 0, path, deterministic=DETERMINISTIC[args.algo])
        if not args.no_baselines:
            for name in SEARCHES:
                search = make_search(name, seed)
                test_env = gym.make("FERSmile-v0", action=search.action_mode, viewers=args.split, **env_kwargs)
                results.setdefault(name, {})[str(seed)] = summarise(evaluate(test_env, search, viewers, seed=seed))
                if args.pictures and name == "monte_carlo" and seed == args.seeds[0]:
                    Path(args.pictures).mkdir(parents=True, exist_ok=True)
                    _strip(test_env, make_search(name, seed), 0, Path(args.pictures) / "smile_strip_monte_carlo.png")
    _print_table(results, args.algo)
    out = {
        "algo": args.algo,
        "timesteps": DEFAULT_TIMESTEPS[args.algo] if args.timesteps is None else args.timesteps,
        "seeds": args.seeds,
        "viewers": args.viewers,
        "split": args.split,
        "results": results,
        "seconds": time.perf_counter() - start,
    }
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1)
    return out


if __name__ == "__main__":
    main()
