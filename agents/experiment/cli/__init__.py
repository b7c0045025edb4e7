"""The ``fer-select`` command line: ``train`` an RL selector, ``benchmark`` selectors, ``clean`` a dataset.

    fer-select train --data FILE.npz --agent reinforce --out runs/reinforce
    fer-select train --data FILE.npz --agent reinforce --out runs/reinforce --resume
    fer-select clean --data FILE.npz --agent cleanlab --out cleaned/
    fer-select clean --data OTHER.npz --selector runs/reinforce/selector.zip --out cleaned/
    fer-select benchmark --data FILE.npz --agents keep_all,reinforce,ppo --seeds 0,1,2
    fer-select sequence-benchmark --agents ppo --seeds 0,1,2,3,4 --out sequence.json

Every error is one line on stderr with a non-zero exit status (2 for bad input, 1 for an unexpected
failure, 130 for an interruption); set ``FER_SELECT_DEBUG=1`` to see the traceback of an unexpected one.

One module per subcommand (``train``, ``clean``, ``benchmark``) around the shared flags of ``args``.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from agents.common.inference import keep_probability_function
from agents.experiment.checkpoint import CheckpointError
from agents.experiment.cli.args import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    Formatter,
    Parser,
    UsageError,
    exit_code,
    fail,
    load_dataset,
    one_line,
    read_npz_dataset,
)
from agents.experiment.cli.benchmark import (
    BENCHMARK_DESCRIPTION,
    add_benchmark_arguments,
    add_benchmark_command,
    benchmark_main,
    build_benchmark_parser,
    run_benchmark_command,
)
from agents.experiment.cli.clean import NothingKept, add_clean_command, cmd_clean
from agents.experiment.cli.reasoning import add_reasoning_command
from agents.experiment.cli.report import add_report_command
from agents.experiment.cli.sequence import add_sequence_command
from agents.experiment.cli.train import add_train_command, cmd_train
from agents.experiment.report import CSV_COLUMNS, selection_csv
from agents.experiment.selector_io import SELECTOR_FORMAT, selector_selection, write_selector
from fer_select_env.data.dataset import FERDataset

__all__ = [
    "BENCHMARK_DESCRIPTION",
    "CSV_COLUMNS",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "PROG",
    "SELECTOR_FORMAT",
    "NothingKept",
    "UsageError",
    "add_benchmark_arguments",
    "benchmark_main",
    "build_benchmark_parser",
    "build_parser",
    "cmd_clean",
    "cmd_train",
    "keep_probability_function",
    "kept_subset",
    "load_dataset",
    "main",
    "read_npz_dataset",
    "run_benchmark_command",
    "selection_csv",
    "selector_selection",
    "stratified_subset",
    "write_selector",
]


def build_parser() -> Parser:
    """The ``fer-select`` parser with its subcommands."""
    parser = Parser(
        prog=PROG,
        description="RLPS-style data selection for facial expression recognition (FERSelect-v0).",
        epilog="run `fer-select COMMAND --help` for the flags of a command; docs/cli.md has the details",
        formatter_class=Formatter,
    )
    from fer_select_env import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_train_command(sub)
    add_benchmark_command(sub, PROG)
    add_clean_command(sub)
    add_report_command(sub)
    add_sequence_command(sub)
    add_reasoning_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``fer-select`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # reported by the subcommand, whose --help lists the flags
            args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exc:
        return exit_code(exc)
    prog = f"{PROG} {args.command}"
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, CheckpointError, ValueError, OSError) as exc:
        return fail(prog, exc)
    except NothingKept as exc:
        return fail(prog, exc, 1)
    except Exception as exc:
        if os.environ.get("FER_SELECT_DEBUG"):
            raise
        return fail(prog, f"unexpected {type(exc).__name__}: {one_line(exc)} (FER_SELECT_DEBUG=1 shows where)", 1)


# Kept names: dataset operations that lived here; they are FERDataset methods now.
def kept_subset(dataset: FERDataset, kept: np.ndarray) -> FERDataset:
    """Kept alias of :meth:`FERDataset.train_subset` (``kept`` is read as a boolean mask)."""
    return dataset.train_subset(np.asarray(kept, dtype=bool))


def stratified_subset(dataset: FERDataset, limit: int, seed: int) -> FERDataset:
    """Kept alias of :meth:`FERDataset.stratified_train_subset`."""
    return dataset.stratified_train_subset(limit, seed)
