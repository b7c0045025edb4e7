"""``python -m agents.zoo ALGO``: print the path of the shipped rl-zoo3 hyperparameter file, for ``-conf``."""

from __future__ import annotations

import argparse
import sys

from agents.zoo import ZOO_ALGOS, zoo_hyperparams_path


def main(argv: list[str] | None = None) -> int:
    """Print the path of ``ALGO``'s shipped file (see :func:`agents.zoo.zoo_hyperparams_path`)."""
    parser = argparse.ArgumentParser(prog="python -m agents.zoo", description=__doc__)
    parser.add_argument("algo", choices=ZOO_ALGOS, help="the algorithm whose rl-zoo3 hyperparameter file to print")
    args = parser.parse_args(argv)
    print(zoo_hyperparams_path(args.algo))
    return 0


if __name__ == "__main__":
    sys.exit(main())
