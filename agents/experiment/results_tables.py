"""Markdown tables of a ``results.json`` (one benchmark or a suite), for ``docs/results.md``.

``fer-select report RESULTS.json`` prints them; no table in the docs is typed by hand. Every table gives the
mean over seeds with a 95 % interval (Student's t over the seeds), the kept fraction, removal precision,
recall and F1 where there is noise ground truth, and the paired difference with keep_all (same seed) with
its 95 % interval; a suite adds the aggregate scores of :mod:`agents.experiment.scores`. A table whose
pre-trained classifier was near chance (:func:`~agents.experiment.report.near_chance_note`) ends in a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from agents.experiment.benchmark import noise_floor
from agents.experiment.report import near_chance_note


def mean_interval(values: Sequence[float | None], confidence: float = 0.95) -> tuple[float, float, float] | None:
    """``(mean, low, high)``: the mean and its Student-t interval over the values (the seeds); ``None`` for
    none, and the mean itself as both ends for a single value."""
    x = np.asarray([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))], float)
    if x.size == 0:
        return None
    mean = float(x.mean())
    if x.size == 1:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def _cell(values: Sequence[float | None], scale: float = 100.0, signed: bool = False) -> str:
    est = mean_interval(values)
    if est is None:
        return "–"
    mean, low, high = (scale * v for v in est)
    fmt = "+.1f" if signed else ".1f"
    return f"{mean:{fmt}}" if low == high else f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def _paired(runs: list[dict], base: list[dict], key: str) -> list[float]:
    by_seed = {r["seed"]: r[key] for r in base}
    return [r[key] - by_seed[r["seed"]] for r in runs if r["seed"] in by_seed and r[key] is not None]


def benchmark_table(results: dict[str, Any]) -> str:
    """One Markdown table of a single benchmark's results: a row per agent."""
    agents = results["agents"]
    base = agents.get("keep_all", {}).get("runs", [])
    has_truth = any(r.get("removal_f1") is not None for b in agents.values() for r in b["runs"])
    has_ferplus = any("test_ferplus" in r for b in agents.values() for r in b["runs"])
    header = ["agent", "seeds", "test macro-F1", "Δ vs keep_all", "test accuracy", "kept"]
    if has_truth:
        header += ["removal P", "removal R", "removal F1"]
    if has_ferplus:
        header += ["FER+ test macro-F1", "FER+ test accuracy", "Δ FER+ macro-F1"]
    rows = [header, ["---"] * len(header)]
    for name, block in agents.items():
        runs = block["runs"]
        if not runs:
            continue
        row = [f"`{name}`", str(len(runs)), _cell([r["test_macro_f1"] for r in runs])]
        row.append("–" if name == "keep_all" or not base else _cell(_paired(runs, base, "test_macro_f1"), signed=True))
        row += [_cell([r["test_accuracy"] for r in runs]), _cell([r["kept_fraction"] for r in runs])]
        if has_truth:
            row += [_cell([r.get(k) for r in runs]) for k in ("removal_precision", "removal_recall", "removal_f1")]
        if has_ferplus:
            fp = [r.get("test_ferplus") or {} for r in runs]
            row += [_cell([f.get("macro_f1") for f in fp]), _cell([f.get("accuracy") for f in fp])]
            base_fp = {r["seed"]: (r.get("test_ferplus") or {}).get("macro_f1") for r in base}
            diffs = [
                f["macro_f1"] - base_fp[r["seed"]]
                for r, f in zip(runs, fp, strict=True)
                if "macro_f1" in f and base_fp.get(r["seed"]) is not None
            ]
            row.append("–" if name == "keep_all" else _cell(diffs, signed=True))
        rows.append(row)
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    n_rows = next(
        (r["test_ferplus"]["n_rows"] for b in agents.values() for r in b["runs"] if "test_ferplus" in r), None
    )
    notes = ["Percent; mean over seeds [95 % t-interval]; Δ: paired by seed with keep_all."]
    floor = noise_floor(results)
    if floor is not None:
        notes.append(
            f"Noise floor: keep_all's repeat-to-repeat std {100 * floor['repeat_std']:.2f} points "
            f"({floor['repeats']} final-training repeats x {floor['seeds']} seeds)."
        )
    if n_rows is not None:
        notes.append(f"FER+ columns: against the FER+ majority labels, on the {n_rows} test rows that have one.")
    text = "\n".join(lines) + "\n\n" + " ".join(notes)
    warning = near_chance_note(results)  # a paragraph of its own: the table is not to be read without it
    return text if warning is None else f"{text}\n\n{warning}"


def aggregate_table(scores: dict[str, Any]) -> str:
    """The suite's aggregate scores as a Markdown table: IQM gap closed and probabilities of improvement."""
    rows = [
        ["agent", "IQM gap closed [95 % CI]", "P(> keep_all) [95 % CI]", "P(> best baseline) [95 % CI]", "scores"],
        ["---"] * 5,
    ]

    def interval(point: float | None, ci: Sequence[float] | None, scale: float = 1.0) -> str:
        if point is None:
            return "–"
        text = f"{scale * point:.2f}"
        return text if not ci else f"{text} [{scale * ci[0]:.2f}, {scale * ci[1]:.2f}]"

    for name, entry in scores["aggregate"].items():
        label = f"`{name}`" + (" (reference)" if entry.get("reference") else "")
        rows.append(
            [
                label,
                interval(entry["iqm_gap_closed"], entry["ci95"]),
                interval(entry["p_improve_keep_all"], entry["p_improve_keep_all_ci95"]),
                interval(entry.get("p_improve_best_baseline"), entry.get("p_improve_best_baseline_ci95")),
                str(entry.get("n_scores", "")),
            ]
        )
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    best = scores.get("best_baseline")
    notes = [f"Best non-RL baseline: `{best}`." if best else "No non-RL baseline to compare with."]
    for task in scores.get("excluded_tasks", []):
        reason = scores["tasks"][task].get("exclusion_reason") or "not normalisable"
        notes.append(f"`{task}` is left out of the aggregate ({reason}); its table gives the raw differences.")
    return "\n".join(lines) + "\n\n" + " ".join(notes)


def results_markdown(results: dict[str, Any]) -> str:
    """Every table of a results file: one per task and the aggregate for a suite, one for a benchmark."""
    if "tasks" not in results:
        return benchmark_table(results)
    suite = results["meta"]["suite"]
    parts = [f"Suite `{suite['id']}` (fingerprint `{suite['fingerprint'][:12]}`)."]
    for task, res in results["tasks"].items():
        info = next((t for t in suite["tasks"] if t["name"] == task), {})
        parts.append(f"#### `{task}`\n\n{info.get('description', '')}\n\n{benchmark_table(res)}")
        skipped = results.get("skipped", {}).get(task)
        if skipped:
            parts.append("Skipped here: " + "; ".join(f"`{a}` ({why})" for a, why in skipped.items()) + ".")
    if "scores" in results:
        parts.append(f"#### Aggregate over `{suite['id']}`\n\n{aggregate_table(results['scores'])}")
    return "\n\n".join(parts) + "\n"


__all__ = ["aggregate_table", "benchmark_table", "mean_interval", "results_markdown"]
