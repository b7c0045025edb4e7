"""What every ``fer-select`` subcommand shares: the parser class, the common flags, reading the dataset and
the classifier config, and the exit codes with their one-line errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from agents.experiment.registry import agent_specs
from agents.experiment.settings import MAX_PASS_FACTOR, SELECTION_RULES, RLSettings
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.npz import npz_members
from fer_select_env.data.resolve import DEFAULT_SCENARIO, load_or_make_synthetic
from fer_select_env.data.scenarios import SCENARIOS
from fer_select_env.envs.select.rewards import EQ2_BASELINES, REWARDS
from fer_select_env.models import ClassifierConfig

PROG = "fer-select"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (its default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-wrapped descriptions and epilogs; wider columns than argparse's default."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=110)


def agents_epilog(*, trainable: bool | None = None) -> str:
    """The help's list of agents with their one-line summaries, from the registry."""
    return "agents:\n" + "".join(f"  {s.name:<21}{s.summary}\n" for s in agent_specs(trainable=trainable))


# ---------------------------------------------------------------------------------------------- shared flags
def int_list(text: str) -> list[int]:
    """``--seeds``' type: comma-separated integers."""
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_data_arguments(parser: argparse.ArgumentParser, what: str = "the dataset") -> None:
    """``--data``, or the synthetic benchmark's ``--scenario`` and ``--n-train``."""
    parser.add_argument(
        "--data", metavar="FILE.npz", help=f"{what}: an .npz file in the FERDataset format (default: synthetic)"
    )
    parser.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        choices=sorted(SCENARIOS),
        help=f"noise of the synthetic benchmark when --data is not given (default: {DEFAULT_SCENARIO}, 30%%)",
    )
    parser.add_argument(
        "--n-train", type=int, default=5000, metavar="N", help="synthetic training images (default 5000)"
    )


def add_classifier_argument(parser: argparse.ArgumentParser) -> None:
    """``--classifier JSON``: ClassifierConfig fields."""
    parser.add_argument(
        "--classifier",
        default="{}",
        metavar="JSON",
        help='ClassifierConfig fields as JSON, e.g. \'{"width": 8, "max_epochs": 10}\' (default: the package default)',
    )


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """``--episodes`` and ``--pretrain-episodes``, with :class:`RLSettings`' defaults."""
    defaults = RLSettings()
    parser.add_argument(
        "--episodes",
        type=int,
        default=defaults.episodes,
        metavar="N",
        help=f"RL passes over the training set (default {defaults.episodes})",
    )
    parser.add_argument(
        "--pretrain-episodes",
        type=int,
        default=defaults.pretrain_episodes,
        metavar="N",
        help=f"REINFORCE passes with the classifier frozen, first; PPO runs them as extra passes "
        f"(default {defaults.pretrain_episodes})",
    )
    parser.add_argument(
        "--min-gradient-steps",
        type=int,
        default=defaults.min_gradient_steps,
        metavar="N",
        help="the budget in selector gradient steps: where the passes give fewer, both pass counts grow by the "
        f"same factor (at most {MAX_PASS_FACTOR}x) until they give N; 0: the passes as given "
        f"(default {defaults.min_gradient_steps})",
    )
    parser.add_argument(
        "--rl-selection",
        choices=SELECTION_RULES,
        default=defaults.selection_rule,
        help="how the trained policy's keep probabilities become the selection: policy_capped keeps an image "
        "iff its keep probability is above 1/2, with no class losing more than its estimated noise; policy "
        "is that decision uncapped; class_budget ranks each class by them and removes the share of its "
        f"estimated noise chosen on validation (default {defaults.selection_rule})",
    )

    parser.add_argument(
        "--eq2-baseline",
        choices=EQ2_BASELINES,
        default=None,
        help="the b of Eq. 2 in every RL selector's env, over each agent's own choice (default: the agent's; "
        "PPO's bundled per-step reward uses mean)",
    )
    parser.add_argument(
        "--rl-reward",
        choices=[r for r in REWARDS if r != "per_step"],
        default=None,
        help="the reward of every RL selector's env, over each agent's own choice: eq3 (Eq. 2-3), eq3_dvrl "
        "(Eq. 2 plus DVRL's validation reward for every image), dvrl, f1 (default: the agent's; PPO's "
        "bundled settings need its per_step reward)",
    )


def budget_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`RLSettings` fields of :func:`add_budget_arguments`' flags."""
    out: dict[str, Any] = {
        "episodes": args.episodes,
        "pretrain_episodes": args.pretrain_episodes,
        "min_gradient_steps": args.min_gradient_steps or None,
        "selection_rule": args.rl_selection,
    }
    env_kwargs = {}
    if getattr(args, "eq2_baseline", None) is not None:
        env_kwargs["baseline"] = args.eq2_baseline
    if getattr(args, "rl_reward", None) is not None:
        env_kwargs["reward"] = args.rl_reward
    if env_kwargs:
        out["extra_env_kwargs"] = env_kwargs
    return out


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device``."""
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")


# ---------------------------------------------------------------------------------------------- paths
def check_input_file(flag: str, text: str | os.PathLike, what: str = "file") -> Path:
    """``text`` as a path when it names an existing file: ``FileNotFoundError`` ("no such file") when nothing is
    there, a :class:`UsageError` when it is a directory (not ``what``: "file", "results.json file", ...)."""
    path = Path(text)
    if path.is_dir():
        raise UsageError(f"{flag}: {path} is a directory, not a {what}")
    if not path.is_file():
        raise FileNotFoundError(f"{flag}: no such file: {path}")
    return path


def _check_creatable(flag: str, path: Path) -> None:
    """A :class:`UsageError` unless ``path`` (which does not exist) can be created: its nearest existing
    ancestor must be a writable directory."""
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag}: cannot create {path}: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{flag}: cannot create {path}: the directory {ancestor} is not writable")


def check_output_file(flag: str, text: str | os.PathLike) -> Path:
    """``text`` as a path that a file can be written to (atomically: a temporary file beside it, then a
    rename), checked before any work: not a directory, in a writable directory; else a :class:`UsageError`."""
    path = Path(text)
    if path.is_dir():
        raise UsageError(f"{flag}: {path} is a directory; give a file name, e.g. {path / 'results.json'}")
    if path.exists() and not path.is_file():
        raise UsageError(f"{flag}: {path} exists and is not a regular file")
    if path.exists():
        if not os.access(path.absolute().parent, os.W_OK | os.X_OK):
            raise UsageError(f"{flag}: cannot replace {path}: its directory is not writable")
    else:
        _check_creatable(flag, path)
    return path


def check_output_dir(flag: str, text: str | os.PathLike) -> Path:
    """``text`` as a directory that exists and is writable or can be created, checked before any work; else a
    :class:`UsageError`."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag}: {path} exists and is not a directory")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{flag}: the directory {path} is not writable")
    else:
        _check_creatable(flag, path)
    return path


# ---------------------------------------------------------------------------------------------- reading flags
def read_npz_dataset(path: Path) -> FERDataset:
    """An npz in the public FERDataset format, or the FER2013 evaluation copy (``images``, ``labels``,
    ``usage``, ``ferplus_votes``), read with :func:`~fer_select_env.data.load_fer2013`."""
    try:
        keys = set(npz_members(path))  # headers only: every damage is a ValueError naming the file and key
    except ValueError as exc:
        raise ValueError(f"--data: {exc}") from None
    if "x_train" not in keys and {"images", "labels", "usage"} <= keys:
        from fer_select_env.data import load_fer2013

        return load_fer2013(path)
    return FERDataset.from_npz(path)


def load_dataset(args: argparse.Namespace) -> tuple[FERDataset, str]:
    """The dataset of ``--data`` (an npz file), or the synthetic benchmark of ``--scenario``/``--n-train``."""
    if args.data:
        path = check_input_file("--data", args.data)
        return read_npz_dataset(path), str(path)
    ds = load_or_make_synthetic(args.scenario, n_train=args.n_train)
    return ds, f"synthetic:{args.scenario}:n_train={args.n_train}"


def classifier_fields(text: str) -> dict[str, Any]:
    """``--classifier``'s JSON object, or a :class:`UsageError`."""
    try:
        fields = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--classifier: not valid JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise UsageError(f"--classifier: expected a JSON object of ClassifierConfig fields, got {text!r}")
    return fields


def classifier_config(text: str) -> ClassifierConfig:
    """The package default overridden by ``--classifier``'s fields."""
    return ClassifierConfig.from_dict(classifier_fields(text))


def check_non_negative(args: argparse.Namespace, *flags: str) -> None:
    """A :class:`UsageError` for the first of ``flags`` below 0."""
    for flag in flags:
        if getattr(args, flag) < 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 0")


def rl_settings(args: argparse.Namespace, config: ClassifierConfig, **kwargs: Any) -> RLSettings:
    """The RL budget of ``--episodes``/``--pretrain-episodes`` on ``--device`` with ``config``."""
    return RLSettings(
        **budget_settings(args),
        classifier_config=config,
        device=args.device,
        **kwargs,
    )


# ---------------------------------------------------------------------------------------------- errors
def one_line(exc: BaseException | str) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def fail(prog: str, exc: BaseException | str, code: int = EXIT_USAGE) -> int:
    """Report ``exc`` as ``PROG: error: ...`` on stderr; returns ``code``."""
    print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
    return code


def exit_code(exc: SystemExit) -> int:
    """The exit status argparse meant by raising ``exc``."""
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else EXIT_USAGE
