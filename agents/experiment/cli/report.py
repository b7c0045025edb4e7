"""``fer-select report``: the Markdown tables of a ``results.json`` (a benchmark's or a suite's)."""

from __future__ import annotations

import argparse
import json

from agents.experiment.cli.args import Formatter, UsageError, check_input_file
from agents.experiment.results_tables import results_markdown


def add_report_command(sub: argparse._SubParsersAction) -> None:
    """``PROG report`` as a subcommand of the ``fer-select`` parser."""
    report = sub.add_parser(
        "report",
        help="print the Markdown tables of a results.json (what docs/results.md shows)",
        description="Print the Markdown tables of a benchmark's or a suite's results.json: mean over seeds with "
        "95 %% intervals,\nthe paired difference with keep_all, kept fraction, removal scores, FER+ columns, and "
        "a suite's aggregate.",
        formatter_class=Formatter,
    )
    report.add_argument("results", metavar="RESULTS.json", help="a file written by fer-select benchmark")
    report.set_defaults(handler=cmd_report, parser=report)


def cmd_report(args: argparse.Namespace) -> int:
    """Print the tables; a missing or malformed file is a one-line error."""
    path = check_input_file("RESULTS.json", args.results, what="results.json file")
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(results, dict) or not ({"agents", "tasks"} & set(results)):
        raise UsageError(f"{path}: not a results.json of fer-select benchmark (no 'agents' or 'tasks')")
    print(results_markdown(results), end="")
    return 0
