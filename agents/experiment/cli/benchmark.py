"""``fer-select benchmark`` and ``examples/benchmark.py``: one parser and one handler for both."""

from __future__ import annotations

import argparse
import sys
import time

from agents.experiment.benchmark import DEFAULT_AGENTS, format_table, run_benchmark
from agents.experiment.cli.args import (
    EXIT_INTERRUPTED,
    Formatter,
    Parser,
    UsageError,
    add_budget_arguments,
    add_classifier_argument,
    add_data_arguments,
    add_device_argument,
    agents_epilog,
    check_non_negative,
    classifier_config,
    exit_code,
    fail,
    int_list,
    load_dataset,
)
from agents.experiment.registry import agent_names, check_agent_names
from agents.experiment.settings import BenchmarkSettings, RLSettings

BENCHMARK_DESCRIPTION = "Benchmark selectors on one dataset: learn a selection, train the final classifier on it, test."


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fer-select benchmark`` and ``examples/benchmark.py`` (one implementation for both)."""
    add_data_arguments(parser)
    parser.add_argument(
        "--agents",
        default=",".join(DEFAULT_AGENTS),
        metavar="LIST",
        help=f"comma-separated, from: {', '.join(agent_names())} (default: {','.join(DEFAULT_AGENTS)})",
    )
    parser.add_argument(
        "--seeds", type=int_list, default=[0], metavar="LIST", help="comma-separated seeds (default: 0)"
    )
    parser.add_argument("--out", default="results.json", metavar="FILE", help="results file (default: results.json)")
    add_budget_arguments(parser)
    add_classifier_argument(parser)
    parser.add_argument(
        "--final-epochs", type=int, default=None, metavar="N", help="epoch cap of the final training (default: 20)"
    )
    parser.add_argument(
        "--final-patience", type=int, default=8, metavar="N", help="early-stopping patience of the final training"
    )
    parser.add_argument("--tensorboard-log", default=None, metavar="DIR", help="TensorBoard directory for RL agents")
    parser.add_argument(
        "--plots",
        default=None,
        metavar="DIR",
        help="write every run's pictures and the summary pictures (PNG) into DIR (default: none)",
    )
    add_device_argument(parser)
    parser.add_argument("--progress", action="store_true", help="progress bars")


def build_benchmark_parser(prog: str = "benchmark.py", description: str = BENCHMARK_DESCRIPTION) -> Parser:
    """The stand-alone parser of ``examples/benchmark.py``."""
    parser = Parser(prog=prog, description=description, epilog=agents_epilog(), formatter_class=Formatter)
    add_benchmark_arguments(parser)
    return parser


def add_benchmark_command(sub: argparse._SubParsersAction, prog: str) -> None:
    """``PROG benchmark`` as a subcommand of the ``fer-select`` parser."""
    bench = sub.add_parser(
        "benchmark",
        help="benchmark selectors: selection, final training, test metrics (results.json)",
        description=BENCHMARK_DESCRIPTION + "\n\nThe same engine and flags as examples/benchmark.py. results.json is "
        "rewritten after\nevery run; rerunning with the same --out skips the runs it already holds.",
        epilog=agents_epilog(),
        formatter_class=Formatter,
    )
    add_benchmark_arguments(bench)
    bench.set_defaults(handler=lambda args: run_benchmark_command(args, f"{prog} benchmark"), parser=bench)


def run_benchmark_command(args: argparse.Namespace, prog: str) -> int:
    """Run a parsed benchmark command line; returns the exit status (errors are one line on stderr)."""
    try:
        agents = check_agent_names(args.agents.split(","))
        check_non_negative(args, "episodes", "pretrain_episodes", "n_train")
        config = classifier_config(args.classifier)
        dataset, name = load_dataset(args)
    except (ValueError, UsageError, OSError) as exc:
        return fail(prog, exc)
    settings = BenchmarkSettings(
        rl=RLSettings(
            episodes=args.episodes,
            pretrain_episodes=args.pretrain_episodes,
            tensorboard_log=args.tensorboard_log,
            progress_bar=args.progress,
        ),
        classifier_config=config,
        final_max_epochs=args.final_epochs,
        final_patience=args.final_patience,
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
        results = run_benchmark(
            dataset,
            agents,
            args.seeds,
            settings,
            dataset_name=name,
            out=args.out,
            on_run=report,
            plots_dir=args.plots,
        )
    except ValueError as exc:
        return fail(prog, exc)
    except KeyboardInterrupt:
        print(
            f"\n{prog}: interrupted; the finished runs are in {args.out}, rerun the same command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print()
    print(format_table(results))
    print(f"\nresults written to {args.out} ({time.perf_counter() - started:.0f} s)")
    if args.plots:
        print(f"pictures in {args.plots}")
    if args.tensorboard_log:
        print(f"TensorBoard logs: tensorboard --logdir {args.tensorboard_log}")
    return 0


def benchmark_main(
    argv: list[str] | None = None, prog: str = "benchmark.py", description: str = BENCHMARK_DESCRIPTION
) -> int:
    """``examples/benchmark.py``'s entry point: parse ``argv`` and run the benchmark."""
    parser = build_benchmark_parser(prog, description)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exit_code(exc)
    return run_benchmark_command(args, prog)
