"""Run a task suite (:mod:`agents.experiment.suites`) with the benchmark engine and score it.

Every task runs through :func:`~agents.experiment.benchmark.run_benchmark` with the same settings; an agent
that cannot run on a task (``oracle`` needs noise ground truth, ``ferplus_relabel`` FER+ votes) is skipped
there and the results say so. The suite's ``results.json`` holds the suite definition, every task's results,
the scores of :func:`~agents.experiment.scores.score_suite` and, at the top level, their ``aggregate`` block.
It is rewritten after every run; a rerun with the same file resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents.experiment.benchmark import (
    BenchmarkPlan,
    CellBackend,
    format_table,
    prepare_benchmark,
    run_benchmark,
    run_plans,
    write_results,
    write_summary_plots,
)
from agents.experiment.registry import check_agent_names, get_agent
from agents.experiment.report import jsonable, library_versions
from agents.experiment.scores import format_score_table, plot_aggregate_intervals, score_suite
from agents.experiment.settings import BenchmarkSettings
from agents.experiment.suites import Suite, load_task_dataset
from fer_select_env.core.seeding import thread_limit
from fer_select_env.data.dataset import FERDataset

SUITE_RESULTS_FORMAT = 1


def runnable_agents(agents: Sequence[str], dataset: FERDataset) -> tuple[list[str], dict[str, str]]:
    """The agents that can run on ``dataset``, and why each other one cannot."""
    ok, skipped = [], {}
    for name in agents:
        missing = get_agent(name).missing_requirement(dataset)
        if missing is None:
            ok.append(name)
        else:
            skipped[name] = missing
    return ok, skipped


def _previous(out: str | os.PathLike | None, suite: Suite) -> dict[str, Any]:
    if out is None or not Path(out).is_file():
        return {}
    try:
        previous = json.loads(Path(out).read_text())
    except json.JSONDecodeError:
        return {}
    same = previous.get("meta", {}).get("suite", {}).get("fingerprint") == suite.fingerprint()
    return previous.get("tasks", {}) if same else {}


_SAME_PROTOCOL = ("dataset_fingerprint", "format", "settings")
"""What two results files' blocks of one task must share for their runs to be merged."""


def merged_previous(
    paths: Sequence[str | os.PathLike], suite: Suite, start: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The task blocks of several results files of ``suite`` (parts of one suite run on several processes or
    machines), merged by task: the union of their agents, the first file winning for an agent that more than
    one holds. ``start``: task blocks already read (the out file's own), which come first. A ``ValueError``
    names a file that is unreadable, belongs to another suite, or holds a task made with another dataset,
    results format or settings than the first file that holds it."""
    merged: dict[str, Any] = {}
    _merge_tasks(merged, start or {}, "the results file")
    for path in paths:
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable results file ({exc})") from exc
        fingerprint = raw.get("meta", {}).get("suite", {}).get("fingerprint") if isinstance(raw, dict) else None
        if fingerprint != suite.fingerprint():
            raise ValueError(f"{path}: not a results file of suite {suite.id} (fingerprint {suite.fingerprint()})")
        _merge_tasks(merged, raw.get("tasks", {}), path)
    return merged


def _merge_tasks(merged: dict[str, Any], tasks: dict[str, Any], source: str | os.PathLike) -> None:
    """Add ``tasks``' blocks (read from ``source``) to ``merged``, agent by agent; see :func:`merged_previous`."""
    for name, block in tasks.items():
        if name not in merged:
            merged[name] = {**block, "agents": dict(block.get("agents", {}))}
            continue
        ours, theirs = merged[name].get("meta", {}), block.get("meta", {})
        different = [key for key in _SAME_PROTOCOL if ours.get(key) != theirs.get(key)]
        if different:
            raise ValueError(f"{source}: task {name!r} was made with another {', '.join(different)} than before")
        for agent, runs in block.get("agents", {}).items():
            merged[name]["agents"].setdefault(agent, runs)


def _select_tasks(suite: Suite, tasks: Sequence[str] | None) -> list[Any]:
    if tasks is None:
        return list(suite.tasks)
    names = [t.name for t in suite.tasks]
    unknown = [t for t in tasks if t not in names]
    if unknown:
        raise ValueError(
            f"tasks: {', '.join(map(repr, unknown))} not in suite {suite.id}; its tasks: {', '.join(names)}"
        )
    return [t for t in suite.tasks if t.name in tasks]


def score_results(results: dict[str, Any]) -> dict[str, Any]:
    """:func:`score_suite` of a suite's results: each task's per-seed test macro-F1, by agent."""
    macro_f1 = {
        task: {name: [r["test_macro_f1"] for r in block["runs"]] for name, block in res["agents"].items()}
        for task, res in results["tasks"].items()
    }
    names = {name for per_task in macro_f1.values() for name in per_task}
    specs = {name: get_agent(name) for name in names}
    return score_suite(
        macro_f1,
        rl_agents=[n for n, s in specs.items() if s.is_rl],
        baseline_agents=[n for n, s in specs.items() if not s.is_rl and not s.reference],
        reference_agents=[n for n, s in specs.items() if s.reference],
    )


def run_suite(
    suite: Suite,
    agents: Sequence[str],
    settings: BenchmarkSettings,
    *,
    out: str | os.PathLike | None = None,
    fer2013_path: str | os.PathLike | None = None,
    on_run: Callable[[str, str, dict[str, Any]], None] | None = None,
    plots_dir: str | os.PathLike | None = None,
    tasks: Sequence[str] | None = None,
    reuse: Sequence[str | os.PathLike] = (),
    backend: CellBackend | None = None,
) -> dict[str, Any]:
    """Every runnable agent on every task and seed of ``suite``, then the scores.

    ``on_run(task, agent, run)`` is called after each run. With ``plots_dir``, ``aggregate_intervals.png``
    shows each agent's interquartile mean gap closed with its 95 % interval. ``tasks`` runs only the named
    tasks (the scores are then over those). ``reuse`` names other results files of the same suite whose runs
    are taken instead of being run again (:func:`merged_previous`), after those already in ``out``: so a
    suite split over processes with ``tasks`` is put together in one file by a last run that reuses the parts.
    ``backend`` (a :data:`~agents.experiment.benchmark.CellBackend`) gets every (task, agent, seed) cell of
    the suite in one call, after every task's dataset is loaded; without it the tasks run one after the other
    in this process. The results are the same either way.
    """
    agents = check_agent_names(agents)
    if "keep_all" not in agents:
        raise ValueError("a suite is scored against keep_all: add keep_all to the agents")
    selected = _select_tasks(suite, tasks)
    # The out file's own runs first (a file of another suite there is overwritten, as before), then reuse's.
    previous = merged_previous(reuse, suite, start=_previous(out, suite))
    results: dict[str, Any] = {
        "meta": {
            "suite_format": SUITE_RESULTS_FORMAT,
            "command": " ".join(sys.argv),
            "suite": suite.to_dict(),
            "agents": list(agents),
            "settings": settings.to_dict(),
            "threads": settings.threads,
            "versions": library_versions(),
        },
        "tasks": {},
        "skipped": {},
    }

    def save() -> None:
        if out is not None:
            write_results(results, out)

    plans: list[tuple[str, BenchmarkPlan, Path | None]] = []  # with a backend: the tasks, run at once below
    for task in selected:
        dataset = load_task_dataset(task, cache_dir=settings.cache_dir, fer2013_path=fer2013_path)
        names, skipped = runnable_agents(agents, dataset)
        if skipped:
            results["skipped"][task.name] = skipped
        task_plots = None if plots_dir is None else Path(plots_dir) / task.name
        if backend is not None:
            plan = prepare_benchmark(
                dataset,
                names,
                task.seeds,
                settings,
                dataset_name=f"{suite.id}/{task.name}",
                previous=previous.get(task.name),
                plots_dir=task_plots,
            )
            results["tasks"][task.name] = plan.results
            plans.append((task.name, plan, task_plots))
            continue

        def report(agent: str, run: dict[str, Any], task_name: str = task.name) -> None:
            save()
            if on_run is not None:
                on_run(task_name, agent, run)

        # run_benchmark fills results["tasks"][task] as it goes, so every save() holds the finished runs.
        results["tasks"][task.name] = run_benchmark(
            dataset,
            names,
            task.seeds,
            settings,
            dataset_name=f"{suite.id}/{task.name}",
            previous=previous.get(task.name),
            on_run=report,
            plots_dir=task_plots,
            results_sink=lambda partial, name=task.name: results["tasks"].__setitem__(name, partial),
        )
        save()
    if backend is not None:
        _run_plans_at_once(plans, settings, backend, save, on_run)
    results["scores"] = jsonable(score_results(results))
    results["aggregate"] = results["scores"]["aggregate"]
    save()
    if plots_dir is not None:
        plot_aggregate_intervals(results["scores"], Path(plots_dir) / "aggregate_intervals.png")
    return results


def _run_plans_at_once(
    plans: Sequence[tuple[str, BenchmarkPlan, Path | None]],
    settings: BenchmarkSettings,
    backend: CellBackend,
    save: Callable[[], None],
    on_run: Callable[[str, str, dict[str, Any]], None] | None,
) -> None:
    """Every (task, agent, seed) cell of ``plans`` (task name, plan, its pictures' folder) in one backend call,
    saving after each finished run; then each task's classifier check and summary pictures."""

    def report(p: int, agent: str, run: dict[str, Any]) -> None:
        save()
        if on_run is not None:
            on_run(plans[p][0], agent, run)

    with thread_limit(settings.threads):
        run_plans([plan for _, plan, _ in plans], backend, report)
        for _, plan, task_plots in plans:
            plan.finish()
            if task_plots is not None:
                write_summary_plots(plan.results, task_plots)
    save()


def format_suite_tables(results: dict[str, Any]) -> str:
    """Each task's table (with its noise floor), the skipped agents, then the suite's scores."""
    blocks = []
    for task, res in results["tasks"].items():
        blocks.append(f"== {task}\n{format_table(res)}")
        skipped = results.get("skipped", {}).get(task)
        if skipped:
            blocks.append("skipped: " + "; ".join(f"{a} ({why})" for a, why in skipped.items()))
    if "scores" in results:
        blocks.append(
            f"== {results['meta']['suite']['id']}: gap closed and probability of improvement\n"
            + format_score_table(results["scores"])
        )
    return "\n\n".join(blocks)


__all__ = [
    "SUITE_RESULTS_FORMAT",
    "format_suite_tables",
    "merged_previous",
    "run_suite",
    "runnable_agents",
    "score_results",
]
