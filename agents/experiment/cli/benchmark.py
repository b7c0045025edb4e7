"""``fer-select benchmark`` and ``examples/benchmark.py``: one parser and one handler for both."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any

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
    budget_settings,
    check_input_file,
    check_non_negative,
    check_output_dir,
    check_output_file,
    classifier_config,
    exit_code,
    fail,
    int_list,
    load_dataset,
)
from agents.experiment.registry import agent_names, check_agent_names
from agents.experiment.settings import FINAL_SAMPLE_WEIGHTS, FINAL_VAL_LABELS, BenchmarkSettings, RLSettings
from agents.experiment.suite_runner import format_suite_tables, run_suite
from agents.experiment.suites import get_suite, suite_ids
from fer_select_env.models.classifier import MONITORS

BENCHMARK_DESCRIPTION = "Benchmark selectors on one dataset: learn a selection, train the final classifier on it, test."
BACKENDS: tuple[str, ...] = ("serial", "ray")


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fer-select benchmark`` and ``examples/benchmark.py`` (one implementation for both)."""
    add_data_arguments(parser)
    parser.add_argument(
        "--suite",
        default=None,
        metavar="NAME",
        help=f"run a named, versioned task suite instead of one dataset: {', '.join(suite_ids())} (a bare name "
        "takes its latest version); the suite fixes the datasets and seeds",
    )
    parser.add_argument(
        "--tasks",
        default=None,
        metavar="LIST",
        help="with --suite: run only these comma-separated tasks of the suite (to split it over processes)",
    )
    parser.add_argument(
        "--reuse",
        action="append",
        default=[],
        metavar="FILE",
        help="with --suite, repeatable: take the runs of this results file of the same suite instead of running "
        "them again (put a suite split with --tasks together in one file)",
    )
    parser.add_argument(
        "--fer2013",
        default=None,
        metavar="PATH",
        help="the FER2013 evaluation copy (fer2013.npz) or fer2013.csv, for the suite's fer2013 tasks",
    )
    parser.add_argument(
        "--agents",
        default=",".join(DEFAULT_AGENTS),
        metavar="LIST",
        help=f"comma-separated, from: {', '.join(agent_names())} (default: {','.join(DEFAULT_AGENTS)})",
    )
    parser.add_argument(
        "--seeds", type=int_list, default=None, metavar="LIST", help="comma-separated seeds (default: 0)"
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
    defaults = BenchmarkSettings()
    parser.add_argument(
        "--final-repeats",
        type=int,
        default=defaults.final_repeats,
        metavar="R",
        help=f"train each selection's final classifier R times with seeds shared by every agent and report the "
        f"mean (default {defaults.final_repeats})",
    )
    parser.add_argument(
        "--final-min-steps",
        type=int,
        default=defaults.final_min_steps,
        metavar="N",
        help="the final training takes at least N gradient steps before early stopping (the epoch cap rises to "
        f"fit them; default {defaults.final_min_steps}); 0: the classifier's epoch-based minimum only",
    )
    parser.add_argument(
        "--final-ema-epochs",
        type=float,
        default=defaults.final_ema_epochs,
        metavar="H",
        help="the final training validates and keeps a moving average of its weights over about H epochs "
        f"(default {defaults.final_ema_epochs}); 0: the weights themselves",
    )
    parser.add_argument(
        "--final-monitor",
        default=defaults.final_monitor,
        choices=MONITORS,
        help="what the final training early-stops on and keeps its best epoch by "
        f"(default {defaults.final_monitor}; the loss breaks ties)",
    )
    parser.add_argument(
        "--final-sample-weights",
        default=defaults.final_sample_weights,
        choices=FINAL_SAMPLE_WEIGHTS,
        help="none: the final training trains on the kept images; keep_probability: on every image with a keep "
        "probability above 0, each weighted by it, as DVRL does; class_normalised: the kept images, weighted by "
        "their keep probability over their class's mean (filters: their 0/1 mask; "
        f"default {defaults.final_sample_weights})",
    )
    parser.add_argument(
        "--final-val-labels",
        default=defaults.final_val_labels,
        choices=FINAL_VAL_LABELS,
        help="early-stop the final training on the dataset's validation labels or on their FER+ majority "
        f"(default {defaults.final_val_labels})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        metavar="N",
        help=f"PyTorch CPU threads for the whole run; results reproduce for a given N (default {defaults.threads}: "
        "independent of the machine's core count)",
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
    add_backend_arguments(parser)


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend`` and the Ray flags (docs/ray.md)."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="serial",
        help="serial: the runs one after the other in this process; ray: every (task, agent, seed) run a Ray "
        "task, with the same results.json (pip install 'fer-select[ray]'; default serial)",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="with --backend ray: a running Ray cluster, e.g. auto or HOST:6379 (default: start a local Ray for "
        "this command)",
    )
    parser.add_argument(
        "--ray-num-cpus",
        type=int,
        default=None,
        metavar="N",
        help="with --backend ray: the local Ray's CPUs (default: the machine's); each run takes --threads of them",
    )


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


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path before any work: a bad ``--out`` must not cost a whole run (a :class:`UsageError`)."""
    check_output_file("--out", args.out)
    for flag, value in (("--plots", args.plots), ("--tensorboard-log", args.tensorboard_log)):
        if value is not None:
            check_output_dir(flag, value)


def check_suite_arguments(args: argparse.Namespace) -> None:
    """A UsageError for flags that conflict with ``--suite`` or need it; ``--reuse`` files must exist."""
    if args.suite is None:
        if args.tasks is not None or args.reuse:
            raise UsageError("--tasks and --reuse need --suite")
        return
    if args.data is not None or args.seeds is not None:
        raise UsageError("--suite fixes the datasets and seeds: drop --data and --seeds")
    for path in args.reuse:
        check_input_file("--reuse", path)


def check_backend_arguments(args: argparse.Namespace) -> None:
    """A UsageError for Ray flags without ``--backend ray`` or that contradict each other, and for ``--backend
    ray`` without Ray installed (saying how to install it), before any work."""
    if args.backend != "ray":
        if args.ray_address is not None or args.ray_num_cpus is not None:
            raise UsageError("--ray-address and --ray-num-cpus need --backend ray")
        return
    if args.ray_num_cpus is not None:
        if args.ray_address is not None:
            raise UsageError("--ray-num-cpus sizes the local Ray: drop it with --ray-address (a cluster has its own)")
        if args.ray_num_cpus < args.threads:
            raise UsageError(f"--ray-num-cpus {args.ray_num_cpus} is below --threads {args.threads}: no run would fit")
    from agents.experiment.ray_backend import INSTALL_HINT, require_ray

    try:
        require_ray()
    except ImportError:
        raise UsageError(f"--backend ray needs Ray, which is not installed: {INSTALL_HINT}") from None


def backend_context(args: argparse.Namespace) -> contextlib.AbstractContextManager[Any]:
    """The backend of ``--backend`` as a context manager: ``None`` (the serial engine) or a Ray backend."""
    if args.backend != "ray":
        return contextlib.nullcontext()
    from agents.experiment.ray_backend import RayBackend

    return RayBackend(address=args.ray_address, num_cpus=args.ray_num_cpus)


def run_benchmark_command(args: argparse.Namespace, prog: str) -> int:
    """Run a parsed benchmark command line; returns the exit status (errors are one line on stderr)."""
    try:
        agents = check_agent_names(args.agents.split(","))
        check_non_negative(args, "episodes", "pretrain_episodes", "min_gradient_steps", "n_train")
        if args.final_min_steps is not None and args.final_min_steps < 0:
            raise UsageError("--final-min-steps must be >= 0")
        if args.final_ema_epochs is not None and not args.final_ema_epochs >= 0:
            raise UsageError("--final-ema-epochs must be >= 0")
        for flag in ("threads", "final_repeats"):
            if getattr(args, flag) < 1:
                raise UsageError(f"--{flag.replace('_', '-')} must be >= 1")
        config = classifier_config(args.classifier)
        check_outputs(args)
        check_suite_arguments(args)
        check_backend_arguments(args)
        if args.suite is not None:
            suite = get_suite(args.suite)
            dataset = name = None
        else:
            suite = None
            dataset, name = load_dataset(args)
    except (ValueError, UsageError, OSError) as exc:
        return fail(prog, exc)
    settings = BenchmarkSettings(
        rl=RLSettings(
            **budget_settings(args),
            tensorboard_log=args.tensorboard_log,
            progress_bar=args.progress,
        ),
        classifier_config=config,
        final_max_epochs=args.final_epochs,
        final_patience=args.final_patience,
        device=args.device,
        threads=args.threads,
        final_repeats=args.final_repeats,
        final_val_labels=args.final_val_labels,
        final_min_steps=args.final_min_steps or None,
        final_ema_epochs=args.final_ema_epochs or None,
        final_monitor=args.final_monitor,
        final_sample_weights=args.final_sample_weights,
    )
    started = time.perf_counter()

    def report(agent: str, run: dict) -> None:
        print(
            f"[{time.perf_counter() - started:7.0f}s] {agent} seed {run['seed']}: test macro-F1 "
            f"{run['test_macro_f1']:.3f}, kept {run['kept_fraction']:.3f}, removal F1 {run['removal_f1']}",
            flush=True,
        )

    try:
        with backend_context(args) as backend:
            if suite is not None:
                results = run_suite(
                    suite,
                    agents,
                    settings,
                    out=args.out,
                    fer2013_path=args.fer2013,
                    on_run=lambda task, agent, run: report(f"{task}/{agent}", run),
                    plots_dir=args.plots,
                    tasks=None if args.tasks is None else [t for t in args.tasks.split(",") if t],
                    reuse=args.reuse,
                    backend=backend,
                )
            else:
                results = run_benchmark(
                    dataset,
                    agents,
                    args.seeds or [0],
                    settings,
                    dataset_name=name,
                    out=args.out,
                    on_run=report,
                    plots_dir=args.plots,
                    backend=backend,
                )
    except (ValueError, OSError) as exc:
        return fail(prog, exc)
    except KeyboardInterrupt:
        print(
            f"\n{prog}: interrupted; the finished runs are in {args.out}, rerun the same command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print()
    print(format_suite_tables(results) if suite is not None else format_table(results))
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
