"""The benchmark engine behind ``examples/benchmark.py``: learn a selection, train the final classifier on
it with one protocol for every agent (early stopping on val), evaluate on test, write ``results.json``.

Ground truth (``noise_train``) feeds only the detection metrics and the ``oracle`` ceiling.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.common.selection import Selection
from agents.experiment.registry import agent_names, check_agent_names, get_agent
from agents.experiment.report import (
    CLASSIFIER_CHECK_KEY,
    classifier_checks,
    jsonable,
    library_versions,
    near_chance_note,
    reference_report,
    write_json,
)
from agents.experiment.settings import BenchmarkSettings, RLSettings
from fer_select_env.core.metrics import classification_summary
from fer_select_env.core.seeding import derive_seed, thread_limit
from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.ferplus import ferplus_split_labels
from fer_select_env.models import EmotionClassifier

__all__ = [
    "DEFAULT_AGENTS",
    "RESULTS_FORMAT",
    "BenchmarkPlan",
    "BenchmarkSettings",
    "Cell",
    "CellBackend",
    "RLSettings",
    "check_agent_names",
    "final_sample_weight",
    "final_seed",
    "final_training",
    "format_noise_floor",
    "format_table",
    "kept_fraction_by_class",
    "library_versions",
    "noise_floor",
    "prepare_benchmark",
    "repeated_final_training",
    "run_benchmark",
    "run_one",
    "run_plans",
    "select",
    "serial_backend",
    "write_results",
    "write_run_plots",
    "write_summary_plots",
]

DEFAULT_AGENTS: tuple[str, ...] = ("keep_all", "reinforce", "ppo")
RESULTS_FORMAT = 2  # 2: final_repeats, test_ferplus, meta.threads
_STREAM_FINAL = 31  # the final trainings' seed stream (see final_seed)

# Kept names: the agent lists this module held before the registry, read from the registry when asked.
_REGISTRY_LISTS: dict[str, Callable[[], tuple[str, ...]]] = {
    "AGENT_NAMES": agent_names,
    "RL_AGENTS": lambda: agent_names(rl=True),
    "BASELINE_AGENTS": lambda: agent_names(rl=False),
}


def __getattr__(name: str) -> Any:
    if name in _REGISTRY_LISTS:
        return _REGISTRY_LISTS[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def select(name: str, dataset: FERDataset, seed: int, settings: BenchmarkSettings) -> Selection:
    """Run one selector by its registry name."""
    spec = get_agent(name)
    rl = settings.rl
    rl.classifier_config = settings.classifier_config
    rl.device = settings.device
    rl.cache_dir = settings.cache_dir
    return spec.select(dataset, seed, settings)


def final_seed(seed: int, repeat: int) -> int:
    """The seed of repeat ``repeat`` of a run's final training: ``seed`` itself for repeat 0 (the protocol
    before repeats existed), then independent streams of it. It depends on the run's seed and the repeat
    only, never on the agent, so every agent's final classifiers share their random numbers (common random
    numbers: the noise of the comparison between two agents shrinks, not just each agent's)."""
    return int(seed) if repeat == 0 else derive_seed(int(seed), _STREAM_FINAL, int(repeat))


def _test_report(dataset: FERDataset, pred: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """The test keys of a run for predictions ``pred`` against ``labels`` (``-1``: a row left out)."""
    rows = labels >= 0
    summary = classification_summary(labels[rows], pred[rows], dataset.num_classes, dataset.class_labels)
    summary["n_rows"] = int(rows.sum())
    return summary


def final_sample_weight(
    kept: np.ndarray,
    keep_probability: np.ndarray | None,
    settings: BenchmarkSettings,
    labels: np.ndarray | None = None,
) -> np.ndarray | None:
    """The final training's weight per training image under ``settings.final_sample_weights``: ``None`` for
    ``"none"`` (the kept images, unweighted); for ``"keep_probability"`` the keep probability of every image;
    for ``"class_normalised"`` the keep probability of the *kept* images divided by its mean over the kept
    images of the same class (``labels``), so that each class weighs as many images as the selection kept of
    it. Without a keep probability both give the 0/1 mask ``kept`` (a filter's
    :meth:`~agents.common.Selection.from_mask` keep probability is that mask anyway, so filters train exactly
    as with ``"none"``).

    Why ``class_normalised``: raw keep probabilities carry the policy's class preferences. On
    ``standard-v1``'s symmetric20-n10000, seed 0, the policy's own keep rate was 26 %; the class budget kept
    95 % of the images, but weighted by raw probabilities three classes trained with next to no weight and
    the final macro-F1 fell from 0.877 (hard) to 0.380 (``docs/results.md``)."""
    if settings.final_sample_weights == "none":
        return None
    if keep_probability is None:
        return np.asarray(kept, dtype=np.float64)
    weight = np.asarray(keep_probability, dtype=np.float64)
    if weight.shape != np.shape(kept):
        raise ValueError(
            f"keep_probability: expected shape {np.shape(kept)} (one per training image), got {weight.shape}"
        )
    if settings.final_sample_weights == "keep_probability":
        return weight
    if labels is None or np.shape(labels) != np.shape(kept):
        raise ValueError("class_normalised sample weights need one label per training image")
    return class_normalised_weight(np.asarray(kept, dtype=bool), weight, np.asarray(labels))


def class_normalised_weight(kept: np.ndarray, keep_probability: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``kept · p / mean(p over the kept images of the same class)``: soft weights within each class whose
    total per class equals the number of images kept of it. A kept class whose probabilities are all 0
    gets weight 1 on its kept images (the selection kept them)."""
    weight = np.zeros(len(kept), dtype=np.float64)
    for c in np.unique(labels[kept]):
        rows = kept & (labels == c)
        mean = keep_probability[rows].mean()
        weight[rows] = keep_probability[rows] / mean if mean > 0 else 1.0
    return weight


def final_training(
    dataset: FERDataset,
    kept: np.ndarray,
    seed: int,
    settings: BenchmarkSettings,
    progress: bool = False,
    train_labels: np.ndarray | None = None,
    keep_probability: np.ndarray | None = None,
) -> tuple[EmotionClassifier, dict[str, Any]]:
    """The protocol shared by every agent: a fresh classifier trained from scratch on the kept images with
    early stopping on val, then evaluated once on test.

    ``train_labels`` replaces the given training labels (a relabelling reference). Early stopping uses the
    dataset's validation labels, or with ``settings.final_val_labels == "ferplus"`` the FER+ majority of
    the validation rows that have one. With FER+ votes on the test rows the summary also holds
    ``test_ferplus``: the same metrics against the FER+ majority, on the rows that have one (``n_rows``).

    With ``settings.final_sample_weights`` ``"keep_probability"`` or ``"class_normalised"`` the classifier trains
    instead on every image whose weight (:func:`final_sample_weight`) is above 0, each
    image's cross-entropy weighted by it, and ``final_training`` also records ``sample_weights`` and
    ``total_weight``. ``final_min_steps`` then counts the steps over the images trained on: the weighted
    minibatch loss is normalised by the batch's total weight, so a step is a full-sized step whatever the
    weights, and "at least N gradient steps" keeps its meaning."""
    kept = np.asarray(kept, dtype=bool)
    y_train = dataset.y_train if train_labels is None else np.asarray(train_labels)
    weight = final_sample_weight(kept, keep_probability, settings, labels=y_train)
    rows = kept if weight is None else weight > 0  # the images trained on
    x_val, y_val = dataset.x_val, dataset.y_val
    if settings.final_val_labels == "ferplus":
        majority = ferplus_split_labels(dataset, "val")
        if majority is None:
            raise ValueError("final_val_labels='ferplus' needs FER+ votes on the validation rows (extras_val)")
        x_val, y_val = x_val[majority >= 0], majority[majority >= 0]
    config = dataclasses.replace(settings.classifier_config, patience=settings.final_patience)
    max_epochs = settings.final_max_epochs
    if settings.final_min_steps is not None:
        # Sized in steps: a few hundred kept images give a few steps per epoch, too few to leave the plateau.
        min_epochs = math.ceil(settings.final_min_steps / max(1, math.ceil(int(rows.sum()) / config.batch_size)))
        config = dataclasses.replace(config, min_epochs=max(config.min_epochs, min_epochs))
        max_epochs = max(config.max_epochs if max_epochs is None else max_epochs, config.min_epochs)
    clf = EmotionClassifier.for_dataset(dataset, config, device=settings.device, seed=seed)
    report = clf.fit(
        dataset.x_train[rows],
        y_train[rows],
        x_val,
        y_val,
        seed=seed,
        strategy="scratch",
        max_epochs=max_epochs,
        progress=progress,
        lr_schedule=settings.final_lr_schedule,
        ema_epochs=settings.final_ema_epochs,
        monitor=settings.final_monitor,
        sample_weight=None if weight is None else weight[rows],
    )
    pred = clf.predict(dataset.x_test)
    summary = classification_summary(dataset.y_test, pred, dataset.num_classes, dataset.class_labels)
    summary["final_training"] = report.to_dict()
    if weight is not None:  # only then: the default run's results.json keeps its keys
        summary["final_training"].update(sample_weights=settings.final_sample_weights, total_weight=float(weight.sum()))
    majority = ferplus_split_labels(dataset, "test")
    if majority is not None:
        summary["test_ferplus"] = _test_report(dataset, pred, majority)
    return clf, summary


TEST_KEYS: tuple[str, ...] = ("accuracy", "average_accuracy", "macro_f1")
"""The scalar test metrics of a run, reported as ``test_<key>`` (mean over the final-training repeats)."""


def _mean_report(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of several test reports: scalars and per-class accuracies averaged (a class absent from the
    test rows stays ``None``), confusion matrices summed, ``n_rows`` kept."""
    out: dict[str, Any] = {key: float(np.mean([r[key] for r in reports])) for key in TEST_KEYS}
    out["per_class_accuracy"] = {
        name: (
            None
            if any(r["per_class_accuracy"][name] is None for r in reports)
            else float(np.mean([r["per_class_accuracy"][name] for r in reports]))
        )
        for name in reports[0]["per_class_accuracy"]
    }
    out["confusion_matrix"] = np.sum([r["confusion_matrix"] for r in reports], axis=0).tolist()
    if "n_rows" in reports[0]:
        out["n_rows"] = reports[0]["n_rows"]
    return out


def repeated_final_training(
    dataset: FERDataset, selection: Selection, seed: int, settings: BenchmarkSettings
) -> dict[str, Any]:
    """:func:`final_training` ``settings.final_repeats`` times on one selection (seeds :func:`final_seed`):
    the run's test figures are the means, and ``final_repeats`` keeps every repeat."""
    repeats = []
    for r in range(settings.final_repeats):
        rseed = final_seed(seed, r)
        _, test = final_training(
            dataset,
            selection.kept,
            rseed,
            settings,
            train_labels=selection.train_labels,
            keep_probability=selection.keep_probability,
        )
        repeats.append({"repeat": r, "seed": rseed, **test})
    mean = _mean_report(repeats)
    out: dict[str, Any] = {
        "test_accuracy": mean["accuracy"],
        "test_average_accuracy": mean["average_accuracy"],
        "test_macro_f1": mean["macro_f1"],
        "test_per_class_accuracy": mean["per_class_accuracy"],
        "test_confusion_matrix": mean["confusion_matrix"],
        "final_training": repeats[0]["final_training"],
    }
    if "test_ferplus" in repeats[0]:
        out["test_ferplus"] = _mean_report([r["test_ferplus"] for r in repeats])
    out["final_repeats"] = [
        {k: v for k, v in r.items() if k not in ("confusion_matrix", "mean_precision_eq8", "macro_f1_eq7")}
        for r in repeats
    ]
    return out


def kept_fraction_by_class(kept: np.ndarray, dataset: FERDataset) -> dict[str, float | None]:
    """Fraction of each class's training images (by given label) that a selection keeps; ``None`` for a
    class with no training image. On imbalanced real data this shows whether a selector empties a class."""
    y = dataset.y_train
    return {
        name: (float(np.mean(kept[y == k])) if np.any(y == k) else None) for k, name in enumerate(dataset.class_labels)
    }


def run_one(
    name: str,
    dataset: FERDataset,
    seed: int,
    settings: BenchmarkSettings,
    plots_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """One agent, one seed: selection, final training, test metrics (one ``runs`` entry of results.json).
    With ``plots_dir`` the run's pictures are written there as ``<agent>_seed<seed>_<picture>.png``."""
    started = time.perf_counter()
    selection = select(name, dataset, seed, settings)
    if plots_dir is not None:
        from fer_select_env.envs.select.plots import run_title

        write_run_plots(Path(plots_dir), f"{name}_seed{seed}", dataset, selection, run_title(name, seed))
    selected_seconds = time.perf_counter() - started
    test = repeated_final_training(dataset, selection, seed, settings)
    run: dict[str, Any] = {
        "seed": int(seed),
        **{k: test[k] for k in ("test_accuracy", "test_average_accuracy", "test_macro_f1")},
        "test_per_class_accuracy": test["test_per_class_accuracy"],
        "test_confusion_matrix": test["test_confusion_matrix"],
        "kept_fraction": selection.kept_fraction,
        "kept_fraction_by_class": kept_fraction_by_class(selection.kept, dataset),
        "removal_precision": None,
        "removal_recall": None,
        "removal_f1": None,
        "keep_probability_by_noise_kind": None,
        "selection_seconds": selected_seconds,
        "wall_seconds": time.perf_counter() - started,
        "final_training": test["final_training"],
        "final_repeats": test["final_repeats"],
        "history": selection.history,
        "info": jsonable(selection.info),
    }
    if "test_ferplus" in test:
        run["test_ferplus"] = test["test_ferplus"]
    run.update(reference_report(selection, dataset))  # fills the None placeholders when there is ground truth
    return run


def write_run_plots(
    plots_dir: Path, stem: str, dataset: FERDataset, selection: Selection, run_label: str | None = None
) -> list[Path]:
    """The pictures of one selection: rewards and selection progress per episode (RL agents), the per-image
    reward distribution, and the gallery of the most-removed and most-kept images (Fig. 5/7, 8/9).
    ``run_label`` (e.g. ``"reinforce, seed 0"``) leads each picture's title."""
    from fer_select_env.envs.select import plots

    written = []
    history = [h for h in selection.history if not h.get("pretrain")]
    if any("episode_reward" in h for h in history):
        written.append(
            plots.plot_episode_rewards(history, plots_dir / f"{stem}_episode_rewards.png", run_label=run_label)
        )
    if any("kept_fraction" in h for h in history):
        written.append(
            plots.plot_selection_progress(history, plots_dir / f"{stem}_selection_progress.png", run_label=run_label)
        )
    if selection.sample_rewards is not None:
        written.append(
            plots.plot_sample_reward_distribution(
                selection.sample_rewards,
                plots_dir / f"{stem}_sample_rewards.png",
                dataset.noise_train,
                run_label=run_label,
            )
        )
    written.append(
        plots.plot_image_gallery(
            dataset.x_train,
            selection.keep_probability,
            dataset.y_train,
            dataset.class_labels,
            plots_dir / f"{stem}_gallery.png",
            noise_kind=dataset.noise_train,
            run_label=run_label,
        )
    )
    return written


def write_summary_plots(results: dict[str, Any], plots_dir: str | os.PathLike) -> list[Path]:
    """Pictures across agents: keep probability by noise kind (Table 5, mean over seeds) and, next to
    ``keep_all``, each agent's test confusion matrix (first seed)."""
    from fer_select_env.envs.select import plots

    plots_dir = Path(plots_dir)
    written = []
    by_kind: dict[str, dict[str, float]] = {}
    for name, block in results["agents"].items():
        maps = [r["keep_probability_by_noise_kind"] for r in block["runs"] if r.get("keep_probability_by_noise_kind")]
        if maps:
            by_kind[name] = {k: float(np.mean([m[k] for m in maps if k in m])) for k in maps[0]}
    if by_kind:
        written.append(
            plots.plot_keep_probability_by_noise_kind(by_kind, plots_dir / "keep_probability_by_noise_kind.png")
        )
    base = results["agents"].get("keep_all", {}).get("runs", [])
    if base and "test_confusion_matrix" in base[0]:
        for name, block in results["agents"].items():
            if name == "keep_all" or not block["runs"] or "test_confusion_matrix" not in block["runs"][0]:
                continue
            written.append(
                plots.plot_confusion_matrices(
                    base[0]["test_confusion_matrix"],
                    block["runs"][0]["test_confusion_matrix"],
                    results["meta"]["class_names"],
                    plots_dir / f"confusion_keep_all_vs_{name}.png",
                    titles=("keep_all (test)", f"{name} (test)"),
                )
            )
    return written


@dataclasses.dataclass(frozen=True, eq=False)
class Cell:
    """One (agent, seed) run of a benchmark: the arguments of :func:`run_one`, what a backend runs."""

    agent: str
    seed: int
    dataset: FERDataset
    settings: BenchmarkSettings
    plots_dir: str | os.PathLike | None = None

    def run(self) -> dict[str, Any]:
        """:func:`run_one` of this cell, in this process (under the caller's thread count)."""
        return run_one(self.agent, self.dataset, self.seed, self.settings, self.plots_dir)


CellBackend = Callable[[Sequence[Cell]], Iterable[tuple[int, dict[str, Any]]]]
"""Runs cells and yields ``(index of the cell, its run)`` as each one finishes, in any order: the
:func:`serial_backend`, or :class:`agents.experiment.ray_backend.RayBackend` (each cell a Ray task)."""


def serial_backend(cells: Sequence[Cell]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The default backend: each cell in turn in this process, in the engine's order."""
    for k, cell in enumerate(cells):
        yield k, cell.run()


class BenchmarkPlan:
    """One benchmark's results dict and the cells still to run, in the engine's order (every seed of the first
    agent, then the next agent). :meth:`place` puts a finished run where the serial run would have appended it,
    whatever order the runs finish in, so the results dict is the same for any backend."""

    def __init__(
        self,
        results: dict[str, Any],
        dataset: FERDataset,
        agents: Sequence[str],
        seeds: Sequence[int],
        settings: BenchmarkSettings,
        previous: dict[str, Any],
        plots_dir: str | os.PathLike | None = None,
    ) -> None:
        self.results = results
        self.dataset = dataset
        self.seeds = [int(s) for s in seeds]
        self.settings = settings
        self.reused: list[tuple[str, dict[str, Any]]] = []  # (agent, run) taken from ``previous``
        self.cells: list[Cell] = []
        self._where: list[tuple[str, int]] = []  # (agent, seed position) of each cell
        self._slots: dict[str, list[dict[str, Any] | None]] = {name: [None] * len(self.seeds) for name in agents}
        for name in agents:
            for i, seed in enumerate(self.seeds):
                done = [r for r in previous.get(name, {}).get("runs", []) if r["seed"] == seed]
                if done:
                    self._slots[name][i] = done[0]
                    self.reused.append((name, done[0]))
                else:
                    self._where.append((name, i))
                    self.cells.append(Cell(name, seed, dataset, settings, plots_dir))
            self._sync(name)

    def _sync(self, name: str) -> None:
        self.results["agents"][name]["runs"] = [r for r in self._slots[name] if r is not None]

    def place(self, k: int, run: dict[str, Any]) -> str:
        """Record ``run`` as the run of cell ``k``; returns its agent."""
        name, i = self._where[k]
        self._slots[name][i] = run
        self._sync(name)
        return name

    def finish(self) -> None:
        """Is the classifier every agent starts from any better than chance? (Only what the run cached: an
        agent-free check must not pre-train a classifier nobody used.)"""
        self.results["meta"][CLASSIFIER_CHECK_KEY] = classifier_checks(
            self.dataset,
            self.settings.classifier_config,
            self.seeds,
            device=self.settings.device,
            cache_dir=self.settings.cache_dir,
            threads=self.settings.threads,
            only_cached=True,
        )


def prepare_benchmark(
    dataset: FERDataset,
    agents: Sequence[str],
    seeds: Sequence[int],
    settings: BenchmarkSettings,
    *,
    dataset_name: str = "",
    out: str | os.PathLike | None = None,
    previous: dict[str, Any] | None = None,
    plots_dir: str | os.PathLike | None = None,
) -> BenchmarkPlan:
    """The results dict of :func:`run_benchmark` before any run, with the runs of ``previous`` (or of an
    existing ``out`` file) that it reuses, and the cells left to run."""
    agents = check_agent_names(agents)
    for name in agents:
        missing = get_agent(name).missing_requirement(dataset)
        if missing is not None:
            raise ValueError(f"agent {name!r} {missing}: the dataset has none")
    results: dict[str, Any] = {
        "meta": {
            "format": RESULTS_FORMAT,
            "threads": settings.threads,
            "command": " ".join(sys.argv),
            "dataset": dataset_name,
            "dataset_fingerprint": dataset.fingerprint(),
            "n_train": len(dataset.y_train),
            "n_val": len(dataset.y_val),
            "n_test": len(dataset.y_test),
            "class_names": list(dataset.class_labels),
            "agents": list(agents),
            "seeds": [int(s) for s in seeds],
            "settings": settings.to_dict(),
            "versions": library_versions(),
        },
        "agents": {name: {"runs": []} for name in agents},
    }
    if previous is None and out is not None and Path(out).is_file():
        try:
            previous = json.loads(Path(out).read_text())
        except json.JSONDecodeError:
            previous = None
    previous = reusable_agents(previous, dataset.fingerprint(), results["meta"]["settings"])
    # Agents of an earlier run into the same file stay in it: a benchmark can be grown one agent at a time.
    for name, block in previous.items():
        if name not in results["agents"]:
            results["agents"][name] = block
    return BenchmarkPlan(results, dataset, agents, seeds, settings, previous, plots_dir)


def run_plans(
    plans: Sequence[BenchmarkPlan],
    backend: CellBackend,
    report: Callable[[int, str, dict[str, Any]], None],
) -> None:
    """Every cell of every plan through one ``backend`` call (so a parallel backend runs the cells of several
    benchmarks, a suite's tasks, at once). ``report(plan index, agent, run)`` follows each reused run, then
    each run as it finishes and is placed."""
    for p, plan in enumerate(plans):
        for name, run in plan.reused:
            report(p, name, run)
    index = [(p, k) for p, plan in enumerate(plans) for k in range(len(plan.cells))]
    for j, run in backend([plans[p].cells[k] for p, k in index]):
        p, k = index[j]
        report(p, plans[p].place(k, run), run)


def run_benchmark(
    dataset: FERDataset,
    agents: Sequence[str],
    seeds: Sequence[int],
    settings: BenchmarkSettings,
    *,
    dataset_name: str = "",
    out: str | os.PathLike | None = None,
    on_run: Callable[[str, dict[str, Any]], None] | None = None,
    plots_dir: str | os.PathLike | None = None,
    previous: dict[str, Any] | None = None,
    results_sink: Callable[[dict[str, Any]], None] | None = None,
    backend: CellBackend | None = None,
) -> dict[str, Any]:
    """Every agent on every seed; ``results.json`` is rewritten after each run so that an interrupted
    benchmark keeps what it finished, and runs already in an existing ``out`` file are not repeated.
    ``previous`` is an earlier results dict to resume from instead of ``out`` (the suite runner keeps every
    task in one file) and ``results_sink`` receives the results dict before the first run, which then grows
    in place. ``plots_dir`` receives every run's pictures and the summary pictures (PNG). ``backend`` runs the
    (agent, seed) cells (default :func:`serial_backend`); the results are the same whichever runs them."""
    plan = prepare_benchmark(
        dataset, agents, seeds, settings, dataset_name=dataset_name, out=out, previous=previous, plots_dir=plots_dir
    )
    if results_sink is not None:
        results_sink(plan.results)

    def report(_: int, name: str, run: dict[str, Any]) -> None:
        if out is not None:
            write_results(plan.results, out)
        if on_run is not None:
            on_run(name, run)

    # The thread count is part of the protocol: the same count gives the same numbers (see BenchmarkSettings).
    with thread_limit(settings.threads):
        run_plans([plan], serial_backend if backend is None else backend, report)
        plan.finish()
    if out is not None:
        write_results(plan.results, out)
    if plots_dir is not None:
        write_summary_plots(plan.results, plots_dir)
    return plan.results


def reusable_agents(previous: dict[str, Any] | None, fingerprint: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The agents block of an earlier results dict made on the same dataset with the same settings and
    format; empty otherwise (a changed protocol must not reuse runs made under another)."""
    if not previous:
        return {}
    meta = previous.get("meta", {})
    if (
        meta.get("dataset_fingerprint") != fingerprint
        or meta.get("format") != RESULTS_FORMAT
        or meta.get("settings") != jsonable(settings)
    ):
        return {}
    return previous.get("agents", {})


def write_results(results: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``results.json`` atomically (a Ctrl-C never leaves half a file)."""
    write_json(path, results)


def _mean_std(values: list[float | None]) -> str:
    vals = [v for v in values if v is not None and not np.isnan(v)]
    if not vals:
        return "n/a"
    if len(vals) == 1:
        return f"{100 * vals[0]:.1f}"
    return f"{100 * np.mean(vals):.1f} ± {100 * np.std(vals):.1f}"


def noise_floor(results: dict[str, Any], agent: str = "keep_all") -> dict[str, Any] | None:
    """The protocol's noise floor: the repeat-to-repeat standard deviation of ``agent``'s test macro-F1
    (pooled over its seeds: the root of the mean per-seed sample variance), and what it leaves on an
    R-repeat mean (``/ sqrt(R)``). ``None`` without the agent or with fewer than two repeats."""
    runs = results.get("agents", {}).get(agent, {}).get("runs", [])
    per_seed = [[rep["macro_f1"] for rep in r.get("final_repeats", [])] for r in runs]
    per_seed = [v for v in per_seed if len(v) >= 2]
    if not per_seed:
        return None
    repeats = min(len(v) for v in per_seed)
    std = float(np.sqrt(np.mean([np.var(v, ddof=1) for v in per_seed])))
    return {
        "agent": agent,
        "repeat_std": std,
        "mean_std": std / np.sqrt(repeats),
        "repeats": repeats,
        "seeds": len(per_seed),
    }


def format_noise_floor(results: dict[str, Any]) -> str:
    """One line saying how much of a difference the final-training protocol itself can make."""
    floor = noise_floor(results)
    if floor is None:
        return "noise floor: not measured (needs keep_all with --final-repeats >= 2)"
    return (
        f"noise floor: keep_all's test macro-F1 varies by {100 * floor['repeat_std']:.2f} points (std) from one "
        f"final training to the next ({floor['repeats']} repeats x {floor['seeds']} seeds); the reported "
        f"{floor['repeats']}-repeat means carry about {100 * floor['mean_std']:.2f}"
    )


def format_table(results: dict[str, Any]) -> str:
    """Table 4-style summary (per-class accuracy, average accuracy, macro-F1) plus selection and Table 5
    figures, mean ± std over seeds, in percent."""
    names = results["meta"]["class_names"]
    header = ["agent", *names, "avg acc", "acc", "macro-F1", "kept", "rem P", "rem R", "rem F1", "wall s"]
    rows = [header]
    kinds: list[str] = []
    for name, block in results["agents"].items():
        runs = block["runs"]
        if not runs:
            continue
        row = [name]
        row += [_mean_std([r["test_per_class_accuracy"][c] for r in runs]) for c in names]
        for key in ("test_average_accuracy", "test_accuracy", "test_macro_f1", "kept_fraction"):
            row.append(_mean_std([r[key] for r in runs]))
        for key in ("removal_precision", "removal_recall", "removal_f1"):
            row.append(_mean_std([r[key] for r in runs]))
        row.append(f"{np.mean([r['wall_seconds'] for r in runs]):.0f}")
        rows.append(row)
        for r in runs:
            for kind in r["keep_probability_by_noise_kind"] or {}:
                if kind not in kinds:
                    kinds.append(kind)
    lines = _align(rows)
    if kinds:
        rows5 = [["agent", *[f"P(keep|{k})" for k in kinds]]]
        for name, block in results["agents"].items():
            runs = block["runs"]
            if runs:
                rows5.append(
                    [name]
                    + [_mean_std([(r["keep_probability_by_noise_kind"] or {}).get(k) for r in runs]) for k in kinds]
                )
        lines += ["", *_align(rows5)]
    lines += ["", format_noise_floor(results)]
    note = near_chance_note(results)
    if note is not None:
        lines += ["", note]
    return "\n".join(lines)


def _align(rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
