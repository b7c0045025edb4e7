"""``fer-select clean``: apply a selector (any registered agent, or one saved by ``train``) to a dataset and
write what it keeps."""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from pathlib import Path
from typing import Any

from agents.common.selection import Selection
from agents.experiment.benchmark import select
from agents.experiment.cli.args import (
    PROG,
    Formatter,
    UsageError,
    add_budget_arguments,
    add_classifier_argument,
    add_data_arguments,
    add_device_argument,
    agents_epilog,
    budget_settings,
    check_non_negative,
    check_output_dir,
    classifier_config,
    classifier_fields,
    load_dataset,
)
from agents.experiment.registry import agent_names, get_agent
from agents.experiment.report import (
    library_versions,
    reference_report,
    selection_csv,
    summary_line,
    write_json,
    write_text,
)
from agents.experiment.selector_io import read_selector_meta, selector_paths, selector_selection
from agents.experiment.settings import BenchmarkSettings, RLSettings
from fer_select_env.data.dataset import FERDataset
from fer_select_env.models import ClassifierConfig
from fer_select_env.models.chance import (
    ChanceCheck,
    ClassifierNearChanceWarning,
    pretrained_classifier_check,
    warn_if_near_chance,
)

CLEAN_EPILOG = """\
outputs in --out DIR:
  kept.csv       index,keep_probability,sample_reward,label of every kept image
  all.csv        the same columns plus kept (0/1) for every training image
  kept.npz       the dataset with its train split restricted to the kept images (FERDataset npz format),
                 and each kept image's keep_probability as the train extra sample_weight (extra__sample_weight)
  summary.json   kept fraction, removal scores against noise_train when the dataset has it, history, and
                 classifier_check: the pre-trained classifier's validation accuracy against chance (a
                 ClassifierNearChanceWarning is printed when it is near chance)

keep_probability doubles as a soft sample weight; sample_reward (R_i, Eq. 2) is empty for selectors
without one.

a selector that relabels (reinforce_relabel, ferplus_relabel) adds the columns relabelled (1 where the
image trains on another label than its given one) and new_label (the label it trains on) after label, in
both CSVs; kept.npz then holds the new labels as y_train and the given ones as the train extra y_train_given
(extra__y_train_given; an input that has it already keeps it: the labels before any relabelling), and
summary.json counts them (n_relabelled).

examples:
  fer-select clean --data faces.npz --agent cleanlab --out cleaned/
  fer-select clean --data new_faces.npz --selector runs/reinforce --out cleaned/
"""


class NothingKept(Exception):
    """The selection removed every training image: reported as one line, exit status 1."""


def add_clean_command(sub: argparse._SubParsersAction) -> None:
    """``fer-select clean`` as a subcommand."""
    clean = sub.add_parser(
        "clean",
        help="apply a selector to a dataset; write the kept subset (CSV and npz)",
        description="Apply a selector (any benchmark agent, or a selector saved by `train`) to a dataset and\n"
        "write what it keeps.",
        epilog=CLEAN_EPILOG + "\n" + agents_epilog(),
        formatter_class=Formatter,
    )
    add_data_arguments(clean, "the dataset to clean")
    clean.add_argument("--agent", default=None, help=f"the selector, one of: {', '.join(agent_names())}")
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
    add_budget_arguments(clean)
    add_classifier_argument(clean)
    add_device_argument(clean)
    clean.add_argument("--progress", action="store_true", help="progress bars while an RL agent trains")
    clean.add_argument("--out", required=True, metavar="DIR", help="output directory (created if needed)")
    clean.set_defaults(handler=cmd_clean, parser=clean)


def cmd_clean(args: argparse.Namespace) -> int:
    """``fer-select clean``: apply a selector to a dataset and write the kept subset; see docs/cli.md."""
    if args.agent is None and args.selector is None:
        raise UsageError(f"give --agent (one of {', '.join(agent_names())}) or --selector")
    if args.agent is not None:
        get_agent(args.agent)
    check_non_negative(args, "episodes", "pretrain_episodes", "min_gradient_steps", "n_train")
    check_output_dir("--out", args.out)  # before any work
    if args.selector is not None:
        _, meta_path = selector_paths(args.selector)
        meta = read_selector_meta(meta_path)
        if args.agent is not None and args.agent != meta["agent"]:
            raise UsageError(f"--selector was trained as {meta['agent']!r}, not --agent {args.agent!r}")
    config = classifier_config(args.classifier)
    dataset, name = load_dataset(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with warnings.catch_warnings():
        # The env warns at its first reset; the summary says it once, for every kind of selector.
        warnings.simplefilter("ignore", ClassifierNearChanceWarning)
        selection, agent, seed, config = _selection(args, dataset, name, config)
    seconds = time.perf_counter() - started
    check = pretrained_classifier_check(dataset, config, seed=seed, device=args.device, only_cached=True)
    write_text(out / "all.csv", selection_csv(selection, dataset, only_kept=False))
    write_text(out / "kept.csv", selection_csv(selection, dataset, only_kept=True))
    report = reference_report(selection, dataset)
    summary = clean_summary(selection, dataset, agent, seed, name, args.selector, seconds)
    summary["classifier_check"] = None if check is None else check.to_dict()
    write_json(out / "summary.json", {**summary, **report})
    print(summary_line(selection, report))
    _warn_near_chance(check, agent)
    npz = out / "kept.npz"
    if not selection.kept.any():
        npz.unlink(missing_ok=True)  # never leave an older run's subset next to this run's CSVs
        raise NothingKept(f"the selection keeps no training image: wrote {out / 'all.csv'} but no kept.npz")
    subset = relabelled_train_subset(dataset, selection)
    # The soft weights travel with the subset (FERDataset.from_npz(...).extras["sample_weight"]); 1.0 throughout
    # for the filters. An input extra of that name (a cleaned file cleaned again) is replaced.
    subset.extras["sample_weight"] = selection.keep_probability[selection.kept]
    subset.to_npz(npz)
    print(f"wrote {out / 'kept.csv'}, {out / 'all.csv'}, {npz} and {out / 'summary.json'}")
    return 0


def relabelled_train_subset(dataset: FERDataset, selection: Selection) -> FERDataset:
    """``dataset`` with its train split restricted to the kept images and, for a selection with
    ``train_labels``, trained on those labels: they become ``y_train``, and the given labels the train extra
    ``y_train_given``, so nothing is lost. An input that has ``y_train_given`` already (a relabelled file
    cleaned again) keeps it: it holds the labels before any relabelling."""
    subset = dataset.train_subset(selection.kept)
    if selection.train_labels is None:
        return subset
    extras = dict(subset.extras)
    extras.setdefault("y_train_given", subset.y_train)
    return dataclasses.replace(subset, y_train=selection.train_labels[selection.kept], extras=extras)


def _warn_near_chance(check: ChanceCheck | None, agent: str) -> None:
    """The summary's warning when the classifier the selection used is near chance (none used: no check)."""
    if check is not None:
        warn_if_near_chance(check, f"the pre-trained classifier behind {agent!r}", stacklevel=2)


def _selection(
    args: argparse.Namespace, dataset: FERDataset, name: str, config: ClassifierConfig
) -> tuple[Selection, str, int, ClassifierConfig]:
    """Run the selector ``args`` name: ``(selection, agent, seed, the classifier config it used)``."""
    if args.selector is not None:
        fields = classifier_fields(args.classifier)
        selection, meta = selector_selection(
            args.selector,
            dataset,
            args.seed,
            classifier_fields=fields,
            device=args.device,
            selection_rule=args.rl_selection,
        )
        agent, seed = meta["agent"], int(meta["seed"]) if args.seed is None else args.seed
        print(f"scored {name} with the trained {agent} selector {args.selector}")
        # the config selector_selection builds the env with: the saved one, overridden by --classifier
        used = ClassifierConfig.from_dict({**(meta.get("classifier_config") or {}), **(fields or {})})
        return selection, agent, seed, used
    agent, seed = args.agent, 0 if args.seed is None else args.seed
    if get_agent(agent).trainable:
        print(
            f"training {agent} on {name} ({args.pretrain_episodes} + {args.episodes} passes; "
            f"`{PROG} train` checkpoints and can resume) ...",
            flush=True,
        )
    settings = BenchmarkSettings(
        rl=RLSettings(**budget_settings(args), progress_bar=args.progress),
        classifier_config=config,
        device=args.device,
    )
    return select(agent, dataset, seed, settings), agent, seed, config


def _relabel_counts(selection: Selection, dataset: FERDataset) -> dict[str, int]:
    """``n_relabelled``: the kept images that train on another label than their given one (only for a
    selection that relabels)."""
    if selection.train_labels is None:
        return {}
    return {"n_relabelled": int((selection.kept & (selection.train_labels != dataset.y_train)).sum())}


def clean_summary(
    selection: Selection,
    dataset: FERDataset,
    agent: str,
    seed: int,
    name: str,
    selector: str | None,
    seconds: float,
) -> dict[str, Any]:
    """``summary.json`` without the :func:`~agents.experiment.report.reference_report` that follows it."""
    return {
        "agent": agent,
        "selector": selector,
        "dataset": name,
        "dataset_fingerprint": dataset.fingerprint(),
        "seed": seed,
        "n_train": len(selection.kept),
        "n_kept": int(selection.kept.sum()),
        "kept_fraction": selection.kept_fraction,
        **_relabel_counts(selection, dataset),
        "selection_seconds": seconds,
        "history": selection.history,
        "info": selection.info,
        "versions": library_versions(),
    }
