"""The scores of a task suite (issue 12 §2): the gap closed per task and seed, its interquartile mean over a
suite with stratified-bootstrap intervals, and the probability of improvement, following Agarwal et al.
(NeurIPS 2021, "Deep RL at the edge of the statistical precipice").

The statistics come from SciPy (``scipy.stats.bootstrap``, ``trim_mean``, ``mannwhitneyu``): the ``rliable``
library implements the same, but its ``arch`` dependency does not import with the pandas we pin.
:func:`score_suite` turns ``macro_f1[task][agent]`` (per-seed test macro-F1) into the JSON-ready block of
``results.json``; :func:`format_score_table` and :func:`plot_aggregate_intervals` print and draw it.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from fer_select_env.core.plotting import new_figure, save_figure

KEEP_ALL = "keep_all"
"""The agent every score is measured from (gap closed 0)."""
ORACLE = "oracle"
"""The agent that closes the whole gap (gap closed 1); a task without it is not normalisable."""
CONFIDENCE = 0.95
"""The coverage of every interval."""
BOOTSTRAP = "stratified percentile (scipy.stats.bootstrap)"
"""How the intervals are made, recorded with the scores."""
_IQM_CUT = 0.25  # the interquartile mean trims a quarter at each end


# --------------------------------------------------------------------------- checks
def _seed_scores(name: str, values: ArrayLike) -> np.ndarray:
    """``values`` as a non-empty 1-D float array (one entry per seed); ``name`` is what an error calls it."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty list of per-seed scores, got shape {arr.shape}")
    return arr


def _paired(agent: ArrayLike, keep_all: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a, k = _seed_scores("agent", agent), _seed_scores(KEEP_ALL, keep_all)
    if a.shape != k.shape:
        raise ValueError(f"scores are paired by seed, but there are {a.size} agent seeds and {k.size} {KEEP_ALL} seeds")
    return a, k


# --------------------------------------------------------------------------- per task
def gap_closed(agent: ArrayLike, keep_all: ArrayLike, oracle: ArrayLike) -> np.ndarray:
    """Per seed, ``(agent − keep_all) / (oracle − keep_all)``, paired by seed index (issue 12 §2).

    0 is keep_all's score, 1 the oracle's. A seed where the oracle is not above keep_all has no gap to close
    and gets NaN (a non-positive denominator would blow up or flip the sign); :func:`task_is_normalisable`
    keeps such tasks out of the aggregate. Raises ``ValueError`` when the three arrays differ in length.
    """
    a, k = _paired(agent, keep_all)
    o, _ = _paired(oracle, keep_all)
    gap = o - k
    return np.divide(a - k, gap, out=np.full_like(gap, np.nan), where=gap > 0)


def _normalisation_problem(keep_all: ArrayLike, oracle: ArrayLike, min_gap: float) -> str | None:
    """Why the oracle is not clearly above keep_all on this task, or ``None`` when it is."""
    o, k = _paired(oracle, keep_all)
    gap = o - k
    mean = float(gap.mean())
    if not mean >= min_gap:
        return f"mean oracle − keep_all {mean:+.4f} is below min_gap {min_gap}"
    if gap.size > 1:
        # Twice the standard error: the gap should not be a draw of the protocol's seed-to-seed noise.
        se = float(stats.sem(gap))
        if not mean > 2.0 * se:
            return f"mean oracle − keep_all {mean:+.4f} is not above twice its standard error ({se:.4f})"
    if not np.all(gap > 0):
        seeds = np.flatnonzero(gap <= 0).tolist()
        return f"the oracle is not above keep_all on seed index {seeds}, where the gap closed is undefined"
    return None


def task_is_normalisable(keep_all: ArrayLike, oracle: ArrayLike, min_gap: float = 0.01) -> bool:
    """Whether the oracle is clearly above keep_all, so that the gap closed means something (issue 12 §2).

    With ``d`` the paired per-seed ``oracle − keep_all``: ``mean(d) >= min_gap`` (default one macro-F1
    point), ``mean(d) > 2·SE(d)`` when there are two seeds or more, and ``d > 0`` on every seed.
    """
    return _normalisation_problem(keep_all, oracle, min_gap) is None


# --------------------------------------------------------------------------- aggregate statistics
def interquartile_mean(values: ArrayLike) -> float:
    """The mean of the middle half of ``values`` (a quarter trimmed at each end, as ``scipy.stats.trim_mean``)."""
    return float(stats.trim_mean(_seed_scores("values", values), _IQM_CUT))


def _pooled_iqm(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """The IQM of all the samples' values together; vectorised along ``axis`` for the bootstrap."""
    return stats.trim_mean(np.concatenate(samples, axis=axis), _IQM_CUT, axis=axis)


def _mean_improvement(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """``samples`` = (x₁, y₁, x₂, y₂, …): the mean over tasks of U/(n·m) of x over y, vectorised along ``axis``."""
    per_task = [
        stats.mannwhitneyu(x, y, axis=axis, method="asymptotic").statistic / (x.shape[axis] * y.shape[axis])
        for x, y in zip(samples[0::2], samples[1::2], strict=True)
    ]
    return np.mean(per_task, axis=0)


def _takes_axis(statistic: Callable[..., Any]) -> bool:
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):  # some builtins have no signature
        return False


def stratified_bootstrap_ci(
    samples: Sequence[np.ndarray],
    statistic: Callable[..., float],
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile-bootstrap interval of ``statistic(*samples)``, each sample resampled on its own.

    With one sample per task (its seeds' runs) this is the stratified bootstrap of Agarwal et al. (runs
    resampled within each task). ``statistic`` takes the samples as 1-D arrays; if it has an ``axis``
    parameter it is called once on batches of resamples instead (``scipy.stats.bootstrap``'s vectorised
    mode). A one-run sample cannot vary and is held fixed (SciPy refuses to resample it); when every sample
    has one run the interval is the point itself.
    """
    arrays = [_seed_scores(f"samples[{i}]", s) for i, s in enumerate(samples)]
    if not arrays:
        raise ValueError("samples is empty: nothing to bootstrap")
    varying = [i for i, a in enumerate(arrays) if a.size > 1]
    if not varying:
        point = float(statistic(*arrays))
        return point, point
    vectorized = _takes_axis(statistic)

    def resampled(*drawn: np.ndarray, axis: int = -1) -> Any:
        full = list(arrays)
        for i, d in zip(varying, drawn, strict=True):
            full[i] = d
        if not vectorized:
            return statistic(*full)
        batch = drawn[0].shape[:-1]  # SciPy moves the resampled axis last
        full = [np.broadcast_to(a, batch + a.shape[-1:]) for a in full]
        return statistic(*full, axis=-1)

    result = stats.bootstrap(
        tuple(arrays[i] for i in varying),
        resampled,
        n_resamples=n_resamples,
        vectorized=vectorized,
        confidence_level=confidence,
        method="percentile",  # as rliable: BCa's jackknife is unstable with three seeds
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def probability_of_improvement(x_by_task: Sequence[ArrayLike], y_by_task: Sequence[ArrayLike]) -> float:
    """P(X > Y): per task the Mann-Whitney U/(n·m) of X's runs over Y's (a tie counts ½), averaged over tasks.

    ``x_by_task[t]`` and ``y_by_task[t]`` are the two agents' per-seed scores on task ``t``; they need not
    have the same length.
    """
    if len(x_by_task) != len(y_by_task) or not x_by_task:
        raise ValueError(
            f"need the same non-zero number of tasks for X and Y, got {len(x_by_task)} and {len(y_by_task)}"
        )
    samples = []
    for t, (x, y) in enumerate(zip(x_by_task, y_by_task, strict=True)):
        samples += [_seed_scores(f"x_by_task[{t}]", x), _seed_scores(f"y_by_task[{t}]", y)]
    return float(_mean_improvement(*samples))


# --------------------------------------------------------------------------- the suite
def _number(value: Any) -> float | None:
    """A JSON-ready float; NaN (and ``None``) become ``None``."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _interval(bounds: tuple[float, float] | None) -> list[float | None] | None:
    return None if bounds is None else [_number(bounds[0]), _number(bounds[1])]


def _checked_suite(macro_f1: Mapping[str, Mapping[str, Sequence[float]]]) -> dict[str, dict[str, np.ndarray]]:
    """``macro_f1`` as arrays, after checking that every task has keep_all and equal, valid seed counts."""
    if not macro_f1:
        raise ValueError("macro_f1 holds no task")
    suite = {}
    for task, by_agent in macro_f1.items():
        if KEEP_ALL not in by_agent:
            raise ValueError(f"task {task!r} has no {KEEP_ALL!r} scores: every score is measured from it")
        n = _seed_scores(f"task {task!r}, agent {KEEP_ALL!r}", by_agent[KEEP_ALL]).size
        suite[task] = {}
        for agent, values in by_agent.items():
            arr = _seed_scores(f"task {task!r}, agent {agent!r}", values)
            if arr.size != n:
                raise ValueError(f"task {task!r}, agent {agent!r}: {arr.size} seeds, but {KEEP_ALL} has {n}")
            if not np.all((arr >= 0.0) & (arr <= 1.0)):  # also catches NaN, and percentages given by mistake
                raise ValueError(f"task {task!r}, agent {agent!r}: macro-F1 must lie in [0, 1], got {arr.tolist()}")
            suite[task][agent] = arr
    return suite


def _task_scores(by_agent: dict[str, np.ndarray], min_gap: float) -> dict[str, Any]:
    keep_all, oracle = by_agent[KEEP_ALL], by_agent.get(ORACLE)
    problem = "no oracle scores" if oracle is None else _normalisation_problem(keep_all, oracle, min_gap)
    agents = {}
    for agent, scores in by_agent.items():
        if agent == KEEP_ALL:
            continue
        diff = scores - keep_all
        agents[agent] = {
            "gap_closed": None if problem else gap_closed(scores, keep_all, oracle).tolist(),
            "paired_difference": diff.tolist(),
            "mean_paired_difference": float(diff.mean()),
        }
    return {
        "normalisable": problem is None,
        "exclusion_reason": problem,
        "oracle_gap": None if oracle is None else float((oracle - keep_all).mean()),
        "agents": agents,
    }


def _improvement(
    suite: dict[str, dict[str, np.ndarray]], x: str, y: str, bootstrap: dict[str, Any]
) -> tuple[float | None, list[float | None] | None]:
    """P(x > y) over the tasks holding both agents, with its interval; ``(None, None)`` when none does."""
    pairs = [(s[x], s[y]) for s in suite.values() if x in s and y in s]
    if not pairs:
        return None, None
    samples = [run for pair in pairs for run in pair]
    point = probability_of_improvement([p[0] for p in pairs], [p[1] for p in pairs])
    return point, _interval(stratified_bootstrap_ci(samples, _mean_improvement, **bootstrap))


def score_suite(
    macro_f1: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    rl_agents: Sequence[str],
    baseline_agents: Sequence[str],
    reference_agents: Sequence[str] = ("oracle", "ferplus_relabel"),
    min_gap: float = 0.01,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """Per-task and aggregate scores of a suite, as the JSON-ready ``aggregate`` block of issue 12 §2.

    ``macro_f1[task][agent]`` lists the per-seed test macro-F1, in the same seed order for every agent of a
    task; every task needs ``keep_all``, and ``oracle`` to be normalisable (:func:`task_is_normalisable`).
    Per agent (all but keep_all): the IQM of its gap closed over the normalisable tasks' (task, seed) scores,
    and P(agent > keep_all) and P(agent > best baseline) over every task holding both, each with a
    stratified-bootstrap interval. The best baseline is the one of ``baseline_agents`` (keep_all, RL and
    reference agents aside) with the highest IQM; it is not compared with itself. Raises ``ValueError``
    naming the task and agent on missing keep_all, unequal seed counts or scores outside [0, 1].
    """
    suite = _checked_suite(macro_f1)
    tasks = {task: _task_scores(by_agent, min_gap) for task, by_agent in suite.items()}
    normalisable = [task for task, t in tasks.items() if t["normalisable"]]
    bootstrap = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    agents = list(dict.fromkeys(a for by_agent in suite.values() for a in by_agent if a != KEEP_ALL))

    aggregate: dict[str, dict[str, Any]] = {}
    for agent in agents:
        samples = [np.asarray(tasks[t]["agents"][agent]["gap_closed"]) for t in normalisable if agent in suite[t]]
        iqm = _pooled_iqm(*samples) if samples else None
        ci = stratified_bootstrap_ci(samples, _pooled_iqm, **bootstrap) if samples else None
        p, p_ci = _improvement(suite, agent, KEEP_ALL, bootstrap)
        aggregate[agent] = {
            "iqm_gap_closed": _number(iqm),
            "ci95": _interval(ci),
            "n_scores": sum(s.size for s in samples),
            "n_tasks": len(samples),
            "p_improve_keep_all": _number(p),
            "p_improve_keep_all_ci95": p_ci,
            "reference": agent in reference_agents,
            "rl": agent in rl_agents,
        }

    excluded = {KEEP_ALL, *rl_agents, *reference_agents}
    candidates = [
        b for b in baseline_agents if b not in excluded and aggregate.get(b, {}).get("iqm_gap_closed") is not None
    ]
    best = max(candidates, key=lambda b: aggregate[b]["iqm_gap_closed"], default=None)
    for agent, entry in aggregate.items():
        p, p_ci = (None, None) if best is None or agent == best else _improvement(suite, agent, best, bootstrap)
        entry.update(p_improve_best_baseline=_number(p), p_improve_best_baseline_ci95=p_ci, best_baseline=best)

    return {
        "tasks": tasks,
        "aggregate": aggregate,
        "excluded_tasks": [task for task in tasks if task not in normalisable],
        "best_baseline": best,
        "protocol": {
            "min_gap": min_gap,
            "n_resamples": n_resamples,
            "confidence": confidence,
            "bootstrap": BOOTSTRAP,
            "seed": seed,
            "normalisable": "mean(oracle - keep_all) >= min_gap, > 2 standard errors (2+ seeds), > 0 on every seed",
        },
    }


# --------------------------------------------------------------------------- table and picture
def _with_interval(value: float | None, interval: Sequence[float | None] | None) -> str:
    if value is None:
        return "—"
    if interval is None or None in interval:
        return f"{value:.3f}"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def format_score_table(scores: dict[str, Any]) -> str:
    """The aggregate of :func:`score_suite` as plain text: one row per agent (IQM gap closed, P(> keep_all),
    P(> best baseline), each with its 95 % interval), then the excluded tasks with their raw mean paired
    differences in macro-F1 points, and a note that they are left out of the IQM."""
    best = scores["best_baseline"]
    level = f"{scores['protocol']['confidence']:.0%}"
    header = ["agent", f"IQM gap closed [{level} CI]", f"P(> keep_all) [{level} CI]", f"P(> {best or 'best baseline'})"]
    rows = [header]
    for agent, entry in scores["aggregate"].items():
        name = f"{agent} (reference)" if entry["reference"] else agent
        rows.append(
            [
                name,
                _with_interval(entry["iqm_gap_closed"], entry["ci95"]),
                _with_interval(entry["p_improve_keep_all"], entry["p_improve_keep_all_ci95"]),
                _with_interval(entry["p_improve_best_baseline"], entry["p_improve_best_baseline_ci95"]),
            ]
        )
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    n_tasks = len(scores["tasks"]) - len(scores["excluded_tasks"])
    lines = [
        f"Gap closed (0 = keep_all, 1 = oracle) over {n_tasks} normalisable task(s); "
        f"{BOOTSTRAP} intervals; best non-RL baseline: {best or 'none'}",
        *("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows),
    ]
    for task in scores["excluded_tasks"]:
        info = scores["tasks"][task]
        diffs = ", ".join(
            f"{agent} {100 * a['mean_paired_difference']:+.2f}"
            for agent, a in info["agents"].items()
            if agent != ORACLE
        )
        lines.append(
            f"excluded {task}: {info['exclusion_reason']}; mean paired difference vs keep_all (points): {diffs}"
        )
    if scores["excluded_tasks"]:
        lines.append(
            f"{len(scores['excluded_tasks'])} task(s) left out of the IQM, their oracle not clearly above keep_all; "
            "P(> ·) uses every task."
        )
    return "\n".join(lines)


def plot_aggregate_intervals(scores: dict[str, Any], path: str | os.PathLike) -> Path:
    """One PNG of the aggregate of :func:`score_suite`: per agent a horizontal bar over its 95 % interval of
    the IQM gap closed, the IQM marked by a black tick, as rliable's ``plot_interval_estimates``. Agents without
    a score (no normalisable task) are left out, and a picture with none says so. 700 × (100 + 45·agents) pixels.
    """
    shown = [(a, e) for a, e in scores["aggregate"].items() if e["iqm_gap_closed"] is not None]
    fig = new_figure((7.0, 1.0 + 0.45 * max(len(shown), 1)))
    ax = fig.subplots()
    ax.set_title("IQM of the gap closed, 95 % stratified-bootstrap interval")
    ax.set_xlabel("gap closed (0 = keep_all, 1 = oracle)")
    if not shown:
        ax.text(
            0.5, 0.5, "no normalisable task: nothing to aggregate", ha="center", va="center", transform=ax.transAxes
        )
        ax.set_yticks([])
        return save_figure(fig, path)
    for row, (_, entry) in enumerate(shown):
        low, high = entry["ci95"] or (entry["iqm_gap_closed"],) * 2
        color = "tab:gray" if entry["reference"] else "tab:blue" if entry["rl"] else "tab:orange"
        # A zero-width interval (one seed, or a reference agent) still gets a visible sliver.
        ax.barh(row, max(high - low, 0.005), left=low, height=0.6, color=color, alpha=0.75)
        ax.vlines(entry["iqm_gap_closed"], row - 0.3, row + 0.3, color="black", lw=2)
    for x in (0.0, 1.0):  # keep_all and the oracle
        ax.axvline(x, color="gray", lw=0.8, ls="--")
    ax.set_yticks(range(len(shown)), [agent for agent, _ in shown])
    ax.invert_yaxis()  # the first agent on top, as in the table
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


__all__ = [
    "BOOTSTRAP",
    "CONFIDENCE",
    "KEEP_ALL",
    "ORACLE",
    "format_score_table",
    "gap_closed",
    "interquartile_mean",
    "plot_aggregate_intervals",
    "probability_of_improvement",
    "score_suite",
    "stratified_bootstrap_ci",
    "task_is_normalisable",
]
