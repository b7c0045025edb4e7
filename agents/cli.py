"""The ``fer-select`` command line: ``train`` an RL selector, ``benchmark`` selectors, ``clean`` a dataset.

    fer-select train --data FILE.npz --agent reinforce --out runs/reinforce
    fer-select train --data FILE.npz --agent reinforce --out runs/reinforce --resume
    fer-select clean --data FILE.npz --agent cleanlab --out cleaned/
    fer-select clean --data OTHER.npz --selector runs/reinforce/selector.zip --out cleaned/
    fer-select benchmark --data FILE.npz --agents keep_all,reinforce,ppo --seeds 0,1,2

Every error is one line on stderr with a non-zero exit status (2 for bad input, 1 for an unexpected
failure, 130 for an interruption); set ``FER_SELECT_DEBUG=1`` to see the traceback of an unexpected one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from agents.benchmark import (
    AGENT_NAMES,
    DEFAULT_AGENTS,
    RL_AGENTS,
    BenchmarkSettings,
    _jsonable,
    check_agent_names,
    format_table,
    library_versions,
    run_benchmark,
    select,
)
from agents.checkpoint import (
    AGENT_SPECS,
    MANIFEST,
    CheckpointError,
    load_vec_normalize,
    model_bytes,
    read_checkpoint,
    train_resumable,
    units_for,
    vec_normalize_bytes,
)
from agents.rl_selection import RLSettings, make_selection_env, selection_pass
from agents.selection import Selection
from fer_select_env.cache import atomic_write_bytes
from fer_select_env.classifier import ClassifierConfig
from fer_select_env.data.dataset import NOISE_CLEAN, FERDataset
from fer_select_env.data.ferplus import dataset_reference_report
from fer_select_env.data.resolve import DEFAULT_SCENARIO, load_or_make_synthetic
from fer_select_env.data.synthetic import SCENARIOS
from fer_select_env.metrics import keep_probability_by_noise_kind, removal_scores

PROG = "fer-select"
SELECTOR_FORMAT = 1
BENCHMARK_DESCRIPTION = "Benchmark selectors on one dataset: learn a selection, train the final classifier on it, test."
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


class NothingKept(Exception):
    """The selection removed every training image: reported as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (its default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=110)


# ---------------------------------------------------------------------------------------------- shared flags
def _int_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _add_data_arguments(parser: argparse.ArgumentParser, what: str = "the dataset") -> None:
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


def _add_classifier_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--classifier",
        default="{}",
        metavar="JSON",
        help='ClassifierConfig fields as JSON, e.g. \'{"width": 8, "max_epochs": 10}\' (default: the package default)',
    )


def _add_budget_arguments(parser: argparse.ArgumentParser) -> None:
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


def _add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")


def read_npz_dataset(path: Path) -> FERDataset:
    """An npz in the public FERDataset format, or the FER2013 evaluation copy (``images``, ``labels``,
    ``usage``, ``ferplus_votes``), read with :func:`~fer_select_env.data.load_fer2013`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
    except Exception as exc:
        raise ValueError(f"--data: {path} is not a readable npz file ({exc})") from None
    if "x_train" not in keys and {"images", "labels", "usage"} <= keys:
        from fer_select_env.data import load_fer2013

        return load_fer2013(path)
    return FERDataset.from_npz(path)


def load_dataset(args: argparse.Namespace) -> tuple[FERDataset, str]:
    """The dataset of ``--data`` (an npz file), or the synthetic benchmark of ``--scenario``/``--n-train``."""
    if args.data:
        path = Path(args.data)
        if not path.is_file():
            raise FileNotFoundError(f"--data: no such file: {path}")
        return read_npz_dataset(path), str(path)
    ds = load_or_make_synthetic(args.scenario, n_train=args.n_train)
    return ds, f"synthetic:{args.scenario}:n_train={args.n_train}"


def _classifier_config(text: str, base: dict[str, Any] | None = None) -> ClassifierConfig:
    try:
        fields = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--classifier: not valid JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise UsageError(f"--classifier: expected a JSON object of ClassifierConfig fields, got {text!r}")
    return ClassifierConfig.from_dict({**(base or {}), **fields})


def _check_non_negative(args: argparse.Namespace, *flags: str) -> None:
    for flag in flags:
        if getattr(args, flag) < 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 0")


# ---------------------------------------------------------------------------------------------- benchmark
def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fer-select benchmark`` and ``examples/benchmark.py`` (one implementation for both)."""
    _add_data_arguments(parser)
    parser.add_argument(
        "--agents",
        default=",".join(DEFAULT_AGENTS),
        metavar="LIST",
        help=f"comma-separated, from: {', '.join(AGENT_NAMES)} (default: {','.join(DEFAULT_AGENTS)})",
    )
    parser.add_argument(
        "--seeds", type=_int_list, default=[0], metavar="LIST", help="comma-separated seeds (default: 0)"
    )
    parser.add_argument("--out", default="results.json", metavar="FILE", help="results file (default: results.json)")
    _add_budget_arguments(parser)
    _add_classifier_argument(parser)
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
    _add_device_argument(parser)
    parser.add_argument("--progress", action="store_true", help="progress bars")


def build_benchmark_parser(prog: str = "benchmark.py", description: str = BENCHMARK_DESCRIPTION) -> _Parser:
    """The stand-alone parser of ``examples/benchmark.py``."""
    parser = _Parser(prog=prog, description=description, formatter_class=_Formatter)
    add_benchmark_arguments(parser)
    return parser


def run_benchmark_command(args: argparse.Namespace, prog: str) -> int:
    """Run a parsed benchmark command line; returns the exit status (errors are one line on stderr)."""
    try:
        agents = check_agent_names(args.agents.split(","))
        _check_non_negative(args, "episodes", "pretrain_episodes", "n_train")
        classifier_config = _classifier_config(args.classifier)
        dataset, name = load_dataset(args)
    except (ValueError, UsageError, OSError) as exc:
        return _fail(prog, exc)
    settings = BenchmarkSettings(
        rl=RLSettings(
            episodes=args.episodes,
            pretrain_episodes=args.pretrain_episodes,
            tensorboard_log=args.tensorboard_log,
            progress_bar=args.progress,
        ),
        classifier_config=classifier_config,
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
        return _fail(prog, exc)
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
        return _exit_code(exc)
    return run_benchmark_command(args, prog)


# ---------------------------------------------------------------------------------------------- train
def _rl_settings(args: argparse.Namespace, config: ClassifierConfig, **kwargs: Any) -> RLSettings:
    return RLSettings(
        episodes=args.episodes,
        pretrain_episodes=args.pretrain_episodes,
        classifier_config=config,
        device=args.device,
        **kwargs,
    )


def _check_trainable(agent: str) -> None:
    check_agent_names([agent])
    if agent not in RL_AGENTS:
        raise UsageError(
            f"agent {agent!r} has nothing to train (only {', '.join(RL_AGENTS)} do); "
            f"run `fer-select clean --agent {agent} ...` to apply it to a dataset"
        )


def _train_identity(args: argparse.Namespace, config: ClassifierConfig, dataset: FERDataset) -> dict[str, Any]:
    """What a checkpoint must share with the command that resumes it (``--episodes`` may grow)."""
    settings = RLSettings()
    return {
        "agent": args.agent,
        "seed": int(args.seed),
        "pretrain_episodes": int(args.pretrain_episodes),
        "classifier_config": config.to_dict(),
        "dataset_fingerprint": dataset.fingerprint(),
        "learning_rate": settings.learning_rate,
        "ppo_learning_rate": settings.ppo_learning_rate,
        "persistent_classifier": settings.persistent_classifier,
    }


def _done_text(manifest: dict[str, Any]) -> str:
    done, unit = int(manifest.get("units_done", 0)), str(manifest.get("unit", "unit"))
    plural = {"pass": "passes"}.get(unit, unit + "s")
    return f"{done} {unit if done == 1 else plural}"


def _check_resumable(manifest: dict[str, Any], identity: dict[str, Any], where: Path) -> None:
    saved = manifest.get("identity", {})
    differ = [k for k in identity if saved.get(k) != identity[k]]
    if differ:
        what = ", ".join(
            "the dataset" if k == "dataset_fingerprint" else f"{k} ({saved.get(k)!r}, not {identity[k]!r})"
            for k in differ
        )
        raise UsageError(
            f"the checkpoint in {where} was made with a different {what}; "
            "rerun with its original flags, or choose another --out"
        )


def cmd_train(args: argparse.Namespace) -> int:
    """``fer-select train``: train an RL selector with a checkpoint after every pass; see docs/cli.md."""
    _check_trainable(args.agent)
    _check_non_negative(args, "episodes", "pretrain_episodes", "n_train")
    if args.stop_after_episodes is not None and args.stop_after_episodes < 0:
        raise UsageError("--stop-after-episodes must be >= 0")
    config = _classifier_config(args.classifier)
    dataset, name = load_dataset(args)
    out = Path(args.out)
    ckpt_dir = out / "checkpoint"
    identity = _train_identity(args, config, dataset)
    checkpoint = read_checkpoint(ckpt_dir)
    if checkpoint is not None and not args.resume:
        raise UsageError(
            f"{ckpt_dir} holds a checkpoint ({_done_text(checkpoint.manifest)} of "
            f"{checkpoint.manifest.get('total_units', '?')} done): add --resume to continue it, or choose another --out"
        )
    if args.resume:
        if checkpoint is None:
            print(f"{PROG} train: no valid checkpoint in {ckpt_dir} (no {MANIFEST}); starting from the beginning")
        else:
            _check_resumable(checkpoint.manifest, identity, ckpt_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = _rl_settings(args, config, tensorboard_log=args.tensorboard_log)
    spec = AGENT_SPECS[args.agent]
    n = len(dataset.y_train)
    total = units_for(args.agent, settings, n)[0]
    if checkpoint is not None and checkpoint.units_done > total:
        raise UsageError(
            f"the checkpoint in {ckpt_dir} has {_done_text(checkpoint.manifest)}, more than --episodes "
            f"{args.episodes} asks for ({total}); give at least as many"
        )
    if checkpoint is not None:
        print(f"resuming {args.agent} from {ckpt_dir} after {_done_text(checkpoint.manifest)}")
    else:
        print(
            f"training {args.agent} on {name} ({n} images): {args.pretrain_episodes} pre-training + "
            f"{args.episodes} passes, seed {args.seed}; checkpoints in {ckpt_dir}",
            flush=True,
        )
    started = time.perf_counter()

    def report(done: int, total: int) -> None:
        if not args.progress:
            print(f"[{time.perf_counter() - started:7.0f}s] checkpoint {done}/{total}", flush=True)

    try:
        run = train_resumable(
            args.agent,
            dataset,
            args.seed,
            settings,
            ckpt_dir,
            identity=identity,
            resume=checkpoint,
            progress=args.progress,
            interrupt_after=args.stop_after_episodes,
            on_unit=report,
        )
    except KeyboardInterrupt:
        last = read_checkpoint(ckpt_dir)
        where = "no checkpoint was completed" if last is None else f"{_done_text(last.manifest)} are checkpointed"
        print(
            f"\n{PROG} train: interrupted; {where} in {ckpt_dir}: rerun the same command with --resume to continue",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED

    meta = {
        "format": SELECTOR_FORMAT,
        "agent": args.agent,
        "algorithm": spec.algorithm,
        "observation": spec.observation,
        "env_kwargs": dict(spec.env_kwargs),
        "observation_shape": list(run.env.observation_space.shape),
        "feature_dim": int(config.feature_dim),
        "num_classes": int(dataset.num_classes),
        "classifier_config": config.to_dict(),
        "seed": int(args.seed),
        "episodes": int(args.episodes),
        "pretrain_episodes": int(args.pretrain_episodes),
        "trained_on": {"dataset": name, "dataset_fingerprint": dataset.fingerprint(), "n_train": n},
        "versions": library_versions(),
    }
    write_selector(run.model, meta, out / "selector.zip", run.vec_normalize)
    _write_json(out / "history.json", run.history)
    selection = selection_pass(run.env, keep_probability_function(run.model, run.vec_normalize), args.seed)
    selection.history = run.history
    _write_text(out / "selection.csv", selection_csv(selection, dataset, only_kept=False))
    print(_summary_line(selection, dataset))
    print(f"selector: {out / 'selector.zip'} (+ selector.json), history: {out / 'history.json'}")
    print(f"selection: {out / 'selection.csv'}; apply it to a dataset with: {PROG} clean --selector {out}")
    if args.tensorboard_log:
        print(f"TensorBoard logs: tensorboard --logdir {args.tensorboard_log}")
    return 0


# ---------------------------------------------------------------------------------------------- selectors
def write_selector(model: Any, meta: dict[str, Any], path: Path, vec_normalize: Any = None) -> None:
    """The SB3 zip, ``<stem>.json`` describing the env it expects and, for PPO, ``<stem>_vecnormalize.pkl``
    (SB3's ``VecNormalize.save`` format) next to it; every file written atomically."""
    meta = dict(meta, vec_normalize=None)
    if vec_normalize is not None:
        stats = path.with_name(f"{path.stem}_vecnormalize.pkl")
        atomic_write_bytes(stats, vec_normalize_bytes(vec_normalize))
        meta["vec_normalize"] = stats.name
    atomic_write_bytes(path, model_bytes(model))
    _write_json(path.with_suffix(".json"), meta)


def keep_probability_function(model: Any, vec_normalize: Any = None) -> Any:
    """``obs -> P(keep)`` of a trained REINFORCE or PPO selector (as in ``agents.rl_selection``); PPO's
    observations go through the ``VecNormalize`` statistics it was trained with."""
    import torch as th

    from agents.reinforce import REINFORCE

    if isinstance(model, REINFORCE):

        def reinforce_p(obs: np.ndarray) -> float:
            with th.no_grad():
                return float(model.policy.keep_probability(th.as_tensor(obs[None], device=model.device)))

        return reinforce_p

    def ppo_p(obs: np.ndarray) -> float:
        batch = obs[None] if vec_normalize is None else vec_normalize.normalize_obs(obs[None])
        with th.no_grad():
            dist = model.policy.get_distribution(th.as_tensor(batch, device=model.device))
            return float(dist.distribution.probs[0, 1])

    return ppo_p


def _selector_paths(text: str) -> tuple[Path, Path]:
    path = Path(text)
    if path.is_dir():
        path = path / "selector.zip"
    if not path.is_file():
        raise FileNotFoundError(f"--selector: no such file: {path}")
    meta = path.with_suffix(".json")
    if not meta.is_file():
        raise UsageError(f"--selector: {meta} is missing; is {path} a selector saved by `{PROG} train`?")
    return path, meta


def _read_selector_meta(meta_path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as exc:
        raise UsageError(f"--selector: {meta_path} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != SELECTOR_FORMAT:
        raise UsageError(f"--selector: {meta_path} is not a selector description of format {SELECTOR_FORMAT}")
    agent = meta.get("agent")
    spec = AGENT_SPECS.get(agent)  # type: ignore[arg-type]
    if spec is None or meta.get("observation") != spec.observation or meta.get("algorithm") != spec.algorithm:
        raise UsageError(
            f"--selector: {meta_path} describes an unknown combination (agent {agent!r}, algorithm "
            f"{meta.get('algorithm')!r}, observation {meta.get('observation')!r})"
        )
    return meta


def selector_selection(
    selector: str, dataset: FERDataset, seed: int | None, args: argparse.Namespace
) -> tuple[Selection, dict[str, Any]]:
    """Score ``dataset`` with a selector saved by ``train``: one deterministic pass on a fresh env, no training."""
    path, meta_path = _selector_paths(selector)
    meta = _read_selector_meta(meta_path)
    spec = AGENT_SPECS[meta["agent"]]
    config = _classifier_config(args.classifier, base=meta.get("classifier_config"))
    seed = int(meta.get("seed", 0)) if seed is None else seed
    env = make_selection_env(dataset, spec.observation, seed, _rl_settings(args, config), **spec.env_kwargs)
    expected = tuple(meta.get("observation_shape", ()))
    if env.observation_space.shape != expected:
        raise UsageError(
            f"incompatible selector {path}: it takes {expected[0] if expected else '?'}-d {spec.observation} "
            f"observations (feature_dim {meta.get('feature_dim')}, {meta.get('num_classes')} classes), this "
            f"dataset gives {env.observation_space.shape[0]}-d ones (feature_dim {config.feature_dim}, "
            f"{dataset.num_classes} classes)"
        )
    try:
        model = spec.algorithm_class.load(path, device=args.device)
    except Exception as exc:  # a damaged or foreign zip: SB3 raises anything from KeyError to BadZipFile
        raise UsageError(f"cannot load selector {path}: {type(exc).__name__}: {exc}") from None
    if tuple(model.observation_space.shape) != env.observation_space.shape:
        raise UsageError(
            f"incompatible selector {path}: the model takes {model.observation_space.shape} observations but "
            f"{meta_path.name} and this dataset give {env.observation_space.shape}"
        )
    normalizer = None
    if spec.vec_normalize:
        from stable_baselines3.common.vec_env import DummyVecEnv

        stats = path.with_name(str(meta.get("vec_normalize") or f"{path.stem}_vecnormalize.pkl"))
        if not stats.is_file():
            raise UsageError(f"--selector: {stats} (the observation statistics of this PPO selector) is missing")
        try:
            normalizer = load_vec_normalize(stats, DummyVecEnv([lambda: env]))
        except Exception as exc:  # a damaged pickle or other spaces
            raise UsageError(f"cannot load {stats}: {type(exc).__name__}: {exc}") from None
        normalizer.training = False
    selection = selection_pass(env, keep_probability_function(model, normalizer), seed)
    selection.info.update(selector=str(path), observation=spec.observation)
    return selection, meta


# ---------------------------------------------------------------------------------------------- clean
CSV_COLUMNS: tuple[str, ...] = ("index", "keep_probability", "sample_reward", "label")


def selection_csv(selection: Selection, dataset: FERDataset, only_kept: bool) -> str:
    """``index,keep_probability,sample_reward,label`` (+ ``kept`` for every image); an empty
    ``sample_reward`` where the selector has none. Floats are written so that they read back exactly."""
    columns = CSV_COLUMNS if only_kept else (*CSV_COLUMNS, "kept")
    lines = [",".join(columns)]
    rewards = selection.sample_rewards
    for i in range(len(selection.kept)):
        if only_kept and not selection.kept[i]:
            continue
        row = [
            str(i),
            repr(float(selection.keep_probability[i])),
            "" if rewards is None else repr(float(rewards[i])),
            str(int(dataset.y_train[i])),
        ]
        if not only_kept:
            row.append(str(int(selection.kept[i])))
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def kept_subset(dataset: FERDataset, kept: np.ndarray) -> FERDataset:
    """The dataset with its train split (images, labels, noise_train, extras) restricted to ``kept``."""
    kept = np.asarray(kept, dtype=bool)
    return FERDataset.from_arrays(
        dataset.x_train[kept],
        dataset.y_train[kept],
        dataset.x_val,
        dataset.y_val,
        dataset.x_test,
        dataset.y_test,
        noise_train=None if dataset.noise_train is None else dataset.noise_train[kept],
        class_names=dataset.class_names,
        extras={k: v[kept] for k, v in dataset.extras.items()},
        extras_val=dataset.extras_val,
        extras_test=dataset.extras_test,
    )


def stratified_subset(dataset: FERDataset, limit: int, seed: int) -> FERDataset:
    """Keep ``limit`` training rows, the same fraction of every class, in file order; val and test unchanged."""
    n = len(dataset.y_train)
    if limit >= n:
        return dataset
    rng = np.random.default_rng(seed)
    keep = np.zeros(n, dtype=bool)
    for k in np.unique(dataset.y_train):
        idx = np.flatnonzero(dataset.y_train == k)
        take = max(1, round(limit * len(idx) / n))
        keep[rng.choice(idx, size=min(take, len(idx)), replace=False)] = True
    return kept_subset(dataset, keep)


def cmd_clean(args: argparse.Namespace) -> int:
    """``fer-select clean``: apply a selector to a dataset and write the kept subset; see docs/cli.md."""
    if args.agent is None and args.selector is None:
        raise UsageError(f"give --agent (one of {', '.join(AGENT_NAMES)}) or --selector")
    if args.agent is not None:
        check_agent_names([args.agent])
    _check_non_negative(args, "episodes", "pretrain_episodes", "n_train")
    meta: dict[str, Any] | None = None
    if args.selector is not None:
        _, meta_path = _selector_paths(args.selector)
        meta = _read_selector_meta(meta_path)
        if args.agent is not None and args.agent != meta["agent"]:
            raise UsageError(f"--selector was trained as {meta['agent']!r}, not --agent {args.agent!r}")
    config = _classifier_config(args.classifier)
    dataset, name = load_dataset(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.selector is not None:
        selection, meta = selector_selection(args.selector, dataset, args.seed, args)
        agent, seed = meta["agent"], int(meta["seed"]) if args.seed is None else args.seed
        print(f"scored {name} with the trained {agent} selector {args.selector}")
    else:
        agent, seed = args.agent, 0 if args.seed is None else args.seed
        if agent in RL_AGENTS:
            print(
                f"training {agent} on {name} ({args.pretrain_episodes} + {args.episodes} passes; "
                f"`{PROG} train` checkpoints and can resume) ...",
                flush=True,
            )
        settings = BenchmarkSettings(
            rl=RLSettings(episodes=args.episodes, pretrain_episodes=args.pretrain_episodes, progress_bar=args.progress),
            classifier_config=config,
            device=args.device,
        )
        selection = select(agent, dataset, seed, settings)
    _write_text(out / "all.csv", selection_csv(selection, dataset, only_kept=False))
    _write_text(out / "kept.csv", selection_csv(selection, dataset, only_kept=True))
    summary = _clean_summary(selection, dataset, agent, seed, name, args, time.perf_counter() - started)
    _write_json(out / "summary.json", summary)
    print(_summary_line(selection, dataset))
    npz = out / "kept.npz"
    if not selection.kept.any():
        npz.unlink(missing_ok=True)  # never leave an older run's subset next to this run's CSVs
        raise NothingKept(f"the selection keeps no training image: wrote {out / 'all.csv'} but no kept.npz")
    kept_subset(dataset, selection.kept).to_npz(npz)
    print(f"wrote {out / 'kept.csv'}, {out / 'all.csv'}, {npz} and {out / 'summary.json'}")
    return 0


def _clean_summary(
    selection: Selection,
    dataset: FERDataset,
    agent: str,
    seed: int,
    name: str,
    args: argparse.Namespace,
    seconds: float,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "agent": agent,
        "selector": args.selector,
        "dataset": name,
        "dataset_fingerprint": dataset.fingerprint(),
        "seed": seed,
        "n_train": len(selection.kept),
        "n_kept": int(selection.kept.sum()),
        "kept_fraction": selection.kept_fraction,
        "selection_seconds": seconds,
        "history": selection.history,
        "info": selection.info,
        "versions": library_versions(),
    }
    if dataset.noise_train is not None:
        summary.update(removal_scores(selection.kept, dataset.noise_train != NOISE_CLEAN))
        summary["keep_probability_by_noise_kind"] = keep_probability_by_noise_kind(
            selection.keep_probability, dataset.noise_train
        )
    reference = dataset_reference_report(dataset, selection.kept)
    if reference is not None:
        summary["ferplus_reference"] = reference
    return summary


def _summary_line(selection: Selection, dataset: FERDataset) -> str:
    n, k = len(selection.kept), int(selection.kept.sum())
    line = f"kept {k} of {n} training images ({selection.kept_fraction:.1%})"
    if dataset.noise_train is not None:
        scores = removal_scores(selection.kept, dataset.noise_train != NOISE_CLEAN)
        line += (
            f"; against the noise ground truth: removal precision {scores['removal_precision']:.3f}, "
            f"recall {scores['removal_recall']:.3f}, F1 {scores['removal_f1']:.3f}"
        )
    ref = dataset_reference_report(dataset, selection.kept)
    if ref is not None:
        line += (
            f"; labels disputed by the FER+ majority: {ref['removed_disagree_rate']:.1%} of the removed images, "
            f"{ref['kept_disagree_rate']:.1%} of the kept, {ref['base_disagree_rate']:.1%} of all"
        )
    return line


def _write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, json.dumps(_jsonable(value), indent=1, allow_nan=True).encode())


# ---------------------------------------------------------------------------------------------- parser
_TRAIN_EPILOG = """\
outputs in --out DIR:
  selector.zip     the trained selector (SB3 zip; load with REINFORCE.load or PPO.load)
  selector.json    the env it expects (agent, observation mode, classifier config), read by `clean --selector`
  selector_vecnormalize.pkl   PPO only: its observation statistics (SB3's VecNormalize.save format)
  history.json     one row per pass (pre-training passes carry "pretrain": 1)
  selection.csv    the final selection on this dataset: index,keep_probability,sample_reward,label,kept
  checkpoint/      the state after the last finished pass; --resume continues from it

examples:
  fer-select train --data faces.npz --agent reinforce --out runs/reinforce
  fer-select train --data faces.npz --agent reinforce --out runs/reinforce --resume   # after a Ctrl-C
"""

_CLEAN_EPILOG = """\
outputs in --out DIR:
  kept.csv       index,keep_probability,sample_reward,label of every kept image
  all.csv        the same columns plus kept (0/1) for every training image
  kept.npz       the dataset with its train split restricted to the kept images (FERDataset npz format)
  summary.json   kept fraction, removal scores against noise_train when the dataset has it, history

keep_probability doubles as a soft sample weight; sample_reward (R_i, Eq. 2) is empty for selectors
without one.

examples:
  fer-select clean --data faces.npz --agent cleanlab --out cleaned/
  fer-select clean --data new_faces.npz --selector runs/reinforce --out cleaned/
"""


def build_parser() -> _Parser:
    """The ``fer-select`` parser with its three subcommands."""
    parser = _Parser(
        prog=PROG,
        description="RLPS-style data selection for facial expression recognition (FERSelect-v0).",
        epilog="run `fer-select COMMAND --help` for the flags of a command; docs/cli.md has the details",
        formatter_class=_Formatter,
    )
    from fer_select_env import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = sub.add_parser(
        "train",
        help="train an RL selector, checkpointing every pass (resumable)",
        description="Train an RL selector on a dataset with the benchmark's settings (agents.rl_selection), with\n"
        "a checkpoint after every pass. --resume continues an interrupted run and ends with the same selector\n"
        "and selection as the uninterrupted run (on CPU).",
        epilog=_TRAIN_EPILOG,
        formatter_class=_Formatter,
    )
    _add_data_arguments(train, "the training set")
    train.add_argument(
        "--agent",
        default="reinforce",
        help=f"the RL agent: {', '.join(RL_AGENTS)} (default: reinforce); other agents have nothing to train",
    )
    _add_budget_arguments(train)
    train.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the agent and of the classifier (default 0)"
    )
    _add_classifier_argument(train)
    train.add_argument("--tensorboard-log", default=None, metavar="DIR", help="TensorBoard directory (default: none)")
    _add_device_argument(train)
    train.add_argument("--progress", action="store_true", help="a progress bar over the training steps")
    train.add_argument("--out", required=True, metavar="DIR", help="output directory (created if needed)")
    train.add_argument(
        "--resume", action="store_true", help="continue from the last complete checkpoint in DIR/checkpoint"
    )
    train.add_argument(
        "--stop-after-episodes",
        type=int,
        default=None,
        metavar="K",
        help="testing aid: simulate a Ctrl-C in the pass after the K-th checkpoint",
    )
    train.set_defaults(handler=cmd_train, parser=train)

    bench = sub.add_parser(
        "benchmark",
        help="benchmark selectors: selection, final training, test metrics (results.json)",
        description=BENCHMARK_DESCRIPTION + "\n\nThe same engine and flags as examples/benchmark.py. results.json is "
        "rewritten after\nevery run; rerunning with the same --out skips the runs it already holds.",
        formatter_class=_Formatter,
    )
    add_benchmark_arguments(bench)
    bench.set_defaults(handler=lambda args: run_benchmark_command(args, f"{PROG} benchmark"), parser=bench)

    clean = sub.add_parser(
        "clean",
        help="apply a selector to a dataset; write the kept subset (CSV and npz)",
        description="Apply a selector (any benchmark agent, or a selector saved by `train`) to a dataset and\n"
        "write what it keeps.",
        epilog=_CLEAN_EPILOG,
        formatter_class=_Formatter,
    )
    _add_data_arguments(clean, "the dataset to clean")
    clean.add_argument("--agent", default=None, help=f"the selector, one of: {', '.join(AGENT_NAMES)}")
    clean.add_argument(
        "--selector",
        default=None,
        metavar="PATH",
        help="a selector saved by `train` (its selector.zip, or its --out DIR): scores the dataset without training",
    )
    clean.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="seed of the selector and the classifier (default: the selector's training seed with --selector, else 0)",
    )
    _add_budget_arguments(clean)
    _add_classifier_argument(clean)
    _add_device_argument(clean)
    clean.add_argument("--progress", action="store_true", help="progress bars while an RL agent trains")
    clean.add_argument("--out", required=True, metavar="DIR", help="output directory (created if needed)")
    clean.set_defaults(handler=cmd_clean, parser=clean)
    return parser


# ---------------------------------------------------------------------------------------------- main
def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _fail(prog: str, exc: BaseException | str, code: int = EXIT_USAGE) -> int:
    print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
    return code


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """The ``fer-select`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # reported by the subcommand, whose --help lists the flags
            args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exc:
        return _exit_code(exc)
    prog = f"{PROG} {args.command}"
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, CheckpointError, ValueError, OSError) as exc:
        return _fail(prog, exc)
    except NothingKept as exc:
        return _fail(prog, exc, 1)
    except Exception as exc:
        if os.environ.get("FER_SELECT_DEBUG"):
            raise
        return _fail(prog, f"unexpected {type(exc).__name__}: {_one_line(exc)} (FER_SELECT_DEBUG=1 shows where)", 1)


if __name__ == "__main__":
    sys.exit(main())
