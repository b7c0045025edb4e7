"""``fer-select train``: train an RL agent of the registry with a checkpoint after every unit, resumable."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from agents.experiment.checkpoint import MANIFEST, read_checkpoint, train_resumable
from agents.experiment.cli.args import (
    EXIT_INTERRUPTED,
    PROG,
    Formatter,
    UsageError,
    add_budget_arguments,
    add_classifier_argument,
    add_data_arguments,
    add_device_argument,
    agents_epilog,
    check_non_negative,
    check_output_dir,
    classifier_config,
    load_dataset,
    rl_settings,
)
from agents.experiment.registry import agent_names, get_agent, get_training
from agents.experiment.report import reference_report, selection_csv, summary_line, write_json, write_text
from agents.experiment.selector_io import selector_meta, write_selector
from agents.experiment.settings import RLSettings
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models import ClassifierConfig

TRAIN_EPILOG = """\
outputs in --out DIR:
  selector.zip     the trained selector (SB3 zip; REINFORCE.load or PPO.load unpickle it: trusted files only)
  selector.json    the env it expects (agent, observation mode, classifier config), the policy and, for PPO,
                   its observation statistics; `clean --selector` reads these and the zip's weights, no pickle
  history.json     one row per pass (pre-training passes carry "pretrain": 1)
  selection.csv    the final selection on this dataset: index,keep_probability,sample_reward,label,kept
  checkpoint/      the state after the last finished pass; --resume continues from it

examples:
  fer-select train --data faces.npz --agent reinforce --out runs/reinforce
  fer-select train --data faces.npz --agent reinforce --out runs/reinforce --resume   # after a Ctrl-C
"""


def add_train_command(sub: argparse._SubParsersAction) -> None:
    """``fer-select train`` as a subcommand."""
    train = sub.add_parser(
        "train",
        help="train an RL selector, checkpointing every pass (resumable)",
        description="Train an RL selector on a dataset with the benchmark's settings (agents.experiment.rl_selection),"
        "\nwith a checkpoint after every pass. --resume continues an interrupted run and ends with the same\n"
        "selector and selection as the uninterrupted run (on CPU).",
        epilog=TRAIN_EPILOG + "\n" + agents_epilog(trainable=True),
        formatter_class=Formatter,
    )
    add_data_arguments(train, "the training set")
    train.add_argument(
        "--agent",
        default="reinforce",
        help=f"the RL agent: {', '.join(agent_names(trainable=True))} (default: reinforce); "
        "other agents have nothing to train",
    )
    add_budget_arguments(train)
    train.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the agent and of the classifier (default 0)"
    )
    add_classifier_argument(train)
    train.add_argument("--tensorboard-log", default=None, metavar="DIR", help="TensorBoard directory (default: none)")
    add_device_argument(train)
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


def check_trainable(agent: str) -> None:
    """A :class:`UsageError` unless ``agent`` is an RL agent of the registry."""
    if not get_agent(agent).trainable:
        trainable = agent_names(trainable=True)
        raise UsageError(
            f"agent {agent!r} has nothing to train (only {', '.join(trainable)} do); "
            f"run `fer-select clean --agent {agent} ...` to apply it to a dataset"
        )


def train_identity(args: argparse.Namespace, config: ClassifierConfig, dataset: FERDataset) -> dict[str, Any]:
    """What a checkpoint must share with the command that resumes it (``--episodes`` may grow)."""
    settings = RLSettings()
    return {
        "agent": args.agent,
        "seed": int(args.seed),
        "pretrain_episodes": int(args.pretrain_episodes),
        "min_gradient_steps": args.min_gradient_steps or None,
        "classifier_config": config.to_dict(),
        "dataset_fingerprint": dataset.fingerprint(),
        "learning_rate": settings.learning_rate,
        "ppo_learning_rate": settings.ppo_learning_rate,
        "persistent_classifier": settings.persistent_classifier,
    }


def done_text(manifest: dict[str, Any]) -> str:
    """``3 passes``, ``1 rollout``: how far a checkpoint's run got."""
    done, unit = int(manifest.get("units_done", 0)), str(manifest.get("unit", "unit"))
    plural = {"pass": "passes"}.get(unit, unit + "s")
    return f"{done} {unit if done == 1 else plural}"


def check_resumable(manifest: dict[str, Any], identity: dict[str, Any], where: Path) -> None:
    """A :class:`UsageError` naming what differs between a checkpoint and the command resuming it."""
    saved = manifest.get("identity", {})
    differ = [k for k in identity if saved.get(k) != identity[k]]
    if differ:
        what = ", ".join(
            "dataset (the fingerprints differ)"
            if k == "dataset_fingerprint"
            else f"{k} ({saved.get(k)!r}, not {identity[k]!r})"
            for k in differ
        )
        raise UsageError(
            f"the checkpoint in {where} was made with a different {what}; "
            "rerun with its original flags, or choose another --out"
        )


def cmd_train(args: argparse.Namespace) -> int:
    """``fer-select train``: train an RL selector with a checkpoint after every pass; see docs/cli.md."""
    check_trainable(args.agent)
    check_non_negative(args, "episodes", "pretrain_episodes", "min_gradient_steps", "n_train")
    if args.stop_after_episodes is not None and args.stop_after_episodes < 0:
        raise UsageError("--stop-after-episodes must be >= 0")
    check_output_dir("--out", args.out)  # before any work
    if args.tensorboard_log is not None:
        check_output_dir("--tensorboard-log", args.tensorboard_log)
    config = classifier_config(args.classifier)
    dataset, name = load_dataset(args)
    out = Path(args.out)
    ckpt_dir = out / "checkpoint"
    identity = train_identity(args, config, dataset)
    checkpoint = read_checkpoint(ckpt_dir)
    if checkpoint is not None and not args.resume:
        raise UsageError(
            f"{ckpt_dir} holds a checkpoint ({done_text(checkpoint.manifest)} of "
            f"{checkpoint.manifest.get('total_units', '?')} done): add --resume to continue it, or choose another --out"
        )
    if args.resume:
        if checkpoint is None:
            print(f"{PROG} train: no valid checkpoint in {ckpt_dir} (no {MANIFEST}); starting from the beginning")
        else:
            check_resumable(checkpoint.manifest, identity, ckpt_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = rl_settings(args, config, tensorboard_log=args.tensorboard_log)
    n = len(dataset.y_train)
    total = get_training(args.agent).units(settings, n)[0]
    if checkpoint is not None and checkpoint.units_done > total:
        raise UsageError(
            f"the checkpoint in {ckpt_dir} has {done_text(checkpoint.manifest)}, more than --episodes "
            f"{args.episodes} asks for ({total}); give at least as many"
        )
    if checkpoint is not None:
        print(f"resuming {args.agent} from {ckpt_dir} after {done_text(checkpoint.manifest)}")
    else:
        passes = get_training(args.agent).effective_settings(settings, n)
        scaled = (passes.pretrain_episodes, passes.episodes) != (args.pretrain_episodes, args.episodes)
        print(
            f"training {args.agent} on {name} ({n} images): {passes.pretrain_episodes} pre-training + "
            f"{passes.episodes} passes"
            + (f" (scaled from {args.pretrain_episodes} + {args.episodes} by --min-gradient-steps)" if scaled else "")
            + f", seed {args.seed}; checkpoints in {ckpt_dir}",
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
        where = "no checkpoint was completed" if last is None else f"{done_text(last.manifest)} are checkpointed"
        print(
            f"\n{PROG} train: interrupted; {where} in {ckpt_dir}: rerun the same command with --resume to continue",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED

    meta = selector_meta(
        args.agent,
        run.env,
        config,
        dataset,
        name,
        seed=args.seed,
        episodes=args.episodes,
        pretrain_episodes=args.pretrain_episodes,
    )
    write_selector(run.model, meta, out / "selector.zip", run.vec_normalize)
    write_json(out / "history.json", run.history)
    selection = get_training(args.agent).select_pass(run.env, run.model, run.vec_normalize, args.seed, settings)
    selection.history = run.history
    write_text(out / "selection.csv", selection_csv(selection, dataset, only_kept=False))
    print(summary_line(selection, reference_report(selection, dataset)))
    print(f"selector: {out / 'selector.zip'} (+ selector.json), history: {out / 'history.json'}")
    print(f"selection: {out / 'selection.csv'}; apply it to a dataset with: {PROG} clean --selector {out}")
    if args.tensorboard_log:
        print(f"TensorBoard logs: tensorboard --logdir {args.tensorboard_log}")
    return 0
