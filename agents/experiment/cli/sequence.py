"""``fer-select sequence-benchmark``: RL agents on FERSequence-v0 against the confidence-threshold front."""

from __future__ import annotations

import argparse

from agents.experiment.cli.args import (
    Formatter,
    UsageError,
    check_input_file,
    check_output_file,
    classifier_fields,
    int_list,
)
from agents.sequence.settings import (
    DEFAULT_TIMESTEPS,
    INITIAL_WAIT_PROBABILITY,
    POSTERIOR_JITTER,
    SEQUENCE_ALGORITHMS,
)


def _float_list(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _timesteps(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or name not in SEQUENCE_ALGORITHMS or not value.isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(
                f"expected AGENT=STEPS pairs (agents {sorted(SEQUENCE_ALGORITHMS)}), got {item!r}"
            )
        out[name] = int(value)
    return out


def add_sequence_command(sub: argparse._SubParsersAction) -> None:
    """``PROG sequence-benchmark`` as a subcommand of the ``fer-select`` parser."""
    p = sub.add_parser(
        "sequence-benchmark",
        help="benchmark early recognition on FERSequence-v0 (RL agents against the threshold front)",
        description="Per seed: render synthetic face sequences, train the frozen sequence classifier (cached), train\n"
        "each RL agent at each wait penalty λ on the val identities, and score everything on the test identities:\n"
        "accuracy, earliness, HM, AvgCost, return, against last_frame, threshold(τ) and the oracle.",
        epilog="agents:\n"
        + "".join(
            f"  {k:<15}{v} (default budget {DEFAULT_TIMESTEPS[k]} steps)\n" for k, v in SEQUENCE_ALGORITHMS.items()
        ),
        formatter_class=Formatter,
    )
    p.add_argument("--agents", default="ppo", help="comma-separated agents (default: ppo)")
    p.add_argument("--seeds", type=int_list, default=[0, 1, 2, 3, 4], help="comma-separated seeds (default 0,1,2,3,4)")
    p.add_argument(
        "--wait-penalties", type=_float_list, default=None, metavar="LIST", help="λ values (default 0,0.01,0.03,0.1)"
    )
    p.add_argument(
        "--timesteps", type=_timesteps, default={}, metavar="A=N,...", help="training budgets, e.g. ppo=50000"
    )
    p.add_argument("--n-subjects", type=int, default=None, metavar="N", help="synthetic identities (default 300)")
    p.add_argument(
        "--classifier",
        default="{}",
        metavar="JSON",
        help='SequenceClassifierConfig fields, e.g. \'{"kind": "convlstm"}\'',
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the figures are per core)")
    p.add_argument("--out", required=True, metavar="RESULTS.json", help="results file (a rerun resumes its seeds)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw accuracy against earliness with the front")
    p.add_argument(
        "--no-curriculum", action="store_true", help="ablation: PPO learns at λ from the start (no λ curriculum)"
    )
    p.add_argument(
        "--initial-wait-probability",
        type=float,
        default=INITIAL_WAIT_PROBABILITY,
        metavar="P",
        help=f"P(wait) of the initial PPO policy (default {INITIAL_WAIT_PROBABILITY}; 0 = SB3's initialisation)",
    )
    p.add_argument(
        "--posterior-jitter",
        type=float,
        default=POSTERIOR_JITTER,
        metavar="SIGMA",
        help=f"σ of the noise on log p_t in PPO's training envs (default {POSTERIOR_JITTER}; 0 = none)",
    )
    p.add_argument(
        "--reuse",
        action="append",
        default=[],
        metavar="FILE",
        help="take the seeds of another results file of the same settings (repeatable; parallel runs)",
    )
    p.set_defaults(handler=cmd_sequence_benchmark, parser=p)


def cmd_sequence_benchmark(args: argparse.Namespace) -> int:
    """Run the benchmark and print its summary table."""
    from agents.experiment.sequence_benchmark import (
        DEFAULT_WAIT_PENALTIES,
        SequenceBenchmarkSettings,
        run_sequence_benchmark,
        sequence_markdown,
        sequence_plot,
    )

    out = check_output_file("--out", args.out)
    plot = check_output_file("--plot", args.plot) if args.plot else None
    agents = tuple(a.strip() for a in args.agents.split(",") if a.strip())
    unknown = [a for a in agents if a not in SEQUENCE_ALGORITHMS]
    if unknown or not agents:
        raise UsageError(f"--agents: unknown {unknown or 'none given'}; choices are {sorted(SEQUENCE_ALGORITHMS)}")
    if args.threads < 1:
        raise UsageError(f"--threads: must be >= 1, got {args.threads}")
    if not args.posterior_jitter >= 0:  # also refuses nan
        raise UsageError(f"--posterior-jitter: must be >= 0, got {args.posterior_jitter}")
    dataset_kwargs = {} if args.n_subjects is None else {"n_subjects": args.n_subjects}
    settings = SequenceBenchmarkSettings(
        agents=agents,
        seeds=tuple(args.seeds),
        wait_penalties=tuple(args.wait_penalties or DEFAULT_WAIT_PENALTIES),
        timesteps=args.timesteps,
        dataset_kwargs=dataset_kwargs,
        classifier=classifier_fields(args.classifier),
        threads=args.threads,
        curriculum=not args.no_curriculum,
        initial_wait_probability=args.initial_wait_probability or None,
        posterior_jitter=args.posterior_jitter or None,
    )
    reuse = [check_input_file("--reuse", path) for path in args.reuse]
    results = run_sequence_benchmark(settings, out, reuse=reuse)
    print(sequence_markdown(results), end="")
    if plot is not None:
        print(f"picture: {sequence_plot(results, plot)}")
    return 0


__all__ = ["add_sequence_command", "cmd_sequence_benchmark"]
