"""Benchmark selectors on one dataset: learn a selection, train the final classifier on it, test.

    python examples/benchmark.py                                   # keep_all, reinforce, ppo; synthetic default
    python examples/benchmark.py --data FILE.npz --agents keep_all,reinforce,reinforce_paper,ppo,feng,\
predicted_neq_given,small_loss,cleanlab,oracle --seeds 0,1,2 --out results.json

Without ``--data`` it runs the embedded synthetic benchmark; ``--scenario`` picks its noise. Every agent's
selection is evaluated with the same final training (a fresh classifier, early stopping on val, one test
evaluation). ``results.json`` is rewritten after every run; rerunning with the same ``--out`` skips the runs
it already holds, so an interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from agents.benchmark import (
    AGENT_NAMES,
    DEFAULT_AGENTS,
    BenchmarkSettings,
    check_agent_names,
    format_table,
    run_benchmark,
)
from agents.rl_selection import RLSettings
from fer_select_env.classifier import ClassifierConfig
from fer_select_env.data import SCENARIOS, FERDataset
from fer_select_env.data.resolve import load_or_make_synthetic


def _int_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmark.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data", help="an .npz file in the FERDataset format (default: the synthetic benchmark)")
    parser.add_argument(
        "--scenario",
        default="label_symmetric",
        choices=sorted(SCENARIOS),
        help="noise of the synthetic benchmark when --data is not given (default: label_symmetric, 30%%)",
    )
    parser.add_argument("--n-train", type=int, default=5000, help="synthetic training images (default 5000)")
    parser.add_argument(
        "--agents",
        default=",".join(DEFAULT_AGENTS),
        help=f"comma-separated, from: {', '.join(AGENT_NAMES)} (default: {','.join(DEFAULT_AGENTS)})",
    )
    parser.add_argument("--seeds", type=_int_list, default=[0], help="comma-separated seeds (default: 0)")
    parser.add_argument("--out", default="results.json", help="results file (default: results.json)")
    parser.add_argument("--episodes", type=int, default=15, help="RL passes over the training set (default 15)")
    parser.add_argument(
        "--pretrain-episodes", type=int, default=5, help="REINFORCE passes with the classifier frozen (default 5)"
    )
    parser.add_argument(
        "--classifier",
        default="{}",
        help='ClassifierConfig fields as JSON, e.g. \'{"width": 8, "max_epochs": 10}\' (default: the package default)',
    )
    parser.add_argument("--final-epochs", type=int, default=None, help="epoch cap of the final training")
    parser.add_argument("--tensorboard-log", default=None, help="TensorBoard directory for the RL agents")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--progress", action="store_true", help="progress bars")
    return parser


def load_data(args: argparse.Namespace) -> tuple[FERDataset, str]:
    if args.data:
        path = Path(args.data)
        if not path.is_file():
            raise FileNotFoundError(f"--data: no such file: {path}")
        return FERDataset.from_npz(path), str(path)
    ds = load_or_make_synthetic(args.scenario, n_train=args.n_train)
    return ds, f"synthetic:{args.scenario}:n_train={args.n_train}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        agents = check_agent_names(args.agents.split(","))
        for flag in ("episodes", "pretrain_episodes", "n_train"):
            if getattr(args, flag) < 0:
                raise ValueError(f"--{flag.replace('_', '-')} must be >= 0")
        classifier_config = ClassifierConfig.from_dict(json.loads(args.classifier))
        dataset, name = load_data(args)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"benchmark.py: error: {exc}", file=sys.stderr)
        return 2
    settings = BenchmarkSettings(
        rl=RLSettings(
            episodes=args.episodes,
            pretrain_episodes=args.pretrain_episodes,
            tensorboard_log=args.tensorboard_log,
            progress_bar=args.progress,
        ),
        classifier_config=classifier_config,
        final_max_epochs=args.final_epochs,
        device=args.device,
    )
    started = time.perf_counter()

    def report(agent: str, run: dict) -> None:
        print(
            f"[{time.perf_counter() - started:7.0f}s] {agent} seed {run['seed']}: test macro-F1 "
            f"{run['test_macro_f1']:.3f}, kept {run['kept_fraction']:.3f}, removal F1 {run['removal_f1']}",
            flush=True,
        )

    try:
        results = run_benchmark(dataset, agents, args.seeds, settings, dataset_name=name, out=args.out, on_run=report)
    except ValueError as exc:
        print(f"benchmark.py: error: {exc}", file=sys.stderr)
        return 2
    print()
    print(format_table(results))
    print(f"\nresults written to {args.out} ({time.perf_counter() - started:.0f} s)")
    if args.tensorboard_log:
        print(f"TensorBoard logs: tensorboard --logdir {args.tensorboard_log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
