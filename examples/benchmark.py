"""Benchmark selectors on one dataset: learn a selection, train the final classifier on it, test.

    python examples/benchmark.py                                   # keep_all, reinforce, ppo; synthetic default
    python examples/benchmark.py --data FILE.npz --agents keep_all,reinforce,reinforce_paper,ppo,feng,\
predicted_neq_given,small_loss,cleanlab,oracle --seeds 0,1,2 --out results.json

Without ``--data`` it runs the embedded synthetic benchmark; ``--scenario`` picks its noise. Every agent's
selection is evaluated with the same final training (a fresh classifier, early stopping on val, one test
evaluation). ``results.json`` is rewritten after every run; rerunning with the same ``--out`` skips the runs
it already holds, so an interrupted benchmark resumes where it stopped.

The same engine and flags as ``fer-select benchmark``: both use the parser in ``agents.experiment.cli``.
"""

from __future__ import annotations

import argparse
import sys

from agents.experiment.cli import benchmark_main, build_benchmark_parser


def build_parser() -> argparse.ArgumentParser:
    return build_benchmark_parser(prog="benchmark.py", description=__doc__.split("\n\n")[0])


def main(argv: list[str] | None = None) -> int:
    return benchmark_main(argv, prog="benchmark.py", description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
